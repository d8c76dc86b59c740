package release

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

func TestScalingDiff(t *testing.T) {
	pol := func(name, spec string) ScalingItem { return ScalingItem{Kind: ScalingPolicy, Name: name, Spec: spec} }
	sch := func(name, spec string) ScalingItem { return ScalingItem{Kind: ScheduledAction, Name: name, Spec: spec} }
	names := func(xs []ScalingItem) string {
		var out []string
		for _, x := range xs {
			out = append(out, x.Kind+":"+x.Name)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		name       string
		live, idle []ScalingItem
		put, del   string
	}{
		{"equal, names aside", []ScalingItem{pol("shop-blue-Cpu", "A"), pol("x", "B")}, []ScalingItem{pol("y", "B"), pol("shop-green-Cpu", "A")}, "", ""},
		{"missing and extra", []ScalingItem{pol("a", "A"), sch("m", "M")}, []ScalingItem{pol("z", "Z"), sch("n", "N")}, "policy:a,scheduled-action:m", "policy:z,scheduled-action:n"},
		{"changed under the same name: put replaces it", []ScalingItem{pol("a", "A2")}, []ScalingItem{pol("a", "A1")}, "policy:a", ""},
		{"a policy and a schedule of one definition do not match", []ScalingItem{pol("a", "S")}, []ScalingItem{sch("a", "S")}, "policy:a", "scheduled-action:a"},
		{"duplicates match one to one", []ScalingItem{pol("a", "A"), pol("b", "A")}, []ScalingItem{pol("c", "A")}, "policy:b", ""},
		{"nothing live: everything goes", nil, []ScalingItem{pol("a", "A")}, "", "policy:a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			put, del := scalingDiff(c.live, c.idle)
			if names(put) != c.put || names(del) != c.del {
				t.Fatalf("put %s, delete %s; want put %s, delete %s", names(put), names(del), c.put, c.del)
			}
		})
	}
}

// The capacity rules, planned: the step up records the level before it,
// OK starts the cooldown, the step down goes to max(before, floor,
// MinSize) unless the group moved since kaizen set it.
func TestCapacityRules(t *testing.T) {
	app := shopApp(t) // capacity alarm shop-cpu-high: step 2, cooldown 5
	alarm := func(state string, at time.Time) Event {
		return Event{Kind: EvAlarm, ID: "a-" + state, Alarm: &Alarm{Name: "shop-cpu-high", Role: config.RoleCapacity, State: state, At: at}}
	}
	tick := Event{Kind: EvTick, ID: "tick"}
	st, obs := fleet(None)
	obs.Color(config.Blue).Capacity = Capacity{Min: 2, Desired: 3, Max: 10}
	apply := func(p Plan) {
		for _, a := range p.Actions {
			obs.apply(a)
		}
		st = p.Next
	}
	p := Decide(app, st, obs, t0, alarm("ALARM", t0))
	apply(p)
	if st.CapacityBase != 3 || obs.Color(config.Blue).Desired != 5 || st.Sized[config.Blue] != 5 {
		t.Fatalf("after ALARM: base %d, blue %s, sized %v", st.CapacityBase, obs.Color(config.Blue).Capacity, st.Sized)
	}
	apply(Decide(app, st, obs, t0.Add(5*time.Minute), tick)) // still ALARM: 7
	apply(Decide(app, st, obs, t0.Add(6*time.Minute), alarm("OK", t0.Add(6*time.Minute))))
	if obs.Color(config.Blue).Desired != 7 || !st.CapacityOKAt.Equal(t0.Add(6*time.Minute)) {
		t.Fatalf("after OK: blue %s, OK at %s", obs.Color(config.Blue).Capacity, st.CapacityOKAt)
	}
	if p := Decide(app, st, obs, t0.Add(10*time.Minute), tick); len(p.Actions) != 0 {
		t.Fatalf("stepped within the cooldown: %v", p.Actions)
	}
	// A scheduled action raised MinSize to 4 meanwhile, and set desired
	// (what its own scaling asks for) is kaizen's 7: down to max(3, 2, 4).
	obs.Color(config.Blue).Min = 4
	p = Decide(app, st, obs, t0.Add(11*time.Minute), tick)
	if len(p.Actions) != 1 || *p.Actions[0].Capacity != (Capacity{Min: 4, Desired: 4, Max: 10}) || p.Next.CapacityBase != 0 {
		t.Fatalf("step down: %v, base %d", p.Actions, p.Next.CapacityBase)
	}
	// Had the policies moved desired to 8, it would stay.
	obs.Color(config.Blue).Desired = 8
	if p := Decide(app, st, obs, t0.Add(11*time.Minute), tick); len(p.Actions) != 0 || p.Next.CapacityBase != 0 {
		t.Fatalf("stepped down what the policies set: %v", p.Actions)
	}
}

// Approval copies the live color's current need with MinSize at the floor,
// within the new color's own MaxSize.
func TestApprovalNeed(t *testing.T) {
	app := shopApp(t)
	for _, c := range []struct {
		live, idle Capacity
		want       Capacity
	}{
		{Capacity{Min: 6, Desired: 6, Max: 10}, Capacity{Max: 10}, Capacity{Min: 2, Desired: 6, Max: 10}},
		{Capacity{Min: 2, Desired: 9, Max: 10}, Capacity{Max: 6}, Capacity{Min: 2, Desired: 6, Max: 6}},
		{Capacity{Min: 0, Desired: 1, Max: 10}, Capacity{Max: 10}, Capacity{Min: 2, Desired: 2, Max: 10}},
		{Capacity{Min: 2, Desired: 2, Max: 10}, Capacity{Max: 1}, Capacity{Min: 1, Desired: 1, Max: 1}},
	} {
		t.Run(fmt.Sprint(c.live, c.idle), func(t *testing.T) {
			st, obs := fleet(PreviewReady)
			obs.Color(config.Blue).Capacity, obs.Color(config.Green).Capacity = c.live, c.idle
			obs.Color(config.Green).Capacity.Desired = min(1, c.idle.Max)
			p := Decide(app, st, obs, t0, Event{Kind: EvApproval, ID: "ap", Approval: &Approval{Execution: "exec-1", State: "SUCCEEDED"}})
			if p.Next.Active == nil || *p.Next.Active.Capacity != c.want {
				t.Fatalf("recorded %v, want %s (notes %q)", p.Next.Active, c.want, p.Notes)
			}
			if !slices.ContainsFunc(p.Actions, func(a Action) bool {
				return a.Kind == SetCapacity && a.Color == config.Green && *a.Capacity == c.want
			}) {
				t.Fatalf("actions %v, want green set to %s", p.Actions, c.want)
			}
		})
	}
}
