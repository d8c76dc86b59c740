package lab

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

var start = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func newLab(t testing.TB) *Lab {
	cfg, err := config.Load("../../examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, start, io.Discard)
}

// The call counts of each step are part of the design (DESIGN.md §9): a
// rollback makes one listener call first, a cutover at most two
// listener/rule calls. This pins them so a change that adds calls is seen.
func TestScenarioCallCounts(t *testing.T) {
	want := map[string]map[string]int{
		"stage":         {"CreateLaunchTemplateVersion": 1, "UpdateAutoScalingGroup": 1, "Publish": 1},
		"approve":       {"UpdateAutoScalingGroup": 1, "Publish": 1},
		"cutover":       {"ModifyListener": 1, "ModifyRule": 1, "SuspendProcesses": 1, "ResumeProcesses": 1, "Publish": 1},
		"retire":        {"UpdateAutoScalingGroup": 1, "Publish": 1},
		"rollback":      {"ModifyListener": 1, "ModifyRule": 1, "SuspendProcesses": 1, "ResumeProcesses": 1, "Publish": 1},
		"capacity step": {"UpdateAutoScalingGroup": 1},
		"idle tick":     {},
	}
	ctx := context.Background()
	for _, sc := range Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			l := newLab(t)
			if err := sc.Prepare(ctx, l); err != nil {
				t.Fatal(err)
			}
			l.Cloud.Reset()
			if err := sc.Step(ctx, l); err != nil {
				t.Fatal(err)
			}
			got := l.Cloud.Mutations()
			if len(got) != len(want[sc.Name]) {
				t.Fatalf("calls = %v, want %v", got, want[sc.Name])
			}
			for op, n := range want[sc.Name] {
				if got[op] != n {
					t.Fatalf("calls = %v, want %v", got, want[sc.Name])
				}
			}
			if errs := l.Violations(ctx); len(errs) > 0 {
				t.Fatal(errs)
			}
			if sc.Name == "rollback" {
				for _, c := range l.Cloud.Calls() {
					if c.Mutating {
						if c.Op != "ModifyListener" {
							t.Fatalf("first mutating call of a rollback is %s", c.Op)
						}
						break
					}
				}
			}
		})
	}
}

// BenchmarkStep measures each step's handler time (the simulated AWS
// answers in microseconds, so this is kaizen's own time) and reports its
// mutating AWS calls.
func BenchmarkStep(b *testing.B) {
	ctx := context.Background()
	for _, sc := range Scenarios() {
		b.Run(sc.Name, func(b *testing.B) {
			var muts, listener int
			for b.Loop() {
				b.StopTimer()
				l := newLab(b)
				if err := sc.Prepare(ctx, l); err != nil {
					b.Fatal(err)
				}
				l.Cloud.Reset()
				b.StartTimer()
				if err := sc.Step(ctx, l); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				m := l.Cloud.Mutations()
				muts = 0
				for op, n := range m {
					if op != "Publish" {
						muts += n
					}
				}
				listener = m["ModifyListener"]
				b.StartTimer()
			}
			b.ReportMetric(float64(muts), "aws-mutations/op")
			b.ReportMetric(float64(listener), "listener-calls/op")
		})
	}
}

// BenchmarkPlanner measures the pure planner alone on each step's input.
func BenchmarkPlanner(b *testing.B) {
	ctx := context.Background()
	for _, sc := range Scenarios() {
		b.Run(sc.Name, func(b *testing.B) {
			l := newLab(b)
			if err := sc.Prepare(ctx, l); err != nil {
				b.Fatal(err)
			}
			st, _ := l.Store.Load(ctx, l.App().Name)
			obs, err := l.Observe(ctx, l.App())
			if err != nil {
				b.Fatal(err)
			}
			ev := sc.PlannerEvent(l)
			now := l.Cloud.Now()
			for b.Loop() {
				release.Decide(l.App(), st, obs, now, ev)
			}
		})
	}
}
