package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/lab"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/steps"
)

// Replay fixtures: the AMIs the files in events/ name.
const (
	FixtureAMI        = "ami-0a1b2c3d4e5f60718" // tagged for the first app
	FixtureForeignAMI = "ami-0f9e8d7c6b5a40312" // tagged for another app
)

// replayDefaultStart is the clock's start when the first event has no time.
var replayDefaultStart = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

const replaySynopsis = "kaizen replay --event FILE [--event FILE ...] [--until TIME] [--config FILE] [--json] [--dry-run] [-v]"

// ReplayStep is one line of a replay's timeline: an event, or a tick that
// changed something.
type ReplayStep struct {
	At       time.Time `json:"at"`
	Event    string    `json:"event"` // the file, or "tick"
	Function string    `json:"function"`
	// Late says the event's time was before the clock: it was applied at
	// the clock's time instead.
	Late string `json:"late,omitempty"`
	// Plan lists the actions planned (applied unless a dry run).
	Plan []string `json:"plan"`
	// Changes lists what the step changed: release transitions, AWS
	// changes, notifications (in a dry run, the transitions it would make).
	Changes []string `json:"changes"`
	// Reason says why nothing was planned: the router's, the handler's
	// ("ignored: ...") or the planner's notes.
	Reason        string          `json:"reason,omitempty"`
	MutatingCalls map[string]int  `json:"mutatingCalls"`
	Outcomes      []steps.Outcome `json:"outcomes,omitempty"`
	Error         string          `json:"error,omitempty"`
	Violations    []string        `json:"violations,omitempty"`
}

// ReplayRelease is one release in the final state.
type ReplayRelease struct {
	ID      string        `json:"id"`
	AMI     string        `json:"ami"`
	Color   release.Color `json:"color"`
	State   release.State `json:"state"`
	EndedAt *time.Time    `json:"endedAt,omitempty"`
}

// ReplayQueued is an AMI waiting for the active release to end.
type ReplayQueued struct {
	AMI   string    `json:"ami"`
	Since time.Time `json:"since"`
	Cause string    `json:"cause"`
}

// ReplayReleases is an app's release state: the active release, the
// queued AMI and the ledger's ended releases (oldest first).
type ReplayReleases struct {
	Active *ReplayRelease  `json:"active"`
	Queued *ReplayQueued   `json:"queued"`
	Ended  []ReplayRelease `json:"ended"`
}

// ReplayApp is one app's final state.
type ReplayApp struct {
	App      string                             `json:"app"`
	Live     release.Color                      `json:"live"`
	Weights  map[release.Color]int              `json:"weights"`
	Capacity map[release.Color]release.Capacity `json:"capacity"`
	Healthy  map[release.Color]int              `json:"healthy"`
	AMI      map[release.Color]string           `json:"ami"`
	Preview  release.Color                      `json:"preview"`
	Releases ReplayReleases                     `json:"releases"`
}

// ReplayResult is what `kaizen replay --json` prints; the final state
// comes last.
type ReplayResult struct {
	Config        string         `json:"config"`
	DryRun        bool           `json:"dryRun"`
	Start         time.Time      `json:"start"`
	End           time.Time      `json:"end"`
	Steps         []ReplayStep   `json:"steps"`
	MutatingCalls map[string]int `json:"mutatingCalls"`
	Violations    int            `json:"violations"`
	Final         []ReplayApp    `json:"final"`
}

// eventFiles is a repeatable --event flag.
type eventFiles []string

func (f *eventFiles) String() string     { return strings.Join(*f, ",") }
func (f *eventFiles) Set(v string) error { *f = append(*f, v); return nil }

