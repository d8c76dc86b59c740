package release

import (
	"fmt"
	"time"

	"github.com/kaizen-sre/kaizen/shared/analysis"
	"github.com/kaizen-sre/kaizen/shared/config"
)

// Verdict is a metric analysis' judgement of one interval (shared/analysis).
// The step fetches the series and judges them; the planner only reads the
// verdict, as an observation: Observed.Analysis.
type Verdict = analysis.Verdict

// AnalysisMark is what a release keeps of its analysis: the latest verdict
// that changed the outcome or decided something, for kaizen status and
// the ledger.
type AnalysisMark struct {
	Latest Verdict `json:"latest"`
	// At is when the planner recorded it.
	At time.Time `json:"at"`
}

// phaseOf is the analysis phase of a release's state, "" where there is
// none (approved, not yet public; rolling back; ended).
func phaseOf(s State) analysis.Phase {
	switch s {
	case Staged, PreviewReady:
		return analysis.Preview
	case Shifting:
		return analysis.Shift
	case Baking:
		return analysis.Bake
	}
	return ""
}

// verdictFor is the observed verdict if it is about rel as it stands now:
// its AMI on its color, in its phase.
func (p *planner) verdictFor(rel *Release) *Verdict {
	v := p.obs.Analysis
	if p.app.Analysis == nil || v == nil {
		return nil
	}
	if v.AMI != rel.AMI || v.Color != string(rel.Color) || v.Phase != phaseOf(rel.State) || v.Phase == "" {
		return nil
	}
	return v
}

// judge reacts to the observed verdict, as to a guard alarm: a failure on
// the preview marks the release unhealthy (an approval is then refused),
// during a shift or the bake it rolls the public back in one listener
// call. It records a verdict whose outcome differs from the last one
// recorded, so the ledger holds every change with its numbers without a
// write every minute. It reports whether the state changed.
func (p *planner) judge(rel *Release) bool {
	v := p.verdictFor(rel)
	if v == nil {
		return false
	}
	if m := rel.Analysis; m == nil || m.Latest.Outcome != v.Outcome || m.Latest.Phase != v.Phase || m.Latest.Weight != v.Weight {
		p.markVerdict(rel, *v)
		if v.Outcome != analysis.Fail {
			rel.logCause(p.now, v.Summary())
		}
	}
	if v.Outcome != analysis.Fail {
		p.note("%s", v.Summary())
		return false
	}
	why := v.Summary()
	switch rel.State {
	case Staged, PreviewReady:
		rel.Reason = why
		p.moved(rel, Unhealthy, ByAnalysis, p.cause(why))
		p.notify(Notice{Kind: NoticeStagedUnhealthy, Release: *rel})
		return true
	case Shifting, Baking:
		p.rollBack(rel, ByAnalysis, why)
		return true
	}
	return false
}

func (p *planner) markVerdict(rel *Release, v Verdict) {
	rel.Analysis = &AnalysisMark{Latest: v, At: p.now}
}

// analysisHolds keeps a weighted step (or the end of the bake) from moving
// on until the analysis passes: an inconclusive verdict, or none, holds it
// for the app's inconclusiveMinutes past the step's end, and then the
// configured default decides (onInconclusive: "pass" goes on, "fail" rolls
// back). It reports whether to hold, and whether the state changed.
func (p *planner) analysisHolds(rel *Release) (hold, changed bool) {
	an := p.app.Analysis
	if an == nil {
		return false, false
	}
	v := p.verdictFor(rel)
	if v != nil && v.Outcome == analysis.Pass {
		return false, false
	}
	due := rel.StepUntil
	if rel.State == Baking {
		due = rel.BakeUntil
	}
	limit := due.Add(time.Duration(an.InconclusiveMinutes) * time.Minute)
	what := "no verdict"
	if v != nil {
		what = v.Summary()
	}
	if p.now.Before(limit) {
		p.note("analysis holds %s of %s until it passes, at most until %s: %s", rel.State, rel.AMI, stamp(limit), what)
		return true, false
	}
	why := fmt.Sprintf("analysis inconclusive for %d minutes past the %s's end (%s); onInconclusive is %q", an.InconclusiveMinutes, stepName(rel.State), what, an.OnInconclusive)
	if v != nil {
		p.markVerdict(rel, *v)
	}
	if an.OnInconclusive == "fail" {
		p.rollBack(rel, ByAnalysis, why)
		return true, true
	}
	rel.logCause(p.now, why)
	p.note("%s: going on", why)
	return false, false
}

func stepName(s State) string {
	if s == Baking {
		return "bake"
	}
	return "step"
}

// AnalysisSpecs are the metrics an app's analysis judges in phase, as
// the judge's specs.
func AnalysisSpecs(an *config.Analysis, phase analysis.Phase) []analysis.Spec {
	var out []analysis.Spec
	for _, m := range an.Effective() {
		if !m.Applies(string(phase)) {
			continue
		}
		alpha := an.Alpha
		if m.Alpha != nil {
			alpha = *m.Alpha
		}
		out = append(out, analysis.Spec{Name: m.Name, Kind: analysis.Kind(m.Kind), HigherIsBetter: m.Direction == "higher",
			Tolerance: *m.Tolerance, Limit: m.Limit, MinSample: *m.MinSample, Alpha: alpha, MinPoints: 5})
	}
	return out
}
