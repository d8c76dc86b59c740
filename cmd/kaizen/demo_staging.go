package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/lab"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// demoConfig is the demo's configuration by default: the example with its
// staging app, whose database kaizen refreshes.
const demoConfig = "examples/kaizen-staging.json"

// weekendStart is Sunday before the demo's day, 01:35 UTC: production's
// automated snapshot is taken at 01:40, in its backup window.
var weekendStart = time.Date(2026, 11, 22, 1, 35, 0, 0, time.UTC)

// stagingOf is the configuration's app whose database kaizen refreshes.
func stagingOf(cfg *config.File) *config.App {
	for i := range cfg.Apps {
		if cfg.Apps[i].DBRefresh != nil {
			return &cfg.Apps[i]
		}
	}
	return nil
}

// weekend is the staging app's weekend before the release day, on a lab of
// its own (the day's lab, and what it costs, start on Tuesday): on Sunday
// production's automated snapshot refreshes staging's database (copy,
// restore, scrub, swap), on Monday the old database goes and Monday's
// image is tried on staging (autoPromote) on that database.
func weekend(ctx context.Context, cfg *config.File, app *config.App) ([]DemoStep, int, []dbrefresh.Refresh, error) {
	l := lab.New(cfg, weekendStart, io.Discard)
	d := &demo{ctx: ctx, lab: l, app: app}
	c, mk, dr := l.Cloud, l.Maker, app.DBRefresh
	d.record("weekend: staging ("+app.Name+") before the release day", "", nil)

	// Sunday: production's automated snapshot starts the refresh.
	c.Advance(5 * time.Minute)
	snap := c.TakeAutomatedSnapshot(dr.Source.ID(), dr.Source.Cluster(), "")
	d.sendDB("production's automated snapshot "+snap+" created", snapshotEvent(mk, cfg, snap, c.Now()))
	state := func() dbrefresh.State {
		st, _ := l.DB.Store.LoadRefresh(ctx, app.Name)
		if st.Active == nil {
			return ""
		}
		return st.Active.State
	}
	scrubbed := false
	var scrubAt time.Time
	for i := 0; i < 48 && state() != dbrefresh.KeepingOld; i++ {
		c.Advance(5 * time.Minute)
		d.sendDB("tick", mk.Schedule("kaizen-dbrefresh-schedule", c.Now()))
		if state() == dbrefresh.Scrubbing && !scrubbed {
			if scrubAt.IsZero() {
				scrubAt = c.Now().Add(15 * time.Minute) // the team's SQL takes a quarter of an hour
			}
			if !c.Now().Before(scrubAt) {
				for _, b := range c.Builds() {
					if b.Project == dr.Scrub.CodeBuildProject {
						c.FinishBuild(b.ID, "SUCCEEDED")
						d.sendDB("scrub build "+b.ID+" SUCCEEDED", buildEvent(mk, cfg, b.ID, "SUCCEEDED", c.Now()))
					}
				}
				scrubbed = true
			}
		}
	}
	if state() != dbrefresh.KeepingOld {
		return nil, 0, nil, fmt.Errorf("the Sunday refresh did not reach keeping_old (%s)", state())
	}

	// Monday: the old database goes after keepOldHours.
	st, _ := l.DB.Store.LoadRefresh(ctx, app.Name)
	c.Advance(st.Active.KeepOldUntil.Sub(c.Now()) + time.Minute)
	d.sendDB("tick", mk.Schedule("kaizen-dbrefresh-schedule", c.Now()))

	// Monday morning: the week's image is tried on staging first.
	c.Advance(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC).Sub(c.Now()))
	ami := c.NewAMI(app, app.Name+"-golden-2026-11-23-1", "")
	d.send(app.Name+": AMI "+ami+" available", route.Stage, mk.AMI(ami, "available", c.Now()))
	for i := 0; i < 60; i++ {
		c.Advance(time.Minute)
		d.send("tick", route.Tick, mk.Schedule("kaizen-tick", c.Now()))
		if rs, _ := l.Store.History(ctx, app.Name); len(rs) > 0 && rs[0].State.Terminal() {
			break
		}
	}
	refreshes, err := l.DB.Store.RefreshHistory(ctx, app.Name)
	if err != nil {
		return nil, 0, nil, err
	}
	return d.steps, d.bad, refreshes, nil
}

