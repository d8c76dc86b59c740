package steps_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/store"
)

func (w *world) alarmEvent(name, state, previous string) []byte {
	return w.envelope(route.SourceCloudWatch, route.TypeAlarmStateChange, map[string]any{
		"alarmName":     name,
		"state":         map[string]any{"value": state, "reason": "Threshold Crossed: 1 datapoint [42.0] was greater than the threshold (10.0).", "timestamp": w.cloud.Now().Format(time.RFC3339)},
		"previousState": map[string]any{"value": previous, "reason": "", "timestamp": w.cloud.Now().Format(time.RFC3339)},
		"configuration": map[string]any{"metrics": []any{map[string]any{"id": "m1", "returnData": true}}},
	})
}

// toBake runs a release up to its bake on green.
func (w *world) toBake() string {
	w.t.Helper()
	ami := w.stageAndPreview("shop-golden-1", "exec-1")
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	w.wait(10 * time.Minute)
	if st := w.state(); st.Active == nil || st.Active.State != release.Baking {
		w.t.Fatalf("want baking, got %+v", st.Active)
	}
	return ami
}

func TestGuardRollsBackInOneCall(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	ami := w.toBake()
	w.cloud.Reset()
	w.must(route.Guard, w.alarmEvent("shop-5xx-rate", "ALARM", "OK"))
	var mutating []string
	for _, c := range w.cloud.Calls() {
		if c.Mutating {
			mutating = append(mutating, c.Op)
		}
	}
	if len(mutating) == 0 || mutating[0] != "ModifyListener" {
		t.Fatalf("first mutating call = %v, want ModifyListener first (the whole critical path)", mutating)
	}
	if n := w.cloud.Mutations()["ModifyListener"]; n != 1 {
		t.Fatalf("%d listener calls, want 1", n)
	}
	obs := w.observe()
	if obs.Weights[config.Blue] != 100 || obs.Preview != config.Green {
		t.Fatalf("after rollback: %s", obs.Summary())
	}
	if g := obs.Color(config.Green); g.Desired == 0 {
		t.Fatal("bad color emptied at once; it must stay up for investigation")
	}
	h, _ := w.store.History(context.Background(), w.app.Name)
	if h[0].AMI != ami || h[0].State != release.RolledBack || !strings.Contains(h[0].History[len(h[0].History)-1].Cause, "shop-5xx-rate") {
		t.Fatalf("ledger = %+v", h[0])
	}
	pubs := w.cloud.Published()
	if last := pubs[len(pubs)-1]; !strings.Contains(last.Subject, "ROLLED BACK") || !strings.Contains(last.Message, "Threshold Crossed") {
		t.Fatalf("rollback notice = %+v", last)
	}
	// A duplicate alarm changes nothing; after the hold the bad color goes.
	if m := w.mutations(func() { w.must(route.Guard, w.alarmEvent("shop-5xx-rate", "ALARM", "OK")) }); len(m) != 0 {
		t.Fatalf("repeated alarm made %v", m)
	}
	w.wait(time.Duration(w.app.RetireHoldMinutes+1) * time.Minute)
	if g := w.observe().Color(config.Green); g.Desired != 0 {
		t.Fatalf("bad color not retired after the hold: %+v", g)
	}
}

func TestGuardWhileStagedMarksUnhealthy(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.stageAndPreview("shop-golden-1", "exec-1")
	m := w.mutations(func() { w.must(route.Guard, w.alarmEvent("shop-p99-latency", "ALARM", "OK")) })
	if m["ModifyListener"] != 0 || m["Publish"] != 1 {
		t.Fatalf("mutations = %v: want one notice and no traffic change", m)
	}
	outs := w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	if !strings.Contains(outs[0].Plan.Refused, "shop-p99-latency") {
		t.Fatalf("approval of an unhealthy release: refusal = %q", outs[0].Plan.Refused)
	}
}

