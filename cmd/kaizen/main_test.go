package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

func kz(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestMain(m *testing.M) {
	// The CLI resolves examples/kaizen.json and events/ from the repo root.
	if err := os.Chdir("../.."); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

func TestRoute(t *testing.T) {
	want := map[string]string{
		"ami-available.json": "stage", "ami-available-foreign-app.json": "stage", "ami-failed.json": "",
		"imagebuilder-available.json": "stage", "codebuild-succeeded.json": "stage", "codebuild-failed.json": "",
		"approval-started.json": "promote", "approval-succeeded.json": "promote", "approval-rejected.json": "promote",
		"approval-other-pipeline.json": "promote", "tick.json": "tick", "alaspoll-schedule.json": "alaspoll",
		"custom-source-spoof.json": "", "alarm-guard.json": "guard", "alarm-composite.json": "guard",
		"secret-put-value.json": "secretchange", "secret-rotation-succeeded.json": "secretchange",
	}
	for file, fn := range want {
		code, out, errs := kz(t, "route", "events/"+file)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", file, code, errs)
			continue
		}
		var res struct {
			Function string         `json:"function"`
			Fields   map[string]any `json:"fields"`
			Reason   string         `json:"reason"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s: not one JSON object: %q", file, out)
		}
		if res.Function != fn {
			t.Errorf("%s: function %q, want %q", file, res.Function, fn)
		}
		if fn == "" && res.Reason == "" {
			t.Errorf("%s: no reason", file)
		}
	}
	_, out, _ := kz(t, "route", "events/approval-succeeded.json")
	for _, f := range []string{`"pipeline":"shop-release"`, `"stage":"Approve"`, `"action":"ProductionApproval"`, `"approved":true`} {
		if !strings.Contains(out, f) {
			t.Errorf("approval fields lack %s: %s", f, out)
		}
	}
	_, out, _ = kz(t, "route", "events/ami-available.json")
	if !strings.Contains(out, `"ami":"ami-0a1b2c3d4e5f60718"`) || !strings.Contains(out, `"state":"available"`) {
		t.Errorf("AMI fields: %s", out)
	}
	_, out, _ = kz(t, "route", "events/alarm-guard.json")
	if !strings.Contains(out, `"alarm":"shop-5xx-rate"`) || !strings.Contains(out, `"previous":"OK"`) {
		t.Errorf("alarm fields: %s", out)
	}
	_, out, _ = kz(t, "route", "events/secret-rotation-succeeded.json")
	if !strings.Contains(out, `"event_name":"RotationSucceeded"`) || !strings.Contains(out, `"secret":"arn:aws:secretsmanager`) {
		t.Errorf("secret fields: %s", out)
	}
	dir := t.TempDir()
	for name, body := range map[string]string{"notjson": "{nope", "notenvelope": `{"hello":"world"}`} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		if code, out, errs := kz(t, "route", p); code != 2 || out != "" || errs == "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 and the reason on stderr", name, code, out, errs)
		}
	}
}

func TestDemo(t *testing.T) {
	code, out, errs := kz(t, "demo")
	if code != 0 {
		t.Fatalf("demo exit %d: %s\n%s", code, errs, out)
	}
	for _, s := range []string{"staged", "preview ready", "promoting", "shift public", "baking", "done", "abandoned", "rolled_back", "capacity alarm", "invariants: all held",
		"shifting 10%", "analysis fail of shift at 10%"} {
		if !strings.Contains(out, s) {
			t.Errorf("timeline lacks %q", s)
		}
	}
	code, out, _ = kz(t, "demo", "--json")
	var res DemoResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("demo --json: exit %d, output not JSON", code)
	}
	// Four releases: done, rejected, rolled back by a guard alarm, and
	// stopped by metric analysis at its first weighted step (16:00).
	if res.Violations != 0 || len(res.History) != 4 || res.Final.Active != nil {
		t.Fatalf("demo result: %d violations, %d releases, active %+v", res.Violations, len(res.History), res.Final.Active)
	}
	demoCapacityFollowsLoad(t, &res)
}

