package alas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Store keeps what the poller must remember between runs. Implementations
// must make RecordAdvisory a conditional write (first writer wins) and be
// safe for concurrent use; package alastest checks both.
type Store interface {
	// FeedValidators returns the validators saved for the app's feed, or
	// zero Validators if there are none.
	FeedValidators(ctx context.Context, app, url string) (Validators, error)
	PutFeedValidators(ctx context.Context, app, url string, v Validators) error
	// RecordAdvisory records a for app once (a conditional write); first is
	// true only for the caller that recorded it. digest marks an advisory
	// below the app's minimum severity: it is reported but never pending.
	RecordAdvisory(ctx context.Context, app string, a Advisory, digest bool) (first bool, err error)
	// PendingAdvisories returns the app's recorded advisories that are not
	// digest-only and not yet marked rebuilt, sorted by ID.
	PendingAdvisories(ctx context.Context, app string) ([]Advisory, error)
	// MarkRebuilt marks ids as included in build buildID. Unknown ids are
	// ignored.
	MarkRebuilt(ctx context.Context, app string, ids []string, buildID string) error
}

// Rebuilder starts golden-image builds (CodeBuild project or pipeline, per
// config.App.Rebuild).
type Rebuilder interface {
	// Running reports whether a golden-image build for the app is in progress.
	Running(ctx context.Context, app *config.App) (bool, error)
	// Start starts a build that applies advisories (for example with
	// `yum update -y --advisory=<ID>` per ID). releaseVersion is set for
	// Amazon Linux 2023 only; see Poller.ReleaseVersion.
	Start(ctx context.Context, app *config.App, advisories []string, releaseVersion string) (buildID string, err error)
}

// Notifier tells people (SNS in production).
type Notifier interface {
	Notify(ctx context.Context, app *config.App, subject, message string) error
}

// Poller checks an app's ALAS feeds and starts rebuilds. Store, Rebuilder
// and Notifier are required; the rest have defaults.
type Poller struct {
	Store     Store
	Rebuilder Rebuilder
	Notifier  Notifier
	Fetcher   *Fetcher         // default: a zero Fetcher
	Now       func() time.Time // default time.Now
	Log       *slog.Logger     // default slog.Default()

	// MaxAge, if set, ignores advisories published more than MaxAge before
	// Now. Without it the first poll of a new app treats the feed's whole
	// history as new: harmless for yum, but a very long build variable and
	// notification.
	MaxAge time.Duration

	// Manifest, if set, returns the package names in the app's current
	// image. With app.ALAS.PackagesOnly, advisories that list packages none
	// of which is in the manifest are ignored. Without a Manifest the filter
	// is off: patching too much beats missing a fix.
	Manifest func(ctx context.Context, app *config.App) ([]string, error)

	// ReleaseVersion, if set, returns the Amazon Linux 2023 release the
	// build should upgrade to (for example "2023.6.20241111"). AL2023 pins
	// its repositories to the release the base AMI came from, so a plain
	// `dnf upgrade` in the image build does not see packages released later,
	// including the fixes the advisory is about; the build needs
	// `dnf upgrade --releasever=<version>`. AL1 and AL2 repositories are
	// not versioned, so the value is only asked for and passed for "2023".
	ReleaseVersion func(ctx context.Context) (string, error)
}

// Report says what one poll did.
type Report struct {
	App       string
	Feeds     int // feeds polled
	Fetched   int // feeds that had changed and were parsed
	Unchanged int // feeds answered 304 or with the same bytes as last time
	Failed    int // feeds that could not be fetched, parsed or recorded
	// New are advisories recorded by this poll at or above the minimum
	// severity; Digest those below it.
	New     []Advisory
	Digest  []Advisory
	Ignored int     // advisories the policy ignored (too old, not our packages)
	Skipped []error // malformed items, one *ItemError each

	// Rebuild lists the advisory ids passed to Rebuilder.Start and
	// RebuildID the build it started.
	Rebuild   []string
	RebuildID string
	// Waiting lists pending advisory ids no build was started for in this
	// poll, and WaitReason says why.
	Waiting    []string
	WaitReason string
	Notified   bool
}

