package steps_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/store"
)

var (
	seeds = flag.Int("seeds", 1000, "randomized sequences to run")
	seed  = flag.Uint64("seed", 0, "run only this seed (to reproduce a failure)")
)

// TestRandomizedSequences drives random event storms: new AMIs announced or
// not (the sweep must find them), duplicates, late and reordered AMI
// events, approvals of the right and wrong executions, rejections, and
// time passing. Every invariant must hold after every step. A failing seed
// is printed with the steps that led to it.
func TestRandomizedSequences(t *testing.T) {
	first, n := uint64(1), uint64(*seeds)
	if *seed != 0 {
		first, n = *seed, 1
	}
	failures := 0
	reached := map[release.State]int{}
	for s := first; s < first+n; s++ {
		if err := runSeed(t, s, reached); err != nil {
			failures++
			t.Errorf("seed %d: %v\nreproduce: go test ./shared/steps -run TestRandomizedSequences -seed %d", s, err, s)
			if failures >= 3 {
				t.FailNow()
			}
		}
	}
	t.Logf("releases ended per state over %d seeds: %v", n, reached)
	// The storm must really exercise the release: a driver that never gets
	// past staging would make this test toothless.
	if n >= 100 && (reached[release.Done] < int(n)/10 || reached[release.Abandoned] == 0 || reached[release.Superseded] == 0 || reached[release.RolledBack] == 0) {
		t.Fatalf("randomized runs reached too few end states: %v", reached)
	}
}

