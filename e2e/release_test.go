package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/internal/rie"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/emf"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// tickUntil advances the virtual clock a minute at a time and invokes tick
// after each minute until done holds, at most max times.
func (w *world) tickUntil(tick *rie.Function, what string, max int, done func(release.AppState, release.Observed) bool) (release.AppState, release.Observed) {
	w.t.Helper()
	for i := 1; i <= max; i++ {
		w.cloud.Advance(time.Minute)
		st, obs := w.send(tick, "tick", w.mk.Schedule("kaizen-tick", time.Now()))
		if done(st, obs) {
			w.t.Logf("%s after %d tick(s): %s", what, i, obs.Summary())
			return st, obs
		}
	}
	st, obs := w.state(), w.observe()
	w.t.Fatalf("%s: not reached after %d ticks; state %s, observed %s\ntick log:\n%s", what, max, describe(st), obs.Summary(), tick.Log())
	return st, obs
}

func describe(st release.AppState) string {
	b, _ := json.Marshal(st)
	return string(b)
}

// A whole release through the packaged stage, tick and promote functions:
// the AMI is staged on green for preview, the approval moves the public to
// green once it has blue's capacity and is healthy, and blue stays warm
// while the release bakes. Every invariant is checked after every
// invocation.
func TestReleaseThroughPackagedFunctions(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	app := w.app()
	stage, promote, tick := w.start("stage"), w.start("promote"), w.start("tick")

	// The image build registers the AMI (tagged for the app and with its
	// pipeline execution); EventBridge announces it.
	ami := w.cloud.NewAMI(app, "shop-golden-e2e-1", "exec-e2e-1")
	amiEvent := w.mk.AMI(ami, "available", time.Now())
	st, obs := w.send(stage, "AMI available", amiEvent)
	if st.Active == nil || st.Active.AMI != ami || st.Active.State != release.Staged || st.Active.Color != config.Green {
		t.Fatalf("after stage: want %s staged on green, got %s", ami, describe(st))
	}
	if g := obs.Color(config.Green); g.AMI != ami || g.Desired != app.PreviewSize || obs.Preview != config.Green || obs.Weights[config.Blue] != 100 {
		t.Fatalf("after stage: want green on %s at preview size %d, the preview rule on green and the public on blue; observed %s", ami, app.PreviewSize, obs.Summary())
	}

	// A duplicate delivery of the same event changes nothing.
	before := w.cloud.MutationCount()
	w.send(stage, "the same AMI event again", amiEvent)
	if n := w.cloud.MutationCount(); n != before {
		t.Errorf("a duplicate AMI event made %d mutating calls: %s", n-before, w.cloud.MutationSummary())
	}

	// Instances launch and pass health checks as the virtual clock moves;
	// tick notices when the preview is ready.
	w.tickUntil(tick, "preview ready", 15, func(st release.AppState, _ release.Observed) bool {
		return st.Active != nil && !st.Active.PreviewReadyAt.IsZero()
	})

	approval := func(state string) []byte {
		return w.mk.Approval(app.Approval.Pipeline, app.Approval.Stage, app.Approval.Action, "exec-e2e-1", state, time.Now())
	}
	st, _ = w.send(promote, "approval action STARTED", approval("STARTED"))
	if st.Active == nil || st.Active.ApprovalExecution != "exec-e2e-1" {
		t.Fatalf("approval STARTED did not bind exec-e2e-1 to the staged release: %s", describe(st))
	}
	listenerCalls := w.cloud.Mutations()["ModifyListener"]
	st, obs = w.send(promote, "approval SUCCEEDED", approval("SUCCEEDED"))
	if st.Active == nil || st.Active.State != release.Promoting && st.Active.State != release.Baking {
		t.Fatalf("after approval: want the release promoting, got %s", describe(st))
	}
	if g, b := obs.Color(config.Green), obs.Color(config.Blue); g.Desired != b.Desired {
		t.Errorf("after approval: green must get blue's capacity first: %s", obs.Summary())
	}

	st, obs = w.tickUntil(tick, "cutover", 20, func(_ release.AppState, obs release.Observed) bool {
		return obs.Weights[config.Green] == 100
	})
	if st.Active == nil || st.Active.State != release.Baking || st.Active.AMI != ami || st.Active.From != config.Blue {
		t.Fatalf("after cutover: want %s baking on green (from blue), got %s", ami, describe(st))
	}
	if obs.Color(config.Green).AMI != ami || obs.Color(config.Green).Healthy < app.Floor {
		t.Errorf("after cutover: green must run %s with at least %d healthy: %s", ami, app.Floor, obs.Summary())
	}
	if b := obs.Color(config.Blue); b.Instances < app.Floor {
		t.Errorf("after cutover: blue must stay warm through the bake (rollback is one listener call): %s", obs.Summary())
	}
	if n := w.cloud.Mutations()["ModifyListener"] - listenerCalls; n < 1 || n > 2 {
		t.Errorf("the cutover made %d ModifyListener calls, want 1 or 2 (DESIGN.md §9)", n)
	}
	if len(w.cloud.Published()) == 0 {
		t.Error("no SNS notification was published through the simulated SNS")
	}
	// Each notice went out per protocol: text for email, a chat card.
	for _, p := range w.cloud.Published() {
		if p.Structure != "json" || p.For("https") == p.For("email") {
			t.Errorf("notice %q published without a message per protocol", p.Subject)
		}
	}
	// kaizen's own metrics are EMF lines on the function's log.
	lines, err := emf.Lines([]byte(tick.Log()))
	ticks := 0
	for _, l := range lines {
		ticks += int(l.Values[emf.TicksCompleted])
	}
	if err != nil || ticks == 0 {
		t.Errorf("the tick's log carries %d completed ticks in EMF (%v)", ticks, err)
	}
	t.Logf("mutating calls: %s", w.cloud.MutationSummary())
}

