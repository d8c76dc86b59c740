package steps_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// stageAndPreview stages a new AMI and waits until its preview is healthy.
func (w *world) stageAndPreview(name, execution string) string {
	w.t.Helper()
	ami := w.cloud.NewAMI(w.app, name, execution)
	w.must(route.Stage, w.amiEvent(ami))
	w.wait(8 * time.Minute)
	if st := w.state(); st.Active == nil || st.Active.PreviewReadyAt.IsZero() {
		w.t.Fatalf("preview of %s not ready: %+v", ami, st.Active)
	}
	return ami
}

// Every event delivered twice: the second delivery makes no mutating call
// and writes nothing. A replay under a new event id also changes nothing.
func TestDuplicatesChangeNothing(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	twice := func(label, function string, raw []byte) {
		t.Helper()
		w.must(function, raw)
		v := w.state().Version
		if m := w.mutations(func() { w.must(function, raw) }); len(m) != 0 {
			t.Fatalf("%s delivered twice: second delivery made %v", label, m)
		}
		if w.state().Version != v {
			t.Fatalf("%s delivered twice: second delivery wrote the state", label)
		}
		// Same event, new id (a replay, or EventBridge's at-least-once).
		replay := bytes.Replace(raw, []byte(`"id":"ev-`), []byte(`"id":"replay-ev-`), 1)
		if m := w.mutations(func() { w.must(function, replay) }); len(m) != 0 {
			t.Fatalf("%s replayed under a new id made %v", label, m)
		}
	}
	ami := w.cloud.NewAMI(w.app, "shop-golden-1", "")
	twice("AMI available", route.Stage, w.amiEvent(ami))
	w.wait(8 * time.Minute)
	twice("approval started", route.Promote, w.approvalEvent("STARTED", "exec-1"))
	twice("approval succeeded", route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	w.wait(10 * time.Minute)
	if st := w.state(); st.Active == nil || st.Active.State != release.Baking {
		t.Fatalf("want baking, got %+v", st.Active)
	}
	ami2 := w.cloud.NewAMI(w.app, "shop-golden-2", "exec-2")
	twice("AMI during bake (queued)", route.Stage, w.amiEvent(ami2))
	w.wait(time.Duration(w.app.BakeMinutes+10) * time.Minute)
	twice("rejection", route.Promote, w.approvalEvent("FAILED", "exec-2"))
	twice("tick", route.Tick, w.tickEvent())
}

// Foreign and malformed input changes nothing and says why.
func TestForeignInputChangesNothing(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("../../events/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		file, function string
		malformed      bool
		log            string
	}{
		{"ami-available-foreign-app.json", route.Stage, false, "no configured app's tag"},
		{"ami-available-other-account.json", route.Stage, false, "another account or region"},
		{"ami-available-other-region.json", route.Stage, false, "another account or region"},
		{"ami-failed.json", route.Stage, false, "does not take"},
		{"ami-malformed-detail.json", route.Stage, true, ""},
		{"custom-source-spoof.json", route.Stage, false, "does not take"},
		{"codebuild-succeeded-no-ami.json", route.Stage, false, "exported no AMI_ID"},
		{"codebuild-failed.json", route.Stage, false, "does not take"},
		{"approval-other-pipeline.json", route.Promote, false, "not a configured approval action"},
		{"approval-malformed.json", route.Promote, true, ""},
		{"alarm-guard.json", route.Promote, false, "does not take"},
		{"approval-succeeded.json", route.Stage, false, "does not take"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			w := newWorld(t, store.NewMemory())
			w.cloud.AddImageID("ami-0f9e8d7c6b5a40312", "billing-golden", t0, map[string]string{"kaizen:app": "billing"})
			w.cloud.AddImageID("ami-0a1b2c3d4e5f60718", "shop-golden", t0, map[string]string{"kaizen:app": "shop"})
			var logs bytes.Buffer
			w.deps.Log = slog.New(slog.NewTextHandler(&logs, nil))
			before := w.state()
			m := w.mutations(func() {
				_, err := w.send(c.function, read(c.file))
				if c.malformed != errors.Is(err, route.ErrMalformed) {
					t.Fatalf("error = %v, malformed expected: %v", err, c.malformed)
				}
			})
			if len(m) != 0 {
				t.Fatalf("mutating calls: %v", m)
			}
			if after := w.state(); !reflect.DeepEqual(before, after) {
				t.Fatalf("state changed: %+v", after)
			}
			if c.log != "" && !strings.Contains(logs.String(), c.log) {
				t.Fatalf("log does not say %q:\n%s", c.log, logs.String())
			}
		})
	}
}

