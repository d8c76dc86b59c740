package steps_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/analysis"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// analysisWorld is the example app with weighted steps and the default
// analysis: no guard alarm ever fires in these tests, the metrics alone
// decide.
func analysisWorld(t *testing.T) *world {
	t.Helper()
	cfg := testConfig(t)
	a := &cfg.Apps[0]
	a.WeightSteps, a.StepMinutes = []int{10, 50, 100}, 10
	a.Analysis = &config.Analysis{}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	w := newWorldWith(t, cfg, store.NewMemory())
	w.cloud.MetricsSeed(7)
	w.tick()
	return w
}

// toShift stages ami, waits for the preview, approves, and ticks until
// the first weighted step.
func (w *world) toShift(ami string) {
	w.t.Helper()
	w.must(route.Stage, w.amiEvent(ami))
	w.wait(8 * time.Minute)
	if st := w.state(); st.Active == nil || st.Active.State != release.PreviewReady {
		w.t.Fatalf("preview not ready: %+v", st.Active)
	}
	w.must(route.Promote, w.approvalEvent("STARTED", "exec-1"))
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	for i := 0; i < 15 && w.state().Active.State == release.Promoting; i++ {
		w.cloud.Advance(time.Minute)
		w.tick()
	}
	if st := w.state(); st.Active == nil || st.Active.State != release.Shifting || st.Active.Weight != 10 {
		w.t.Fatalf("not at the first weighted step: %+v", st.Active)
	}
}

func (w *world) calls(op string) int {
	n := 0
	for _, c := range w.cloud.Calls() {
		if c.Op == op {
			n++
		}
	}
	return n
}

func TestAnalysisCatchesBadAMIAtFirstStep(t *testing.T) {
	w := analysisWorld(t)
	ami := w.cloud.NewAMI(w.app, "shop-golden-bad", "exec-1")
	w.cloud.BadAMI(ami, 4)
	w.toShift(ami)
	var rollback map[string]int
	var weight int
	for i := 0; i < 10 && w.state().Active != nil; i++ {
		weight = w.state().Active.Weight
		w.cloud.Advance(time.Minute)
		before := w.calls("GetMetricData")
		m := w.mutations(func() { w.tick() })
		if got := w.calls("GetMetricData") - before; got != 1 {
			t.Fatalf("a shift tick made %d GetMetricData calls, want 1", got)
		}
		if m["ModifyListener"] > 0 {
			rollback = m
		}
	}
	if st := w.state(); st.Active != nil {
		t.Fatalf("the bad AMI was not stopped within the 10%% step: %+v", st.Active.Analysis)
	}
	if weight != 10 || rollback["ModifyListener"] != 1 {
		t.Fatalf("rolled back at %d%% with %v; want at 10%% with one ModifyListener", weight, rollback)
	}
	if obs := w.observe(); obs.Weights[config.Blue] != 100 {
		t.Fatalf("public not back on blue: %s", obs.Summary())
	}
	h, _ := w.store.History(t.Context(), w.app.Name)
	r := h[len(h)-1]
	if r.State != release.RolledBack || r.Analysis == nil || r.Analysis.Latest.Outcome != analysis.Fail {
		t.Fatalf("ledger: %s %+v", r.State, r.Analysis)
	}
	var cause string
	for _, tr := range r.History {
		if tr.By == release.ByAnalysis {
			cause = tr.Cause
		}
	}
	if !strings.Contains(cause, "analysis fail of shift at 10%") || !strings.Contains(cause, "error-ratio fail") {
		t.Fatalf("the ledger's rollback cause lacks the verdict's numbers: %q", cause)
	}
	pubs := w.cloud.Published()
	if last := pubs[len(pubs)-1]; !strings.Contains(last.Subject, "ROLLED BACK") || !strings.Contains(last.Message, "error-ratio fail new") {
		t.Fatalf("rollback notice: %q\n%s", last.Subject, last.Message)
	}
	t.Logf("stopped: %s", cause)
}