func runSeed(t *testing.T, s uint64, reached map[release.State]int) error {
	rng := rand.New(rand.NewPCG(s, 0x6b61697a656e))
	cfg, start := testConfig(t), t0
	switch s % 6 {
	case 1: // an overnight change window in Berlin (Tuesday 12:00 to 02:00)
		cfg.Apps[0].ChangeWindow = window(t, "tue", "12:00", "02:00", "Europe/Berlin")
		cfg.Apps[0].WindowWaitHours = 2
	case 3: // the night Berlin falls back (Sat 23:00 to 03:00, which
		// happens twice), from Saturday evening
		cfg.Apps[0].ChangeWindow = window(t, "sat", "23:00", "03:00", "Europe/Berlin")
		cfg.Apps[0].WindowWaitHours = 3
		start = time.Date(2026, 10, 24, 20, 0, 0, 0, time.UTC)
	}
	w := newWorldAt(t, cfg, store.NewMemory(), start)
	w.skipCheck = true
	if s%2 == 0 { // half the seeds shift the public in weighted steps
		w.app.WeightSteps, w.app.StepMinutes = []int{10, 50, 100}, 5
	}
	// Alarm events held back, to be delivered late and out of order.
	var held []heldAlarm
	ctx := context.Background()
	var trail []string
	var sent [][]byte
	var amis []string
	execs := 0
	deliver := func(label, fn string, raw []byte) error {
		trail = append(trail, fmt.Sprintf("%s %s", w.cloud.Now().Format("15:04"), label))
		var before release.AppState
		var obsBefore release.Observed
		if fn == route.Guard {
			before, obsBefore = w.state(), w.observe()
		}
		outs, err := w.deps.Handle(ctx, fn, raw)
		if err != nil {
			return fmt.Errorf("%s: %v", label, err)
		}
		for _, o := range outs {
			if o.Plan.Bug != "" {
				return fmt.Errorf("%s: %s", label, o.Plan.Bug)
			}
		}
		sent = append(sent, raw)
		if errs := w.violations(); len(errs) > 0 {
			return fmt.Errorf("after %q: %v", label, errs)
		}
		if err := capacityInBounds(w); err != nil {
			return fmt.Errorf("after %q: %v", label, err)
		}
		if fn == route.Guard {
			if err := alarmMovedPublicRightly(w, raw, before, obsBefore); err != nil {
				return fmt.Errorf("after %q: %v", label, err)
			}
		}
		return nil
	}
	// alarm makes an alarm event whose transition happened a little before
	// now, or (sometimes) long before: before the cutover it is about.
	alarm := func(name, state, previous string) ([]byte, string) {
		at := w.cloud.Now().Add(-time.Duration(rng.IntN(30)) * time.Second)
		label := ""
		if rng.IntN(8) == 0 {
			at = at.Add(-time.Duration(rng.IntN(90)+1) * time.Minute)
			label += " (fired " + at.Format("15:04") + ")"
		}
		var se, de map[string]any
		switch rng.IntN(12) {
		case 0:
			se = map[string]any{"actionsSuppressedBy": []string{"Alarm", "WaitPeriod", "ExtensionPeriod"}[rng.IntN(3)]}
			label += " suppressed"
		case 1:
			de = map[string]any{"muteDetail": map[string]any{"mutedBy": []any{map[string]any{"muteRuleName": "storm", "muteWindowStart": at.Add(-time.Hour).Format(time.RFC3339), "muteWindowEnd": at.Add(time.Hour).Format(time.RFC3339)}}}}
			label += " muted"
		}
		return w.alarmAt(name, state, previous, at, se, de), label
	}
	// sendAlarm delivers now, or holds the event back for later.
	sendAlarm := func(label string, raw []byte) error {
		if rng.IntN(4) == 0 {
			held = append(held, heldAlarm{label, raw})
			trail = append(trail, w.cloud.Now().Format("15:04")+" held back: "+label)
			return nil
		}
		return deliver(label, route.Guard, raw)
	}
	fail := func(err error) error {
		return fmt.Errorf("%v\nsteps:\n  %s", err, strings.Join(trail, "\n  "))
	}
	currentExec := func() string {
		st := w.state()
		if st.Active != nil {
			if st.Active.PipelineExecution != "" && rng.IntN(4) > 0 {
				return st.Active.PipelineExecution
			}
			if st.Active.ApprovalExecution != "" && rng.IntN(4) > 0 {
				return st.Active.ApprovalExecution
			}
		}
		return fmt.Sprintf("exec-%d", rng.IntN(execs+2))
	}
	for i := 0; i < 30; i++ {
		var err error
		if st := w.state().Active; st != nil && !st.State.BeforeApproval() && rng.IntN(3) == 0 {
			// Load flaps while the public moves and bakes: capacity alarms
			// between cutover steps.
			state, prev := []string{"ALARM", "OK", "INSUFFICIENT_DATA", "OK"}[rng.IntN(4)], "OK"
			if state == "OK" {
				prev = "ALARM"
			}
			raw, l := alarm("shop-cpu-high", state, prev)
			if err := sendAlarm("capacity "+state+" during "+string(st.State)+l, raw); err != nil {
				return fail(err)
			}
		}
		switch r := rng.IntN(100); {
		case r < 15: // a new AMI, announced
			execs++
			exec := ""
			if rng.IntN(2) == 0 {
				exec = fmt.Sprintf("exec-%d", execs)
			}
			ami := w.cloud.NewAMI(w.app, fmt.Sprintf("golden-%d", len(amis)+1), exec)
			amis = append(amis, ami)
			err = deliver("AMI "+ami+" ("+exec+")", route.Stage, w.amiEvent(ami))
		case r < 19: // a new AMI whose event is lost
			ami := w.cloud.NewAMI(w.app, fmt.Sprintf("golden-%d", len(amis)+1), "")
			amis = append(amis, ami)
			trail = append(trail, w.cloud.Now().Format("15:04")+" AMI "+ami+" (event lost)")
		case r < 27: // a duplicate of something already delivered
			if len(sent) > 0 {
				raw := sent[len(sent)-1-rng.IntN(len(sent))]
				err = deliver("duplicate", dupFunction(raw), raw)
			}
		case r < 31: // a late event for an older AMI
			if len(amis) > 0 {
				ami := amis[rng.IntN(len(amis))]
				err = deliver("late AMI "+ami, route.Stage, w.amiEvent(ami))
			}
		case r < 37:
			err = deliver("approval STARTED", route.Promote, w.approvalEvent("STARTED", currentExec()))
		case r < 48:
			e := currentExec()
			err = deliver("approval SUCCEEDED "+e, route.Promote, w.approvalEvent("SUCCEEDED", e))
		case r < 51:
			e := currentExec()
			err = deliver("approval FAILED "+e, route.Promote, w.approvalEvent("FAILED", e))
		case r < 57: // guard alarms flap
			name := []string{"shop-5xx-rate", "shop-p99-latency"}[rng.IntN(2)]
			raw, l := alarm(name, "ALARM", "OK")
			err = sendAlarm("guard "+name+" ALARM"+l, raw)
		case r < 61:
			name := []string{"shop-5xx-rate", "shop-p99-latency"}[rng.IntN(2)]
			state := []string{"OK", "INSUFFICIENT_DATA"}[rng.IntN(2)]
			raw, l := alarm(name, state, "ALARM")
			err = sendAlarm("guard "+name+" "+state+l, raw)
		case r < 66: // load peaks: capacity alarms, during any release state
			raw, l := alarm("shop-cpu-high", "ALARM", "OK")
			err = sendAlarm("capacity ALARM"+l, raw)
		case r < 69:
			raw, l := alarm("shop-cpu-high", "OK", "ALARM")
			err = sendAlarm("capacity OK"+l, raw)
		case r < 72: // a held-back alarm arrives, late and out of order
			if len(held) > 0 {
				i := rng.IntN(len(held))
				h := held[i]
				held = append(held[:i:i], held[i+1:]...)
				err = deliver("late "+h.label, route.Guard, h.raw)
			}
		default: // time passes, minute by minute
			for m := rng.IntN(20) + 1; m > 0 && err == nil; m-- {
				w.cloud.Advance(time.Minute)
				err = deliver("tick", route.Tick, w.tickEvent())
			}
		}
		if err != nil {
			return fail(err)
		}
	}
	// Liveness: with time, nothing stays promoting, and the newest AMI is
	// known.
	for m := 0; m < 180; m++ {
		w.cloud.Advance(time.Minute)
		if err := deliver("tick", route.Tick, w.tickEvent()); err != nil {
			return fail(err)
		}
	}
	// Load is gone: once the capacity alarm is OK and its cooldown has
	// passed, the live color is back at its level before the alarms, the
	// floor (nothing else moves capacity in the storm).
	w.cloud.Advance(time.Second)
	if err := deliver("capacity OK (final)", route.Guard, w.alarmAt("shop-cpu-high", "OK", "ALARM", w.cloud.Now(), nil, nil)); err != nil {
		return fail(err)
	}
	for m := 0; m < 7; m++ {
		w.cloud.Advance(time.Minute)
		if err := deliver("tick", route.Tick, w.tickEvent()); err != nil {
			return fail(err)
		}
	}
	if st := w.state(); st.Stuck == "" {
		obs := w.observe()
		l := obs.Color(obs.Live())
		if want := min(w.app.Floor, l.Max); l.Desired != want || st.CapacityBase != 0 {
			return fail(fmt.Errorf("capacity alarm OK for 7 minutes, but live %s is at %s (episode base %d), want desired %d", obs.Live(), l.Capacity, st.CapacityBase, want))
		}
	}
	h, err := w.store.History(ctx, w.app.Name)
	if err != nil {
		return err
	}
	for _, r := range h {
		reached[r.State]++
	}
	st := w.state()
	if st.Active != nil && !st.Active.State.BeforeApproval() {
		return fail(fmt.Errorf("after three quiet hours the release is still %s", st.Active.State))
	}
	if len(amis) > 0 {
		newest := amis[len(amis)-1]
		if st.Newest != newest {
			return fail(fmt.Errorf("newest AMI %s never seen (newest known %s)", newest, st.Newest))
		}
	}
	return nil
}

