package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Scenario is one release step, set up on a fresh lab: the benchmarks and
// `kaizen bench` measure Step after Prepare.
type Scenario struct {
	Name    string
	Prepare func(ctx context.Context, l *Lab) error
	Step    func(ctx context.Context, l *Lab) error
}

// PlannerEvent is the planner's input for a scenario's step, so that the
// pure planner can be measured alone on the prepared state.
func (sc Scenario) PlannerEvent(l *Lab) release.Event {
	switch sc.Name {
	case "stage":
		return release.Event{Kind: release.EvImage, ID: "bench", Image: &release.Image{ID: "ami-bench", State: "available", Created: l.Cloud.Now()}}
	case "approve":
		return release.Event{Kind: release.EvApproval, ID: "bench", Approval: &release.Approval{Execution: "exec-bench", State: "SUCCEEDED"}}
	case "rollback":
		return release.Event{Kind: release.EvAlarm, ID: "bench", Alarm: &release.Alarm{Name: l.guardAlarm(), Role: config.RoleGuard, State: "ALARM", Previous: "OK"}}
	case "capacity step":
		return release.Event{Kind: release.EvAlarm, ID: "bench", Alarm: &release.Alarm{Name: l.alarm(config.RoleCapacity), Role: config.RoleCapacity, State: "ALARM", Previous: "OK"}}
	}
	return release.Event{Kind: release.EvTick, ID: "bench"}
}

// Scenarios are the steps whose cost kaizen reports.
func Scenarios() []Scenario {
	return []Scenario{
		{"stage", func(ctx context.Context, l *Lab) error { _, err := l.Tick(ctx); return err }, func(ctx context.Context, l *Lab) error {
			app := l.App()
			ami := l.Cloud.NewAMI(app, "golden-bench", "exec-bench")
			return l.send(ctx, route.Stage, l.Maker.AMI(ami, "available", l.Cloud.Now()))
		}},
		{"approve", func(ctx context.Context, l *Lab) error { return l.ToPreview(ctx) }, func(ctx context.Context, l *Lab) error {
			return l.send(ctx, route.Promote, l.approval("SUCCEEDED"))
		}},
		{"cutover", func(ctx context.Context, l *Lab) error {
			if err := l.ToPreview(ctx); err != nil {
				return err
			}
			if err := l.send(ctx, route.Promote, l.approval("SUCCEEDED")); err != nil {
				return err
			}
			l.Cloud.Advance(8 * time.Minute)
			return nil
		}, func(ctx context.Context, l *Lab) error { _, err := l.Tick(ctx); return err }},
		{"retire", func(ctx context.Context, l *Lab) error {
			if err := l.ToBake(ctx); err != nil {
				return err
			}
			l.Cloud.Advance(time.Duration(l.App().BakeMinutes) * time.Minute)
			return nil
		}, func(ctx context.Context, l *Lab) error { _, err := l.Tick(ctx); return err }},
		{"rollback", func(ctx context.Context, l *Lab) error { return l.ToBake(ctx) }, func(ctx context.Context, l *Lab) error {
			return l.send(ctx, route.Guard, l.Maker.Alarm(l.guardAlarm(), "ALARM", "OK", "5xx above threshold", l.Cloud.Now()))
		}},
		{"capacity step", func(ctx context.Context, l *Lab) error { _, err := l.Tick(ctx); return err }, func(ctx context.Context, l *Lab) error {
			return l.send(ctx, route.Guard, l.Maker.Alarm(l.alarm(config.RoleCapacity), "ALARM", "OK", "CPU above threshold", l.Cloud.Now()))
		}},
		{"idle tick", func(ctx context.Context, l *Lab) error { _, err := l.Tick(ctx); return err }, func(ctx context.Context, l *Lab) error {
			_, err := l.Tick(ctx)
			return err
		}},
	}
}

// App is the first configured app, the one the scenarios drive.
func (l *Lab) App() *config.App { return &l.Config.Apps[0] }

func (l *Lab) send(ctx context.Context, fn string, raw []byte) error {
	_, err := l.Send(ctx, fn, raw)
	return err
}

func (l *Lab) approval(state string) []byte {
	a := l.App().Approval
	return l.Maker.Approval(a.Pipeline, a.Stage, a.Action, "exec-bench", state, l.Cloud.Now())
}

func (l *Lab) alarm(role config.AlarmRole) string {
	for _, a := range l.App().Alarms {
		if a.Role == role {
			return a.Name
		}
	}
	return ""
}

func (l *Lab) guardAlarm() string { return l.alarm(config.RoleGuard) }

// ToPreview stages a new AMI and ticks until its preview is healthy.
func (l *Lab) ToPreview(ctx context.Context) error {
	if _, err := l.Tick(ctx); err != nil {
		return err
	}
	ami := l.Cloud.NewAMI(l.App(), "golden-bench", "exec-bench")
	if err := l.send(ctx, route.Stage, l.Maker.AMI(ami, "available", l.Cloud.Now())); err != nil {
		return err
	}
	return l.tickUntil(ctx, 30, func(st release.AppState) bool {
		return st.Active != nil && !st.Active.PreviewReadyAt.IsZero()
	})
}

// ToBake runs a release up to its bake.
func (l *Lab) ToBake(ctx context.Context) error {
	if err := l.ToPreview(ctx); err != nil {
		return err
	}
	if err := l.send(ctx, route.Promote, l.approval("SUCCEEDED")); err != nil {
		return err
	}
	return l.tickUntil(ctx, 30, func(st release.AppState) bool {
		return st.Active != nil && st.Active.State == release.Baking
	})
}

func (l *Lab) tickUntil(ctx context.Context, minutes int, done func(release.AppState) bool) error {
	for i := 0; i < minutes; i++ {
		st, err := l.Store.Load(ctx, l.App().Name)
		if err != nil {
			return err
		}
		if done(st) {
			return nil
		}
		l.Cloud.Advance(time.Minute)
		if _, err := l.Tick(ctx); err != nil {
			return err
		}
	}
	return fmt.Errorf("not reached after %d minutes", minutes)
}
