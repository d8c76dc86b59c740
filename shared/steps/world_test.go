package steps_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/lab"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// world is one simulated account with one app, its store and handlers.
type world struct {
	t     testing.TB
	cfg   *config.File
	app   *config.App
	cloud *sim.Cloud
	store store.Store
	deps  *steps.Reconciler
	live  string // AMI seeded on blue
	seq   int
	// skipCheck turns off the per-step invariant check (randomized runs
	// check themselves, to print the seed).
	skipCheck bool
}

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func testConfig(t testing.TB) *config.File {
	t.Helper()
	cfg, err := config.Load("../../examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newWorld seeds the example app on a lab (the same wiring the demo and
// the benchmarks use) with the given store.
func newWorld(t testing.TB, st store.Store) *world {
	t.Helper()
	return newWorldWith(t, testConfig(t), st)
}

// newWorldWith seeds the first app of cfg.
func newWorldWith(t testing.TB, cfg *config.File, st store.Store) *world {
	t.Helper()
	return newWorldAt(t, cfg, st, t0)
}

// newWorldAt seeds the first app of cfg on a clock that starts at start.
func newWorldAt(t testing.TB, cfg *config.File, st store.Store, start time.Time) *world {
	t.Helper()
	var logw io.Writer = io.Discard
	if os.Getenv("KAIZEN_TEST_LOG") != "" {
		logw = os.Stderr
	}
	l := lab.New(cfg, start, logw)
	l.Store, l.Deps.Store = st, st
	return &world{t: t, cfg: cfg, app: &cfg.Apps[0], cloud: l.Cloud, store: st, deps: l.Deps, live: l.Seeded[cfg.Apps[0].Name]}
}

func (w *world) envelope(source, detailType string, detail any) []byte {
	w.seq++
	b, err := json.Marshal(map[string]any{
		"version": "0", "id": fmt.Sprintf("ev-%04d", w.seq), "detail-type": detailType, "source": source,
		"account": w.cfg.Account, "region": w.cfg.Region, "time": w.cloud.Now().Format(time.RFC3339),
		"resources": []string{}, "detail": detail,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

func (w *world) amiEvent(ami string) []byte {
	return w.envelope(route.SourceEC2, route.TypeAMIStateChange, map[string]any{"ImageId": ami, "State": "available", "RequestId": "r", "ErrorReason": ""})
}

func (w *world) approvalEvent(state, execution string) []byte {
	return w.envelope(route.SourceCodePipeline, route.TypeActionExecution, map[string]any{
		"pipeline": w.app.Approval.Pipeline, "execution-id": execution, "stage": w.app.Approval.Stage,
		"action": w.app.Approval.Action, "state": state, "region": w.cfg.Region,
		"type": map[string]any{"owner": "AWS", "provider": "Manual", "category": "Approval", "version": "1"},
	})
}

func (w *world) tickEvent() []byte {
	return w.envelope(route.SourceSchedule, route.TypeScheduled, map[string]any{})
}

// send runs an event through a function and checks every invariant after.
func (w *world) send(function string, raw []byte) ([]steps.Outcome, error) {
	w.t.Helper()
	outs, err := w.deps.Handle(context.Background(), function, raw)
	for _, o := range outs {
		if o.Plan.Bug != "" {
			w.t.Fatalf("after %s: %s", function, o.Plan.Bug)
		}
	}
	if !w.skipCheck {
		w.check(fmt.Sprintf("after %s", function))
	}
	return outs, err
}

// must is send that fails the test on error.
func (w *world) must(function string, raw []byte) []steps.Outcome {
	w.t.Helper()
	outs, err := w.send(function, raw)
	if err != nil {
		w.t.Fatalf("%s: %v", function, err)
	}
	return outs
}

func (w *world) tick() []steps.Outcome {
	w.t.Helper()
	return w.must(route.Tick, w.tickEvent())
}

// wait advances the clock minute by minute, ticking each minute.
func (w *world) wait(d time.Duration) {
	w.t.Helper()
	for end := w.cloud.Now().Add(d); w.cloud.Now().Before(end); {
		w.cloud.Advance(time.Minute)
		w.tick()
	}
}

func (w *world) state() release.AppState {
	w.t.Helper()
	st, err := w.store.Load(context.Background(), w.app.Name)
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func (w *world) observe() release.Observed {
	w.t.Helper()
	obs, err := w.deps.Fleet.Observe(context.Background(), w.app)
	if err != nil {
		w.t.Fatal(err)
	}
	return obs
}

func (w *world) violations() []error {
	return release.Check(w.app, w.state(), w.observe())
}

func (w *world) check(when string) {
	w.t.Helper()
	if errs := w.violations(); len(errs) > 0 {
		w.t.Fatalf("%s: %v\nstate: %+v\nobserved: %s", when, errs, w.state(), w.observe().Summary())
	}
}

// mutations runs f and returns the mutating calls it made, per operation.
func (w *world) mutations(f func()) map[string]int {
	before := w.cloud.Mutations()
	f()
	after := w.cloud.Mutations()
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func capacityInput(name string, mn, des, mx int32) *autoscaling.UpdateAutoScalingGroupInput {
	return &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: &name, MinSize: &mn, DesiredCapacity: &des, MaxSize: &mx}
}
