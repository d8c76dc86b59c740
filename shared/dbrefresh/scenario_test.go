package dbrefresh_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

// subjects lists the notices published, without the app prefix.
func (w *world) subjects() []string {
	var out []string
	for _, p := range w.cloud.Published() {
		out = append(out, strings.TrimPrefix(p.Subject, "[kaizen] "+w.app.Name+": "))
	}
	return out
}

// A full refresh on the schedule: copy, restore, scrub, swap by renames,
// keep the old database a day, delete it. Staging's endpoint never
// changes; production is only described and copied from.
func TestFullRefresh(t *testing.T) {
	w := newWorld(t, nil)
	before := w.db(target)
	w.tick() // 02:00 Berlin: the window is open
	st := w.state()
	r := st.Active
	if r == nil || r.State != dbrefresh.Copying || r.Source.Source != source || !strings.HasPrefix(r.Source.ID, "rds:"+source+"-") {
		t.Fatalf("after the first tick: %+v", r)
	}
	if m := w.cloud.Mutations(); m["CopyDBSnapshot"] != 1 || len(m) != 2 || m["Publish"] != 1 {
		t.Fatalf("starting made %v, want one copy and one notice", m)
	}
	w.until(30*time.Minute, "restoring", inState(dbrefresh.Restoring))
	w.until(40*time.Minute, "scrubbing", inState(dbrefresh.Scrubbing))
	b := w.scrubBuild()
	if b.Env[dbrefresh.EnvIdentifier] != r.New || !strings.HasPrefix(b.Env[dbrefresh.EnvEndpoint], r.New+".") || b.Env[dbrefresh.EnvRefresh] != "shop-staging/"+r.ID ||
		b.Env[dbrefresh.EnvSnapshot] != r.Source.ID {
		t.Fatalf("scrub build environment %v", b.Env)
	}
	for _, sn := range w.cloud.DBSnapshots() {
		if sn.ID == r.Copy && sn.Status != "deleting" {
			t.Fatalf("the copy %s is %s after its restore, want deleting", sn.ID, sn.Status)
		}
	}
	// Nothing moves while the scrub runs.
	w.cloud.Reset()
	w.tickFor(15 * time.Minute)
	if n := w.cloud.MutationCount(); n != 0 {
		t.Fatalf("waiting for the scrub made %d mutating calls: %s", n, w.cloud.MutationSummary())
	}
	w.finishScrub("SUCCEEDED")
	if !inState(dbrefresh.Swapping)(w.state()) {
		t.Fatalf("after the scrub: %+v", w.state().Active)
	}
	w.until(20*time.Minute, "swapped", inState(dbrefresh.KeepingOld))
	st = w.state()
	now := w.db(target)
	if now == nil || now.Resource == before.Resource || now.Snapshot != r.Copy || now.Status != "available" {
		t.Fatalf("target after the swap: %+v (before %+v)", now, before)
	}
	old := w.db(st.Active.Old)
	if old == nil || old.Resource != before.Resource || st.Active.Old != target+"-old-"+r.ID {
		t.Fatalf("old database %s: %+v", st.Active.Old, old)
	}
	if st.Current == nil || st.Current.ID != target || st.Current.Snapshot != r.Source.ID || st.Current.Endpoint != before2endpoint(w, target) {
		t.Fatalf("current database %+v", st.Current)
	}
	// A day later the old database goes.
	w.tickFor(23 * time.Hour)
	if !inState(dbrefresh.KeepingOld)(w.state()) {
		t.Fatalf("the old database went early: %+v", w.state().Active)
	}
	w.until(2*time.Hour, "done", idle)
	if d := w.db(st.Active.Old); d != nil && d.Status != "deleting" {
		t.Fatalf("old database %+v after keepOldHours", d)
	}
	h, _ := w.store.RefreshHistory(w.ctx, w.app.Name)
	if len(h) != 1 || h[0].State != dbrefresh.Done {
		t.Fatalf("ledger %+v", h)
	}
	var path []string
	for _, tr := range h[0].History {
		path = append(path, string(tr.To))
	}
	if got := strings.Join(path, " "); got != "copying restoring scrubbing swapping keeping_old done" {
		t.Fatalf("path %s", got)
	}
	want := []string{"database refresh started", "snapshot copied, restoring", "database restored, scrubbing",
		"scrubbed, switching staging to the new database", "staging runs on the refreshed database", "database refresh done"}
	if got := w.subjects(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("notices %q, want %q", got, want)
	}
	w.callsAllowed()
	// Done, and idle: the rest of the window and a replayed snapshot event
	// change nothing.
	w.cloud.Reset()
	w.tickFor(time.Hour)
	w.send(w.snapshotEvent(r.Source.ID, route.EventAutomatedSnapshot, false))
	if n := w.cloud.MutationCount(); n != 0 {
		t.Fatalf("after the refresh: %s", w.cloud.MutationSummary())
	}
}