// Events kaizen cannot read change nothing. They are not retried (a retry
// cannot help): the function logs one error line with "malformed": true,
// which the CDK app's metric filter counts and alarms on, and returns
// success. Input that is not JSON at all fails in the runtime, before
// kaizen sees it.
func TestMalformedEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	stage, promote := w.start("stage"), w.start("promote")
	cases := []struct {
		name  string
		f     *rie.Function
		event []byte
		want  string
	}{
		{"ImageId is a number", stage, event(t, "ami-malformed-detail.json"), "ImageId"},
		{"approval without execution", promote, event(t, "approval-malformed.json"), "pipeline, stage and action"},
	}
	for _, tc := range cases {
		res := tc.f.MustInvoke(t, tc.event)
		if res.Status != 200 || res.ErrorMessage != "" {
			t.Errorf("%s: want success (dropped, not retried), got HTTP %d %s", tc.name, res.Status, res.Body)
		}
		// The emulator logs text (malformed=true); Lambda, set to JSON by
		// the CDK app, writes "malformed":true, which the metric filter reads.
		log := tc.f.WaitLog("malformed event dropped", 5*time.Second)
		if !strings.Contains(log, "malformed=true") || !strings.Contains(log, tc.want) {
			t.Errorf("%s: no malformed-event log line naming %q:\n%s", tc.name, tc.want, tc.f.Log())
		}
	}
	if res := stage.MustInvoke(t, []byte("not json")); res.ErrorType == "" || !strings.Contains(res.ErrorMessage, "invalid character") {
		t.Errorf("not JSON: want the runtime's error, got HTTP %d %s", res.Status, res.Body)
	}
	if n := w.cloud.MutationCount(); n != 0 {
		t.Errorf("malformed events made %d mutating calls: %s", n, w.cloud.MutationSummary())
	}
	if st := w.state(); st.Active != nil || st.Version != 0 {
		t.Errorf("malformed events changed the record: %s", describe(st))
	}
	// The functions still serve after the errors.
	ami := w.cloud.NewAMI(w.app(), "shop-golden-e2e-after-errors", "")
	if st, _ := w.send(stage, "AMI after the errors", w.mk.AMI(ami, "available", time.Now())); st.Active == nil || st.Active.AMI != ami {
		t.Errorf("stage did not stage %s after the malformed events: %s", ami, describe(st))
	}
}

// A configuration that does not validate stops every function at init, and
// the log names the field.
func TestBrokenConfigFailsAtInit(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(root(t), "examples", "kaizen.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	raw["apps"].([]any)[0].(map[string]any)["floor"] = 0
	b, _ = json.Marshal(raw)
	bad := filepath.Join(t.TempDir(), "kaizen.json")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KAIZEN_CONFIG": bad, "KAIZEN_TABLE": "kaizen-e2e-unused", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
	for _, fn := range functions {
		f := rie.Start(t, fn, region, env)
		res := f.MustInvoke(t, event(t, "tick.json"))
		if res.Status != http.StatusBadGateway {
			t.Errorf("%s: want the emulator's 502 for a failed init, got HTTP %d %s", fn, res.Status, res.Body)
		}
		// The function's log reaches the emulator's output a moment after
		// the answer.
		if log := f.WaitLog("apps[0].floor", 5*time.Second); !strings.Contains(log, "apps[0].floor") {
			t.Errorf("%s: the init failure does not name apps[0].floor:\n%s", fn, log)
		}
	}
}