// replayEvent is one --event file, read and routed.
type replayEvent struct {
	file     string
	raw      []byte
	at       time.Time // zero if the event has no valid time
	function string
	reason   string // why it is routed nowhere
}

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	var files eventFiles
	fs.Var(&files, "event", "EventBridge event `FILE`; repeat to apply several in order on one simulated account (the clock follows each event's time and ticks every minute in between)")
	until := fs.String("until", "", "after the last event, keep ticking until `TIME` (RFC 3339, or a duration such as 30m after the last event)")
	dry := fs.Bool("dry-run", false, "plan every event without applying anything (no ticks run between events)")
	asJSON := fs.Bool("json", false, "print the steps and the final state as JSON")
	cfgPath := fs.String("config", "", "configuration file (default examples/kaizen.json)")
	verbose := fs.Bool("v", false, "print the handler's log lines on stderr")
	if code, done := parseFlags(fs, replaySynopsis, args, stdout, stderr); done {
		return code
	}
	if len(files) == 0 {
		return fail(stderr, 2, "replay: --event FILE is required")
	}
	if fs.NArg() > 0 {
		return fail(stderr, 2, "replay: unexpected argument %q (each event file needs its own --event)", fs.Arg(0))
	}
	cfg, err := config.Load(configPath(*cfgPath))
	if err != nil {
		return fail(stderr, 1, "%v", err)
	}
	var events []replayEvent
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			return fail(stderr, 2, "%v", err)
		}
		e, err := route.DecodeEnvelope(raw)
		if err != nil {
			return fail(stderr, 2, "%s: %v", file, err)
		}
		ev := replayEvent{file: file, raw: raw}
		if !e.Time.IsZero() {
			ev.at = e.Time.UTC()
		}
		// The pattern alone picks the function, so a malformed detail
		// reaches its handler and gets the handler's error.
		ev.function, _ = route.Match(e)
		switch ev.function {
		case "":
			ev.reason = "routed nowhere: " + route.Route(e).Reason
		case route.Stage, route.Promote, route.Guard, route.Tick:
		default:
			return fail(stderr, 2, "replay: %s: %s events are not release steps; replay runs stage, promote, guard and tick", file, ev.function)
		}
		events = append(events, ev)
	}
	start := replayDefaultStart
	if !events[0].at.IsZero() {
		start = events[0].at
	}
	var end time.Time
	var endAfter time.Duration
	if *until != "" {
		if t, err := time.Parse(time.RFC3339, *until); err == nil {
			end = t.UTC()
		} else if d, err := time.ParseDuration(*until); err == nil && d >= 0 {
			endAfter = d
		} else {
			return fail(stderr, 2, "replay: --until %q: want an RFC 3339 time or a duration", *until)
		}
	}

	logw := io.Discard
	if *verbose {
		logw = stderr
	}
	l := lab.New(cfg, start, logw)
	app := &cfg.Apps[0]
	l.Cloud.AddImageID(FixtureAMI, app.Name+"-golden-fixture", start.Add(-time.Minute), map[string]string{app.ImageTag.Key: app.ImageTag.Value})
	l.Cloud.AddImageID(FixtureForeignAMI, "billing-golden-fixture", start.Add(-time.Minute), map[string]string{app.ImageTag.Key: "billing"})
	l.Deps.DryRun = *dry
	r := &replayer{ctx: ctx, lab: l, dry: *dry,
		res: &ReplayResult{Config: configPath(*cfgPath), DryRun: *dry, Start: start}}

	var errs []string
	for _, ev := range events {
		var late string
		switch {
		case ev.at.IsZero():
			late = "the event has no valid time: applied at the clock's time"
		case ev.at.Before(l.Cloud.Now()):
			late = fmt.Sprintf("event time %s is before the clock (%s): applied at the clock's time",
				ev.at.Format(time.RFC3339), l.Cloud.Now().Format(time.RFC3339))
		default:
			r.tickUntil(ev.at)
		}
		if err := r.event(ev, late); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if endAfter > 0 {
		end = l.Cloud.Now().Add(endAfter)
	}
	if !end.IsZero() {
		r.tickUntil(end)
	}
	if err := r.final(); err != nil {
		return fail(stderr, 1, "replay: %v", err)
	}
	if *asJSON {
		if code := printJSON(stdout, stderr, r.res); code != 0 {
			return code
		}
	} else {
		printReplay(stdout, cfg, r.res)
	}
	for _, e := range errs {
		fail(stderr, 1, "replay: %s", e)
	}
	if r.res.Violations > 0 {
		return fail(stderr, 1, "replay: %d invariant violation(s)", r.res.Violations)
	}
	if len(errs) > 0 {
		return 1
	}
	return 0
}

type replayer struct {
	ctx context.Context
	lab *lab.Lab
	dry bool
	res *ReplayResult
}

// tickUntil moves the clock to t, running the tick function at every whole
// minute on the way (and at t if it is one). A dry run applies nothing, so
// it runs no ticks: each would plan the same again.
func (r *replayer) tickUntil(t time.Time) {
	c := r.lab.Cloud
	for {
		next := c.Now().Truncate(time.Minute).Add(time.Minute)
		if next.After(t) {
			break
		}
		c.Advance(next.Sub(c.Now()))
		if r.dry {
			continue
		}
		before := c.Mutations()
		outs, err := r.lab.Tick(r.ctx)
		step := r.step("tick", route.Tick, outs, err, before)
		if len(step.Changes) > 0 || len(step.MutatingCalls) > 0 || step.Error != "" || len(step.Violations) > 0 {
			step.Outcomes = nil // the timeline line says it; events keep theirs
			r.res.Steps = append(r.res.Steps, step)
		}
	}
	if c.Now().Before(t) {
		c.Advance(t.Sub(c.Now()))
	}
}

