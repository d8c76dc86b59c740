package release_test

// Tests for mutants of the planner that survived `make mutate` (the
// scenario tests in shared/steps catch many of them, but Gremlins runs only
// this package's tests against a mutant of this package). Each names the
// change it catches. They use only the package's exported API, with their
// own fixtures.

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

var (
	sNow  = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	blue  = config.Blue
	green = config.Green
)

func sApp(t *testing.T) *config.App {
	t.Helper()
	f, err := config.Load("../../examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	app := f.Apps[0]
	return &app
}

// sSettled: blue serves the public at 2/2/10 on ami-old; green is empty,
// its scaling suspended, the preview on it; nothing in flight.
func sSettled() (release.AppState, release.Observed) {
	b := &release.ColorView{Capacity: release.Capacity{Min: 2, Desired: 2, Max: 10}, Version: "1", AMI: "ami-old", Instances: 2, OnVersion: 2, Healthy: 2}
	g := &release.ColorView{Capacity: release.Capacity{Max: 10}, Version: "1", AMI: "ami-old", Suspended: release.ScalingProcesses}
	obs := release.Observed{Weights: map[release.Color]int{blue: 100, green: 0}, Preview: green,
		Colors: map[release.Color]*release.ColorView{blue: b, green: g}}
	st := release.AppState{App: "shop", Version: 3, Newest: "ami-old", NewestCreated: sNow.Add(-48 * time.Hour)}
	return st, obs
}

// sWith puts release r1 (ami-new on green, built by pipeline execution
// exec-1) in state s: staged with a healthy preview for Staged and
// PreviewReady; taking or holding the public for Shifting, Baking and
// RollingBack.
func sWith(s release.State) (release.AppState, release.Observed) {
	st, obs := sSettled()
	g := obs.Colors[green]
	g.AMI, g.Version, g.Capacity, g.Instances, g.OnVersion, g.Healthy = "ami-new", "2", release.Capacity{Desired: 1, Max: 10}, 1, 1, 1
	st.Newest, st.NewestCreated = "ami-new", sNow.Add(-2*time.Hour)
	r := &release.Release{App: "shop", ID: "r1", AMI: "ami-new", AMIName: "shop-golden-2", PipelineExecution: "exec-1",
		Color: green, State: s, StagedAt: sNow.Add(-time.Hour),
		History: []release.Transition{{At: sNow.Add(-time.Hour), To: release.Staged, By: release.ByImage, Cause: "fixture"}}}
	if s != release.Staged {
		r.PreviewReadyAt = sNow.Add(-50 * time.Minute)
	}
	switch s {
	case release.Shifting, release.Baking, release.RollingBack:
		r.ApprovedAt, r.ApprovalExecution = sNow.Add(-20*time.Minute), "exec-1"
		r.Capacity = &release.Capacity{Min: 2, Desired: 2, Max: 10}
		g.Capacity, g.Instances, g.OnVersion, g.Healthy, g.Suspended = *r.Capacity, 2, 2, 2, nil
		r.From, r.PublicAt = blue, sNow.Add(-10*time.Minute)
		obs.Weights = map[release.Color]int{blue: 0, green: 100}
		obs.Preview = blue
		obs.Colors[blue].Suspended = release.ScalingProcesses
	}
	switch s {
	case release.Shifting:
		obs.Weights = map[release.Color]int{blue: 90, green: 10}
		obs.Colors[blue].Suspended = nil
		r.Weight, r.StepUntil = 10, sNow.Add(5*time.Minute)
	case release.Baking:
		r.CutoverAt, r.BakeUntil = sNow.Add(-10*time.Minute), sNow.Add(50*time.Minute)
	case release.RollingBack:
		r.Reason = "guard alarm shop-5xx-rate: Threshold Crossed"
	}
	st.Active = r
	return st, obs
}

func sTick() release.Event { return release.Event{Kind: release.EvTick, ID: "tick@x"} }

func sImage(id, state string, created time.Time) release.Event {
	return release.Event{Kind: release.EvImage, ID: "ev-img-" + id, Image: &release.Image{
		ID: id, Name: "shop-golden-" + id, State: state, Created: created, Owner: "111122223333",
		Tags: map[string]string{"kaizen:app": "shop"}}}
}

func sApproval(state, execution, by string) release.Event {
	return release.Event{Kind: release.EvApproval, ID: "ev-9", Approval: &release.Approval{State: state, Execution: execution, By: by}}
}

func sGuard(at time.Time, suppressed string) release.Event {
	return release.Event{Kind: release.EvAlarm, ID: "ev-alarm", Alarm: &release.Alarm{Name: "shop-5xx-rate", Role: config.RoleGuard,
		State: "ALARM", Previous: "OK", Reason: "Threshold Crossed", At: at, Suppressed: suppressed}}
}

// shifts returns the listener weights the plan sets, in order.
func shifts(p release.Plan) []map[release.Color]int {
	var out []map[release.Color]int
	for _, a := range p.Actions {
		if a.Kind == release.Shift {
			out = append(out, a.Weights)
		}
	}
	return out
}

func notices(p release.Plan) []release.NoticeKind {
	var out []release.NoticeKind
	for _, a := range p.Actions {
		if a.Kind == release.Notify {
			out = append(out, a.Notice)
		}
	}
	return out
}

// A settled app plans nothing on a tick. (Mutant: settleIdle retiring an
// already empty idle color.)
func TestSurvivorSettledTickPlansNothing(t *testing.T) {
	st, obs := sSettled()
	if p := release.Decide(sApp(t), st, obs, sNow, sTick()); len(p.Actions) != 0 {
		t.Fatalf("actions on a settled app: %v", p.Actions)
	}
}

// Stopped for not converging, kaizen ignores ticks but still rolls back on
// a guard alarm and obeys `kaizen resume`. (Mutants: each part of the
// stuck test negated.)
func TestSurvivorStuckActsOnlyOnAlarmsAndOperators(t *testing.T) {
	app := sApp(t)
	st, obs := sWith(release.Baking)
	st.Stuck = "the same corrective change was planned 3 times"
	if p := release.Decide(app, st, obs, sNow, sTick()); len(p.Actions) != 0 || p.Next.Stuck == "" {
		t.Fatalf("a tick while stopped: actions %v, stuck %q", p.Actions, p.Next.Stuck)
	}
	p := release.Decide(app, st, obs, sNow, sGuard(sNow.Add(-time.Minute), ""))
	if s := shifts(p); len(s) != 1 || s[0][blue] != 100 {
		t.Fatalf("a guard alarm while stopped did not roll back: shifts %v, notes %q", s, p.Notes)
	}
	p = release.Decide(app, st, obs, sNow, release.Event{Kind: release.EvOperator, ID: "cli-resume", Operator: &release.Operator{Command: "resume", By: "alice"}})
	if p.Next.Stuck != "" {
		t.Fatalf("resume did not clear the stop: %q (notes %q)", p.Next.Stuck, p.Notes)
	}
}

// The same corrective change planned NoProgressTicks ticks in a row stops
// kaizen, on exactly that tick, with a notice. (Mutants: the comparison,
// the count, its bound, and the empty-signature test.)
func TestSurvivorNotConvergingStopsOnTheNthTick(t *testing.T) {
	app := sApp(t)
	app.NoProgressTicks = 3
	st, obs := sSettled()
	obs.Colors[blue].Capacity = release.Capacity{Min: 1, Desired: 1, Max: 10} // below the floor, and it stays there
	for i := 1; i <= 3; i++ {
		p := release.Decide(app, st, obs, sNow.Add(time.Duration(i)*time.Minute), sTick())
		if i < 3 {
			if p.Next.Stuck != "" || len(p.Actions) == 0 || p.Actions[0].Kind != release.SetCapacity {
				t.Fatalf("tick %d: stuck %q, actions %v; want the floor restored", i, p.Next.Stuck, p.Actions)
			}
		} else if p.Next.Stuck == "" || !slices.Equal(notices(p), []release.NoticeKind{release.NoticeNotConverging}) || len(p.Actions) != 1 {
			t.Fatalf("tick %d: stuck %q, actions %v; want stopped with one notice", i, p.Next.Stuck, p.Actions)
		}
		st = p.Next
	}
}

// Ticks that change nothing forget the corrective history; other events
// never count towards it; a plan that only notifies is no corrective
// change. (Mutants: allEmpty, the tick-only test, the signature counting
// notifications, and the preview-ready bound.)
func TestSurvivorProgressHistory(t *testing.T) {
	app := sApp(t)
	st, obs := sSettled()
	st.Recent = []string{""}
	if p := release.Decide(app, st, obs, sNow, sTick()); p.Next.Recent != nil {
		t.Errorf("a converged tick keeps %q", p.Next.Recent)
	}
	st.Recent = nil
	obs.Colors[blue].Capacity = release.Capacity{Min: 1, Desired: 1, Max: 10}
	if p := release.Decide(app, st, obs, sNow, sImage("ami-old", "available", sNow.Add(-48*time.Hour))); len(p.Actions) == 0 || p.Next.Recent != nil {
		t.Errorf("an AMI event: actions %v, history %q; want the floor restored and no history", p.Actions, p.Next.Recent)
	}

	st, obs = sWith(release.Staged) // the preview has its 1 healthy instance
	p := release.Decide(app, st, obs, sNow, sTick())
	if p.Next.Active == nil || p.Next.Active.State != release.PreviewReady {
		t.Fatalf("preview with 1 of 1 healthy: %+v, want preview_ready", p.Next.Active)
	}
	if !slices.Equal(notices(p), []release.NoticeKind{release.NoticePreviewReady}) || len(p.Actions) != 1 {
		t.Fatalf("actions %v: want only the preview-ready notice", p.Actions)
	}
	if p.Next.Recent != nil {
		t.Errorf("a notification counted as a corrective change: %q", p.Next.Recent)
	}
}

// Check: a split is allowed during a rollback only while the rollback has
// public weight to undo; a shift's record needs a weight below 100.
// (Mutants: `Weight > 0` and `Weight < 100` made inclusive.)
func TestSurvivorCheckWeights(t *testing.T) {
	app := sApp(t)
	st, obs := sWith(release.RollingBack)
	st.Active.Weight = 0
	obs.Weights = map[release.Color]int{blue: 50, green: 50}
	if errs := release.Check(app, st, obs); !anyContains(errs, "invariant 1") {
		t.Errorf("a split with a rollback of weight 0: %v, want invariant 1", errs)
	}
	st, obs = sWith(release.Shifting)
	st.Active.Weight = 100
	obs.Weights = map[release.Color]int{blue: 0, green: 100}
	if errs := release.Check(app, st, obs); !anyContains(errs, "invariant 7") {
		t.Errorf("a shift recorded at weight 100: %v, want invariant 7", errs)
	}
}

func anyContains(errs []error, s string) bool {
	for _, e := range errs {
		if strings.Contains(e.Error(), s) {
			return true
		}
	}
	return false
}

// With the listener split evenly, the color a shift or a rollback leaves
// still counts as live. (Mutants: live()'s weight bound and state test.)
func TestSurvivorLiveDuringAnEvenSplit(t *testing.T) {
	app := sApp(t)
	st, obs := sWith(release.RollingBack)
	st.Active.Weight = 50
	obs.Weights = map[release.Color]int{blue: 50, green: 50}
	if s := shifts(release.Decide(app, st, obs, sNow, sTick())); len(s) != 1 || s[0][blue] != 100 {
		t.Errorf("a rollback from an even split: shifts %v, want the public back on blue", s)
	}
	st.Active.Weight = 0
	if p := release.Decide(app, st, obs, sNow, sTick()); len(p.Actions) != 0 {
		t.Errorf("an even split with no weight recorded: actions %v, want none (no color is live)", p.Actions)
	}
}

// Only an available AMI (or one whose state the event does not say) is
// staged. (Mutants: the state test.)
func TestSurvivorImageState(t *testing.T) {
	app := sApp(t)
	st, obs := sSettled()
	for state, staged := range map[string]bool{"": true, "available": true, "pending": false, "failed": false} {
		p := release.Decide(app, st, obs, sNow, sImage("ami-new", state, sNow.Add(-time.Hour)))
		if got := p.Next.Active != nil; got != staged {
			t.Errorf("AMI in state %q: staged %v, want %v", state, got, staged)
		}
	}
}

// A newer AMI replaces the queued one; staging ends the queue and the hold
// on the color it stages. (Mutants: the queued-AMI test in onImage, the
// queue and hold tests in stage.)
func TestSurvivorQueueAndHold(t *testing.T) {
	app := sApp(t)
	st, obs := sWith(release.Baking)
	st.Queued = &release.Candidate{Image: release.Image{ID: "ami-q", Created: sNow.Add(-30 * time.Minute)}, Since: sNow.Add(-20 * time.Minute)}
	p := release.Decide(app, st, obs, sNow, sImage("ami-r", "available", sNow.Add(-10*time.Minute)))
	if q := p.Next.Queued; q == nil || q.Image.ID != "ami-r" {
		t.Errorf("a newer AMI during the bake: queued %+v, want ami-r", q)
	}

	st, obs = sSettled()
	st.Hold = &release.Hold{Color: green, Until: sNow.Add(time.Hour)}
	st.Queued = &release.Candidate{Image: release.Image{ID: "ami-q", Created: sNow.Add(-30 * time.Minute)}, Since: sNow.Add(-20 * time.Minute)}
	obs.Colors[green].Capacity = release.Capacity{Min: 2, Desired: 2, Max: 10}
	p = release.Decide(app, st, obs, sNow, sImage("ami-r", "available", sNow.Add(-10*time.Minute)))
	if p.Next.Active == nil || p.Next.Active.AMI != "ami-r" {
		t.Fatalf("not staged: %+v (notes %q)", p.Next.Active, p.Notes)
	}
	if p.Next.Queued != nil || p.Next.Hold != nil {
		t.Errorf("staging ami-r left queued %+v, hold %+v", p.Next.Queued, p.Next.Hold)
	}
}

// An approval promotes only the AMI it belongs to (invariant 8), and the
// release's history says who approved and by which event. (Mutants: each
// test of correlates; the operator and event-id parts of the cause.)
func TestSurvivorApprovalCorrelation(t *testing.T) {
	app := sApp(t)
	for _, c := range []struct {
		name               string
		pipeline, approval string
		bound              string // an ended release's approval execution
		execution          string
		promoted           bool
	}{
		{"its pipeline execution", "exec-1", "", "", "exec-1", true},
		{"another pipeline execution", "exec-1", "", "", "exec-2", false},
		{"its pipeline execution, though an older AMI was bound to it", "exec-1", "", "exec-1", "exec-1", true},
		{"the approval it awaits", "", "exec-7", "", "exec-7", true},
		{"the approval it awaits, bound before to an older AMI", "", "exec-7", "exec-7", "exec-7", true},
		{"another approval than the one it awaits", "", "exec-7", "", "exec-8", false},
		{"an approval bound to a superseded AMI", "", "", "exec-9", "exec-9", false},
		{"an approval never seen", "", "", "exec-9", "exec-10", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, obs := sWith(release.PreviewReady)
			st.Active.PipelineExecution, st.Active.ApprovalExecution = c.pipeline, c.approval
			if c.bound != "" {
				st.Bindings = []release.Binding{{Execution: c.bound, AMI: "ami-older"}}
			}
			p := release.Decide(app, st, obs, sNow, sApproval("SUCCEEDED", c.execution, ""))
			got := p.Next.Active != nil && p.Next.Active.State != release.PreviewReady
			if got != c.promoted {
				t.Fatalf("promoted %v, want %v (notes %q)", got, c.promoted, p.Notes)
			}
		})
	}
	st, obs := sWith(release.PreviewReady)
	p := release.Decide(app, st, obs, sNow, sApproval("SUCCEEDED", "exec-1", ""))
	if cause := approvalCause(p.Next.Active); cause != "approved by pipeline execution exec-1 (approval ev-9)" {
		t.Errorf("cause %q", cause)
	}
	p = release.Decide(app, st, obs, sNow, sApproval("SUCCEEDED", "exec-1", "alice"))
	if cause := approvalCause(p.Next.Active); cause != "approved by alice (kaizen promote) (approval ev-9)" {
		t.Errorf("cause %q", cause)
	}
}

