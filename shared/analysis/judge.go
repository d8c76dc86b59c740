// Package analysis judges a release by its own metrics, as Kayenta and
// Argo Rollouts' analysis do: the new color's series beside the old
// color's, fetched for the same interval under the same traffic, each
// metric compared with a tolerance and a significance test, and an
// overall verdict with a score.
//
// Fetching, comparing and deciding are three things: providers (the
// cloudwatch and datadog packages, behind Provider) fetch, Judge
// compares, and the release planner decides what a verdict means for a
// release. Nothing here knows kaizen's configuration.
package analysis

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Outcome is a metric's or a verdict's result.
type Outcome string

const (
	Pass         Outcome = "pass"
	Fail         Outcome = "fail"
	Inconclusive Outcome = "inconclusive"
)

// Phase is where in a release the analysis runs.
type Phase string

const (
	// Preview: office traffic only, no comparable old traffic: each metric
	// is held to its absolute limit.
	Preview Phase = "preview"
	// Shift: each weighted step, new color against old under the same
	// public traffic.
	Shift Phase = "shift"
	// Bake: the new color has the public; the old color's interval is the
	// one before the cutover.
	Bake Phase = "bake"
)

// Kind is how a metric is compared.
type Kind string

const (
	// Ratio is events over requests (5xx over RequestCount): the sums over
	// the interval are compared, new against old, with a relative
	// tolerance, and the difference must be significant in an exact
	// one-sided test (RateExcess; on the preview, BinomialTail against the
	// limit).
	Ratio Kind = "ratio"
	// Distribution is a per-minute value such as a latency percentile: the
	// medians are compared with a relative tolerance, and the per-minute
	// points must differ in a one-sided Mann-Whitney U test.
	Distribution Kind = "distribution"
	// Gauge is a level such as UnHealthyHostCount: the means are compared
	// with an absolute tolerance.
	Gauge Kind = "gauge"
)

// Spec is one metric's judgement rule.
type Spec struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// HigherIsBetter flips the direction (lower is better by default).
	HigherIsBetter bool `json:"higherIsBetter,omitempty"`
	// Tolerance is how much worse the new color may be before it fails:
	// relative for Ratio and Distribution (0.5: half as bad again), in the
	// metric's unit for Gauge.
	Tolerance float64 `json:"tolerance"`
	// Limit is the absolute bound on the preview (0: not checked there).
	Limit float64 `json:"limit,omitempty"`
	// MinSample is how many requests each color must have served in the
	// interval; below it the metric is inconclusive.
	MinSample float64 `json:"minSample"`
	// Alpha is the one-sided significance a difference must reach to fail.
	Alpha float64 `json:"alpha"`
	// MinPoints is how many per-minute points each color needs for a
	// Distribution metric.
	MinPoints int `json:"minPoints,omitempty"`
}

// Sample is one color's data for one metric over the interval, one value
// a minute. For a Ratio, Values are the events and Counts the requests;
// for the other kinds Values are the metric's points.
type Sample struct {
	Values []float64 `json:"values"`
	Counts []float64 `json:"counts,omitempty"`
}

// Input is what Judge compares.
type Input struct {
	Phase Phase
	Specs []Spec
	// New and Old hold each metric's sample by Spec.Name; Old is not read
	// on the preview.
	New, Old map[string]Sample
	// NewRequests and OldRequests are the requests each color served in
	// the interval: the sample size MinSample is checked against.
	NewRequests, OldRequests float64
}

// Result is one metric's judgement, with its numbers.
type Result struct {
	Metric  string  `json:"metric"`
	Kind    Kind    `json:"kind"`
	Old     float64 `json:"old"`
	New     float64 `json:"new"`
	Limit   float64 `json:"limit,omitempty"`
	P       float64 `json:"p"` // the test's one-sided p-value (1 when there is none)
	Outcome Outcome `json:"outcome"`
	Why     string  `json:"why"`
}