func before2endpoint(w *world, id string) string {
	st := w.state()
	_ = st
	out, _ := w.h.Cloud.Observe(w.ctx, w.cfg, w.app, dbrefresh.Needs{DBs: []string{id}})
	if d := out.DB(id); d != nil {
		return d.Endpoint
	}
	return ""
}

// A scrub that fails leaves staging on its database; the restored copy is
// deleted, and people are told.
func TestScrubFailureKeepsStagingOnItsDatabase(t *testing.T) {
	w := newWorld(t, nil)
	before := w.db(target)
	w.tick()
	r := w.state().Active
	w.until(time.Hour, "scrubbing", inState(dbrefresh.Scrubbing))
	w.finishScrub("FAILED")
	st := w.state()
	if !inState(dbrefresh.Undoing)(st) || !strings.Contains(st.Active.Reason, "FAILED") {
		t.Fatalf("after the failed scrub: %+v", st.Active)
	}
	w.until(30*time.Minute, "undone", idle)
	if d := w.db(target); d == nil || d.Resource != before.Resource || d.Status != "available" {
		t.Fatalf("staging's database after the failure: %+v, want %+v", d, before)
	}
	if d := w.db(r.New); d != nil && d.Status != "deleting" {
		t.Fatalf("the restored copy %s is %s, want deleted", r.New, d.Status)
	}
	w.cloud.Advance(10 * time.Minute)
	for _, sn := range w.cloud.DBSnapshots() {
		if strings.HasPrefix(sn.ID, target) {
			t.Fatalf("snapshot %s is left", sn.ID)
		}
	}
	if st := w.state(); st.Current != nil {
		t.Fatalf("current database %+v: nothing was refreshed", st.Current)
	}
	h, _ := w.store.RefreshHistory(w.ctx, w.app.Name)
	if len(h) != 1 || h[0].State != dbrefresh.Failed || !strings.Contains(h[0].History[len(h[0].History)-1].Cause, "FAILED") {
		t.Fatalf("ledger %+v", h)
	}
	subs := w.subjects()
	if subs[len(subs)-2] != "database refresh failed, undoing" || subs[len(subs)-1] != "database refresh undone: staging keeps its database" {
		t.Fatalf("notices %q", subs)
	}
	// The same window does not start another.
	w.cloud.Reset()
	w.tickFor(30 * time.Minute)
	if n := w.cloud.MutationCount(); n != 0 {
		t.Fatalf("the window started again: %s", w.cloud.MutationSummary())
	}
}

// A source in another account shares its snapshots: the refresh copies
// the shared one by its ARN, re-encrypting it with staging's key.
func TestCrossAccountCopy(t *testing.T) {
	key := "arn:aws:kms:eu-west-1:111122223333:key/0f0e0d0c-0b0a-4908-8706-050403020100"
	w := newWorld(t, map[string]string{
		"source":              `{"dbInstance": "shop-prod-db", "account": "444455556666"}`,
		"kmsKeyId":            `"` + key + `"`,
		"onAutomatedSnapshot": "",
	})
	if w.app.DBRefresh.SnapshotType != "shared" {
		t.Fatalf("snapshotType = %q, want shared by default", w.app.DBRefresh.SnapshotType)
	}
	w.tick()
	r := w.state().Active
	if r == nil || !strings.HasPrefix(r.Source.ARN, "arn:aws:rds:eu-west-1:444455556666:snapshot:") {
		t.Fatalf("refresh %+v", r)
	}
	var copied bool
	for _, c := range w.cloud.Calls() {
		if c.Op == "CopyDBSnapshot" {
			b, _ := json.Marshal(c.Input)
			s := string(b)
			copied = strings.Contains(s, `"SourceDBSnapshotIdentifier":"`+r.Source.ARN+`"`) && strings.Contains(s, `"KmsKeyId":"`+key+`"`)
		}
	}
	if !copied {
		t.Fatal("the shared snapshot was not copied by its ARN with staging's key")
	}
	w.until(time.Hour, "scrubbing", inState(dbrefresh.Scrubbing))
	w.finishScrub("SUCCEEDED")
	w.until(30*time.Minute, "swapped", inState(dbrefresh.KeepingOld))
	if cur := w.state().Current; cur == nil || cur.Snapshot != r.Source.ID {
		t.Fatalf("current %+v", cur)
	}
}