// The demo's acceptance for capacity: the live color's desired capacity
// rises at the morning peak and comes back down later in the day, never
// below the floor, and the day costs fewer instance-hours than at fixed
// peak capacity.
func demoCapacityFollowsLoad(t *testing.T, res *DemoResult) {
	t.Helper()
	cfg, err := config.Load("examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	floor := cfg.Apps[0].Floor
	var live []int
	peakAt, downAt := -1, -1
	for i, s := range res.Steps {
		col := "blue"
		if s.Traffic["green"] > s.Traffic["blue"] {
			col = "green"
		}
		var mn, des, mx int
		if _, err := fmt.Sscanf(s.Capacity[col], "%d/%d/%d", &mn, &des, &mx); err != nil {
			t.Fatalf("step %d capacity %q: %v", i, s.Capacity[col], err)
		}
		if des < floor || mn < floor {
			t.Errorf("%s %s: live %s at %s, below the floor %d", s.At.Format("15:04"), s.Event, col, s.Capacity[col], floor)
		}
		if len(live) > 0 && des > live[len(live)-1] && peakAt < 0 {
			peakAt = i
		}
		if peakAt >= 0 && des < live[len(live)-1] && downAt < 0 {
			downAt = i
		}
		live = append(live, des)
	}
	if peakAt < 0 || downAt < 0 || res.Steps[peakAt].At.Hour() >= 12 || res.Steps[downAt].At.Hour() < 12 {
		t.Errorf("live desired over the day %v: want it to rise in the morning and fall in the afternoon", live)
	}
	if c := res.Cost; c.Total <= 0 || c.Total >= c.FixedPeak || c.PeakDesired <= floor || c.InstanceHours["blue"] <= 0 || c.InstanceHours["green"] <= 0 {
		t.Errorf("cost: %+v; want per-color instance-hours below the fixed-peak figure", c)
	}
	if !slices.ContainsFunc(res.Steps, func(s DemoStep) bool { return slices.Contains(s.Changes, "put green scaling policy shop-green-Cpu") }) {
		t.Errorf("staging did not copy blue's hand-tuned CPU policy to green")
	}
}

func TestReplay(t *testing.T) {
	code, out, errs := kz(t, "replay", "--json", "--event", "events/ami-available.json")
	if code != 0 || !strings.Contains(out, `"CreateLaunchTemplateVersion": 1`) {
		t.Fatalf("replay: exit %d %s\n%s", code, errs, out)
	}
	code, out, _ = kz(t, "replay", "--event", "events/ami-available.json", "--dry-run")
	if code != 0 || !strings.Contains(out, "dry run") || !strings.Contains(out, "would: ") || !strings.Contains(out, "put ami-0a1b2c3d4e5f60718 on green") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	res := replayJSON(t, "--event", "events/ami-available.json", "--dry-run")
	if len(res.Steps) != 1 || len(res.Steps[0].Plan) == 0 || len(res.Steps[0].MutatingCalls) != 0 || res.Final[0].Releases.Active != nil {
		t.Fatalf("dry run applied something: %+v", res)
	}
	code, _, errs = kz(t, "replay", "--event", "events/ami-malformed-detail.json")
	if code != 1 || !strings.Contains(errs, "malformed") {
		t.Fatalf("malformed: exit %d, %s", code, errs)
	}
	code, out, _ = kz(t, "replay", "--json", "--event", "events/ami-available-foreign-app.json")
	if code != 0 || !strings.Contains(out, `"mutatingCalls": {}`) {
		t.Fatalf("foreign AMI changed something: %s", out)
	}
}

// The operator CLI against the simulated AWS over HTTP and dynalite, after
// the test drives a release through the same handlers the functions run.
func TestOperatorCLI(t *testing.T) {
	ctx := context.Background()
	w := newHTTPWorld(t)
	app, c, srv, ep, table, d, mk := w.app, w.cloud, w.srv, w.ep, w.table, w.d, w.mk
	send := func(fn string, raw []byte) {
		t.Helper()
		if _, err := d.Handle(ctx, fn, raw); err != nil {
			t.Fatal(err)
		}
	}
	tickFor := func(d time.Duration) {
		for i := time.Duration(0); i < d; i += time.Minute {
			c.Advance(time.Minute)
			send(route.Tick, mk.Schedule("kaizen-tick", time.Now()))
		}
	}
	ops := []string{"--endpoint", srv.URL, "--dynamodb-endpoint", ep, "--table", table, "--app", "shop"}

	// A release that finishes (bake 0 keeps the test short), then one in flight.
	app.BakeMinutes = 0
	ami1 := c.NewAMI(app, "shop-golden-1", "exec-1")
	send(route.Stage, mk.AMI(ami1, "available", time.Now()))
	tickFor(8 * time.Minute)
	code, out, errs := kz(t, append([]string{"promote", "--dry-run", "--by", "alice"}, ops...)...)
	if code != 0 || !strings.Contains(out, "would apply: set green capacity") {
		t.Fatalf("promote --dry-run: exit %d %s\n%s", code, errs, out)
	}
	if st, _ := d.Store.Load(ctx, "shop"); st.Active.State != release.PreviewReady {
		t.Fatal("dry run changed the state")
	}
	if code, out, errs = kz(t, append([]string{"promote", "--by", "alice"}, ops...)...); code != 0 {
		t.Fatalf("promote: exit %d %s\n%s", code, errs, out)
	}
	tickFor(10 * time.Minute)
	ami2 := c.NewAMI(app, "shop-golden-2", "exec-2")
	send(route.Stage, mk.AMI(ami2, "available", time.Now()))

	code, out, errs = kz(t, append([]string{"status"}, ops...)...)
	if code != 0 || !strings.Contains(out, "staged on blue") || !strings.Contains(out, ami2) || !strings.Contains(out, "blue 0 / green 100") {
		t.Fatalf("status: exit %d %s\n%s", code, errs, out)
	}
	code, out, errs = kz(t, append([]string{"history"}, ops...)...)
	if code != 0 || !strings.Contains(out, ami1) || !strings.Contains(out, "done") || !strings.Contains(out, ami2) || !strings.Contains(out, "staged") ||
		!strings.Contains(out, "by alice") {
		t.Fatalf("history: exit %d %s\n%s", code, errs, out)
	}
	code, _, errs = kz(t, append([]string{"rollback"}, ops...)...)
	if code != 1 || !strings.Contains(errs, "nothing to roll back") {
		t.Fatalf("rollback with nothing baking: exit %d, %s", code, errs)
	}
	if code, out, errs = kz(t, append([]string{"abort"}, ops...)...); code != 0 || !strings.Contains(out, "abandoned") {
		t.Fatalf("abort: exit %d %s\n%s", code, errs, out)
	}
	// Prune: keep 0; the AMI on green (live) and blue's pinned one stay.
	code, out, errs = kz(t, append([]string{"images", "prune", "--keep", "0"}, ops...)...)
	if code != 0 || !strings.Contains(out, "delete") || !strings.Contains(out, "launch template uses it") {
		t.Fatalf("prune: exit %d %s\n%s", code, errs, out)
	}
	obs, err := d.Fleet.Observe(ctx, app)
	if err != nil || obs.Live() != config.Green || obs.Color(config.Green).AMI != ami1 {
		t.Fatalf("prune touched what is in use: %v %s", err, obs.Summary())
	}
	if img, _ := d.Fleet.Image(ctx, ami1); img == nil {
		t.Fatal("the live AMI was deregistered")
	}
}
