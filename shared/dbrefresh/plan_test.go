package dbrefresh_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
)

func kinds(p dbrefresh.Plan) []string {
	var out []string
	for _, a := range p.Actions {
		if a.Kind != dbrefresh.Notify {
			out = append(out, a.String())
		}
	}
	return out
}

// The planner, one case per decision: the state and what the step saw in,
// the actions (besides notices) and the next state out.
func TestDecide(t *testing.T) {
	f := stagingConfig(t, nil)
	app := &f.Apps[0]
	now := sunday.Add(5 * time.Minute)
	id := "20261122-0105"
	snap := &dbrefresh.Snapshot{ID: "rds:shop-prod-db-2026-11-22-00-30", Created: sunday.Add(-30 * time.Minute), Status: "available", Type: "automated", Source: source, Engine: "postgres"}
	active := func(s dbrefresh.State, edit func(r *dbrefresh.Refresh)) dbrefresh.AppState {
		r := &dbrefresh.Refresh{App: app.Name, ID: id, State: s, Source: *snap, Copy: target + "-" + id, New: target + "-" + id,
			StartedAt: sunday.Add(5 * time.Minute), Deadline: now.Add(time.Hour), NewResource: "db-NEW", Endpoint: target + "-" + id + ".rds", Port: 5432}
		if edit != nil {
			edit(r)
		}
		return dbrefresh.AppState{App: app.Name, Version: 3, Active: r, LastStartedAt: r.StartedAt}
	}
	dbs := func(ds ...*dbrefresh.DB) map[string]*dbrefresh.DB {
		m := map[string]*dbrefresh.DB{}
		for _, d := range ds {
			m[d.ID] = d
		}
		return m
	}
	oldDB := &dbrefresh.DB{ID: target, Resource: "db-OLD", Status: "available", Endpoint: target + ".rds"}
	newDB := &dbrefresh.DB{ID: target + "-" + id, Resource: "db-NEW", Status: "available", Endpoint: target + "-" + id + ".rds"}
	tick := dbrefresh.Event{Kind: dbrefresh.EvTick}
	cases := []struct {
		name    string
		st      dbrefresh.AppState
		obs     dbrefresh.Observed
		ev      dbrefresh.Event
		at      time.Time
		actions []string
		state   dbrefresh.State // of the active refresh after the step ("" if none)
		note    string          // a note or refusal that must appear
	}{
		{name: "the window opens: copy the newest snapshot", st: dbrefresh.AppState{App: app.Name}, obs: dbrefresh.Observed{Newest: snap, Looked: true}, ev: tick,
			actions: []string{"copy snapshot " + snap.ID + " to " + target + "-20261122-0105"}, state: dbrefresh.Copying},
		{name: "the window is closed", st: dbrefresh.AppState{App: app.Name}, ev: tick, at: sunday.Add(10 * time.Hour), note: "is closed"},
		{name: "once per opening", st: dbrefresh.AppState{App: app.Name, LastStartedAt: sunday}, obs: dbrefresh.Observed{Newest: snap}, ev: tick, note: "already started in this opening"},
		{name: "staging already runs on the newest snapshot", st: dbrefresh.AppState{App: app.Name, Current: &dbrefresh.Database{ID: target, Snapshot: snap.ID}},
			obs: dbrefresh.Observed{Newest: snap, Looked: true}, ev: tick, note: "already runs on production's newest snapshot"},
		{name: "no snapshot", st: dbrefresh.AppState{App: app.Name}, obs: dbrefresh.Observed{Looked: true}, ev: dbrefresh.Event{Kind: dbrefresh.EvOperator, Command: "start"},
			note: "has no available automated snapshot"},
		{name: "abort with nothing in flight", st: dbrefresh.AppState{App: app.Name}, ev: dbrefresh.Event{Kind: dbrefresh.EvOperator, Command: "abort"}, note: "no refresh in flight"},
		{name: "copy in progress: wait", st: active(dbrefresh.Copying, nil), obs: dbrefresh.Observed{Copy: &dbrefresh.Snapshot{ID: target + "-" + id, Status: "creating"}}, ev: tick,
			state: dbrefresh.Copying, note: "waiting for copy"},
		{name: "copy lost: copy again", st: active(dbrefresh.Copying, nil), ev: tick, actions: []string{"copy snapshot " + snap.ID + " to " + target + "-" + id}, state: dbrefresh.Copying},
		{name: "copied: restore", st: active(dbrefresh.Copying, nil), obs: dbrefresh.Observed{Copy: &dbrefresh.Snapshot{ID: target + "-" + id, Status: "available"}}, ev: tick,
			actions: []string{"restore " + target + "-" + id + " from " + target + "-" + id}, state: dbrefresh.Restoring},
		{name: "copy failed: undo", st: active(dbrefresh.Copying, nil), obs: dbrefresh.Observed{Copy: &dbrefresh.Snapshot{ID: target + "-" + id, Status: "failed"}}, ev: tick, state: dbrefresh.Undoing},
		{name: "copy late: undo", st: active(dbrefresh.Copying, func(r *dbrefresh.Refresh) { r.Deadline = now }), obs: dbrefresh.Observed{Copy: &dbrefresh.Snapshot{ID: target + "-" + id, Status: "creating"}},
			ev: tick, state: dbrefresh.Undoing},
		{name: "restored: scrub, drop the copy", st: active(dbrefresh.Restoring, nil), obs: dbrefresh.Observed{DBs: dbs(newDB)}, ev: tick,
			actions: []string{"start the scrub build against " + newDB.ID + " (" + newDB.Endpoint + ")", "delete snapshot copy " + target + "-" + id}, state: dbrefresh.Scrubbing},
		{name: "restore failed: undo", st: active(dbrefresh.Restoring, nil), obs: dbrefresh.Observed{DBs: dbs(&dbrefresh.DB{ID: newDB.ID, Status: "incompatible-parameters"})}, ev: tick, state: dbrefresh.Undoing},
		{name: "scrub succeeded (event): swap", st: active(dbrefresh.Scrubbing, func(r *dbrefresh.Refresh) { r.Build = "scrub:1" }),
			ev: dbrefresh.Event{Kind: dbrefresh.EvBuild, Build: &dbrefresh.Build{ID: "scrub:1", Status: "SUCCEEDED"}}, state: dbrefresh.Swapping},
		{name: "another build's end changes nothing", st: active(dbrefresh.Scrubbing, func(r *dbrefresh.Refresh) { r.Build = "scrub:1" }),
			ev: dbrefresh.Event{Kind: dbrefresh.EvBuild, Build: &dbrefresh.Build{ID: "scrub:0", Status: "SUCCEEDED"}}, state: dbrefresh.Scrubbing, note: "is not refresh"},
		{name: "scrub stopped (observed): undo", st: active(dbrefresh.Scrubbing, func(r *dbrefresh.Refresh) { r.Build = "scrub:1" }),
			obs: dbrefresh.Observed{Build: &dbrefresh.Build{ID: "scrub:1", Status: "STOPPED"}}, ev: tick, state: dbrefresh.Undoing},
		{name: "scrub never started: start it", st: active(dbrefresh.Scrubbing, nil), ev: tick,
			actions: []string{"start the scrub build against " + newDB.ID + " (" + newDB.Endpoint + ")"}, state: dbrefresh.Scrubbing},
		{name: "swap: the old database makes way", st: active(dbrefresh.Swapping, nil), obs: dbrefresh.Observed{DBs: dbs(oldDB, newDB)}, ev: tick,
			actions: []string{"rename " + target + " to " + target + "-old-" + id}, state: dbrefresh.Swapping},
		{name: "a failed rename is asked again", st: active(dbrefresh.Swapping, func(r *dbrefresh.Refresh) { r.Old, r.Renamed = target+"-old-"+id, true }),
			obs: dbrefresh.Observed{DBs: dbs(&dbrefresh.DB{ID: target + "-old-" + id, Status: "available"}, newDB)}, ev: tick,
			actions: []string{"rename " + newDB.ID + " to " + target}, state: dbrefresh.Swapping},
		{name: "swap: the new database takes the name", st: active(dbrefresh.Swapping, func(r *dbrefresh.Refresh) { r.Old, r.OldResource = target+"-old-"+id, "db-OLD" }),
			obs: dbrefresh.Observed{DBs: dbs(&dbrefresh.DB{ID: target + "-old-" + id, Resource: "db-OLD", Status: "available"}, newDB)}, ev: tick,
			actions: []string{"rename " + newDB.ID + " to " + target}, state: dbrefresh.Swapping},
		{name: "swap: wait for the old rename", st: active(dbrefresh.Swapping, func(r *dbrefresh.Refresh) { r.Old, r.OldResource = target+"-old-"+id, "db-OLD" }),
			obs: dbrefresh.Observed{DBs: dbs(&dbrefresh.DB{ID: target + "-old-" + id, Resource: "db-OLD", Status: "renaming"}, newDB)}, ev: tick,
			state: dbrefresh.Swapping, note: "to finish its rename"},
		{name: "swapped: keep the old", st: active(dbrefresh.Swapping, func(r *dbrefresh.Refresh) { r.Old, r.OldResource, r.Renamed = target+"-old-"+id, "db-OLD", true }),
			obs: dbrefresh.Observed{DBs: dbs(&dbrefresh.DB{ID: target, Resource: "db-NEW", Status: "available"})}, ev: tick, state: dbrefresh.KeepingOld},
		{name: "the first refresh has no old database", st: active(dbrefresh.Swapping, nil), obs: dbrefresh.Observed{DBs: dbs(newDB)}, ev: tick,
			actions: []string{"rename " + newDB.ID + " to " + target}, state: dbrefresh.Swapping},
		{name: "abort after the swap began is refused", st: active(dbrefresh.Swapping, nil), ev: dbrefresh.Event{Kind: dbrefresh.EvOperator, Command: "abort"},
			state: dbrefresh.Swapping, note: "past the point an abort can undo"},
		{name: "keep ends: delete the old", st: active(dbrefresh.KeepingOld, func(r *dbrefresh.Refresh) { r.Old, r.KeepOldUntil = target+"-old-"+id, now }), ev: tick,
			actions: []string{"delete database " + target + "-old-" + id}},
		{name: "undo: rename the old back", st: active(dbrefresh.Undoing, func(r *dbrefresh.Refresh) { r.Old, r.OldResource, r.Reason = target+"-old-"+id, "db-OLD", "late" }),
			obs: dbrefresh.Observed{DBs: dbs(&dbrefresh.DB{ID: target + "-old-" + id, Resource: "db-OLD", Status: "available"}, newDB)}, ev: tick,
			actions: []string{"rename " + target + "-old-" + id + " to " + target, "delete database " + newDB.ID}, state: dbrefresh.Undoing},
		{name: "undo: the new gives the name back first", st: active(dbrefresh.Undoing, func(r *dbrefresh.Refresh) {
			r.Old, r.OldResource, r.Reason, r.Renamed = target+"-old-"+id, "db-OLD", "late", true
		}),
			obs: dbrefresh.Observed{DBs: dbs(&dbrefresh.DB{ID: target + "-old-" + id, Resource: "db-OLD", Status: "available"}, &dbrefresh.DB{ID: target, Resource: "db-NEW", Status: "available"})}, ev: tick,
			actions: []string{"rename " + target + " to " + newDB.ID}, state: dbrefresh.Undoing},
		{name: "undone", st: active(dbrefresh.Undoing, func(r *dbrefresh.Refresh) { r.Reason = "scrub failed" }), obs: dbrefresh.Observed{DBs: dbs(oldDB)}, ev: tick},
		{name: "production's snapshot during a refresh joins it", st: active(dbrefresh.Scrubbing, func(r *dbrefresh.Refresh) { r.Build = "scrub:1" }),
			ev: dbrefresh.Event{Kind: dbrefresh.EvSnapshot, Snapshot: "rds:shop-prod-db-2026-11-22-01-00"}, obs: dbrefresh.Observed{Build: &dbrefresh.Build{ID: "scrub:1", Status: "IN_PROGRESS"}},
			state: dbrefresh.Scrubbing, note: "one refresh per app"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			at := c.at
			if at.IsZero() {
				at = now
			}
			p := dbrefresh.Decide(f, app, c.st, c.obs, at, c.ev)
			if p.Bug != "" {
				t.Fatalf("planner bug: %s", p.Bug)
			}
			if got := kinds(p); !slices.Equal(got, c.actions) {
				t.Errorf("actions %q, want %q", got, c.actions)
			}
			var got dbrefresh.State
			if p.Next.Active != nil {
				got = p.Next.Active.State
			}
			if got != c.state {
				t.Errorf("state %q, want %q", got, c.state)
			}
			if c.note != "" && !strings.Contains(strings.Join(append(p.Notes, p.Refused), "|"), c.note) {
				t.Errorf("notes %q lack %q", p.Notes, c.note)
			}
			// Every move is notified.
			notices := 0
			for _, a := range p.Actions {
				if a.Kind == dbrefresh.Notify {
					notices++
				}
			}
			if notices != len(p.Transitions) {
				t.Errorf("%d notices for transitions %q", notices, p.Transitions)
			}
		})
	}
}

