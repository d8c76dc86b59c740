package release

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Check is what every scenario test relies on: each invariant it tests has
// a state and observation that break it (and must be reported, as that
// invariant only) and a near miss that keeps it (and must not be).
func TestCheck(t *testing.T) {
	cases := []struct {
		name  string
		state State // the fixture of plan_test.go
		tweak func(st *AppState, obs *Observed)
		want  int // the invariant broken; 0 if none
	}{
		// 1. One color at 100%, except during a weighted shift.
		{"weights do not sum to 100", Baking, func(_ *AppState, o *Observed) { o.Weights[config.Blue] = 10 }, 1},
		{"split without a shift", Baking, func(_ *AppState, o *Observed) { o.Weights = split(50) }, 1},
		{"split after the shift became a bake", Shifting, func(st *AppState, _ *Observed) {
			st.Active.State, st.Active.Weight, st.Active.BakeUntil = Baking, 0, t0
		}, 1},
		{"split during a shift", Shifting, nil, 0},
		{"split while a rollback from a shift is pending", Shifting, func(st *AppState, _ *Observed) { st.Active.State, st.Active.Reason = RollingBack, "guard" }, 0},
		{"no public at all", None, func(_ *AppState, o *Observed) { o.Weights = map[Color]int{} }, 1},

		// 2. The live color never below the floor.
		{"live color below the floor", None, func(_ *AppState, o *Observed) { o.Color(config.Blue).Desired = 1 }, 2},
		{"live color's min below the floor", None, func(_ *AppState, o *Observed) { o.Color(config.Blue).Min = 1 }, 2},
		{"shifted color below the floor", Shifting, func(_ *AppState, o *Observed) { o.Color(config.Green).Capacity = Capacity{Min: 1, Desired: 1, Max: 10} }, 2},
		{"idle color at zero", None, func(_ *AppState, o *Observed) { o.Color(config.Green).Capacity = Capacity{Max: 10} }, 0},

		// 3. The preview never forwards to the color at 100%.
		{"preview on the live color", None, func(_ *AppState, o *Observed) { o.Preview = config.Blue }, 3},
		{"preview on the baking color", Baking, func(_ *AppState, o *Observed) { o.Preview = config.Green }, 3},
		{"preview on the live color while a failed step is pending", None, func(st *AppState, o *Observed) {
			o.Preview, st.Pending, st.LastError = config.Blue, []string{"point preview at green"}, "throttled"
		}, 0},

		// 4. At most one release in flight; a newer AMI waits only behind a
		// shift or a bake.
		{"a terminal release in flight", Baking, func(st *AppState, _ *Observed) { st.Active.State = Done }, 4},
		{"queued behind a staged release", Staged, queue, 4},
		{"queued behind a release awaiting approval", PreviewReady, queue, 4},
		{"queued behind an unhealthy release", Unhealthy, queue, 4},
		{"queued with nothing in flight", None, queue, 4},
		{"queued behind a bake", Baking, queue, 0},
		{"queued behind a hold", None, func(st *AppState, o *Observed) {
			queue(st, o)
			st.Hold = &Hold{Color: config.Green, Until: t0.Add(time.Hour)}
		}, 0},

		// 5. The previous color keeps its instances until the bake ends.
		{"previous color emptied during the bake", Baking, func(_ *AppState, o *Observed) { o.Color(config.Blue).Capacity = Capacity{Max: 10} }, 5},
		{"previous color emptied while rolling back", RollingBack, func(_ *AppState, o *Observed) { o.Color(config.Blue).Capacity = Capacity{Max: 10} }, 5},
		{"previous color warm during the bake", Baking, nil, 0},

		// 7. Nothing half-applied silently: the record says what was done.
		{"pending actions without the error", Promoting, func(st *AppState, _ *Observed) { st.Pending = []string{"set green capacity 2/2/10"} }, 7},
		{"pending actions with the error", Promoting, func(st *AppState, _ *Observed) {
			st.Pending, st.LastError = []string{"set green capacity 2/2/10"}, "throttled"
		}, 0},
		{"a state not in the table", Staged, func(st *AppState, _ *Observed) { st.Active.State = "previewing" }, 7},
		{"preview ready without its time", PreviewReady, func(st *AppState, _ *Observed) { st.Active.PreviewReadyAt = time.Time{} }, 7},
		{"unhealthy without a reason", Unhealthy, func(st *AppState, _ *Observed) { st.Active.Reason = "" }, 7},
		{"rolling back without a reason", RollingBack, func(st *AppState, _ *Observed) { st.Active.Reason = "" }, 7},
		{"promoting without an approval", Promoting, func(st *AppState, _ *Observed) { st.Active.ApprovedAt = time.Time{} }, 7},
		{"waiting for the window without an approval", WaitingForWindow, func(st *AppState, _ *Observed) { st.Active.ApprovedAt = time.Time{} }, 7},
		{"shifting without a weight", Shifting, func(st *AppState, _ *Observed) { st.Active.Weight = 0 }, 7},
		{"shifting without the color it leaves", Shifting, func(st *AppState, _ *Observed) { st.Active.From = "" }, 7},
		{"baking without the end of the bake", Baking, func(st *AppState, _ *Observed) { st.Active.BakeUntil = time.Time{} }, 7},
	}
	for _, s := range append([]State{None}, States...) {
		if !s.Terminal() {
			cases = append(cases, struct {
				name  string
				state State
				tweak func(st *AppState, obs *Observed)
				want  int
			}{"fixture " + string(s), s, nil, 0})
		}
	}
	app := shopApp(t)
	app.WeightSteps, app.StepMinutes = []int{10, 50, 100}, 10
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, obs := fleet(c.state)
			if c.tweak != nil {
				c.tweak(&st, &obs)
			}
			errs := Check(app, st, obs)
			if c.want == 0 {
				if len(errs) > 0 {
					t.Fatalf("valid state reported: %v", errs)
				}
				return
			}
			prefix := fmt.Sprintf("invariant %d: ", c.want)
			if len(errs) == 0 {
				t.Fatalf("invariant %d broken but not reported", c.want)
			}
			for _, err := range errs {
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("reported %v; want invariant %d only", err, c.want)
				}
			}
		})
	}
}

func split(green int) map[Color]int {
	return map[Color]int{config.Blue: 100 - green, config.Green: green}
}

func queue(st *AppState, _ *Observed) {
	st.Queued = &Candidate{Image: Image{ID: "ami-newer"}, Since: t0}
}
