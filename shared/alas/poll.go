package alas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
)

// Store keeps what the poller must remember between runs. Implementations
// must make RecordAdvisory a conditional write (first writer wins) and be
// safe for concurrent use; package alastest checks both. Their errors say
// what failed, for which app (as store.Dynamo's do): the poller adds only
// the feed or the step it was in.
type Store interface {
	// FeedValidators returns the validators saved for the app's feed, or
	// zero Validators if there are none.
	FeedValidators(ctx context.Context, app, url string) (Validators, error)
	PutFeedValidators(ctx context.Context, app, url string, v Validators) error
	// RecordAdvisory records a for app once (a conditional write), with the
	// action the policy decided for it: ActionRebuild (pending until
	// MarkRebuilt), ActionDigest (waiting for the next digest) or
	// ActionKnown (nothing to do); any other action is an error and records
	// nothing. first is true only for the caller that recorded it; a later
	// call never changes what was recorded.
	RecordAdvisory(ctx context.Context, app string, a Advisory, action Action) (first bool, err error)
	// PendingAdvisories returns the app's ActionRebuild advisories not yet
	// marked rebuilt, sorted by ID.
	PendingAdvisories(ctx context.Context, app string) ([]Advisory, error)
	// MarkRebuilt marks ids as included in build buildID. Unknown ids are
	// ignored.
	MarkRebuilt(ctx context.Context, app string, ids []string, buildID string) error
	// DigestAdvisories returns the app's ActionDigest advisories not yet
	// marked digested, sorted by ID.
	DigestAdvisories(ctx context.Context, app string) ([]Advisory, error)
	// MarkDigested marks ids as sent in the digest of time at, and records
	// at as the app's last digest time unless a later one is recorded
	// already (even when ids is empty). Unknown ids and ids not recorded as
	// ActionDigest are ignored.
	MarkDigested(ctx context.Context, app string, ids []string, at time.Time) error
	// LastDigest returns the time of the app's last digest, to the
	// millisecond, or the zero time if none was ever sent.
	LastDigest(ctx context.Context, app string) (time.Time, error)
}

// Poller checks an app's ALAS feeds and starts rebuilds. Store, Rebuilder
// (rebuild.Once over rebuild.Builder in production) and Notifier
// (awsapi.SNSNotifier in production) are required; the rest have defaults.
type Poller struct {
	Store     Store
	Rebuilder rebuild.Rebuilder
	Notifier  awsapi.Notifier
	Fetcher   *Fetcher         // default: a zero Fetcher
	Now       func() time.Time // default time.Now
	Log       *slog.Logger     // default slog.Default()

	// MaxAge, if set, ignores advisories published more than MaxAge before
	// Now, on every poll: they are not even recorded. Usually unset;
	// FirstPollWindow is what keeps the first poll of a new app from
	// rebuilding the feed's whole history.
	MaxAge time.Duration

	// FirstPollWindow decides what the first poll of a feed for an app
	// (no validators saved for it yet, so no poll of it ever completed)
	// does with the feed's history: advisories published more than
	// FirstPollWindow before Now are recorded as ActionKnown (even those
	// the package filter or MaxAge would ignore), so they are never new,
	// rebuilt, notified one by one or digested; newer ones are decided as
	// on any poll. Without this, adding an app (or switching it
	// to another Amazon Linux) would start one build with every advisory
	// since 2011 and announce them all. The assumption behind it: the
	// image is built from a base AMI at most FirstPollWindow old, which
	// contains the fixes published before it. Zero means
	// DefaultFirstPollWindow; a negative value turns the window off (the
	// whole history is new).
	//
	// Because the record is kept, an advisory that appears in the feed
	// only later, whatever its date, is judged normally then: the window
	// applies to what the feed held at the first poll, not to dates.
	FirstPollWindow time.Duration

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
	// not versioned, so the value is only asked for and passed for "2023",
	// and only when a build is about to start. alrelease.Latest provides it
	// from the newest AL2023 AMI.
	ReleaseVersion func(ctx context.Context) (string, error)
}