// Production's automated snapshot and the schedule arrive together: one
// refresh runs, and the other trigger joins it.
func TestConcurrentTriggersRunOneRefresh(t *testing.T) {
	w := newWorld(t, nil)
	w.cloud.Advance(10 * time.Minute)
	snap := w.cloud.TakeAutomatedSnapshot(source, false, "")
	events := [][]byte{
		w.snapshotEvent(snap, route.EventAutomatedSnapshot, false),
		w.mk.Schedule("kaizen-dbrefresh-schedule", w.cloud.Now()),
		w.mk.Schedule("kaizen-dbrefresh-schedule", w.cloud.Now()),
		w.snapshotEvent(snap, route.EventAutomatedSnapshot, false),
	}
	var wg sync.WaitGroup
	errs := make([]error, len(events))
	for i, raw := range events {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.h.Handle(w.ctx, raw)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := w.cloud.Mutations()["CopyDBSnapshot"]; n != 1 {
		t.Fatalf("%d copies, want one refresh", n)
	}
	st := w.state()
	if st.Active == nil || st.Active.Source.ID != snap {
		t.Fatalf("refresh %+v, want one of the newest snapshot %s", st.Active, snap)
	}
	w.check()
	// And a start by hand is refused while it runs.
	out, err := w.h.Run(w.ctx, w.app, dbrefresh.Event{Kind: dbrefresh.EvOperator, Command: "start", By: "alice"})
	if err != nil || !strings.Contains(out.Plan.Refused, "already in flight") {
		t.Fatalf("start during a refresh: %+v, %v", out.Plan, err)
	}
}

// Only an automated snapshot of the configured source starts a refresh:
// not a deletion, a manual snapshot, or another instance's.
func TestOnlyTheSourcesAutomatedSnapshotStartsARefresh(t *testing.T) {
	w := newWorld(t, map[string]string{"schedule": ""})
	for _, raw := range [][]byte{
		w.snapshotEvent("rds:billing-db-2026-11-22-01-05", route.EventAutomatedSnapshot, false),
		w.snapshotEvent("rds:shop-prod-db-replica-2026-11-22-01-05", route.EventAutomatedSnapshot, false),
		w.snapshotEvent("rds:shop-prod-db-2026-11-22-01-05", "RDS-EVENT-0041", false),
		w.snapshotEvent("shop-prod-db-before-upgrade", "RDS-EVENT-0042", false),
		w.snapshotEvent("rds:shop-prod-db-2026-11-22-01-05", route.EventAutomatedClusterSnapshot, true),
	} {
		if outs := w.send(raw); len(outs) != 0 {
			t.Errorf("%s started %+v", raw, outs)
		}
	}
	if n := w.cloud.MutationCount(); n != 0 || w.state().Active != nil {
		t.Fatalf("foreign snapshots changed %s", w.cloud.MutationSummary())
	}
	w.send(w.snapshotEvent("rds:shop-prod-db-2026-11-22-01-05", route.EventAutomatedSnapshot, false))
	if w.state().Active == nil {
		t.Fatal("the source's automated snapshot started nothing")
	}
}

// An Aurora cluster: restored with its writer, renamed as a cluster, the
// old cluster deleted with its instances.
func TestClusterRefresh(t *testing.T) {
	w := newWorld(t, map[string]string{"source": `{"dbCluster": "shop-prod-db"}`, "keepOldHours": "0"})
	before := w.db(target)
	if before == nil || !before.IsCluster {
		t.Fatalf("seeded target %+v", before)
	}
	w.tick()
	w.until(time.Hour, "scrubbing", inState(dbrefresh.Scrubbing))
	r := w.state().Active
	if wr := w.db(r.New + "-1"); wr == nil || wr.Cluster != r.New {
		t.Fatalf("writer of %s: %+v", r.New, wr)
	}
	w.finishScrub("SUCCEEDED")
	w.until(30*time.Minute, "done", idle)
	now := w.db(target)
	if now == nil || !now.IsCluster || now.Resource == before.Resource {
		t.Fatalf("target cluster after the refresh: %+v", now)
	}
	if wr := w.db(r.New + "-1"); wr == nil || wr.Cluster != target {
		t.Fatalf("the writer follows its cluster's rename: %+v", wr)
	}
	w.callsAllowed()
	for _, d := range w.cloud.Databases() {
		if d.ID == target+"-old-"+r.ID || d.Cluster == target+"-old-"+r.ID {
			if d.Status != "deleting" {
				t.Fatalf("old %s is %s", d.ID, d.Status)
			}
		}
	}
}

// With endpoint "secret" nothing is renamed: the staging secret's host
// moves to the new database, every other key stays.
func TestSecretEndpoint(t *testing.T) {
	secret := "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/staging-db-AbCdEf"
	w := newWorld(t, map[string]string{"endpoint": `"secret"`, "secret": `"` + secret + `"`})
	w.tick()
	w.until(time.Hour, "scrubbing", inState(dbrefresh.Scrubbing))
	r := w.state().Active
	w.finishScrub("SUCCEEDED")
	w.until(30*time.Minute, "swapped", inState(dbrefresh.KeepingOld))
	var v map[string]any
	if err := json.Unmarshal([]byte(w.cloud.Secret(secret)), &v); err != nil {
		t.Fatal(err)
	}
	if v["host"] != w.state().Current.Endpoint || !strings.HasPrefix(v["host"].(string), r.New+".") || v["password"] != "staging-only" || v["port"] != 5432.0 {
		t.Fatalf("secret after the swap: %v", v)
	}
	if n := w.cloud.Mutations()["ModifyDBInstance"]; n != 0 {
		t.Fatalf("%d renames with endpoint secret", n)
	}
	if w.state().Active.Old != target {
		t.Fatalf("old = %q, want the target staging was built with", w.state().Active.Old)
	}
	w.callsAllowed()
	w.tickFor(25 * time.Hour)
	if d := w.db(target); d != nil && d.Status != "deleting" {
		t.Fatalf("old database %+v after keepOldHours", d)
	}
}

// A swap that cannot finish is undone: the old database gets its name back.
func TestFailedSwapRenamesTheOldDatabaseBack(t *testing.T) {
	w := newWorld(t, map[string]string{"timeoutHours": "1"})
	before := w.db(target)
	w.tick()
	w.until(time.Hour, "scrubbing", inState(dbrefresh.Scrubbing))
	w.finishScrub("SUCCEEDED")
	w.tick() // renames the old database away
	if d := w.db(target); d != nil {
		t.Fatalf("target %+v after the first rename", d)
	}
	// The second rename keeps failing.
	w.cloud.Fail(sim.OpModifyDBInstance, sim.ServerError(), 1000)
	for w.state().Active.State == dbrefresh.Swapping {
		w.cloud.Advance(5 * time.Minute)
		w.h.Handle(w.ctx, w.mk.Schedule("kaizen-dbrefresh-schedule", w.cloud.Now()))
	}
	w.cloud.Fail(sim.OpModifyDBInstance, nil, 0)
	w.until(30*time.Minute, "undone", idle)
	if d := w.db(target); d == nil || d.Resource != before.Resource || d.Status != "available" {
		t.Fatalf("staging's database after the undo: %+v", d)
	}
	if h, _ := w.store.RefreshHistory(w.ctx, w.app.Name); h[0].State != dbrefresh.Failed {
		t.Fatalf("ledger %+v", h[0])
	}
}

// A restore that never becomes available is undone when it turns out so.
func TestFailedRestoreIsUndone(t *testing.T) {
	w := newWorld(t, nil)
	w.tick()
	r := w.state().Active
	w.cloud.FailRestoreOf(r.New, "incompatible-parameters")
	w.until(time.Hour, "undoing", inState(dbrefresh.Undoing))
	w.until(30*time.Minute, "undone", idle)
	if d := w.db(r.New); d != nil && d.Status != "deleting" {
		t.Fatalf("%s is %s", r.New, d.Status)
	}
}

// A dry run plans and changes nothing.
func TestDryRunChangesNothing(t *testing.T) {
	w := newWorld(t, nil)
	w.h.DryRun = true
	outs := w.tick()
	if len(outs) != 1 || len(outs[0].Plan.Actions) != 2 || outs[0].Plan.Actions[1].Kind != dbrefresh.CopySnapshot {
		t.Fatalf("dry run plan %+v", outs)
	}
	if n := w.cloud.MutationCount(); n != 0 || w.state().Version != 0 {
		t.Fatalf("a dry run changed %s, version %d", w.cloud.MutationSummary(), w.state().Version)
	}
}

// An abort by hand before the swap undoes the refresh.
func TestAbortUndoes(t *testing.T) {
	w := newWorld(t, nil)
	w.tick()
	w.until(30*time.Minute, "restoring", inState(dbrefresh.Restoring))
	out, err := w.h.Run(w.ctx, w.app, dbrefresh.Event{Kind: dbrefresh.EvOperator, Command: "abort", By: "alice"})
	if err != nil || !inState(dbrefresh.Undoing)(w.state()) {
		t.Fatalf("abort: %+v, %v", out.Plan, err)
	}
	w.until(30*time.Minute, "undone", idle)
}

// The cost of each step of a full refresh, in AWS calls: a wait costs at
// most one read, an idle tick none, and no step makes more than two
// mutating calls besides its notice. The table is what the issue reports.
func TestRefreshCallsPerStep(t *testing.T) {
	w := newWorld(t, nil)
	type row struct {
		step            string
		reads, mutating int
	}
	var rows []row
	step := func(what string, send func()) {
		t.Helper()
		w.cloud.Reset()
		send()
		r := row{step: what}
		for _, c := range w.cloud.Calls() {
			if c.Op == "Publish" {
				continue
			}
			if c.Mutating {
				r.mutating++
			} else {
				r.reads++
			}
		}
		rows = append(rows, r)
		if r.reads > 2 || r.mutating > 2 {
			t.Errorf("%s: %d reads, %d mutating calls", what, r.reads, r.mutating)
		}
	}
	tick := func() { w.tick() }
	step("start (window open): newest snapshot, copy", tick)
	w.cloud.Advance(5 * time.Minute)
	step("copy still running", tick)
	w.cloud.Advance(5 * time.Minute)
	step("copied: restore", tick)
	w.cloud.Advance(20 * time.Minute)
	step("restored: scrub, drop the copy", tick)
	w.cloud.Advance(5 * time.Minute)
	step("scrub running", tick)
	b := w.scrubBuild()
	w.cloud.FinishBuild(b.ID, "SUCCEEDED")
	step("scrub succeeded (event)", func() { w.send(w.buildEvent(b.ID, "SUCCEEDED")) })
	step("swap: old makes way", tick)
	w.cloud.Advance(5 * time.Minute)
	step("swap: new takes the name", tick)
	w.cloud.Advance(5 * time.Minute)
	step("swapped", tick)
	w.cloud.Advance(time.Hour)
	step("keeping the old", tick)
	w.cloud.Advance(24 * time.Hour)
	step("keep ends: delete the old", tick)
	if st := w.state(); st.Active != nil || st.Current == nil {
		t.Fatalf("not done: %+v", st.Active)
	}
	w.cloud.Advance(5 * time.Minute)
	step("idle tick", tick)
	var b2 strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b2, "%-45s reads %d  mutating %d\n", r.step, r.reads, r.mutating)
	}
	t.Logf("calls per step (notices aside):\n%s", b2.String())
	if idle, keep := rows[len(rows)-1], rows[len(rows)-3]; idle.reads+idle.mutating+keep.reads+keep.mutating != 0 {
		t.Errorf("an idle tick made calls: %+v", rows)
	}
}