func TestAnalysisHealthyNoisyAMIGoesLive(t *testing.T) {
	w := analysisWorld(t)
	ami := w.cloud.NewAMI(w.app, "shop-golden-ok", "exec-1")
	w.toShift(ami)
	for i := 0; i < 120 && w.state().Active != nil; i++ {
		w.cloud.Advance(time.Minute)
		w.tick()
	}
	h, _ := w.store.History(t.Context(), w.app.Name)
	r := h[len(h)-1]
	if r.State != release.Done {
		t.Fatalf("a healthy AMI ended %s: %+v", r.State, r.History[len(r.History)-1])
	}
	passes := 0
	for _, tr := range r.History {
		if strings.HasPrefix(tr.Cause, "analysis pass of") {
			passes++
		}
	}
	if passes < 3 { // one per weighted step and the bake at least
		t.Fatalf("%d passing verdicts in the ledger: %+v", passes, r.History)
	}
	// Idle again: a tick reads no metrics.
	before := w.calls("GetMetricData")
	w.cloud.Advance(time.Minute)
	w.tick()
	if got := w.calls("GetMetricData") - before; got != 0 {
		t.Fatalf("an idle tick made %d GetMetricData calls", got)
	}
}

func TestAnalysisLowTrafficIsInconclusive(t *testing.T) {
	w := analysisWorld(t)
	w.cloud.SetTraffic(w.app.ListenerARN, 10)
	w.cloud.SetOfficeTraffic(w.app.Preview.RuleARN, 2)
	ami := w.cloud.NewAMI(w.app, "shop-golden-quiet", "exec-1")
	w.toShift(ami)
	st := w.state()
	due := st.Active.StepUntil
	var sawInconclusive bool
	for i := 0; i < 25 && w.state().Active.Weight == 10; i++ {
		w.cloud.Advance(time.Minute)
		outs := w.tick()
		for _, o := range outs {
			if v := o.Observed.Analysis; v != nil && v.Outcome == analysis.Inconclusive && strings.Contains(v.Summary(), "inconclusive") {
				sawInconclusive = true
			}
		}
		if a := w.state().Active; a == nil || a.State != release.Shifting {
			t.Fatalf("too little traffic moved the release to %+v", a)
		}
	}
	st = w.state()
	if !sawInconclusive || st.Active.Weight != 50 {
		t.Fatalf("inconclusive %v, weight %d", sawInconclusive, st.Active.Weight)
	}
	// The step waited for the analysis, as long as inconclusiveMinutes,
	// then the default (pass) moved it on.
	moved := st.Active.StepUntil.Add(-10 * time.Minute)
	if waited := moved.Sub(due); waited < 10*time.Minute {
		for _, h := range st.Active.History {
			t.Logf("%s %s→%s %s", h.At.Format("15:04"), h.From, h.To, h.Cause)
		}
		t.Fatalf("the step moved on %s after it was due, want the 10 minutes inconclusiveMinutes", waited)
	}
	if m := w.cloud.Mutations(); m["ModifyListener"] != 2 {
		t.Fatalf("listener calls %v: want the first step and the second, no rollback", m)
	}
}

// model draws one color's minute as the simulator does (shared/sim
// metrics.go): Poisson requests and errors, log-normal latencies.
type model struct {
	r *rand.Rand
}

