package config

import (
	"strings"
	"testing"
)

func analysisFile(t *testing.T, an *Analysis) *File {
	t.Helper()
	f, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	f.Apps[0].WeightSteps, f.Apps[0].StepMinutes = []int{10, 50, 100}, 10
	f.Apps[0].Analysis = an
	return f
}

func TestAnalysisDefaults(t *testing.T) {
	f := analysisFile(t, &Analysis{})
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	an := f.Apps[0].Analysis
	if an.Provider != ProviderCloudWatch || an.Alpha != 1e-5 || an.InconclusiveMinutes != 10 || an.OnInconclusive != "pass" || an.WindowMinutes != 30 {
		t.Fatalf("defaults: %+v", an)
	}
	ms := an.Effective()
	names := []string{}
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "error-ratio,latency-p50,latency-p99,unhealthy-hosts" {
		t.Fatalf("default metrics %v", names)
	}
	if !ms[0].Applies(PhasePreview) || ms[3].Applies(PhasePreview) || !ms[3].Applies(PhaseBake) {
		t.Fatalf("phases: %+v / %+v", ms[0].Phases, ms[3].Phases)
	}
	q := ms[0].Query.Expand(&f.Apps[0], Green)
	if q.Dimensions["TargetGroup"] != "targetgroup/shop-green/fedcba9876543210" || q.Dimensions["LoadBalancer"] != "app/shop/50dc6c495c0c9188" {
		t.Fatalf("placeholders: %+v", q.Dimensions)
	}
}

func TestAnalysisCustomMetric(t *testing.T) {
	tol := 0.1
	f := analysisFile(t, &Analysis{Metrics: []AnalysisMetric{
		{Name: "error-ratio", Kind: "ratio", Tolerance: &tol, Query: MetricQuery{Namespace: "Shop", MetricName: "Errors", Dimensions: map[string]string{"Color": "{color}"}}},
		{Name: "checkout-failures", Kind: "gauge", Query: MetricQuery{Expression: `SUM(SEARCH('{Shop,Color} Color="{color}" MetricName="CheckoutFailed"', 'Sum', 60))`}},
	}})
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	ms := f.Apps[0].Analysis.Effective()
	if len(ms) != 5 || ms[0].Query.Namespace != "Shop" || *ms[0].Tolerance != 0.1 || ms[4].Name != "checkout-failures" {
		t.Fatalf("a named default must be replaced, a new one added: %+v", ms)
	}
	if e := ms[4].Query.Expand(&f.Apps[0], Blue).Expression; !strings.Contains(e, `Color="blue"`) {
		t.Fatalf("expression placeholders: %s", e)
	}
}

func TestAnalysisBadInput(t *testing.T) {
	neg := -1.0
	tests := []struct {
		an    *Analysis
		field string
	}{
		{&Analysis{Provider: "prometheus"}, "apps[0].analysis.provider"},
		{&Analysis{Alpha: 0.7}, "apps[0].analysis.alpha"},
		{&Analysis{OnInconclusive: "maybe"}, "apps[0].analysis.onInconclusive"},
		{&Analysis{WindowMinutes: 500}, "apps[0].analysis.windowMinutes"},
		{&Analysis{Metrics: []AnalysisMetric{{Name: "X", Kind: "ratio", Query: DefaultRequests()}}}, "apps[0].analysis.metrics[0].name"},
		{&Analysis{Metrics: []AnalysisMetric{{Name: "x", Kind: "histogram", Query: DefaultRequests()}}}, "apps[0].analysis.metrics[0].kind"},
		{&Analysis{Metrics: []AnalysisMetric{{Name: "x", Kind: "ratio", Tolerance: &neg, Query: DefaultRequests()}}}, "apps[0].analysis.metrics[0].tolerance"},
		{&Analysis{Metrics: []AnalysisMetric{{Name: "x", Kind: "gauge", Query: MetricQuery{Namespace: "N"}}}}, "apps[0].analysis.metrics[0].query"},
		{&Analysis{Metrics: []AnalysisMetric{{Name: "x", Kind: "gauge", Query: MetricQuery{Namespace: "N", MetricName: "M", Expression: "SUM(m1)"}}}}, "apps[0].analysis.metrics[0].query"},
		{&Analysis{Metrics: []AnalysisMetric{{Name: "x", Kind: "gauge", Query: MetricQuery{Namespace: "N", MetricName: "M", Dimensions: map[string]string{"TG": "{targetgroup}"}}}}}, "apps[0].analysis.metrics[0].query"},
		{&Analysis{Metrics: []AnalysisMetric{{Name: "x", Kind: "gauge", Phases: []string{"preview"}, Query: DefaultRequests()}}}, "apps[0].analysis.metrics[0].phases[0]"},
		{&Analysis{Metrics: []AnalysisMetric{{Name: "x", Kind: "gauge", Phases: []string{"canary"}, Query: DefaultRequests()}}}, "apps[0].analysis.metrics[0].phases[0]"},
		{&Analysis{NoDefaults: true}, "apps[0].analysis.metrics"},
		{&Analysis{Provider: "datadog"}, "apps[0].analysis.requests"},
		{&Analysis{Provider: "datadog", Requests: &MetricQuery{Datadog: "sum:r{*}"}, Datadog: &Datadog{Site: "example.com"}}, "apps[0].analysis.datadog.site"},
		{&Analysis{Provider: "datadog", Requests: &MetricQuery{Datadog: "sum:r{*}"}, Metrics: []AnalysisMetric{{Name: "x", Kind: "gauge", Query: DefaultRequests()}}}, "apps[0].analysis.metrics[0].query.datadog"},
		{&Analysis{Datadog: &Datadog{}}, "apps[0].analysis.datadog"},
	}
	for _, tc := range tests {
		f := analysisFile(t, tc.an)
		err := f.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%+v: error %v, want one naming %s", tc.an, err, tc.field)
		}
	}
	f := analysisFile(t, &Analysis{})
	f.Apps[0].WeightSteps = nil
	if err := f.Validate(); err == nil || !strings.Contains(err.Error(), "apps[0].analysis: needs weightSteps") {
		t.Errorf("analysis without weight steps: %v", err)
	}
}