// DefaultFirstPollWindow is the FirstPollWindow used when it is zero. Amazon
// Linux base AMIs are refreshed every few weeks, so an image built from a
// current one holds the fixes of the advisories published a month earlier.
const DefaultFirstPollWindow = 30 * 24 * time.Hour

// maxRecordedList bounds Validators.Recorded (about 18,000 ids).
const maxRecordedList = 300 << 10

// DefaultDigestHours is the digest period when config.ALAS.DigestHours is
// not set (config.Load sets the same default).
const DefaultDigestHours = 24

// Report says what one poll did.
type Report struct {
	App       string
	Feeds     int // feeds polled
	Fetched   int // feeds that had changed and were parsed
	Unchanged int // feeds answered 304 or with the same bytes as last time
	Failed    int // feeds that could not be fetched, parsed or recorded
	// New are advisories recorded by this poll at or above the minimum
	// severity; Digest those below it, which wait for the next digest.
	New    []Advisory
	Digest []Advisory
	// Known counts the advisories the first poll of a feed recorded as
	// ActionKnown (see Poller.FirstPollWindow).
	Known   int
	Ignored int     // advisories the policy ignored (too old, not our packages)
	Cached  int     // advisories recorded by an earlier poll, skipped without a write
	Skipped []error // malformed items, one *ItemError each

	// Rebuild lists the advisory ids passed to Rebuilder.Start and
	// RebuildID the build it started.
	Rebuild   []string
	RebuildID string
	// Waiting lists pending advisory ids no build was started for in this
	// poll, and WaitReason says why.
	Waiting    []string
	WaitReason string
	Notified   bool // the poll's message was sent

	// DigestSent lists the advisories of the digest this poll sent, by
	// severity (highest first), then ID; empty when no digest was due or
	// there was nothing to digest.
	DigestSent []string
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
		return rep, fmt.Errorf("alas: alas.minSeverity %q is not critical, important, medium or low", app.ALAS.MinSeverity)
	}
	feeds := app.Feeds()
	if len(feeds) == 0 {
		return rep, errors.New("alas: no ALAS feed (set alas.amazonLinux or alas.feeds)")
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
				errs = append(errs, fmt.Errorf("alas: feed %s: %w", s.url, err))
			}
		}
	}

	// Only news is notified: advisories at or above the minimum severity,
	// a build started, or the history a first poll took as known. Advisories
	// below it go into the digest instead. A failure on an otherwise quiet
	// poll is returned as the error (and alarmed on as a Lambda error), not
	// repeated to people every half hour.
	if len(rep.New) > 0 || rep.RebuildID != "" || rep.Known > 0 {
		if err := awsapi.Send(ctx, p.Notifier, app, pollNotice(app, &rep, rebuildErr)); err != nil {
			errs = append(errs, fmt.Errorf("alas: notify: %w", err))
		} else {
			rep.Notified = true
		}
	}
	if err := run.digest(ctx); err != nil {
		errs = append(errs, err)
	}
	log.Info("alas poll done", "feeds", rep.Feeds, "fetched", rep.Fetched, "unchanged", rep.Unchanged,
		"failed", rep.Failed, "new", len(rep.New), "digest", len(rep.Digest), "known", rep.Known, "skipped", len(rep.Skipped),
		"rebuild", rep.RebuildID, "waiting", len(rep.Waiting), "digestSent", len(rep.DigestSent))
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

	pol         *policy   // built on the first changed feed: the manifest is only fetched when needed
	knownCutoff time.Time // see knownBefore
}

