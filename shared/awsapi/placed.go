package awsapi

import (
	"context"
	"regexp"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// PlacedNotifier publishes each app's notices from the account and region
// the app lives in, where its topic is: a publish with another account's
// credentials fails ("Topic does not exist"). It keeps one SNS client per
// account, region and role, made on first use: a function that only
// notifies in the apps' accounts (alaspoll) needs no other client there,
// and, unlike cloud.Accounts, it links none of the fleet's EC2, Auto
// Scaling and load balancer packages. A member account's client signs
// with the app's role, assumed through STS on the first notice that needs
// it and cached (aws.CredentialsCache) for the container's life: one
// AssumeRole per role until near expiry, not one per notice or per app.
type PlacedNotifier struct {
	// Home is where the function runs.
	Home config.Place
	// Local publishes for the apps that live at Home with no role.
	Local SNSAPI
	// STS assumes the member roles, with the function's own credentials.
	STS stscreds.AssumeRoleAPIClient
	// Session names kaizen and the function in the member's CloudTrail
	// (RoleSessionName; see SessionName).
	Session string
	// New builds the SNS client of place; creds nil means the function's
	// own credentials.
	New func(place config.Place, creds aws.CredentialsProvider) SNSAPI

	mu      sync.Mutex
	clients map[placedKey]SNSAPI
	roles   map[string]aws.CredentialsProvider
}

type placedKey struct {
	place config.Place
	role  string
}

var (
	_ Notifier       = (*PlacedNotifier)(nil)
	_ NoticeNotifier = (*PlacedNotifier)(nil)
)

// Notify publishes to app's topic from its account.
func (p *PlacedNotifier) Notify(ctx context.Context, app *config.App, subject, message string) error {
	return p.notifierFor(app).Notify(ctx, app, subject, message)
}

// NotifyNotice publishes the notice whole to app's topic from its account.
func (p *PlacedNotifier) NotifyNotice(ctx context.Context, app *config.App, n Notice) error {
	return p.notifierFor(app).NotifyNotice(ctx, app, n)
}

// notifierFor returns the notifier of the app's account and region.
func (p *PlacedNotifier) notifierFor(app *config.App) SNSNotifier {
	k := placedKey{app.Place(), app.RoleARN}
	if p.Local != nil && k.role == "" && k.place == p.Home {
		return SNSNotifier{SNS: p.Local}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.clients[k]; c != nil {
		return SNSNotifier{SNS: c}
	}
	if p.clients == nil {
		p.clients, p.roles = map[placedKey]SNSAPI{}, map[string]aws.CredentialsProvider{}
	}
	var creds aws.CredentialsProvider
	if k.role != "" {
		creds = p.roles[k.role]
		if creds == nil {
			creds = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(p.STS, k.role, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = p.Session
			}))
			p.roles[k.role] = creds
		}
	}
	c := p.New(k.place, creds)
	p.clients[k] = c
	return SNSNotifier{SNS: c}
}

var sessionUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)

// SessionName is the role session name of a function's calls in a
// member account: "kaizen-<function>", in the characters STS allows, at
// most 64.
func SessionName(function string) string {
	s := sessionUnsafe.ReplaceAllString("kaizen-"+function, "-")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}