// approvalCause is the cause of the release's move out of preview_ready.
func approvalCause(r *release.Release) string {
	if r == nil {
		return ""
	}
	for _, h := range r.History {
		if h.From == release.PreviewReady {
			return h.Cause
		}
	}
	return ""
}

// Ending a release remembers its approval execution; one without an
// approval adds nothing. (Mutant: keepBindings' test negated.)
func TestSurvivorBindingsOfEndedReleases(t *testing.T) {
	app := sApp(t)
	st, obs := sWith(release.PreviewReady)
	st.Active.ApprovalExecution = "exec-1"
	p := release.Decide(app, st, obs, sNow, sApproval("FAILED", "exec-1", ""))
	if want := []release.Binding{{Execution: "exec-1", AMI: "ami-new"}}; !slices.Equal(p.Next.Bindings, want) {
		t.Errorf("bindings %v, want %v", p.Next.Bindings, want)
	}
	st, obs = sWith(release.Staged)
	st.Active.PipelineExecution = ""
	p = release.Decide(app, st, obs, sNow, sImage("ami-newer", "available", sNow.Add(-time.Minute)))
	if len(p.Ended) != 1 || len(p.Next.Bindings) != 0 {
		t.Errorf("a superseded release without an approval: ended %d, bindings %v; want 1 and none", len(p.Ended), p.Next.Bindings)
	}
}

