package cloud

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
)

// STSAPI is what kaizen calls on STS: assume the role a member account
// lends kaizen (stscreds.AssumeRoleProvider calls it).
type STSAPI interface {
	AssumeRole(ctx context.Context, params *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

var (
	_ STSAPI                       = (*sts.Client)(nil)
	_ stscreds.AssumeRoleAPIClient = STSAPI(nil)
)

// Fleets gives each app the fleet (the set of clients) of the account and
// region it lives in.
type Fleets interface {
	FleetFor(app *config.App) *Fleet
}

// Accounts is Fleets over AWS: one fleet per account, region and role,
// made on first use and kept for the container's life. The home
// account's clients use the function's own credentials; a member
// account's sign with its role's credentials, assumed through STS and
// cached (aws.CredentialsCache) until shortly before they expire: one
// AssumeRole per role, not one per call or per app.
type Accounts struct {
	// Home is where the function runs.
	Home config.Place
	// STS assumes the member roles, with the function's own credentials.
	STS STSAPI
	// Session names kaizen and the function in the member's CloudTrail
	// (RoleSessionName; see SessionName).
	Session string
	// New builds the clients of place; creds nil means the function's own
	// credentials.
	New func(place config.Place, creds aws.CredentialsProvider) *Fleet
	// Local, if set, serves the apps that live at Home with no role.
	Local *Fleet

	mu     sync.Mutex
	fleets map[accountKey]*Fleet
	roles  map[string]aws.CredentialsProvider
}

type accountKey struct {
	place config.Place
	role  string
}

var _ Fleets = (*Accounts)(nil)

// FleetFor returns the fleet of the app's account and region.
func (a *Accounts) FleetFor(app *config.App) *Fleet {
	k := accountKey{app.Place(), app.RoleARN}
	if a.Local != nil && k.role == "" && k.place == a.Home {
		return a.Local
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if f := a.fleets[k]; f != nil {
		return f
	}
	if a.fleets == nil {
		a.fleets, a.roles = map[accountKey]*Fleet{}, map[string]aws.CredentialsProvider{}
	}
	var creds aws.CredentialsProvider
	if k.role != "" {
		creds = a.roles[k.role]
		if creds == nil {
			creds = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(a.STS, k.role, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = a.Session
			}))
			a.roles[k.role] = creds
		}
	}
	f := a.New(k.place, creds)
	a.fleets[k] = f
	return f
}

// SessionName is the role session name of a function's calls in a
// member account: "kaizen-<function>", in the characters STS allows, at
// most 64 (awsapi.SessionName).
func SessionName(function string) string { return awsapi.SessionName(function) }

// Warm assumes every member role of apps now, concurrently, so that the
// first step that needs one (a guard's rollback) does not wait for STS:
// the credentials are cached. It returns the first failure; a role that
// cannot be assumed now is assumed again when a step needs it.
func (a *Accounts) Warm(ctx context.Context, apps []config.App) error {
	errs := make(chan error, len(apps))
	n := 0
	seen := map[string]bool{}
	for i := range apps {
		app := &apps[i]
		if app.RoleARN == "" || seen[app.RoleARN] {
			continue
		}
		seen[app.RoleARN] = true
		a.FleetFor(app)
		a.mu.Lock()
		creds := a.roles[app.RoleARN]
		a.mu.Unlock()
		n++
		go func() {
			_, err := creds.Retrieve(ctx)
			if err != nil {
				err = fmt.Errorf("assume %s: %w", app.RoleARN, err)
			}
			errs <- err
		}()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