// feed processes one feed. It returns the validators to save once the whole
// poll has succeeded, and whether the feed changed at all.
func (r *pollRun) feed(ctx context.Context, url string) (Validators, bool, error) {
	// Errors name the feed; the Store's and the Fetcher's own errors say
	// what they did, so only the rest say what failed.
	wrap := func(what string, err error) error { return fmt.Errorf("alas: feed %s: %s: %w", url, what, err) }
	prev, err := r.p.Store.FeedValidators(ctx, r.app.Name, url)
	if err != nil {
		return Validators{}, false, fmt.Errorf("alas: feed %s: %w", url, err)
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
	// No validators: no poll of this feed for this app ever completed, so
	// this is its first poll (or a retry of a first poll that failed).
	var known time.Time
	if prev == (Validators{}) {
		known = r.knownBefore()
	}
	cached := map[string]bool{}
	if prev.Recorded != "" {
		for _, id := range strings.Split(prev.Recorded, ",") {
			cached[id] = true
		}
	}
	var recorded []string
	for _, a := range f.Advisories {
		if cached[a.ID] {
			recorded = append(recorded, a.ID)
			r.rep.Cached++
			continue
		}
		// Everything older than the window is known, whatever the policy
		// would say: an old advisory ignored now for a package the image
		// lacks must not start a build when the manifest later gains it.
		action := ActionKnown
		if known.IsZero() || !a.Published.Before(known) {
			if action = pol.decide(a).Action; action == ActionIgnore {
				r.rep.Ignored++
				continue
			}
		}
		first, err := r.p.Store.RecordAdvisory(ctx, r.app.Name, a, action)
		if err != nil {
			// What was recorded so far stays recorded and is already in
			// the report, so it is still notified and (if pending) rebuilt.
			return Validators{}, false, fmt.Errorf("alas: feed %s: %w", url, err)
		}
		recorded = append(recorded, a.ID)
		switch {
		case !first:
		case action == ActionKnown:
			r.rep.Known++
		case action == ActionDigest:
			r.rep.Digest = append(r.rep.Digest, a)
		default:
			r.rep.New = append(r.rep.New, a)
		}
	}
	if r.rep.Known > 0 {
		r.log.Info("first poll of the feed: older advisories recorded as known, not rebuilt",
			"feed", url, "known", r.rep.Known, "before", known)
	}
	slices.Sort(recorded)
	v := res.Validators
	if v.Recorded = strings.Join(slices.Compact(recorded), ","); len(v.Recorded) > maxRecordedList {
		v.Recorded = "" // a DynamoDB item holds 400 KB: past that, pay the writes
	}
	return v, true, nil
}

// knownBefore returns the cutoff of Poller.FirstPollWindow, or the zero
// time when the window is off.
func (r *pollRun) knownBefore() time.Time {
	w := r.p.FirstPollWindow
	switch {
	case w < 0:
		return time.Time{}
	case w == 0:
		w = DefaultFirstPollWindow
	}
	if r.knownCutoff.IsZero() {
		r.knownCutoff = r.p.now().Add(-w)
	}
	return r.knownCutoff
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
		return fmt.Errorf("alas: rebuild: %w", err)
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
		return fmt.Errorf("alas: rebuild: %w", err)
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
			return fmt.Errorf("alas: rebuild: release version: %w", err)
		}
	}
	id, err := r.p.Rebuilder.Start(ctx, r.app, ids, release)
	if err != nil {
		wait("the build failed to start; the next poll retries")
		return fmt.Errorf("alas: rebuild %s: %w", joinCapped(ids), err)
	}
	r.rep.Rebuild, r.rep.RebuildID = ids, id
	if err := r.p.Store.MarkRebuilt(ctx, name, ids, id); err != nil {
		// The build runs; the advisories stay pending, so a later poll
		// starts one more build with them: wasteful, not wrong.
		return fmt.Errorf("alas: rebuild: build %s started but marking its %d advisories rebuilt failed: %w", id, len(ids), err)
	}
	return nil
}