func TestMalformedEnvelope(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	for _, raw := range []string{`not json`, `{}`, `{"source":"aws.ec2","detail-type":"EC2 AMI State Change"}`, `[1,2]`} {
		if _, err := w.deps.Handle(context.Background(), route.Stage, []byte(raw)); !errors.Is(err, route.ErrMalformed) {
			t.Errorf("%s: error = %v, want ErrMalformed", raw, err)
		}
	}
	if n := w.cloud.MutationCount(); n != 0 {
		t.Fatalf("malformed envelopes made %d mutating calls", n)
	}
}

// Invariant 8: an approval promotes only what people could preview.
func TestApprovalCorrelation(t *testing.T) {
	t.Run("superseded after the approval started", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		ami1 := w.stageAndPreview("shop-golden-1", "")
		w.must(route.Promote, w.approvalEvent("STARTED", "exec-A"))
		ami2 := w.cloud.NewAMI(w.app, "shop-golden-2", "")
		w.must(route.Stage, w.amiEvent(ami2))
		w.wait(8 * time.Minute)
		outs := w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-A"))
		refused := outs[0].Plan.Refused
		if !strings.Contains(refused, ami1) || !strings.Contains(refused, ami2) {
			t.Fatalf("refusal %q should name both AMIs", refused)
		}
		if st := w.state(); st.Active.State != release.PreviewReady || st.Active.AMI != ami2 {
			t.Fatalf("refused approval changed the release: %+v", st.Active)
		}
		last := w.cloud.Published()[len(w.cloud.Published())-1]
		if !strings.Contains(last.Subject, "approval refused") {
			t.Fatalf("no refusal notice: %q", last.Subject)
		}
	})
	t.Run("AMI built by another execution", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		w.stageAndPreview("shop-golden-1", "exec-X")
		outs := w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-Y"))
		if !strings.Contains(outs[0].Plan.Refused, "exec-X") {
			t.Fatalf("refusal = %q", outs[0].Plan.Refused)
		}
		if w.state().Active.State != release.PreviewReady {
			t.Fatal("promoted the wrong AMI")
		}
		outs = w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-X"))
		if outs[0].Plan.Refused != "" || w.state().Active.State != release.Promoting {
			t.Fatalf("matching approval refused: %q", outs[0].Plan.Refused)
		}
	})
	t.Run("nothing staged", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		outs := w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
		if !strings.Contains(outs[0].Plan.Refused, "no staged release") {
			t.Fatalf("refusal = %q", outs[0].Plan.Refused)
		}
	})
	t.Run("preview never healthy", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		ami := w.cloud.NewAMI(w.app, "shop-golden-bad", "")
		w.cloud.NeverHealthy(ami)
		w.must(route.Stage, w.amiEvent(ami))
		w.wait(10 * time.Minute)
		outs := w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
		if !strings.Contains(outs[0].Plan.Refused, "never healthy") {
			t.Fatalf("refusal = %q", outs[0].Plan.Refused)
		}
	})
}

// A newer AMI during a bake waits, then goes to the retired color.
func TestQueuedBehindBake(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.stageAndPreview("shop-golden-1", "exec-1")
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	w.wait(10 * time.Minute)
	ami2 := w.cloud.NewAMI(w.app, "shop-golden-2", "")
	w.must(route.Stage, w.amiEvent(ami2))
	ami3 := w.cloud.NewAMI(w.app, "shop-golden-3", "")
	w.must(route.Stage, w.amiEvent(ami3))
	st := w.state()
	if st.Active.State != release.Baking || st.Queued == nil || st.Queued.Image.ID != ami3 {
		t.Fatalf("want baking with %s queued (the newest), got %+v queued %+v", ami3, st.Active, st.Queued)
	}
	w.wait(time.Duration(w.app.BakeMinutes) * time.Minute)
	w.wait(10 * time.Minute)
	st = w.state()
	if st.Active == nil || st.Active.AMI != ami3 || st.Active.Color != config.Blue || st.Active.PreviewReadyAt.IsZero() {
		t.Fatalf("queued AMI not staged on blue and previewed: %+v", st.Active)
	}
	if obs := w.observe(); obs.Color(config.Blue).OnVersion != obs.Color(config.Blue).Instances {
		t.Fatalf("old instances left on the preview: %s", obs.Summary())
	}
}

// An approved AMI that never gets healthy fails; the public never moves.
func TestCutoverNeverToUnhealthy(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	ami := w.stageAndPreview("shop-golden-1", "exec-1")
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	w.cloud.NeverHealthy(ami) // the new instances of the scale-up never pass
	w.wait(time.Duration(w.app.CutoverTimeoutMinutes+5) * time.Minute)
	obs := w.observe()
	if obs.Live() != config.Blue {
		t.Fatalf("public moved to an unhealthy color: %s", obs.Summary())
	}
	h, _ := w.store.History(context.Background(), w.app.Name)
	if len(h) == 0 || h[0].State != release.Failed {
		t.Fatalf("release not failed: %+v", h)
	}
	if g := obs.Color(config.Green); g.Desired != 0 {
		t.Fatalf("failed color not scaled back: %+v", g)
	}
}