func TestGuardBeforeCutoverStopsRelease(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.stageAndPreview("shop-golden-1", "exec-1")
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	w.must(route.Guard, w.alarmEvent("shop-5xx-rate", "ALARM", "OK"))
	if st := w.state(); st.Active != nil {
		t.Fatalf("release still in flight: %+v", st.Active)
	}
	w.wait(20 * time.Minute)
	if obs := w.observe(); obs.Weights[config.Blue] != 100 {
		t.Fatalf("public moved: %s", obs.Summary())
	}
}

func TestAlarmsIgnored(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.toBake()
	for _, raw := range [][]byte{
		w.alarmEvent("shop-5xx-rate", "OK", "ALARM"),
		w.alarmEvent("shop-5xx-rate", "INSUFFICIENT_DATA", "OK"),
		w.alarmEvent("someone-elses-alarm", "ALARM", "OK"),
		w.alarmEvent("shop-5xx-rate", "ALARM", "ALARM"), // no transition
	} {
		if m := w.mutations(func() { w.must(route.Guard, raw) }); len(m) != 0 {
			t.Fatalf("%s made %v", raw, m)
		}
	}
	// A composite alarm decodes too (its configuration has an alarmRule).
	w.app.Alarms = append(w.app.Alarms, config.Alarm{Name: "shop-composite", Role: config.RoleGuard})
	raw := w.envelope(route.SourceCloudWatch, route.TypeAlarmStateChange, map[string]any{
		"alarmName": "shop-composite", "state": map[string]any{"value": "ALARM", "reason": "child alarm"},
		"previousState": map[string]any{"value": "OK"}, "configuration": map[string]any{"alarmRule": "ALARM(a) OR ALARM(b)"},
	})
	w.must(route.Guard, raw)
	if w.observe().Weights[config.Blue] != 100 {
		t.Fatal("composite guard alarm did not roll back")
	}
}

func TestCapacityFollowsTheLiveColor(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.tick()
	al, _ := w.app.Alarm("shop-cpu-high")
	before := w.observe().Color(config.Blue).Desired
	w.must(route.Guard, w.alarmEvent("shop-cpu-high", "ALARM", "OK"))
	obs := w.observe()
	if got := obs.Color(config.Blue).Desired; got != before+al.Step {
		t.Fatalf("live desired %d → %d, want +%d", before, got, al.Step)
	}
	if g := obs.Color(config.Green); g.Desired != 0 {
		t.Fatalf("idle color touched: %+v", g)
	}
	// Still in ALARM after the cooldown: another step, up to max.
	w.wait(time.Duration(al.CooldownMinutes+1) * time.Minute)
	if got := w.observe().Color(config.Blue).Desired; got != min(before+2*al.Step, w.observe().Color(config.Blue).Max) {
		t.Fatalf("no second step while in ALARM: desired %d", got)
	}
	// Still in ALARM, a release gives green blue's current need (its
	// desired capacity), with MinSize at the floor, and the idle color's
	// load scaling is suspended.
	d := w.observe().Color(config.Blue).Desired
	w.toBake()
	obs = w.observe()
	if g := obs.Color(config.Green); g.Desired != d || g.Min != w.app.Floor {
		t.Fatalf("capacity after cutover: %s, want green at blue's desired %d with MinSize %d", obs.Summary(), d, w.app.Floor)
	}
	if !hasAll(obs.Color(config.Blue).Suspended, release.ScalingProcesses) || len(obs.Color(config.Green).Suspended) != 0 {
		t.Fatalf("processes: blue %v green %v", obs.Color(config.Blue).Suspended, obs.Color(config.Green).Suspended)
	}
}

func hasAll(have, want []string) bool {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, x := range want {
		if !set[x] {
			return false
		}
	}
	return true
}

func TestFloorIsRestored(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	// Someone scales the live color to zero by hand.
	if _, err := w.cloud.AutoScaling().UpdateAutoScalingGroup(context.Background(), capacityInput(w.app.Blue.ASG, 0, 0, 6)); err != nil {
		t.Fatal(err)
	}
	w.skipCheck = true
	w.tick()
	w.skipCheck = false
	w.check("after the tick")
	if b := w.observe().Color(config.Blue); b.Desired != w.app.Floor || b.Min != w.app.Floor {
		t.Fatalf("floor not restored: %+v", b)
	}
}