// digest sends the app's digest when one is due: the last was sent
// config.ALAS.DigestHours or more ago (or never), and advisories below the
// minimum severity have been recorded since. It sends one message listing
// them all, then marks them digested and records the time.
//
// Delivery is at least once: if marking fails after the message went out,
// the next poll sends the same advisories again, rather than risk a digest
// that never arrives. Two overlapping polls (see the package doc) could
// both send it.
func (r *pollRun) digest(ctx context.Context) error {
	name := r.app.Name
	every := time.Duration(r.app.ALAS.DigestHours) * time.Hour
	if every <= 0 {
		every = DefaultDigestHours * time.Hour
	}
	now := r.p.now()
	last, err := r.p.Store.LastDigest(ctx, name)
	if err != nil {
		return fmt.Errorf("alas: digest: %w", err)
	}
	if !last.IsZero() && now.Sub(last) < every {
		return nil
	}
	as, err := r.p.Store.DigestAdvisories(ctx, name)
	if err != nil {
		return fmt.Errorf("alas: digest: %w", err)
	}
	if len(as) == 0 {
		// Nothing is written either: the next advisory below the minimum
		// goes out on the poll that records it, and then the clock runs.
		return nil
	}
	slices.SortFunc(as, func(a, b Advisory) int {
		if c := SeverityRank(b.Severity) - SeverityRank(a.Severity); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if err := awsapi.Send(ctx, r.p.Notifier, r.app, digestNotice(r.app, as, last)); err != nil {
		return fmt.Errorf("alas: digest: notify: %w", err)
	}
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	r.rep.DigestSent = ids
	if err := r.p.Store.MarkDigested(ctx, name, ids, now); err != nil {
		return fmt.Errorf("alas: digest: sent %d advisories but marking them failed (the next poll sends them again): %w", len(ids), err)
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
	listAdvisories(&b, fmt.Sprintf("New advisories at or above %s", app.ALAS.MinSeverity), rep.New)
	if n := len(rep.Digest); n > 0 {
		fmt.Fprintf(&b, "\n%d new %s below %s: no rebuild, listed in the next digest.\n", n, plural(n, "advisory", "advisories"), app.ALAS.MinSeverity)
	}
	if rep.Known > 0 {
		fmt.Fprintf(&b, "\nFirst poll: %d older %s already in the feed were recorded as known, not rebuilt"+
			" (taken to be in the image's base AMI; see the alaspoll first-poll window).\n", rep.Known, plural(rep.Known, "advisory", "advisories"))
	}

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

	n := len(rep.New)
	switch {
	case n > 0:
		subject = fmt.Sprintf("kaizen %s: %d new security %s (highest %s), %s", app.Name, n, plural(n, "advisory", "advisories"), highest(rep.New), state)
	case rep.Known > 0 && rep.RebuildID == "" && len(rep.Waiting) == 0:
		subject = fmt.Sprintf("kaizen %s: first security advisory poll, %d known, %s", app.Name, rep.Known, state)
	default:
		subject = fmt.Sprintf("kaizen %s: security advisories, %s", app.Name, state)
	}
	return clipSubject(subject), b.String()
}

// digestMessage renders the digest of as, which are sorted already. last
// is the previous digest's time, or zero.
func digestMessage(app *config.App, as []Advisory, last time.Time) (subject, msg string) {
	var b strings.Builder
	fmt.Fprintf(&b, "App: %s\n", app.Name)
	since := "since kaizen started watching"
	if !last.IsZero() {
		since = "since the last digest (" + last.UTC().Format(time.RFC3339) + ")"
	}
	listAdvisories(&b, fmt.Sprintf("Advisories below %s recorded %s", app.ALAS.MinSeverity, since), as)
	fmt.Fprintf(&b, "\nThese are below the app's minimum severity (%s) and start no rebuild.\n", app.ALAS.MinSeverity)
	n := len(as)
	subject = fmt.Sprintf("kaizen %s: security digest, %d %s below %s (highest %s)", app.Name, n, plural(n, "advisory", "advisories"), app.ALAS.MinSeverity, highest(as))
	return clipSubject(subject), b.String()
}

// listAdvisories writes a titled list of as (nothing if as is empty), at
// most maxListed of them.
func listAdvisories(b *strings.Builder, title string, as []Advisory) {
	if len(as) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s (%d):\n", title, len(as))
	for i, a := range as {
		if i == maxListed {
			fmt.Fprintf(b, "  ... and %d more\n", len(as)-maxListed)
			break
		}
		fmt.Fprintf(b, "  %s  %s  %s\n", a.ID, a.Severity, strings.Join(a.Packages, ", "))
		if len(a.CVEs) > 0 {
			fmt.Fprintf(b, "    %s\n", strings.Join(a.CVEs, ", "))
		}
		if a.URL != "" {
			fmt.Fprintf(b, "    %s\n", a.URL)
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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