// A step that fails midway (here: the copy's deletion after the scrub
// started) keeps what it did: the next tick neither starts a second scrub
// nor loses the copy.
func TestFailedStepKeepsWhatItDid(t *testing.T) {
	w := newWorld(t, nil)
	w.tick()
	w.until(30*time.Minute, "restoring", inState(dbrefresh.Restoring))
	w.cloud.Fail(sim.OpDeleteDBSnapshot, sim.ServerError(), 1)
	w.cloud.Advance(20 * time.Minute)
	if _, err := w.h.Handle(w.ctx, w.mk.Schedule("kaizen-dbrefresh-schedule", w.cloud.Now())); err == nil {
		t.Fatal("the step with a failed deletion did not fail")
	}
	st := w.state()
	if st.Active == nil || st.Active.State != dbrefresh.Scrubbing || st.Active.Build == "" || !strings.Contains(st.LastError, "delete snapshot") || len(st.Pending) != 1 {
		t.Fatalf("after the failure: %+v, pending %q, error %q", st.Active, st.Pending, st.LastError)
	}
	w.cloud.Advance(5 * time.Minute)
	w.tick()
	if n := len(w.cloud.Builds()); n != 1 {
		t.Fatalf("%d scrub builds, want 1", n)
	}
	w.finishScrub("SUCCEEDED")
	w.until(30*time.Minute, "swapped", inState(dbrefresh.KeepingOld))
	w.cloud.Advance(25 * time.Hour)
	w.tick()
	for _, sn := range w.cloud.DBSnapshots() {
		if strings.HasPrefix(sn.ID, target) && sn.Status != "deleting" {
			t.Fatalf("the copy %s outlived the refresh (%s)", sn.ID, sn.Status)
		}
	}
}