func (m model) poisson(mean float64) float64 {
	if mean > 50 {
		return math.Max(0, math.Round(mean+math.Sqrt(mean)*m.r.NormFloat64()))
	}
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= m.r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

type minute struct{ req, err, p50, p99 float64 }

func (m model) minute(load, errFactor, latFactor float64) minute {
	n := m.poisson(load)
	return minute{req: n, err: m.poisson(n * sim.BaseErrorRatio * errFactor),
		p50: sim.BaseP50 * latFactor * math.Exp(0.05*m.r.NormFloat64()),
		p99: sim.BaseP99 * latFactor * math.Exp((0.08+0.5/math.Sqrt(max(n, 1)))*m.r.NormFloat64())}
}

func input(specs []analysis.Spec, phase analysis.Phase, nw, old []minute) analysis.Input {
	in := analysis.Input{Phase: phase, Specs: specs, New: map[string]analysis.Sample{}, Old: map[string]analysis.Sample{}}
	fill := func(ms []minute, into map[string]analysis.Sample) float64 {
		var e, r, p50, p99, un []float64
		total := 0.0
		for _, x := range ms {
			e, r, p50, p99, un = append(e, x.err), append(r, x.req), append(p50, x.p50), append(p99, x.p99), append(un, 0)
			total += x.req
		}
		into["error-ratio"] = analysis.Sample{Values: e, Counts: r}
		into["latency-p50"] = analysis.Sample{Values: p50}
		into["latency-p99"] = analysis.Sample{Values: p99}
		into["unhealthy-hosts"] = analysis.Sample{Values: un}
		return total
	}
	in.NewRequests, in.OldRequests = fill(nw, in.New), fill(old, in.Old)
	return in
}

// release runs one release's judgement as the tick does: every minute of
// the weighted steps (10, 50, 100 % for 10 minutes each, the interval
// cumulative since the first step) and of a 60-minute bake (the last 30
// minutes against the old color's 30 before the cutover). It returns the
// weight at which the analysis failed, or 0.
func runRelease(m model, specs []analysis.Spec, load, errFactor, latFactor float64) int {
	var nw, old []minute
	for _, w := range []float64{10, 50} {
		for range 10 {
			nw = append(nw, m.minute(load*w/100, errFactor, latFactor))
			old = append(old, m.minute(load*(100-w)/100, 1, 1))
			if analysis.Judge(input(specs, analysis.Shift, nw, old)).Outcome == analysis.Fail {
				return int(w)
			}
		}
	}
	before := old[len(old)-10:]
	var bake []minute
	for range 60 {
		bake = append(bake, m.minute(load, errFactor, latFactor))
		recent := bake[max(0, len(bake)-30):]
		base := before
		if len(recent) > len(before) {
			base = old[max(0, len(old)-len(recent)):]
		}
		if analysis.Judge(input(specs, analysis.Bake, recent, base)).Outcome == analysis.Fail {
			return 100
		}
	}
	return 0
}

// False-positive and false-negative rates of the judgement, over 1,000
// healthy AMIs (noise only) and 1,000 bad ones (twice the error ratio,
// latency unchanged), at the simulator's default traffic. Goals: no
// healthy AMI rolled back; every bad AMI caught by the 50 % step.
func TestAnalysisFalsePositiveAndNegativeRates(t *testing.T) {
	an := &config.Analysis{} // the defaults
	cfg := testConfig(t)
	cfg.Apps[0].WeightSteps, cfg.Apps[0].Analysis = []int{10, 50, 100}, an
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	shift := release.AnalysisSpecs(an, analysis.Shift)
	const runs = 1000
	m := model{r: rand.New(rand.NewPCG(17, 42))}
	fp, fn, at10 := 0, 0, 0
	for range runs {
		if runRelease(m, shift, sim.DefaultTraffic, 1, 1) != 0 {
			fp++
		}
		switch runRelease(m, shift, sim.DefaultTraffic, 2, 1) {
		case 10:
			at10++
		case 50:
		default:
			fn++
		}
	}
	t.Logf("healthy AMIs rolled back: %d of %d (false-positive rate %.2f%%)", fp, runs, 100*float64(fp)/runs)
	t.Logf("bad AMIs (2× error ratio) not caught by the 50%% step: %d of %d (false-negative rate %.2f%%); caught at 10%%: %d",
		fn, runs, 100*float64(fn)/runs, at10)
	if fp > 0 || fn > 0 {
		t.Fatalf("goals missed: %d false positives, %d false negatives", fp, fn)
	}
}
