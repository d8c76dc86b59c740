package rebuild

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Claim records one build start of an app: who may start (Token), for what,
// and, once started, the build's id.
type Claim struct {
	Token          string    `json:"token"`
	Advisories     []string  `json:"advisories"`
	ReleaseVersion string    `json:"releaseVersion,omitempty"`
	BuildID        string    `json:"buildId,omitempty"`
	Expires        time.Time `json:"expires"`
}

// Covers reports whether the build of c applies every id of advisories
// with the same release version, so a poll that wanted to build them may
// report c's build instead.
func (c Claim) Covers(advisories []string, releaseVersion string) bool {
	if c.ReleaseVersion != releaseVersion {
		return false
	}
	for _, id := range advisories {
		if !slices.Contains(c.Advisories, id) {
			return false
		}
	}
	return true
}

// Claims keeps one start claim per app. Implementations must make
// ClaimStart a conditional write and be safe for concurrent use; package
// rebuildtest holds the contract. store.Dynamo implements it in kaizen's
// table. Errors say what failed, for which app.
type Claims interface {
	// ClaimStart writes c as the app's claim unless the app has one that
	// has not expired at now; it reports whether it wrote.
	ClaimStart(ctx context.Context, app string, c Claim, now time.Time) (bool, error)
	// StartClaim returns the app's claim, expired or not, if there is one.
	StartClaim(ctx context.Context, app string) (Claim, bool, error)
	// UpdateStartClaim replaces the app's claim with c if the stored claim
	// still has c.Token; otherwise it returns an error wrapping
	// ErrClaimLost.
	UpdateStartClaim(ctx context.Context, app string, c Claim) error
	// DropStartClaim deletes the app's claim if it still has token.
	DropStartClaim(ctx context.Context, app, token string) error
}

// ErrClaimLost means another caller's claim replaced ours.
var ErrClaimLost = errors.New("start claim taken over by another caller")

// ErrBusy means another poll of the app claimed the build start and
// either has not reported its build in time or started a build that does
// not include every advisory this one wanted. The advisories stay pending,
// so the next poll takes them.
var ErrBusy = errors.New("another poll is starting this app's build")

// Defaults of Once.
const (
	DefaultWindow = 5 * time.Minute
	DefaultWait   = 20 * time.Second
	defaultPoll   = 200 * time.Millisecond
)

// Once makes overlapping polls of one app start at most one build. The
// ALAS poller reads the pending advisories before it starts a build and
// marks them rebuilt after, so two polls that overlap would both start one:
// recording each advisory once (a conditional write) does not stop that.
// Once puts a conditional write of its own in front of Start: the first
// poll to claim the app's start slot starts the build and stores its id on
// the claim; a poll that finds the slot claimed within Window waits up to
// Wait for that id and returns it when the build covers its advisories
// (as CodeBuild does for a repeated idempotency token), and ErrBusy
// otherwise. A start that fails drops its claim at once, so the next poll
// may try again.
type Once struct {
	Rebuilder Rebuilder // required
	Claims    Claims    // required
	// Window is how long a claim holds off other starts (default
	// DefaultWindow). It only needs to cover the start itself: once a
	// build runs, Running holds off the next poll.
	Window time.Duration
	// Wait bounds how long a poll waits for the claiming poll's build id
	// (default DefaultWait).
	Wait time.Duration
	Now  func() time.Time // default time.Now
	Log  *slog.Logger     // default slog.Default()
	// Sleep waits between looks at another poll's claim; default a timer
	// that stops with ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

var _ Rebuilder = (*Once)(nil)

// Running implements Rebuilder.
func (o *Once) Running(ctx context.Context, app *config.App) (bool, error) {
	return o.Rebuilder.Running(ctx, app)
}

// Start implements Rebuilder.
func (o *Once) Start(ctx context.Context, app *config.App, advisories []string, releaseVersion string) (string, error) {
	if o.Rebuilder == nil || o.Claims == nil {
		return "", errors.New("rebuild: Once needs a Rebuilder and Claims")
	}
	ids := slices.Clone(advisories)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	log := o.logger().With("app", app.Name)
	window, wait := o.Window, o.Wait
	if window <= 0 {
		window = DefaultWindow
	}
	if wait <= 0 {
		wait = DefaultWait
	}
	deadline := o.now().Add(wait)
	for {
		now := o.now()
		c := Claim{
			Token:          fmt.Sprintf("%s@%d", Token(app.Name, "", ids, releaseVersion), now.UnixNano()),
			Advisories:     ids,
			ReleaseVersion: releaseVersion,
			Expires:        now.Add(window),
		}
		won, err := o.Claims.ClaimStart(ctx, app.Name, c, now)
		if err != nil {
			return "", err // Claims' errors say what failed
		}
		if won {
			return o.start(ctx, app, c, log)
		}
		held, ok, err := o.Claims.StartClaim(ctx, app.Name)
		if err != nil {
			return "", err
		}
		if ok && held.BuildID != "" && now.Before(held.Expires) {
			if held.Covers(ids, releaseVersion) {
				log.Info("another poll started the build for these advisories; reporting its build", "build", held.BuildID, "advisories", len(ids))
				return held.BuildID, nil
			}
			return "", fmt.Errorf("%w: build %s started moments ago without some of these advisories; they stay pending for the next poll", ErrBusy, held.BuildID)
		}
		// Claimed and not started yet, or dropped/expired since our
		// attempt: look again shortly.
		if !o.now().Before(deadline) {
			return "", fmt.Errorf("%w: no build id after %s; the advisories stay pending for the next poll", ErrBusy, wait)
		}
		if err := o.sleep(ctx, defaultPoll); err != nil {
			return "", fmt.Errorf("waiting for another poll's build: %w", err)
		}
	}
}

func (o *Once) start(ctx context.Context, app *config.App, c Claim, log *slog.Logger) (string, error) {
	id, err := o.Rebuilder.Start(ctx, app, c.Advisories, c.ReleaseVersion)
	if err != nil {
		// Context-free: a cancelled ctx must not leave the slot claimed.
		if derr := o.Claims.DropStartClaim(context.WithoutCancel(ctx), app.Name, c.Token); derr != nil {
			log.Warn("could not drop the build start claim; other polls wait until it expires", "expires", c.Expires, "error", derr)
		}
		return "", err
	}
	c.BuildID = id
	if err := o.Claims.UpdateStartClaim(context.WithoutCancel(ctx), app.Name, c); err != nil {
		// The build runs. An overlapping poll waits in vain and reports
		// ErrBusy; the advisories this poll marks rebuilt are not lost.
		log.Warn("build started but its id could not be stored on the start claim", "build", id, "error", err)
	}
	return id, nil
}

func (o *Once) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Once) logger() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}

func (o *Once) sleep(ctx context.Context, d time.Duration) error {
	if o.Sleep != nil {
		return o.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
