package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/lab"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// kaizen analyze's comparison, on the lab: a bad AMI (three times the 5xx
// ratio) at its first weighted step, judged over the last 5 minutes.
func TestAnalyzeTable(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Load("examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	app := &cfg.Apps[0]
	app.WeightSteps, app.StepMinutes = []int{10, 50, 100}, 30
	app.Analysis = &config.Analysis{}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	l := lab.New(cfg, demoDay, io.Discard)
	apps := []*config.App{app}
	// Nothing in flight: nothing to compare.
	got, err := analyzeApps(ctx, l.Deps, apps, 0)
	if err != nil || len(got) != 1 || got[0].Verdict != nil || !strings.Contains(got[0].Why, "nothing to compare") {
		t.Fatalf("idle: %+v %v", got, err)
	}
	if err := l.ToPreview(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := l.Store.Load(ctx, app.Name)
	l.Cloud.BadAMI(st.Active.AMI, 3)
	mk := l.Maker
	for _, state := range []string{"STARTED", "SUCCEEDED"} {
		if _, err := l.Send(ctx, route.Promote, mk.Approval(app.Approval.Pipeline, app.Approval.Stage, app.Approval.Action, "exec-bench", state, l.Cloud.Now())); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 15; i++ {
		if st, _ := l.Store.Load(ctx, app.Name); st.Active != nil && st.Active.State == release.Shifting {
			break
		}
		l.Cloud.Advance(time.Minute)
		if _, err := l.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	l.Cloud.Advance(5 * time.Minute) // no ticks: the comparison is the command's own
	got, err = analyzeApps(ctx, l.Deps, apps, 5*time.Minute)
	if err != nil || got[0].Verdict == nil {
		t.Fatalf("shifting: %+v %v", got, err)
	}
	v := got[0].Verdict
	if v.Phase != "shift" || v.Weight != 10 || v.To.Sub(v.From) != 5*time.Minute || v.NewRequests < 100 {
		t.Fatalf("verdict %+v", v)
	}
	var b strings.Builder
	printAnalysis(&b, got[0])
	out := b.String()
	t.Logf("kaizen analyze:\n%s", out)
	for _, want := range []string{"shop: shift of ami-", "at 10%", "METRIC", "OLD", "NEW", "VERDICT", "error-ratio", "latency-p99", "fail"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	raw, _ := json.Marshal(got)
	var back []Analysis
	if json.Unmarshal(raw, &back) != nil || back[0].Verdict.Outcome != v.Outcome || len(back[0].Verdict.Metrics) != len(v.Metrics) {
		t.Fatalf("--json does not round-trip: %s", raw)
	}
}

func TestAnalyzeRefusesLongSince(t *testing.T) {
	code, _, errs := kz(t, "analyze", "--since", "5h", "--table", "kaizen-test")
	if code != 2 || !strings.Contains(errs, "--since must be between 0 and 3h") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

// kaizen status shows the latest verdict recorded on the release.
func TestStatusShowsTheLatestVerdict(t *testing.T) {
	v := release.Verdict{Phase: "shift", Weight: 10, Outcome: "pass", Score: 100, NewRequests: 900, OldRequests: 8100}
	r := &release.Release{AMI: "ami-0123456789abcdef0", State: release.Shifting, Color: config.Green,
		History:  []release.Transition{{At: demoDay, To: release.Shifting}},
		Analysis: &release.AnalysisMark{Latest: v, At: demoDay}}
	var b strings.Builder
	printStatus(&b, AppStatus{App: "shop", State: release.AppState{App: "shop", Active: r}})
	if !strings.Contains(b.String(), "analysis  analysis pass of shift at 10% (score 100, 900 new / 8100 old requests)") {
		t.Fatalf("status:\n%s", b.String())
	}
}