// Poll checks every feed of app once. Errors for single feeds do not stop
// the others; they are joined into the returned error, and the Report is
// valid either way.
func (p *Poller) Poll(ctx context.Context, app *config.App) (Report, error) {
	rep := Report{App: app.Name}
	if p.Store == nil || p.Rebuilder == nil || p.Notifier == nil {
		return rep, errors.New("alas: Poller needs a Store, a Rebuilder and a Notifier")
	}
	log := p.logger().With("app", app.Name)
	minSev, ok := NormalizeSeverity(app.ALAS.MinSeverity)
	if !ok {
		return rep, fmt.Errorf("alas: app %s: alas.minSeverity %q is not critical, important, medium or low", app.Name, app.ALAS.MinSeverity)
	}
	feeds := app.Feeds()
	if len(feeds) == 0 {
		return rep, fmt.Errorf("alas: app %s: no ALAS feed (set alas.amazonLinux or alas.feeds)", app.Name)
	}
	run := &pollRun{p: p, app: app, log: log, rep: &rep, minSev: minSev}
	if p.MaxAge > 0 {
		run.since = p.now().Add(-p.MaxAge)
	}

	var errs []error
	type save struct {
		url string
		v   Validators
	}
	var saves []save
	for _, url := range feeds {
		rep.Feeds++
		v, changed, err := run.feed(ctx, url)
		switch {
		case err != nil:
			rep.Failed++
			log.Error("alas feed failed; nothing saved for it, the next poll retries", "feed", url, "err", err)
			errs = append(errs, err)
		case changed:
			saves = append(saves, save{url, v})
		}
	}

	rebuildErr := run.rebuild(ctx)
	if rebuildErr != nil {
		errs = append(errs, rebuildErr)
	} else {
		for _, s := range saves {
			if err := p.Store.PutFeedValidators(ctx, app.Name, s.url, s.v); err != nil {
				errs = append(errs, fmt.Errorf("alas: feed %s: save validators: %w", s.url, err))
			}
		}
	}

	// Only news is notified. A failure on an otherwise quiet poll is
	// returned as the error (and alarmed on as a Lambda error), not repeated
	// to people every half hour.
	if len(rep.New)+len(rep.Digest) > 0 || rep.RebuildID != "" {
		subject, msg := notification(app, &rep, rebuildErr)
		if err := p.Notifier.Notify(ctx, app, subject, msg); err != nil {
			errs = append(errs, fmt.Errorf("alas: notify: %w", err))
		} else {
			rep.Notified = true
		}
	}
	log.Info("alas poll done", "feeds", rep.Feeds, "fetched", rep.Fetched, "unchanged", rep.Unchanged,
		"failed", rep.Failed, "new", len(rep.New), "digest", len(rep.Digest), "skipped", len(rep.Skipped),
		"rebuild", rep.RebuildID, "waiting", len(rep.Waiting))
	return rep, errors.Join(errs...)
}

// pollRun is the state of one Poll.
type pollRun struct {
	p      *Poller
	app    *config.App
	log    *slog.Logger
	rep    *Report
	minSev string
	since  time.Time

	pol *policy // built on the first changed feed: the manifest is only fetched when needed
}