// sendDB runs an event through dbrefresh and records what it changed (a
// tick that changed nothing is left off the timeline).
func (d *demo) sendDB(label string, raw []byte) {
	before := d.lab.Cloud.MutationCount()
	outs, err := d.lab.Refresh(d.ctx, raw)
	var changes []string
	for _, o := range outs {
		changes = append(changes, describeRefresh(o)...)
	}
	if err != nil {
		changes = append(changes, "error: "+err.Error())
	}
	if label == "tick" && len(changes) == 0 {
		return
	}
	d.record(label, route.DBRefresh, changes)
	step := &d.steps[len(d.steps)-1]
	step.Mutations = d.lab.Cloud.MutationCount() - before
	step.Database = d.database()
}

// describeRefresh lists what a refresh step changed.
func describeRefresh(o dbrefresh.Outcome) []string {
	var out []string
	for _, t := range o.Plan.Transitions {
		out = append(out, "refresh "+t)
	}
	for _, a := range o.Applied {
		if a.Kind != dbrefresh.Notify {
			out = append(out, a.String())
		}
	}
	for _, a := range o.Applied {
		if a.Kind == dbrefresh.Notify {
			out = append(out, "notify «"+strings.TrimPrefix(a.Subject, "[kaizen] "+o.App+": ")+"»")
		}
	}
	return out
}

// database describes the staging app's database: where staging finds it,
// and the production snapshot its data is from.
func (d *demo) database() string {
	dr := d.app.DBRefresh
	if dr == nil {
		return ""
	}
	st, err := d.lab.DB.Store.LoadRefresh(d.ctx, d.app.Name)
	if err != nil || st.Current == nil {
		return dr.Target + ": not refreshed yet"
	}
	return fmt.Sprintf("%s: data of %s", dr.Target, st.Current.Snapshot)
}

// snapshotEvent is RDS's "Automated snapshot created." of the source.
func snapshotEvent(mk route.Maker, cfg *config.File, snap string, at time.Time) []byte {
	arn := fmt.Sprintf("arn:aws:rds:%s:%s:snapshot:%s", cfg.Region, cfg.Account, snap)
	return mk.Make(route.SourceRDS, route.TypeDBSnapshotEvent, at, []string{arn}, map[string]any{
		"EventCategories": []string{"creation"}, "SourceType": "SNAPSHOT", "SourceArn": arn, "Date": at.UTC().Format("2006-01-02T15:04:05.000Z"),
		"Message": "Automated snapshot created.", "SourceIdentifier": snap, "EventID": route.EventAutomatedSnapshot,
	})
}

// buildEvent is CodeBuild's state change of an ended build.
func buildEvent(mk route.Maker, cfg *config.File, id, status string, at time.Time) []byte {
	project, _, _ := strings.Cut(id, ":")
	arn := fmt.Sprintf("arn:aws:codebuild:%s:%s:build/%s", cfg.Region, cfg.Account, id)
	return mk.Make(route.SourceCodeBuild, route.TypeCodeBuildState, at, []string{arn}, map[string]any{
		"build-status": status, "project-name": project, "build-id": arn, "current-phase": "COMPLETED",
		"additional-information": map[string]any{"build-complete": true},
	})
}

// printRefreshLedger prints the weekend's refreshes under the releases.
func printRefreshLedger(w io.Writer, refreshes []dbrefresh.Refresh) {
	for i := len(refreshes) - 1; i >= 0; i-- {
		r := refreshes[i]
		var path []string
		for _, t := range r.History {
			path = append(path, fmt.Sprintf("%s %s", t.At.Format("Mon 15:04"), t.To))
		}
		fmt.Fprintf(w, "  %s database refresh %s from %s: %s\n", r.App, r.ID, r.Source.ID, strings.Join(path, " → "))
	}
}

// demoTime is a step's time: "15:04" on the release day, with the day
// before it ("Sun 01:40").
func demoTime(t time.Time) string {
	if t.Before(demoDay) {
		return t.Format("Mon 15:04")
	}
	return t.Format("15:04")
}