func TestWeightedShift(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.app.WeightSteps, w.app.StepMinutes = []int{10, 50, 100}, 10
	w.stageAndPreview("shop-golden-1", "exec-1")
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	var seen []int
	for i := 0; i < 40 && (w.state().Active == nil || w.state().Active.State != release.Baking); i++ {
		w.cloud.Advance(time.Minute)
		w.tick()
		if g := w.observe().Weights[config.Green]; len(seen) == 0 || seen[len(seen)-1] != g {
			seen = append(seen, g)
		}
	}
	if got := fmt.Sprint(seen); got != "[0 10 50 100]" {
		t.Fatalf("weights over time = %v, want 0,10,50,100", seen)
	}
	// A guard alarm during a weighted shift returns all weight.
	w2 := newWorld(t, store.NewMemory())
	w2.app.WeightSteps, w2.app.StepMinutes = []int{10, 50, 100}, 10
	w2.stageAndPreview("shop-golden-1", "exec-1")
	w2.must(route.Promote, w2.approvalEvent("SUCCEEDED", "exec-1"))
	w2.wait(20 * time.Minute)
	if g := w2.observe().Weights[config.Green]; g != 50 {
		t.Fatalf("want 50%% on green before the alarm, got %d", g)
	}
	w2.must(route.Guard, w2.alarmEvent("shop-5xx-rate", "ALARM", "OK"))
	if obs := w2.observe(); obs.Weights[config.Blue] != 100 {
		t.Fatalf("after alarm during shift: %s", obs.Summary())
	}
}

func TestChangeWindow(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	// t0 is Tuesday 09:00 UTC = 10:00 in Berlin; the window opens at 11:00.
	w.app.ChangeWindow = &config.ChangeWindow{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "11:00", To: "16:00", TimeZone: "Europe/Berlin"}
	w.stageAndPreview("shop-golden-1", "exec-1")
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	w.wait(40 * time.Minute) // 10:48 Berlin
	if obs := w.observe(); obs.Weights[config.Blue] != 100 {
		t.Fatalf("cut over outside the window: %s", obs.Summary())
	}
	w.wait(15 * time.Minute) // past 11:00 Berlin
	if obs := w.observe(); obs.Weights[config.Green] != 100 {
		t.Fatalf("did not cut over when the window opened: %s", obs.Summary())
	}
}

func TestRollbackFaults(t *testing.T) {
	t.Run("throttled listener call is retried in the invocation", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		w.toBake()
		w.cloud.Fail("ModifyListener", sim.Throttle(), 2)
		w.must(route.Guard, w.alarmEvent("shop-5xx-rate", "ALARM", "OK"))
		if w.observe().Weights[config.Blue] != 100 {
			t.Fatal("not rolled back")
		}
	})
	t.Run("failing listener call leaves the rollback pending", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		w.toBake()
		w.cloud.Fail("ModifyListener", sim.ServerError(), 100)
		if _, err := w.send(route.Guard, w.alarmEvent("shop-5xx-rate", "ALARM", "OK")); err == nil {
			t.Fatal("want an error so Lambda retries")
		}
		st := w.state()
		if st.Active == nil || st.Active.State != release.RollingBack || len(st.Pending) == 0 {
			t.Fatalf("record does not show the rollback pending: %+v", st)
		}
		w.cloud.Fail("ModifyListener", nil, 0)
		w.tick()
		if obs := w.observe(); obs.Weights[config.Blue] != 100 {
			t.Fatalf("tick did not finish the rollback: %s", obs.Summary())
		}
		if st := w.state(); st.Active != nil || len(st.Pending) != 0 {
			t.Fatalf("after the tick: %+v", st)
		}
	})
}