// feed processes one feed. It returns the validators to save once the whole
// poll has succeeded, and whether the feed changed at all.
func (r *pollRun) feed(ctx context.Context, url string) (Validators, bool, error) {
	wrap := func(what string, err error) error { return fmt.Errorf("alas: feed %s: %s: %w", url, what, err) }
	prev, err := r.p.Store.FeedValidators(ctx, r.app.Name, url)
	if err != nil {
		return Validators{}, false, wrap("read validators", err)
	}
	res, err := r.p.fetcher().Fetch(ctx, url, prev)
	if err != nil {
		return Validators{}, false, err // Fetch errors already name the URL
	}
	if res.NotModified {
		r.rep.Unchanged++
		return Validators{}, false, nil
	}
	f, err := parseBytes(res.Body)
	if err != nil {
		return Validators{}, false, wrap("parse", err)
	}
	r.rep.Fetched++
	for _, e := range f.Skipped {
		r.log.Warn("alas item skipped", "feed", url, "err", e)
	}
	r.rep.Skipped = append(r.rep.Skipped, f.Skipped...)

	pol, err := r.policy(ctx)
	if err != nil {
		return Validators{}, false, wrap("package manifest", err)
	}
	for _, a := range f.Advisories {
		d := pol.decide(a)
		if d.Action == ActionIgnore {
			r.rep.Ignored++
			continue
		}
		digest := d.Action == ActionDigest
		first, err := r.p.Store.RecordAdvisory(ctx, r.app.Name, a, digest)
		if err != nil {
			// What was recorded so far stays recorded and is already in
			// the report, so it is still notified and (if pending) rebuilt.
			return Validators{}, false, wrap("record "+a.ID, err)
		}
		switch {
		case !first:
		case digest:
			r.rep.Digest = append(r.rep.Digest, a)
		default:
			r.rep.New = append(r.rep.New, a)
		}
	}
	return res.Validators, true, nil
}

func (r *pollRun) policy(ctx context.Context) (*policy, error) {
	if r.pol != nil {
		return r.pol, nil
	}
	var manifest []string
	if r.app.ALAS.PackagesOnly {
		if r.p.Manifest == nil {
			r.log.Warn("alas.packagesOnly is set but no package manifest source is wired; not filtering by package")
		} else {
			m, err := r.p.Manifest(ctx, r.app)
			if err != nil {
				return nil, err
			}
			if m == nil {
				m = []string{} // an empty manifest filters everything that lists packages
			}
			manifest = m
		}
	}
	pol := newPolicy(r.minSev, r.since, manifest)
	r.pol = &pol
	return r.pol, nil
}

// rebuild starts a build for every pending advisory unless one is running.
func (r *pollRun) rebuild(ctx context.Context) error {
	name := r.app.Name
	pending, err := r.p.Store.PendingAdvisories(ctx, name)
	if err != nil {
		return fmt.Errorf("alas: app %s: pending advisories: %w", name, err)
	}
	if len(pending) == 0 {
		return nil
	}
	ids := make([]string, len(pending))
	for i, a := range pending {
		ids[i] = a.ID
	}
	slices.Sort(ids) // stable build variables and messages, whatever the store returns
	wait := func(reason string) {
		r.rep.Waiting, r.rep.WaitReason = ids, reason
	}
	running, err := r.p.Rebuilder.Running(ctx, r.app)
	if err != nil {
		wait("could not tell whether a build is running")
		return fmt.Errorf("alas: app %s: is a build running: %w", name, err)
	}
	if running {
		// The running build was started without these; they stay pending
		// and go into a build started by the first poll after it ends.
		wait("a golden-image build is already running; these go into the next build, started by the first poll after it ends")
		return nil
	}
	var release string
	if r.app.ALAS.AmazonLinux == "2023" {
		if r.p.ReleaseVersion == nil {
			r.log.Warn("Amazon Linux 2023 app without Poller.ReleaseVersion: the build may not see the fixed packages")
		} else if release, err = r.p.ReleaseVersion(ctx); err != nil {
			// Building without the release would bake an image without the
			// fixes and mark the advisories done; better to retry.
			wait("could not determine the Amazon Linux 2023 release version")
			return fmt.Errorf("alas: app %s: release version: %w", name, err)
		}
	}
	id, err := r.p.Rebuilder.Start(ctx, r.app, ids, release)
	if err != nil {
		wait("the build failed to start; the next poll retries")
		return fmt.Errorf("alas: app %s: start rebuild for %s: %w", name, strings.Join(ids, ", "), err)
	}
	r.rep.Rebuild, r.rep.RebuildID = ids, id
	if err := r.p.Store.MarkRebuilt(ctx, name, ids, id); err != nil {
		// The build runs; the advisories stay pending, so a later poll
		// starts one more build with them: wasteful, not wrong.
		return fmt.Errorf("alas: app %s: build %s started but marking %d advisories rebuilt failed: %w", name, id, len(ids), err)
	}
	return nil
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Poller) logger() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

