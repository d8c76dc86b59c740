package release

import (
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/analysis"
	"github.com/kaizen-sre/kaizen/shared/config"
)

// analyzed configures the app's analysis and observes a verdict about the
// fixture's release (ami-new on green).
func analyzed(o analysis.Outcome, phase analysis.Phase, onInconclusive string) tweak {
	return func(app *config.App, _ *AppState, obs *Observed) {
		app.Analysis = &config.Analysis{Provider: "cloudwatch", Alpha: 0.001, InconclusiveMinutes: 10, OnInconclusive: onInconclusive}
		if o == "" {
			return
		}
		obs.Analysis = &Verdict{Phase: phase, Color: "green", AMI: "ami-new", Outcome: o, Score: 50,
			Metrics: []analysis.Result{{Metric: "error-ratio", Kind: analysis.Ratio, New: 0.02, Old: 0.005, P: 1e-6, Outcome: o}}}
	}
}

var (
	stepDue    = onRelease(func(r *Release) { r.StepUntil = t0 })
	stepLate   = onRelease(func(r *Release) { r.StepUntil = t0.Add(-10 * time.Minute) })
	bakeDue    = onRelease(func(r *Release) { r.BakeUntil = t0 })
	otherAMI   = func(_ *config.App, _ *AppState, obs *Observed) { obs.Analysis.AMI = "ami-older" }
	rolledBack = []string{"shift green=0", "notify rolled-back", "suspend green"}
)

func init() {
	rows = append(rows,
		row{name: "analysis fails on the preview", from: Staged, to: Unhealthy, by: ByAnalysis, ev: tick,
			tweak: []tweak{analyzed(analysis.Fail, analysis.Preview, "pass")},
			want:  []string{"notify staged-unhealthy"}, final: Unhealthy, next: Unhealthy},
		row{name: "analysis fails on the ready preview", from: PreviewReady, to: Unhealthy, by: ByAnalysis, ev: tick,
			tweak: []tweak{analyzed(analysis.Fail, analysis.Preview, "pass")},
			want:  []string{"notify staged-unhealthy"}, final: Unhealthy, next: Unhealthy},
		row{name: "analysis fails during the shift", from: Shifting, to: RollingBack, by: ByAnalysis, ev: tick,
			tweak: []tweak{weightSteps, analyzed(analysis.Fail, analysis.Shift, "pass")},
			want:  rolledBack, final: RolledBack},
		row{name: "analysis fails during the bake", from: Baking, to: RollingBack, by: ByAnalysis, ev: tick,
			tweak: []tweak{analyzed(analysis.Fail, analysis.Bake, "pass")},
			want:  []string{"shift green=0", "preview green", "notify rolled-back", "resume blue", "suspend green"}, final: RolledBack},
		row{name: "inconclusive past its bound, onInconclusive fail", from: Shifting, to: RollingBack, by: ByAnalysis, ev: tick,
			tweak: []tweak{weightSteps, stepLate, analyzed(analysis.Inconclusive, analysis.Shift, "fail")},
			want:  rolledBack, final: RolledBack},

		row{name: "analysis passes: the step moves on", from: Shifting, ev: tick,
			tweak: []tweak{weightSteps, stepDue, analyzed(analysis.Pass, analysis.Shift, "pass")},
			want:  []string{"shift green=50", "notify shift-stepped"}, final: Shifting, next: Shifting},
		row{name: "analysis inconclusive holds the step", from: Shifting, ev: tick,
			tweak: []tweak{weightSteps, stepDue, analyzed(analysis.Inconclusive, analysis.Shift, "fail")},
			final: Shifting, next: Shifting},
		row{name: "no verdict holds the step", from: Shifting, ev: tick,
			tweak: []tweak{weightSteps, stepDue, analyzed("", analysis.Shift, "fail")},
			final: Shifting, next: Shifting},
		row{name: "inconclusive past its bound, onInconclusive pass", from: Shifting, ev: tick,
			tweak: []tweak{weightSteps, stepLate, analyzed(analysis.Inconclusive, analysis.Shift, "pass")},
			want:  []string{"shift green=50", "notify shift-stepped"}, final: Shifting, next: Shifting},
		row{name: "a verdict about another AMI moves nothing", from: Shifting, ev: tick,
			tweak: []tweak{weightSteps, analyzed(analysis.Fail, analysis.Shift, "pass"), otherAMI},
			final: Shifting, next: Shifting},
		row{name: "a verdict of another phase moves nothing", from: Baking, ev: tick,
			tweak: []tweak{analyzed(analysis.Fail, analysis.Shift, "pass")},
			final: Baking, next: Baking},
		row{name: "analysis inconclusive holds the end of the bake", from: Baking, ev: tick,
			tweak: []tweak{bakeDue, analyzed(analysis.Inconclusive, analysis.Bake, "pass")},
			final: Baking, next: Baking},
		row{name: "analysis passes: the bake ends", from: Baking, to: Done, by: ByTimer, ev: tick,
			tweak: []tweak{bakeDue, analyzed(analysis.Pass, analysis.Bake, "pass")},
			want:  []string{"notify released", "set-capacity blue"}, final: Done},
	)
}

// The verdict's numbers reach the ledger and the rollback notice.
func TestAnalysisVerdictInLedgerAndNotice(t *testing.T) {
	app := shopApp(t)
	st, obs := fleet(Shifting)
	for _, f := range []tweak{weightSteps, analyzed(analysis.Fail, analysis.Shift, "pass")} {
		f(app, &st, &obs)
	}
	plan := Decide(app, st, obs, t0, tick)
	if len(plan.Ended) != 1 {
		t.Fatalf("ended %+v", plan.Ended)
	}
	r := plan.Ended[0]
	if r.Analysis == nil || r.Analysis.Latest.Outcome != analysis.Fail {
		t.Fatalf("the verdict is not on the release: %+v", r.Analysis)
	}
	found := false
	for _, h := range r.History {
		found = found || h.By == ByAnalysis && strings.Contains(h.Cause, "error-ratio fail new 2.00% old 0.50%")
	}
	if !found {
		t.Fatalf("no ledger entry with the numbers: %+v", r.History)
	}
	for _, a := range plan.Actions {
		if a.Notice == NoticeRolledBack && !strings.Contains(a.Message, "error-ratio fail new 2.00% old 0.50%") {
			t.Fatalf("the rollback notice lacks the numbers: %s", a.Message)
		}
	}
	// A pass is recorded once, not every minute.
	st2, obs2 := fleet(Shifting)
	for _, f := range []tweak{weightSteps, analyzed(analysis.Pass, analysis.Shift, "pass")} {
		f(app, &st2, &obs2)
	}
	p1 := Decide(app, st2, obs2, t0, tick)
	if !p1.Changed(st2) || p1.Next.Active.Analysis == nil {
		t.Fatalf("the first pass is not recorded")
	}
	p2 := Decide(app, p1.Next, obs2, t0.Add(time.Minute), tick)
	if p2.Changed(p1.Next) {
		t.Fatalf("the same pass again changed the state: %+v", p2.Notes)
	}
}
