package analysis

import (
	"strings"
	"testing"
)

var specs = []Spec{
	{Name: "errors", Kind: Ratio, Tolerance: 0.5, MinSample: 200, Alpha: 0.01, Limit: 0.05},
	{Name: "p99", Kind: Distribution, Tolerance: 0.3, MinSample: 200, Alpha: 0.01, MinPoints: 5, Limit: 2},
	{Name: "unhealthy", Kind: Gauge, Tolerance: 0.5, MinSample: 200},
}

func minutes(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func pair(newErr, oldErr float64, newReq, oldReq float64, newLat, oldLat []float64) Input {
	return Input{
		Phase: Shift, Specs: specs,
		New: map[string]Sample{
			"errors":    {Values: minutes(newErr/10, 10), Counts: minutes(newReq/10, 10)},
			"p99":       {Values: newLat},
			"unhealthy": {Values: minutes(0, 10)},
		},
		Old: map[string]Sample{
			"errors":    {Values: minutes(oldErr/10, 10), Counts: minutes(oldReq/10, 10)},
			"p99":       {Values: oldLat},
			"unhealthy": {Values: minutes(0, 10)},
		},
		NewRequests: newReq, OldRequests: oldReq,
	}
}

var (
	lat      = []float64{0.20, 0.21, 0.19, 0.22, 0.20, 0.18, 0.21, 0.20, 0.19, 0.23}
	slow     = []float64{0.40, 0.41, 0.39, 0.45, 0.42, 0.38, 0.44, 0.40, 0.39, 0.43}
	slightly = []float64{0.21, 0.22, 0.20, 0.23, 0.21, 0.19, 0.22, 0.21, 0.20, 0.24}
)

func outcomes(v Verdict) map[string]Outcome {
	m := map[string]Outcome{}
	for _, r := range v.Metrics {
		m[r.Metric] = r.Outcome
	}
	return m
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name  string
		in    Input
		want  Outcome
		each  map[string]Outcome
		score float64
	}{
		{"same", pair(10, 90, 1000, 9000, lat, lat), Pass, map[string]Outcome{"errors": Pass, "p99": Pass, "unhealthy": Pass}, 100},
		{"double errors, significant", pair(40, 90, 2000, 9000, lat, lat), Fail, map[string]Outcome{"errors": Fail, "p99": Pass, "unhealthy": Pass}, 66.7},
		// 2 errors in 100 against 1%: twice as bad, but it could be noise.
		{"double errors, not significant", pair(2, 90, 250, 9000, lat, lat), Pass, map[string]Outcome{"errors": Pass}, 100},
		{"slow", pair(10, 90, 1000, 9000, slow, lat), Fail, map[string]Outcome{"errors": Pass, "p99": Fail}, 66.7},
		// Significantly slower, but within the tolerance of 30%.
		{"slightly slower", pair(10, 90, 1000, 9000, slightly, lat), Pass, map[string]Outcome{"p99": Pass}, 100},
		{"too little traffic", pair(10, 90, 50, 9000, slow, lat), Inconclusive, map[string]Outcome{"errors": Inconclusive, "p99": Inconclusive, "unhealthy": Inconclusive}, 0},
		{"too few points", pair(10, 90, 1000, 9000, slow[:2], lat[:2]), Inconclusive, map[string]Outcome{"p99": Inconclusive}, 66.7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(tc.in)
			if v.Outcome != tc.want {
				t.Fatalf("outcome %s, want %s: %s", v.Outcome, tc.want, v.Summary())
			}
			got := outcomes(v)
			for m, o := range tc.each {
				if got[m] != o {
					t.Errorf("%s: %s, want %s (%s)", m, got[m], o, v.Summary())
				}
			}
			if v.Score != tc.score {
				t.Errorf("score %g, want %g", v.Score, tc.score)
			}
		})
	}
}

func TestJudgeHigherIsBetter(t *testing.T) {
	s := []Spec{{Name: "success", Kind: Ratio, HigherIsBetter: true, Tolerance: 0.1, MinSample: 100, Alpha: 0.01}}
	in := Input{Phase: Shift, Specs: s, NewRequests: 1000, OldRequests: 1000,
		New: map[string]Sample{"success": {Values: []float64{700}, Counts: []float64{1000}}},
		Old: map[string]Sample{"success": {Values: []float64{990}, Counts: []float64{1000}}}}
	if v := Judge(in); v.Outcome != Fail {
		t.Fatalf("70%% success against 99%%: %s", v.Summary())
	}
	in.New, in.Old = in.Old, in.New
	if v := Judge(in); v.Outcome != Pass {
		t.Fatalf("99%% success against 70%%: %s", v.Summary())
	}
}

func TestJudgePreviewUsesLimits(t *testing.T) {
	in := Input{Phase: Preview, Specs: specs, NewRequests: 400,
		New: map[string]Sample{
			"errors": {Values: []float64{40}, Counts: []float64{400}},
			"p99":    {Values: lat},
		}}
	v := Judge(in)
	if v.Outcome != Fail || outcomes(v)["errors"] != Fail || outcomes(v)["p99"] != Pass {
		t.Fatalf("10%% errors on the preview against a 5%% limit: %s", v.Summary())
	}
	if len(v.Metrics) != 2 {
		t.Fatalf("the gauge has no preview limit and must not be judged there: %+v", v.Metrics)
	}
	in.New["errors"] = Sample{Values: []float64{4}, Counts: []float64{400}}
	if v := Judge(in); v.Outcome != Pass {
		t.Fatalf("1%% errors on the preview: %s", v.Summary())
	}
	in.NewRequests = 20
	if v := Judge(in); v.Outcome != Inconclusive {
		t.Fatalf("20 office requests: %s", v.Summary())
	}
	in.Specs = specs[2:]
	if v := Judge(in); v.Outcome != Inconclusive || v.Error == "" {
		t.Fatalf("no metric with a preview limit: %+v", v)
	}
}

func TestSummaryHasTheNumbers(t *testing.T) {
	v := Judge(pair(40, 90, 2000, 9000, lat, lat))
	v.Weight = 10
	s := v.Summary()
	for _, want := range []string{"analysis fail of shift at 10%", "errors fail new 2.00% old 1.00%", "score 67", "2000 new / 9000 old"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary %q lacks %q", s, want)
		}
	}
	if f := v.Failed(); len(f) != 1 || f[0] != "errors" {
		t.Errorf("failed %v", f)
	}
}