func (p *Poller) fetcher() *Fetcher {
	if p.Fetcher != nil {
		return p.Fetcher
	}
	return &Fetcher{}
}

// maxListed bounds each list in a notification: SNS messages stop at 256 KB,
// and nobody reads past the first screens anyway.
const maxListed = 100

// notification renders the one message of a poll. The subject stays within
// SNS's 100 characters.
func notification(app *config.App, rep *Report, rebuildErr error) (subject, msg string) {
	var b strings.Builder
	fmt.Fprintf(&b, "App: %s\n", app.Name)
	list := func(title string, as []Advisory) {
		if len(as) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s (%d):\n", title, len(as))
		for i, a := range as {
			if i == maxListed {
				fmt.Fprintf(&b, "  ... and %d more\n", len(as)-maxListed)
				break
			}
			fmt.Fprintf(&b, "  %s  %s  %s\n", a.ID, a.Severity, strings.Join(a.Packages, ", "))
			if len(a.CVEs) > 0 {
				fmt.Fprintf(&b, "    %s\n", strings.Join(a.CVEs, ", "))
			}
			if a.URL != "" {
				fmt.Fprintf(&b, "    %s\n", a.URL)
			}
		}
	}
	list(fmt.Sprintf("New advisories at or above %s", app.ALAS.MinSeverity), rep.New)
	list(fmt.Sprintf("New advisories below %s (digest only, no rebuild)", app.ALAS.MinSeverity), rep.Digest)

	b.WriteString("\nRebuild: ")
	var state string
	switch {
	case rep.RebuildID != "":
		state = "rebuild started"
		fmt.Fprintf(&b, "started build %s for %s\n", rep.RebuildID, joinCapped(rep.Rebuild))
		if rebuildErr != nil {
			fmt.Fprintf(&b, "Warning: %v\n", rebuildErr)
		}
	case len(rep.Waiting) > 0:
		state = "rebuild not started"
		fmt.Fprintf(&b, "not started for %s: %s\n", joinCapped(rep.Waiting), rep.WaitReason)
		if rebuildErr != nil {
			fmt.Fprintf(&b, "Error: %v\n", rebuildErr)
		}
	case rebuildErr != nil:
		state = "rebuild check failed"
		fmt.Fprintf(&b, "could not check pending advisories: %v\n", rebuildErr)
	default:
		state = "no rebuild needed"
		b.WriteString("none needed\n")
	}
	if len(rep.Skipped) > 0 {
		fmt.Fprintf(&b, "\n%d malformed feed items were skipped (see the poller's log).\n", len(rep.Skipped))
	}
	if rep.Failed > 0 {
		fmt.Fprintf(&b, "%d of %d feeds failed (see the poller's log); the next poll retries them.\n", rep.Failed, rep.Feeds)
	}

	n := len(rep.New) + len(rep.Digest)
	noun := "advisories"
	if n == 1 {
		noun = "advisory"
	}
	top := ""
	if len(rep.New) > 0 {
		top = " (highest " + highest(rep.New) + ")"
	}
	subject = fmt.Sprintf("kaizen %s: %d new security %s%s, %s", app.Name, n, noun, top, state)
	if n == 0 {
		subject = fmt.Sprintf("kaizen %s: security advisories, %s", app.Name, state)
	}
	return clipSubject(subject), b.String()
}

func joinCapped(ids []string) string {
	if len(ids) <= maxListed {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s ... and %d more", strings.Join(ids[:maxListed], ", "), len(ids)-maxListed)
}

func highest(as []Advisory) string {
	best := ""
	for _, a := range as {
		if SeverityRank(a.Severity) > SeverityRank(best) {
			best = a.Severity
		}
	}
	return best
}

// clipSubject keeps an SNS subject within 100 ASCII characters.
func clipSubject(s string) string {
	if len(s) > 100 {
		return s[:97] + "..."
	}
	return s
}