// Verdict is the judgement of one interval.
type Verdict struct {
	Phase    Phase  `json:"phase"`
	Provider string `json:"provider,omitempty"`
	// Color and AMI are the new color's; Baseline is the old color.
	Color    string `json:"color"`
	AMI      string `json:"ami,omitempty"`
	Baseline string `json:"baseline,omitempty"`
	// Weight is the new color's share of the public during the interval.
	Weight int       `json:"weight,omitempty"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// NewRequests and OldRequests are the sample sizes.
	NewRequests float64 `json:"newRequests"`
	OldRequests float64 `json:"oldRequests"`
	Outcome     Outcome `json:"outcome"`
	// Score is the share of the metrics that passed, in percent.
	Score   float64  `json:"score"`
	Metrics []Result `json:"metrics"`
	// Error says why there is no judgement (the metrics could not be
	// fetched); the outcome is then Inconclusive.
	Error string `json:"error,omitempty"`
}

// Judge compares the new color with the old one, metric by metric, and
// makes the overall verdict: Fail if any metric fails, Inconclusive if
// none fails but one could not be judged, Pass otherwise. The score is
// the share of metrics that passed. Metrics without a preview limit are
// not judged on the preview.
func Judge(in Input) Verdict {
	v := Verdict{Phase: in.Phase, NewRequests: in.NewRequests, OldRequests: in.OldRequests}
	passed := 0
	for _, s := range in.Specs {
		var r Result
		if in.Phase == Preview {
			if s.Limit <= 0 {
				continue
			}
			r = judgeLimit(s, in.New[s.Name], in.NewRequests)
		} else {
			r = judgePair(s, in.New[s.Name], in.Old[s.Name], in.NewRequests, in.OldRequests)
		}
		if r.Outcome == Pass {
			passed++
		}
		v.Metrics = append(v.Metrics, r)
	}
	v.Outcome = Pass
	for _, r := range v.Metrics {
		switch r.Outcome {
		case Fail:
			v.Outcome = Fail
		case Inconclusive:
			if v.Outcome != Fail {
				v.Outcome = Inconclusive
			}
		}
	}
	if len(v.Metrics) == 0 {
		v.Outcome = Inconclusive
		v.Error = "no metric applies to the " + string(in.Phase)
	} else {
		v.Score = math.Round(1000*float64(passed)/float64(len(v.Metrics))) / 10
	}
	return v
}

func sum(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t
}

// worse says whether a is worse than b by more than the tolerance.
func (s Spec) worse(a, b float64) bool {
	if s.HigherIsBetter {
		return a < b*(1-s.Tolerance)
	}
	return a > b*(1+s.Tolerance)
}

func judgePair(s Spec, nw, old Sample, newReq, oldReq float64) Result {
	r := Result{Metric: s.Name, Kind: s.Kind, P: 1}
	if newReq < s.MinSample || oldReq < s.MinSample {
		r.Outcome = Inconclusive
		r.Why = fmt.Sprintf("too little traffic: %.0f new and %.0f old requests, %.0f needed on each", newReq, oldReq, s.MinSample)
		if s.Kind == Ratio {
			r.New, r.Old = ratio(nw), ratio(old)
		}
		return r
	}
	switch s.Kind {
	case Ratio:
		kn, nn, ko, no := sum(nw.Values), sum(nw.Counts), sum(old.Values), sum(old.Counts)
		r.New, r.Old = ratio(nw), ratio(old)
		if nn < s.MinSample || no < s.MinSample {
			r.Outcome = Inconclusive
			r.Why = fmt.Sprintf("too few counted: %.0f new and %.0f old, %.0f needed on each", nn, no, s.MinSample)
			return r
		}
		if s.HigherIsBetter {
			r.P = RateExcess(ko, no, kn, nn)
		} else {
			r.P = RateExcess(kn, nn, ko, no)
		}
		r.Outcome, r.Why = decide(s, r.New, r.Old, r.P, "%.3g%%", 100)
	case Distribution:
		need := max(s.MinPoints, 3)
		if len(nw.Values) < need || len(old.Values) < need {
			r.Outcome = Inconclusive
			r.Why = fmt.Sprintf("too few points: %d new and %d old, %d needed on each", len(nw.Values), len(old.Values), need)
			r.New, r.Old = Median(nw.Values), Median(old.Values)
			return r
		}
		r.New, r.Old = Median(nw.Values), Median(old.Values)
		if s.HigherIsBetter {
			r.P = MannWhitneyU(old.Values, nw.Values).Greater
		} else {
			r.P = MannWhitneyU(nw.Values, old.Values).Greater
		}
		r.Outcome, r.Why = decide(s, r.New, r.Old, r.P, "%.4g", 1)
	case Gauge:
		if len(nw.Values) == 0 {
			r.Outcome = Inconclusive
			r.Why = "no points for the new color"
			return r
		}
		r.New, r.Old = Mean(nw.Values), Mean(old.Values)
		bad := r.New > r.Old+s.Tolerance
		if s.HigherIsBetter {
			bad = r.New < r.Old-s.Tolerance
		}
		if bad {
			r.Outcome, r.Why = Fail, fmt.Sprintf("mean %.3g against %.3g, beyond the tolerance of %.3g", r.New, r.Old, s.Tolerance)
		} else {
			r.Outcome, r.Why = Pass, fmt.Sprintf("mean %.3g against %.3g, within the tolerance of %.3g", r.New, r.Old, s.Tolerance)
		}
	default:
		r.Outcome, r.Why = Inconclusive, fmt.Sprintf("unknown kind %q", s.Kind)
	}
	return r
}

// decide fails a metric only if it is worse beyond the tolerance and the
// difference is significant: a tolerance alone fails a healthy color on
// noise, a test alone fails it on a difference nobody cares about.
func decide(s Spec, nw, old, p float64, format string, scale float64) (Outcome, string) {
	f := func(x float64) string { return fmt.Sprintf(format, x*scale) }
	beyond := s.worse(nw, old)
	switch {
	case beyond && p < s.Alpha:
		return Fail, fmt.Sprintf("%s against %s: beyond the tolerance of %g%% and significant (p=%.2g < %g)", f(nw), f(old), s.Tolerance*100, p, s.Alpha)
	case beyond:
		return Pass, fmt.Sprintf("%s against %s: beyond the tolerance of %g%% but not significant (p=%.2g ≥ %g)", f(nw), f(old), s.Tolerance*100, p, s.Alpha)
	}
	return Pass, fmt.Sprintf("%s against %s: within the tolerance of %g%%", f(nw), f(old), s.Tolerance*100)
}

func ratio(s Sample) float64 {
	n := sum(s.Counts)
	if n == 0 {
		return 0
	}
	return sum(s.Values) / n
}

// judgeLimit holds the new color to an absolute limit (the preview).
func judgeLimit(s Spec, nw Sample, newReq float64) Result {
	r := Result{Metric: s.Name, Kind: s.Kind, Limit: s.Limit, P: 1}
	if newReq < s.MinSample {
		r.Outcome = Inconclusive
		r.Why = fmt.Sprintf("too little office traffic: %.0f requests, %.0f needed", newReq, s.MinSample)
		if s.Kind == Ratio {
			r.New = ratio(nw)
		}
		return r
	}
	var bad bool
	switch s.Kind {
	case Ratio:
		r.New = ratio(nw)
		r.P = BinomialTail(int(math.Round(sum(nw.Values))), int(math.Round(sum(nw.Counts))), s.Limit)
		bad = r.New > s.Limit && r.P < s.Alpha
	case Distribution:
		if len(nw.Values) < max(s.MinPoints, 3) {
			r.Outcome, r.Why = Inconclusive, fmt.Sprintf("too few points: %d", len(nw.Values))
			return r
		}
		r.New = Median(nw.Values)
		bad = r.New > s.Limit
	case Gauge:
		r.New = Mean(nw.Values)
		bad = r.New > s.Limit
	}
	if s.HigherIsBetter {
		bad = r.New < s.Limit
	}
	if bad {
		r.Outcome, r.Why = Fail, fmt.Sprintf("%.4g beyond the limit %.4g", r.New, s.Limit)
	} else {
		r.Outcome, r.Why = Pass, fmt.Sprintf("%.4g within the limit %.4g", r.New, s.Limit)
	}
	return r
}

// Summary is the verdict in one line, with its numbers: what the ledger
// and the notices say.
func (v Verdict) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "analysis %s of %s", v.Outcome, v.Phase)
	if v.Weight > 0 {
		fmt.Fprintf(&b, " at %d%%", v.Weight)
	}
	if v.Error != "" {
		fmt.Fprintf(&b, ": %s", v.Error)
		return b.String()
	}
	fmt.Fprintf(&b, " (score %.0f, %.0f new / %.0f old requests)", v.Score, v.NewRequests, v.OldRequests)
	for i, r := range v.Metrics {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s %s new %s old %s", sep, r.Metric, r.Outcome, num(r.Kind, r.New), num(r.Kind, r.Old))
		if r.P < 1 {
			fmt.Fprintf(&b, " p=%.2g", r.P)
		}
	}
	return b.String()
}

func num(k Kind, x float64) string {
	if k == Ratio {
		return fmt.Sprintf("%.2f%%", 100*x)
	}
	return fmt.Sprintf("%.4g", x)
}

// Failed lists the metrics that failed, by name.
func (v Verdict) Failed() []string {
	var out []string
	for _, r := range v.Metrics {
		if r.Outcome == Fail {
			out = append(out, r.Metric)
		}
	}
	return out
}