// The preview and the floor are capped at MaxSize with a notice only when
// they really are above it. (Mutants: `>` and `<` made inclusive.)
func TestSurvivorCapsOnlyAboveMax(t *testing.T) {
	app := sApp(t)
	st, obs := sSettled()
	obs.Colors[green].Max = app.PreviewSize
	obs.Colors[blue].Max = app.Floor
	obs.Colors[blue].Capacity = release.Capacity{Min: app.Floor, Desired: app.Floor, Max: app.Floor}
	p := release.Decide(app, st, obs, sNow, sImage("ami-new", "available", sNow.Add(-time.Hour)))
	for _, n := range notices(p) {
		if n == release.NoticePreviewAboveMax || n == release.NoticeFloorAboveMax {
			t.Errorf("notice %s with the size exactly at MaxSize", n)
		}
	}
}

// Weighted steps: a single step of 100 is a plain cutover; each step holds
// StepMinutes. (Mutants: `steps[0] < 100` inclusive; StepMinutes divided
// instead of multiplied, at the first step and at the next.)
func TestSurvivorWeightedSteps(t *testing.T) {
	app := sApp(t)
	promote := func(steps []int) release.Plan {
		app.WeightSteps, app.StepMinutes = steps, 5
		st, obs := sWith(release.PreviewReady)
		g := obs.Colors[green]
		g.Capacity, g.Instances, g.OnVersion, g.Healthy = release.Capacity{Min: 2, Desired: 2, Max: 10}, 2, 2, 2
		return release.Decide(app, st, obs, sNow, sApproval("SUCCEEDED", "exec-1", ""))
	}
	p := promote([]int{100})
	if r := p.Next.Active; r == nil || r.State != release.Baking || r.Weight != 0 {
		t.Errorf("steps [100]: %+v, want baking after a plain cutover", r)
	}
	p = promote([]int{10, 50, 100})
	if r := p.Next.Active; r == nil || r.State != release.Shifting || r.Weight != 10 || !r.StepUntil.Equal(sNow.Add(5*time.Minute)) {
		t.Errorf("steps [10 50 100]: %+v, want shifting at 10 until %s", r, sNow.Add(5*time.Minute))
	}

	app.WeightSteps, app.StepMinutes = []int{10, 50, 100}, 5
	st, obs := sWith(release.Shifting)
	st.Active.StepUntil = sNow
	p = release.Decide(app, st, obs, sNow, sTick())
	if r := p.Next.Active; r == nil || r.Weight != 50 || !r.StepUntil.Equal(sNow.Add(5*time.Minute)) {
		t.Errorf("the next step: %+v, want weight 50 until %s", r, sNow.Add(5*time.Minute))
	}
}

// A guard alarm is acted on when it transitioned after the release took
// the public, or up to AlarmSkewSeconds before; never when suppressed.
// (Mutants: the skew's unit and sign; the suppressed test.)
func TestSurvivorGuardAlarmTiming(t *testing.T) {
	app := sApp(t)
	app.AlarmSkewSeconds = 60
	st, obs := sWith(release.Baking)
	public := st.Active.PublicAt
	for _, c := range []struct {
		at         time.Time
		suppressed string
		rollback   bool
	}{
		{public.Add(time.Minute), "", true},
		{public.Add(-30 * time.Second), "", true}, // within the skew
		{public.Add(-90 * time.Second), "", false},
		{public.Add(time.Minute), "WaitPeriod", false},
	} {
		p := release.Decide(app, st, obs, sNow, sGuard(c.at, c.suppressed))
		if got := len(shifts(p)) > 0; got != c.rollback {
			t.Errorf("alarm at public%+v suppressed %q: rolled back %v, want %v (notes %q)", c.at.Sub(public), c.suppressed, got, c.rollback, p.Notes)
		}
	}
}
