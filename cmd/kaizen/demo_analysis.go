package main

import (
	"fmt"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// analysisSegment is the demo's late afternoon: the team turns on weighted
// steps (10, 50, 100 %, ten minutes each) and metric analysis with its
// defaults, and a fourth AMI, bad in a way no alarm was tuned for, is
// staged, previewed, approved and stopped by analysis at the first
// weighted step: its own error ratio and latency against the old color's,
// under the same public traffic, roll the public back in one listener
// call. The verdict's numbers join the timeline.
func (d *demo) analysisSegment(approval func(exec, state string) []byte) error {
	l, app := d.lab, d.app
	app.WeightSteps, app.StepMinutes = []int{10, 50, 100}, 10
	app.Analysis = &config.Analysis{}
	if err := l.Config.Validate(); err != nil { // fills the analysis' defaults
		return fmt.Errorf("analysis segment: %w", err)
	}
	mk := l.Maker
	d.until(16, 0)
	ami := l.Cloud.NewAMI(app, app.Name+"-golden-2026-11-24-4", "exec-1004")
	// Four times the 5xx ratio, two and a half times the latency: the
	// guard alarms' thresholds, tuned on the whole fleet, would see a tenth
	// of it at the first step.
	l.Cloud.BadAMI(ami, 4)
	d.send("AMI "+ami+" available", route.Stage, mk.AMI(ami, "available", l.Cloud.Now()))
	d.send("approval action started (exec-1004)", route.Promote, approval("exec-1004", "STARTED"))
	d.until(16, 15)
	d.send("approved in the pipeline (exec-1004)", route.Promote, approval("exec-1004", "SUCCEEDED"))
	for end := l.Cloud.Now().Add(45 * time.Minute); l.Cloud.Now().Before(end); {
		next := l.Cloud.Now().Add(time.Minute)
		d.until(next.Hour(), next.Minute())
		h, err := l.Store.History(d.ctx, app.Name)
		if err != nil {
			return err
		}
		for _, r := range h {
			if r.AMI != ami || r.State != release.RolledBack {
				continue
			}
			for _, tr := range r.History {
				if tr.By == release.ByAnalysis && len(d.steps) > 0 {
					s := &d.steps[len(d.steps)-1]
					s.Changes = append(s.Changes, shortAMIs(tr.Cause))
				}
			}
			return nil
		}
	}
	st, _ := l.Store.Load(d.ctx, app.Name)
	where := "no release in flight"
	if r := st.Active; r != nil {
		where = fmt.Sprintf("release %s is %s", r.AMI, r.State)
	}
	return fmt.Errorf("analysis segment: AMI %s was not stopped by analysis by %s (%s)", ami, l.Cloud.Now().Format("15:04"), where)
}
