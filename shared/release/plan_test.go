package release

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// t0 is a Tuesday, 10:00 UTC: the time every row plans at.
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func shopApp(t testing.TB) *config.App {
	t.Helper()
	f, err := config.Load("../../examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	app := f.Apps[0]
	return &app
}

// fleet returns a recorded state and an observation that agree, with the
// release r1 (ami-new on green; blue was live) in state s, or no release
// for None.
func fleet(s State) (AppState, Observed) {
	blue := &ColorView{Capacity: Capacity{Min: 2, Desired: 2, Max: 10}, Version: "1", AMI: "ami-old", Instances: 2, OnVersion: 2, Healthy: 2}
	green := &ColorView{Capacity: Capacity{Max: 10}, Version: "1", AMI: "ami-old", Suspended: ScalingProcesses}
	obs := Observed{Weights: map[Color]int{config.Blue: 100, config.Green: 0}, Preview: config.Green,
		Colors: map[Color]*ColorView{config.Blue: blue, config.Green: green}}
	st := AppState{App: "shop", Version: 7, Newest: "ami-new", NewestCreated: t0.Add(-2 * time.Hour)}
	if s == None {
		st.Newest, st.NewestCreated = "ami-old", t0.Add(-48*time.Hour)
		return st, obs
	}
	r := &Release{App: "shop", ID: "r1", AMI: "ami-new", AMIName: "shop-golden-2", PipelineExecution: "exec-1",
		Color: config.Green, StagedAt: t0.Add(-time.Hour),
		History: []Transition{{At: t0.Add(-time.Hour), To: Staged, By: ByImage, Cause: "AMI ami-new available"}}}
	green.AMI, green.Version = "ami-new", "2"
	green.Capacity, green.Instances, green.OnVersion = Capacity{Max: 10, Desired: 1}, 1, 1
	switch s {
	case PreviewReady:
		green.Healthy, r.PreviewReadyAt = 1, t0.Add(-50*time.Minute)
	case Unhealthy:
		r.Reason = "guard alarm shop-5xx-rate: Threshold Crossed"
	case Promoting, WaitingForWindow, Shifting, Baking, RollingBack:
		r.PreviewReadyAt, r.ApprovedAt, r.ApprovalExecution = t0.Add(-50*time.Minute), t0.Add(-5*time.Minute), "exec-1"
		r.Capacity = &Capacity{Min: 2, Desired: 2, Max: 10}
		green.Capacity, green.Instances, green.OnVersion = *r.Capacity, 2, 2
	}
	switch s {
	case WaitingForWindow:
		r.WindowWaitSince, r.WindowWaitAt = t0.Add(-time.Hour), t0.Add(-time.Minute)
	case Shifting:
		green.Healthy, green.Suspended = 2, nil
		obs.Weights = map[Color]int{config.Blue: 90, config.Green: 10}
		r.From, r.Weight, r.PublicAt, r.StepUntil = config.Blue, 10, t0.Add(-5*time.Minute), t0.Add(5*time.Minute)
	case Baking, RollingBack:
		green.Healthy, green.Suspended, blue.Suspended = 2, nil, ScalingProcesses
		obs.Weights = map[Color]int{config.Blue: 0, config.Green: 100}
		obs.Preview = config.Blue
		r.From, r.PublicAt, r.CutoverAt, r.BakeUntil = config.Blue, t0.Add(-10*time.Minute), t0.Add(-10*time.Minute), t0.Add(50*time.Minute)
		if s == RollingBack {
			r.Reason = "guard alarm shop-5xx-rate: Threshold Crossed"
		}
	}
	if s != Staged {
		r.History = append(r.History, Transition{At: t0.Add(-time.Minute), From: Staged, To: s, Cause: "fixture"})
	}
	r.State = s
	st.Active = r
	return st, obs
}

// The events of the rows.
var (
	tick     = Event{Kind: EvTick, ID: "tick"}
	newerAMI = Event{Kind: EvImage, ID: "ev-ami", Image: &Image{ID: "ami-newer", Name: "shop-golden-3", State: "available", Created: t0.Add(-time.Minute), Owner: "111122223333"}}
	approve  = Event{Kind: EvApproval, ID: "ev-approve", Approval: &Approval{Execution: "exec-1", State: "SUCCEEDED"}}
	reject   = Event{Kind: EvApproval, ID: "ev-reject", Approval: &Approval{Execution: "exec-1", State: "FAILED"}}
	guard    = Event{Kind: EvAlarm, ID: "ev-alarm", Alarm: &Alarm{Name: "shop-5xx-rate", Role: config.RoleGuard, State: "ALARM", Previous: "OK", Reason: "Threshold Crossed", At: t0.Add(-10 * time.Second)}}
	abort    = Event{Kind: EvOperator, ID: "cli-abort", Operator: &Operator{Command: "abort", By: "alice"}}
	rollback = Event{Kind: EvOperator, ID: "cli-rollback", Operator: &Operator{Command: "rollback", By: "alice"}}
)

// Tweaks of a row's app, state or observation.
type tweak func(app *config.App, st *AppState, obs *Observed)

func healthy(n int) tweak {
	return func(_ *config.App, _ *AppState, obs *Observed) { obs.Color(config.Green).Healthy = n }
}

func weights(blue, green int) tweak {
	return func(_ *config.App, _ *AppState, obs *Observed) {
		obs.Weights = map[Color]int{config.Blue: blue, config.Green: green}
	}
}

var (
	// closedWindow: Saturdays only; t0 is a Tuesday.
	closedWindow tweak = func(app *config.App, _ *AppState, _ *Observed) {
		app.ChangeWindow = &config.ChangeWindow{Days: []string{"sat"}, From: "09:00", To: "17:00", TimeZone: "UTC"}
	}
	openWindow tweak = func(app *config.App, _ *AppState, _ *Observed) {
		app.ChangeWindow = &config.ChangeWindow{Days: []string{"tue"}, From: "09:00", To: "17:00", TimeZone: "UTC"}
	}
	weightSteps tweak = func(app *config.App, _ *AppState, _ *Observed) {
		app.WeightSteps, app.StepMinutes = []int{10, 50, 100}, 10
	}
	onRelease = func(f func(r *Release)) tweak {
		return func(_ *config.App, st *AppState, _ *Observed) { f(st.Active) }
	}
)

// row is one decision of the planner: a release in a state, what kaizen
// observes, an event → the actions and the state that follow. Rows that
// make a transition name it (from, to, by); TestEveryTransitionHasARow
// fails when a transition of Table has none.
type row struct {
	name  string
	from  State
	to    State   // the transition the row makes (from → to, by)
	by    Trigger // "" for a row that moves nothing
	ev    Event
	tweak []tweak
	// want is the planned actions (kind and color; notices by kind) and
	// final where release r1 stands after the plan (a rollback passes
	// rolling_back on the way to rolled_back in one plan); next is the
	// state of the app's active release afterwards (None if none).
	want  []string
	final State
	next  State
}

var rows = []row{
	{name: "a new AMI is staged on the idle color", from: None, to: Staged, by: ByImage, ev: newerAMI,
		want: []string{"notify staged", "put-ami green"}, final: Staged, next: Staged},

	{name: "preview healthy", from: Staged, to: PreviewReady, by: ByHealth, ev: tick, tweak: []tweak{healthy(1)},
		want: []string{"notify preview-ready"}, final: PreviewReady, next: PreviewReady},
	{name: "preview not yet healthy", from: Staged, ev: tick,
		final: Staged, next: Staged},
	{name: "guard alarm while staged", from: Staged, to: Unhealthy, by: ByGuard, ev: guard,
		want: []string{"notify staged-unhealthy"}, final: Unhealthy, next: Unhealthy},
	{name: "guard alarm while the preview is ready", from: PreviewReady, to: Unhealthy, by: ByGuard, ev: guard,
		want: []string{"notify staged-unhealthy"}, final: Unhealthy, next: Unhealthy},
	{name: "approved", from: PreviewReady, to: Promoting, by: ByApproval, ev: approve,
		want: []string{"notify approved", "set-capacity green"}, final: Promoting, next: Promoting},
	{name: "autoPromote", from: PreviewReady, to: Promoting, by: ByApproval, ev: tick,
		tweak: []tweak{func(app *config.App, _ *AppState, _ *Observed) { app.AutoPromote = true }},
		want:  []string{"notify approved", "set-capacity green"}, final: Promoting, next: Promoting},
	{name: "approval of a preview never healthy is refused", from: Staged, ev: approve,
		want: []string{"notify approval-refused"}, final: Staged, next: Staged},
	{name: "approval of an unhealthy release is refused", from: Unhealthy, ev: approve,
		want: []string{"notify approval-refused"}, final: Unhealthy, next: Unhealthy},

	{name: "newer AMI supersedes a staged one", from: Staged, to: Superseded, by: ByImage, ev: newerAMI,
		want: []string{"notify superseded", "notify staged", "put-ami green"}, final: Superseded, next: Staged},
	{name: "newer AMI supersedes one awaiting approval", from: PreviewReady, to: Superseded, by: ByImage, ev: newerAMI,
		want: []string{"notify superseded", "notify staged", "put-ami green"}, final: Superseded, next: Staged},
	{name: "newer AMI supersedes an unhealthy one", from: Unhealthy, to: Superseded, by: ByImage, ev: newerAMI,
		want: []string{"notify superseded", "notify staged", "put-ami green"}, final: Superseded, next: Staged},

	{name: "rejected while staged", from: Staged, to: Abandoned, by: ByRejection, ev: reject,
		want: []string{"notify rejected", "set-capacity green"}, final: Abandoned},
	{name: "rejected after preview", from: PreviewReady, to: Abandoned, by: ByRejection, ev: reject,
		want: []string{"notify rejected", "set-capacity green"}, final: Abandoned},
	{name: "rejected while unhealthy", from: Unhealthy, to: Abandoned, by: ByRejection, ev: reject,
		want: []string{"notify rejected", "set-capacity green"}, final: Abandoned},
	{name: "aborted while staged", from: Staged, to: Abandoned, by: ByOperator, ev: abort,
		want: []string{"notify aborted", "set-capacity green"}, final: Abandoned},
	{name: "aborted after preview", from: PreviewReady, to: Abandoned, by: ByOperator, ev: abort,
		want: []string{"notify aborted", "set-capacity green"}, final: Abandoned},
	{name: "aborted while unhealthy", from: Unhealthy, to: Abandoned, by: ByOperator, ev: abort,
		want: []string{"notify aborted", "set-capacity green"}, final: Abandoned},

	{name: "public switched by hand to the staged color", from: Staged, to: Failed, by: ByListener, ev: tick, tweak: []tweak{weights(0, 100)},
		want: []string{"set-capacity green", "notify below-floor", "notify taken-over", "set-capacity blue", "preview blue", "suspend blue", "resume green"}, final: Failed},
	{name: "public switched by hand to the previewed color", from: PreviewReady, to: Failed, by: ByListener, ev: tick, tweak: []tweak{weights(0, 100)},
		want: []string{"set-capacity green", "notify below-floor", "notify taken-over", "set-capacity blue", "preview blue", "suspend blue", "resume green"}, final: Failed},
	{name: "public switched by hand to the unhealthy color", from: Unhealthy, to: Failed, by: ByListener, ev: tick, tweak: []tweak{weights(0, 100)},
		want: []string{"set-capacity green", "notify below-floor", "notify taken-over", "set-capacity blue", "preview blue", "suspend blue", "resume green"}, final: Failed},

	{name: "change window closed", from: Promoting, to: WaitingForWindow, by: ByWindow, ev: tick, tweak: []tweak{closedWindow, healthy(2)},
		final: WaitingForWindow, next: WaitingForWindow},
	{name: "change window still closed", from: WaitingForWindow, ev: tick, tweak: []tweak{closedWindow, healthy(2)},
		final: WaitingForWindow, next: WaitingForWindow},
	{name: "change window opens, health pending", from: WaitingForWindow, to: Promoting, by: ByWindow, ev: tick, tweak: []tweak{openWindow},
		final: Promoting, next: Promoting},
	{name: "waiting for health", from: Promoting, ev: tick,
		final: Promoting, next: Promoting},
	{name: "healthy: first weighted step", from: Promoting, to: Shifting, by: ByHealth, ev: tick, tweak: []tweak{weightSteps, healthy(2)},
		want: []string{"shift green=10", "notify shift-started", "resume green"}, final: Shifting, next: Shifting},
	{name: "healthy: cut over", from: Promoting, to: Baking, by: ByHealth, ev: tick, tweak: []tweak{healthy(2)},
		want: []string{"shift green=100", "notify cut-over", "preview blue", "suspend blue", "resume green"}, final: Baking, next: Baking},
	{name: "found cut over (record lost)", from: Promoting, to: Baking, by: ByListener, ev: tick, tweak: []tweak{healthy(2), weights(0, 100)},
		want: []string{"notify cut-over", "preview blue", "suspend blue", "resume green"}, final: Baking, next: Baking},
	{name: "found cut over while waiting for the window", from: WaitingForWindow, to: Baking, by: ByListener, ev: tick, tweak: []tweak{closedWindow, healthy(2), weights(0, 100)},
		want: []string{"notify cut-over", "preview blue", "suspend blue", "resume green"}, final: Baking, next: Baking},
	{name: "not healthy in time", from: Promoting, to: Failed, by: ByTimer, ev: tick,
		tweak: []tweak{onRelease(func(r *Release) { r.ApprovedAt = t0.Add(-31 * time.Minute) })},
		want:  []string{"notify not-healthy", "set-capacity green"}, final: Failed},
	{name: "guard alarm before cutover", from: Promoting, to: Failed, by: ByGuard, ev: guard,
		want: []string{"notify stopped"}, final: Failed},
	{name: "promotion aborted", from: Promoting, to: Failed, by: ByOperator, ev: abort,
		want: []string{"notify promotion-aborted", "set-capacity green"}, final: Failed},
	{name: "window never opened", from: WaitingForWindow, to: Failed, by: ByTimer, ev: tick,
		tweak: []tweak{closedWindow, onRelease(func(r *Release) { r.WindowWaitSince = t0.Add(-24 * time.Hour) })},
		want:  []string{"notify window-wait-failed", "set-capacity green"}, final: Failed},
	{name: "guard alarm while waiting for the window", from: WaitingForWindow, to: Failed, by: ByGuard, ev: guard, tweak: []tweak{closedWindow},
		want: []string{"notify stopped"}, final: Failed},
	{name: "aborted while waiting for the window", from: WaitingForWindow, to: Failed, by: ByOperator, ev: abort, tweak: []tweak{closedWindow},
		want: []string{"notify promotion-aborted", "set-capacity green"}, final: Failed},

	{name: "step held: next weighted step", from: Shifting, ev: tick,
		tweak: []tweak{weightSteps, onRelease(func(r *Release) { r.StepUntil = t0 })},
		want:  []string{"shift green=50", "notify shift-stepped"}, final: Shifting, next: Shifting},
	{name: "last step held: cut over", from: Shifting, to: Baking, by: ByTimer, ev: tick,
		tweak: []tweak{weightSteps, weights(50, 50), onRelease(func(r *Release) { r.Weight, r.StepUntil = 50, t0 })},
		want:  []string{"shift green=100", "notify cut-over", "preview blue", "suspend blue"}, final: Baking, next: Baking},
	{name: "guard alarm during the shift", from: Shifting, to: RollingBack, by: ByGuard, ev: guard, tweak: []tweak{weightSteps},
		want: []string{"shift green=0", "notify rolled-back", "suspend green"}, final: RolledBack},
	{name: "rollback during the shift", from: Shifting, to: RollingBack, by: ByOperator, ev: rollback, tweak: []tweak{weightSteps},
		want: []string{"shift green=0", "notify rolled-back", "suspend green"}, final: RolledBack},
	{name: "switched back by hand during the shift", from: Shifting, to: RolledBack, by: ByListener, ev: tick, tweak: []tweak{weightSteps, weights(100, 0)},
		want: []string{"notify switched-back-during-shift", "suspend green"}, final: RolledBack},

	{name: "baking", from: Baking, ev: tick,
		final: Baking, next: Baking},
	{name: "bake finished", from: Baking, to: Done, by: ByTimer, ev: tick,
		tweak: []tweak{onRelease(func(r *Release) { r.BakeUntil = t0 })},
		want:  []string{"notify released", "set-capacity blue"}, final: Done},
	{name: "guard alarm during the bake", from: Baking, to: RollingBack, by: ByGuard, ev: guard,
		want: []string{"shift green=0", "preview green", "notify rolled-back", "resume blue", "suspend green"}, final: RolledBack},
	{name: "rollback during the bake", from: Baking, to: RollingBack, by: ByOperator, ev: rollback,
		want: []string{"shift green=0", "preview green", "notify rolled-back", "resume blue", "suspend green"}, final: RolledBack},
	{name: "switched back by hand during the bake", from: Baking, to: RolledBack, by: ByListener, ev: tick, tweak: []tweak{weights(100, 0)},
		want: []string{"notify switched-back-during-bake", "preview green", "resume blue", "suspend green"}, final: RolledBack},
	{name: "newer AMI during the bake is queued", from: Baking, ev: newerAMI,
		want: []string{"notify queued"}, final: Baking, next: Baking},

	{name: "the pending rollback's listener call", from: RollingBack, to: RolledBack, by: ByListener, ev: tick,
		want: []string{"shift green=0", "preview green", "notify rolled-back", "resume blue", "suspend green"}, final: RolledBack},
	{name: "the pending rollback, already back by hand", from: RollingBack, to: RolledBack, by: ByListener, ev: tick, tweak: []tweak{weights(100, 0)},
		want: []string{"preview green", "notify rolled-back", "resume blue", "suspend green"}, final: RolledBack},
}

// short names an action by kind and color: "notify <notice>", "shift
// green=N", "set-capacity blue".
func short(a Action) string {
	switch a.Kind {
	case Notify:
		return "notify " + string(a.Notice)
	case Shift:
		return fmt.Sprintf("shift green=%d", a.Weights[config.Green])
	}
	return string(a.Kind) + " " + string(a.Color)
}

// run plans a row and reports what is wrong with the plan.
func (rw row) run(t testing.TB) []string {
	app := shopApp(t)
	st, obs := fleet(rw.from)
	for _, f := range rw.tweak {
		f(app, &st, &obs)
	}
	plan := Decide(app, st, obs, t0, rw.ev)
	var bad []string
	if plan.Bug != "" {
		return []string{plan.Bug}
	}
	var got []string
	after := obs.Clone()
	for _, a := range plan.Actions {
		got = append(got, short(a))
		after.apply(a)
	}
	if !slices.Equal(got, rw.want) {
		bad = append(bad, fmt.Sprintf("actions %q, want %q", got, rw.want))
	}
	var r1 *Release
	if a := plan.Next.Active; a != nil && (a.ID == "r1" || rw.from == None) {
		r1 = a
	}
	for i := range plan.Ended {
		if plan.Ended[i].ID == "r1" {
			r1 = &plan.Ended[i]
		}
	}
	next := None
	if plan.Next.Active != nil {
		next = plan.Next.Active.State
	}
	switch {
	case r1 == nil:
		bad = append(bad, "release r1 is neither active nor ended")
	case r1.State != rw.final:
		bad = append(bad, fmt.Sprintf("release ends %s, want %s", r1.State, rw.final))
	case next != rw.next:
		bad = append(bad, fmt.Sprintf("active release %s, want %s", next, rw.next))
	}
	if r1 != nil && rw.by != "" {
		made := false
		for _, tr := range r1.History {
			made = made || tr.From == rw.from && tr.To == rw.to && tr.By == rw.by
		}
		if !made {
			bad = append(bad, fmt.Sprintf("no transition %s → %s by %s in %+v", rw.from, rw.to, rw.by, r1.History))
		}
	}
	if r1 != nil && rw.by == "" && len(plan.Transitions) > 0 {
		bad = append(bad, fmt.Sprintf("a row without a transition made %v", plan.Transitions))
	}
	for _, err := range Check(app, plan.Next, after) {
		bad = append(bad, err.Error())
	}
	return bad
}

func TestDecideTable(t *testing.T) {
	for _, rw := range rows {
		t.Run(fmt.Sprintf("%s/%s", rw.from, rw.name), func(t *testing.T) {
			for _, b := range rw.run(t) {
				t.Error(b)
			}
		})
	}
}

// The fixtures are consistent: every invariant holds before the event.
func TestFleetFixturesHoldTheInvariants(t *testing.T) {
	app := shopApp(t)
	app.WeightSteps, app.StepMinutes = []int{10, 50, 100}, 10
	for _, s := range append([]State{None}, States...) {
		if s.Terminal() {
			continue
		}
		st, obs := fleet(s)
		if errs := Check(app, st, obs); len(errs) > 0 {
			t.Errorf("%s: %v", s, errs)
		}
	}
}

func TestEveryTransitionHasARow(t *testing.T) {
	for _, e := range Table {
		for _, by := range e.By {
			found := slices.ContainsFunc(rows, func(rw row) bool { return rw.from == e.From && rw.to == e.To && rw.by == by })
			if !found {
				t.Errorf("no row makes the transition %s → %s by %s", e.From, e.To, by)
			}
		}
	}
}

// withoutTrigger returns table without one trigger of its edge i.
func withoutTrigger(table []Edge, i int, by Trigger) []Edge {
	out := make([]Edge, 0, len(table))
	for j, e := range table {
		if j == i {
			e.By = slices.DeleteFunc(slices.Clone(e.By), func(t Trigger) bool { return t == by })
			if len(e.By) == 0 {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// Every transition of the table is needed: without it, a row fails.
func TestEveryTransitionIsNeeded(t *testing.T) {
	full := Table
	defer func() { Table = full }()
	for i, e := range full {
		for _, by := range e.By {
			Table = withoutTrigger(full, i, by)
			failed := false
			for _, rw := range rows {
				if rw.from == e.From && rw.to == e.To && rw.by == by && len(rw.run(t)) > 0 {
					failed = true
					break
				}
			}
			if !failed {
				t.Errorf("the table without %s → %s by %s still passes every row", e.From, e.To, by)
			}
		}
	}
}

// A transition the table refuses is a planner bug: the plan is dropped, the
// state stays as it was, and the plan says why.
func TestRefusedTransitionDropsThePlan(t *testing.T) {
	full := Table
	defer func() { Table = full }()
	i := slices.IndexFunc(full, func(e Edge) bool { return e.From == Baking && e.To == RollingBack })
	Table = withoutTrigger(full, i, ByGuard)
	app := shopApp(t)
	st, obs := fleet(Baking)
	plan := Decide(app, st, obs, t0, guard)
	if plan.Bug == "" || !strings.Contains(plan.Bug, "baking → rolling_back by guard") {
		t.Fatalf("bug = %q", plan.Bug)
	}
	if len(plan.Actions) != 0 || plan.Changed(st) || !reflect.DeepEqual(plan.Next, st) {
		t.Fatalf("a refused transition changed something: %+v", plan)
	}
	if len(plan.Notes) != 1 || !strings.HasPrefix(plan.Notes[0], "planner bug: ") {
		t.Fatalf("notes = %q", plan.Notes)
	}
	r := st.Active
	if err := r.move(Done, ByGuard, t0, "test"); err == nil || r.State != Baking || len(r.History) != len(st.Active.History) {
		t.Fatalf("move outside the table: err %v, state %s", err, r.State)
	}
}

// A release's first transition comes from None and only by an image.
func TestTableShape(t *testing.T) {
	into := map[State]bool{}
	out := map[State]bool{}
	seen := map[[2]State]bool{}
	for _, e := range Table {
		if seen[[2]State{e.From, e.To}] {
			t.Errorf("%s → %s is listed twice", e.From, e.To)
		}
		seen[[2]State{e.From, e.To}] = true
		if len(e.By) == 0 {
			t.Errorf("%s → %s has no cause", e.From, e.To)
		}
		if e.From.Terminal() {
			t.Errorf("%s is terminal but has a way out", e.From)
		}
		if e.From != None && !e.From.Known() || !e.To.Known() {
			t.Errorf("%s → %s names a state not in States", e.From, e.To)
		}
		into[e.To], out[e.From] = true, true
	}
	for _, s := range States {
		if !into[s] {
			t.Errorf("no transition reaches %s", s)
		}
		if !s.Terminal() && !out[s] {
			t.Errorf("%s is not terminal but has no way out", s)
		}
	}
}