// event applies one event file at the clock's time.
func (r *replayer) event(ev replayEvent, late string) error {
	if ev.function == "" {
		r.res.Steps = append(r.res.Steps, ReplayStep{At: r.lab.Cloud.Now(), Event: ev.file, Late: late,
			Plan: []string{}, Changes: []string{}, Reason: ev.reason, MutatingCalls: map[string]int{}})
		return nil
	}
	before := r.lab.Cloud.Mutations()
	outs, ignored, err := r.lab.SendExplained(r.ctx, ev.function, ev.raw)
	step := r.step(ev.file, ev.function, outs, err, before)
	step.Late = late
	if len(outs) == 0 && err == nil {
		if ignored != "" {
			step.Reason = "ignored: " + ignored
		} else {
			step.Reason = "the handler planned nothing for it"
		}
	}
	r.res.Steps = append(r.res.Steps, step)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, route.ErrMalformed):
		return fmt.Errorf("%s: %w", ev.file, err)
	default:
		return fmt.Errorf("%s: %s failed: %w", ev.file, ev.function, err)
	}
}

// step describes what a handler call did and checks every invariant.
func (r *replayer) step(label, function string, outs []steps.Outcome, err error, before map[string]int) ReplayStep {
	s := ReplayStep{At: r.lab.Cloud.Now(), Event: label, Function: function, Plan: []string{}, Changes: []string{},
		MutatingCalls: map[string]int{}, Outcomes: outs}
	multi := len(r.lab.Config.Apps) > 1
	prefix := func(app, s string) string {
		if multi {
			return app + ": " + s
		}
		return s
	}
	var reasons []string
	for _, o := range outs {
		for _, a := range o.Plan.Actions {
			s.Plan = append(s.Plan, prefix(o.App, a.String()))
		}
		changes := describe(o)
		for _, c := range changes {
			s.Changes = append(s.Changes, prefix(o.App, c))
		}
		if len(o.Plan.Actions) == 0 && len(changes) == 0 {
			why := strings.Join(o.Plan.Notes, "; ")
			if o.Plan.Refused != "" && !strings.Contains(why, o.Plan.Refused) {
				why = strings.TrimPrefix(why+"; refused: "+o.Plan.Refused, "; ")
			}
			if why == "" {
				why = "nothing to do"
			}
			if o.Err != "" {
				why = "error: " + o.Err
			}
			reasons = append(reasons, prefix(o.App, why))
		}
	}
	if len(outs) > 0 && len(reasons) == len(outs) {
		s.Reason = strings.Join(reasons, " | ")
	}
	for k, v := range r.lab.Cloud.Mutations() {
		if v != before[k] {
			s.MutatingCalls[k] = v - before[k]
		}
	}
	if err != nil {
		s.Error = err.Error()
	}
	for _, v := range r.lab.Violations(r.ctx) {
		s.Violations = append(s.Violations, v.Error())
		r.res.Violations++
	}
	return s
}

// final records every app's state at the end.
func (r *replayer) final() error {
	ctx := r.ctx
	r.res.End = r.lab.Cloud.Now()
	r.res.MutatingCalls = r.lab.Cloud.Mutations()
	for i := range r.lab.Config.Apps {
		app := &r.lab.Config.Apps[i]
		obs, err := r.lab.Observe(ctx, app)
		if err != nil {
			return err
		}
		st, err := r.lab.Store.Load(ctx, app.Name)
		if err != nil {
			return err
		}
		hist, err := r.lab.Store.History(ctx, app.Name)
		if err != nil {
			return err
		}
		a := ReplayApp{App: app.Name, Live: obs.Live(), Weights: map[release.Color]int{}, Capacity: map[release.Color]release.Capacity{},
			Healthy: map[release.Color]int{}, AMI: map[release.Color]string{}, Preview: obs.Preview, Releases: ReplayReleases{Ended: []ReplayRelease{}}}
		for _, c := range config.Colors {
			a.Weights[c] = obs.Weights[c]
			if v := obs.Color(c); v != nil {
				a.Capacity[c] = v.Capacity
				a.Healthy[c] = v.Healthy
				a.AMI[c] = v.AMI
			}
		}
		if st.Active != nil {
			a.Releases.Active = replayRelease(*st.Active)
		}
		if st.Queued != nil {
			a.Releases.Queued = &ReplayQueued{AMI: st.Queued.Image.ID, Since: st.Queued.Since, Cause: st.Queued.Cause}
		}
		sort.SliceStable(hist, func(i, j int) bool { return hist[i].StagedAt.Before(hist[j].StagedAt) })
		for _, h := range hist {
			if h.State.Terminal() && (st.Active == nil || h.ID != st.Active.ID) {
				a.Releases.Ended = append(a.Releases.Ended, *replayRelease(h))
			}
		}
		r.res.Final = append(r.res.Final, a)
	}
	return nil
}