// capacityInBounds is the storms' capacity invariant: every color serving
// the public is within [floor, MaxSize] (the floor within MaxSize), and
// with no capacity-alarm episode open it is at its level before the
// alarms: the floor, since in the storm nothing but kaizen sizes colors.
func capacityInBounds(w *world) error {
	st, obs := w.state(), w.observe()
	for _, c := range config.Colors {
		if obs.Weights[c] == 0 {
			continue
		}
		v := obs.Color(c)
		f := min(w.app.Floor, v.Max)
		if v.Desired < f || v.Min < f || v.Desired > v.Max {
			return fmt.Errorf("%s serves the public at %s, outside [floor %d, max %d]", c, v.Capacity, f, v.Max)
		}
		if st.Stuck == "" && st.CapacityBase == 0 && v.Desired != f {
			return fmt.Errorf("no capacity alarm episode is open, but %s serves the public at %s, not at the floor %d", c, v.Capacity, f)
		}
	}
	return nil
}

type heldAlarm struct {
	label string
	raw   []byte
}

func window(t testing.TB, day, from, to, zone string) *config.ChangeWindow {
	t.Helper()
	b := fmt.Sprintf(`{"days":[%q],"from":%q,"to":%q,"timeZone":%q}`, day, from, to, zone)
	f, err := config.Parse([]byte(strings.Replace(mustRead(t, "../../examples/kaizen.json"), `"bakeMinutes": 60,`, `"bakeMinutes": 60, "changeWindow": `+b+`,`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return f.Apps[0].ChangeWindow
}

// alarmMovedPublicRightly is the storms' invariant for alarms: the public
// never moves away from a color because of an alarm transition older than
// that color's taking the public, older than a transition already seen of
// that alarm, or suppressed or muted.
func alarmMovedPublicRightly(w *world, raw []byte, before release.AppState, obs release.Observed) error {
	rel := before.Active
	if rel == nil {
		return nil
	}
	after := w.observe()
	if after.Weights[rel.Color] >= obs.Weights[rel.Color] {
		return nil // the public did not move away from the new color
	}
	e, err := route.Decode(raw)
	if err != nil {
		return err
	}
	det, at := *e.Alarm, e.Alarm.At
	skew := time.Duration(w.app.AlarmSkewSeconds) * time.Second
	switch {
	case det.State.ActionsSuppressedBy != "" || det.Muted() != "":
		return fmt.Errorf("a suppressed or muted alarm %s moved the public", det.AlarmName)
	case !rel.PublicAt.IsZero() && !at.After(rel.PublicAt.Add(-skew)):
		return fmt.Errorf("alarm %s of %s moved the public off %s, which took it at %s", det.AlarmName, at, rel.Color, rel.PublicAt)
	}
	if m, ok := before.Alarms[det.AlarmName]; ok && !at.After(m.At) {
		return fmt.Errorf("alarm %s of %s moved the public though %s of %s was already seen", det.AlarmName, at, m.State, m.At)
	}
	return nil
}

// dupFunction routes a previously sent event back to its function.
func dupFunction(raw []byte) string {
	e, err := route.Decode(raw)
	if err != nil {
		return route.Tick
	}
	if f := e.Function; f != "" {
		return f
	}
	return route.Tick
}