// Fault injection on each mutating call of each step: a transient fault is
// retried within the invocation; a persistent one leaves a record saying
// what is pending, breaks no invariant, and the next tick completes it.
func TestFaultInjection(t *testing.T) {
	type stepCase struct {
		name    string
		prepare func(w *world) // up to just before the step
		step    func(w *world) error
		ops     []string
		want    release.State // release state once the step has completed
	}
	send := func(w *world, fn string, raw []byte) error { _, err := w.send(fn, raw); return err }
	toCutover := func(w *world) {
		w.stageAndPreview("shop-golden-1", "exec-1")
		w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
		w.cloud.Advance(8 * time.Minute) // healthy, not yet ticked
	}
	cases := []stepCase{
		{"stage", func(w *world) {}, func(w *world) error {
			return send(w, route.Stage, w.amiEvent(w.cloud.NewAMI(w.app, "shop-golden-1", "exec-1")))
		}, []string{"CreateLaunchTemplateVersion", "UpdateAutoScalingGroup", "Publish"}, release.Staged},
		{"approve", func(w *world) { w.stageAndPreview("shop-golden-1", "exec-1") }, func(w *world) error {
			return send(w, route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
		}, []string{"UpdateAutoScalingGroup", "Publish"}, release.Promoting},
		{"cutover", toCutover, func(w *world) error { return send(w, route.Tick, w.tickEvent()) },
			[]string{"ModifyListener", "ModifyRule", "Publish"}, release.Baking},
		{"retire", func(w *world) {
			toCutover(w)
			w.tick()
			w.wait(time.Duration(w.app.BakeMinutes-1) * time.Minute)
			w.cloud.Advance(time.Minute)
		}, func(w *world) error { return send(w, route.Tick, w.tickEvent()) },
			[]string{"UpdateAutoScalingGroup", "Publish"}, release.Done},
	}
	state := func(w *world) release.State {
		if st := w.state(); st.Active != nil {
			return st.Active.State
		}
		h, _ := w.store.History(context.Background(), w.app.Name)
		if len(h) == 0 {
			return ""
		}
		return h[0].State
	}
	for _, c := range cases {
		for _, op := range c.ops {
			t.Run(c.name+"/"+op+"/transient", func(t *testing.T) {
				w := newWorld(t, store.NewMemory())
				c.prepare(w)
				w.cloud.Fail(sim.Op(op), sim.Throttle(), 2)
				if err := c.step(w); err != nil {
					t.Fatalf("two throttles should be retried within the invocation: %v", err)
				}
				if got := state(w); got != c.want {
					t.Fatalf("state = %s, want %s", got, c.want)
				}
				if st := w.state(); len(st.Pending) != 0 {
					t.Fatalf("pending after success: %v", st.Pending)
				}
			})
			t.Run(c.name+"/"+op+"/persistent", func(t *testing.T) {
				w := newWorld(t, store.NewMemory())
				c.prepare(w)
				w.cloud.Fail(sim.Op(op), sim.ServerError(), 1000)
				err := c.step(w) // send checks the invariants
				if op == "Publish" {
					if err != nil {
						t.Fatalf("a failed notification must not fail the step: %v", err)
					}
					return
				}
				if err == nil {
					t.Fatal("step succeeded although every " + op + " failed")
				}
				st := w.state()
				if len(st.Pending) == 0 || !strings.Contains(st.LastError, strings.ToLower(op[:6])) && !strings.Contains(st.LastError, "InternalError") {
					t.Fatalf("record does not say what is pending: pending=%v error=%q", st.Pending, st.LastError)
				}
				w.cloud.Fail(sim.Op(op), nil, 0)
				w.cloud.Advance(time.Minute)
				w.tick()
				w.tick()
				if got := state(w); got != c.want {
					t.Fatalf("after recovery: state = %s, want %s", got, c.want)
				}
				if st := w.state(); len(st.Pending) != 0 || st.LastError != "" {
					t.Fatalf("after recovery still pending: %v %q", st.Pending, st.LastError)
				}
			})
		}
	}
}

// A release whose preview never got healthy can still be rejected.
func TestRejectUnhealthyPreview(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	ami := w.cloud.NewAMI(w.app, "shop-golden-bad", "exec-bad")
	w.cloud.NeverHealthy(ami)
	w.must(route.Stage, w.amiEvent(ami))
	w.wait(10 * time.Minute)
	w.must(route.Promote, w.approvalEvent("FAILED", "exec-bad"))
	if st := w.state(); st.Active != nil {
		t.Fatalf("rejected release still active: %+v", st.Active)
	}
	if g := w.observe().Color(config.Green); g.Desired != 0 {
		t.Fatalf("rejected color not emptied: %+v", g)
	}
}