func replayRelease(h release.Release) *ReplayRelease {
	rr := &ReplayRelease{ID: h.ID, AMI: h.AMI, Color: h.Color, State: h.State}
	if !h.EndedAt.IsZero() {
		t := h.EndedAt
		rr.EndedAt = &t
	}
	return rr
}

// printReplay prints the timeline: one line per event and per tick that
// changed something, then the final state.
func printReplay(w io.Writer, cfg *config.File, res *ReplayResult) {
	fmt.Fprintf(w, "kaizen replay: %s on the simulated AWS (%s, account %s), from %s\n",
		plural(countEvents(res), "event"), cfg.Region, cfg.Account, res.Start.Format("2006-01-02 15:04:05 MST"))
	if res.DryRun {
		fmt.Fprintln(w, "dry run: every event is planned against the seeded account; nothing is applied and no ticks run")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tFUNCTION\tWHAT CHANGED")
	for _, s := range res.Steps {
		fn := s.Function
		if fn == "" {
			fn = "-"
		}
		what := strings.Join(s.Changes, "; ")
		if res.DryRun && len(s.Changes)+len(s.Plan) > 0 {
			what = "would: " + strings.Join(append(append([]string(nil), s.Changes...), s.Plan...), "; ")
		}
		if what == "" {
			what = "nothing"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.At.Format("15:04:05"), s.Event, fn, what)
		if s.Late != "" {
			fmt.Fprintf(tw, "\t\t\tlate: %s\n", s.Late)
		}
		if s.Reason != "" {
			fmt.Fprintf(tw, "\t\t\treason: %s\n", s.Reason)
		}
		if s.Error != "" {
			fmt.Fprintf(tw, "\t\t\terror: %s\n", s.Error)
		}
		for _, v := range s.Violations {
			fmt.Fprintf(tw, "\t\t\t!! %s\n", v)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nfinal state at %s:\n", res.End.Format("2006-01-02 15:04:05 MST"))
	for _, a := range res.Final {
		fmt.Fprintf(w, "  %s: public blue %d / green %d (live %s), preview %s\n", a.App,
			a.Weights[config.Blue], a.Weights[config.Green], orDash(string(a.Live)), orDash(string(a.Preview)))
		for _, c := range config.Colors {
			fmt.Fprintf(w, "    %-5s  min/desired/max %s  healthy %d  %s\n", c, a.Capacity[c].String(), a.Healthy[c], orDash(a.AMI[c]))
		}
		if r := a.Releases.Active; r != nil {
			fmt.Fprintf(w, "    active: %s %s %s on %s\n", r.ID, r.AMI, r.State, r.Color)
		} else {
			fmt.Fprintln(w, "    active: none")
		}
		if q := a.Releases.Queued; q != nil {
			fmt.Fprintf(w, "    queued: %s since %s (%s)\n", q.AMI, q.Since.Format("15:04"), q.Cause)
		}
		for _, r := range a.Releases.Ended {
			at := ""
			if r.EndedAt != nil {
				at = " at " + r.EndedAt.Format("15:04")
			}
			fmt.Fprintf(w, "    ended: %s %s %s on %s%s\n", r.ID, r.AMI, r.State, r.Color, at)
		}
	}
	if !res.DryRun {
		fmt.Fprintf(w, "mutating AWS calls: %s\n", orDash(joinCounts(res.MutatingCalls)))
	}
	if res.Violations == 0 {
		fmt.Fprintln(w, "invariants: all held after every step")
	} else {
		fmt.Fprintf(w, "invariants: %d violation(s)\n", res.Violations)
	}
}

func printJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(stderr, 1, "%v", fmt.Sprint(err))
	}
	return 0
}

func countEvents(res *ReplayResult) int {
	n := 0
	for _, s := range res.Steps {
		if s.Event != "tick" || s.Function != route.Tick {
			n++
		}
	}
	return n
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