// The state table: every state is reached from a start and reaches an
// end; the ends lead nowhere; what happens before the swap can be undone.
func TestStateTable(t *testing.T) {
	next := map[dbrefresh.State][]dbrefresh.State{}
	for _, e := range dbrefresh.Table {
		if e.From.Terminal() {
			t.Errorf("%s is terminal but leads to %s", e.From, e.To)
		}
		if len(e.By) == 0 {
			t.Errorf("%s → %s has no trigger", e.From, e.To)
		}
		next[e.From] = append(next[e.From], e.To)
	}
	reached := map[dbrefresh.State]bool{}
	var walk func(s dbrefresh.State)
	walk = func(s dbrefresh.State) {
		if reached[s] {
			return
		}
		reached[s] = true
		for _, n := range next[s] {
			walk(n)
		}
	}
	walk(dbrefresh.None)
	for _, s := range dbrefresh.States {
		if !reached[s] {
			t.Errorf("%s is never reached", s)
		}
		if !s.Terminal() && len(next[s]) == 0 {
			t.Errorf("%s leads nowhere", s)
		}
	}
	for _, s := range []dbrefresh.State{dbrefresh.Copying, dbrefresh.Restoring, dbrefresh.Scrubbing, dbrefresh.Swapping} {
		if !dbrefresh.Allowed(s, dbrefresh.Undoing, dbrefresh.ByTimer) {
			t.Errorf("%s cannot be undone when it runs late", s)
		}
	}
	if dbrefresh.Allowed(dbrefresh.KeepingOld, dbrefresh.Undoing, dbrefresh.ByTimer) || dbrefresh.Allowed(dbrefresh.None, dbrefresh.Copying, dbrefresh.ByAWS) {
		t.Error("the table allows a move it must not")
	}
	if !strings.Contains(dbrefresh.Mermaid(), "scrubbing --> swapping: build") {
		t.Errorf("mermaid:\n%s", dbrefresh.Mermaid())
	}
}

// The schedule starts one refresh per opening of its window, across a
// daylight-saving change too.
func TestDue(t *testing.T) {
	d := stagingConfig(t, nil).Apps[0].DBRefresh
	for _, c := range []struct {
		last, now time.Time
		due       bool
	}{
		{time.Time{}, sunday, true},
		{time.Time{}, sunday.Add(-time.Hour), false},                       // Sunday 01:00 Berlin: not yet
		{sunday, sunday.Add(3 * time.Hour), false},                         // same opening
		{sunday.Add(-7 * 24 * time.Hour), sunday.Add(time.Hour), true},     // last week's
		{sunday, sunday.Add(7 * 24 * time.Hour), true},                     // next week's
		{time.Time{}, sunday.Add(4 * time.Hour), false},                    // 06:00 Berlin: closed
		{time.Time{}, time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), true}, // DST Sunday, 03:30 CEST
	} {
		if got, why := dbrefresh.Due(d, c.last, c.now); got != c.due {
			t.Errorf("Due(last %s, now %s) = %v (%s), want %v", c.last.Format(time.RFC3339), c.now.Format(time.RFC3339), got, why, c.due)
		}
	}
}
