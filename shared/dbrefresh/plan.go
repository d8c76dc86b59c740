package dbrefresh

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Names of what a refresh creates, from the target and the refresh's stamp.
// Every one starts with "<target>-", which config validation keeps apart
// from production's identifiers, and the IAM grants allow nothing else.
func stampOf(t time.Time) string        { return t.UTC().Format("20060102-1504") }
func newName(target, id string) string  { return target + "-" + id }
func oldName(target, id string) string  { return target + "-old-" + id }
func copyName(target, id string) string { return target + "-" + id }

// Build statuses of CodeBuild.
const (
	BuildSucceeded = "SUCCEEDED"
	BuildFailed    = "FAILED"
	BuildFault     = "FAULT"
	BuildStopped   = "STOPPED"
	BuildTimedOut  = "TIMED_OUT"
)

func buildFailed(s string) bool {
	return s == BuildFailed || s == BuildFault || s == BuildStopped || s == BuildTimedOut
}

// Needs is what a step must observe: the planner's inputs, decided before
// any call so that a step spends calls only on what it waits for.
type Needs struct {
	Newest bool     `json:"newest,omitempty"`
	DBs    []string `json:"dbs,omitempty"`
	Copy   string   `json:"copy,omitempty"`
	Build  string   `json:"build,omitempty"`
}

// Empty reports whether nothing needs observing.
func (n Needs) Empty() bool { return !n.Newest && len(n.DBs) == 0 && n.Copy == "" && n.Build == "" }

// Wants says what a step needs to observe for the app in state st.
func Wants(app *config.App, st AppState, ev Event, now time.Time) Needs {
	d := app.DBRefresh
	r := st.Active
	if r == nil {
		switch ev.Kind {
		case EvSnapshot:
			return Needs{Newest: true}
		case EvOperator:
			return Needs{Newest: ev.Command == "start"}
		case EvTick:
			if due, _ := Due(d, st.LastStartedAt, now); due {
				return Needs{Newest: true}
			}
		}
		return Needs{}
	}
	switch r.State {
	case Copying:
		return Needs{Copy: r.Copy}
	case Restoring:
		return Needs{DBs: []string{r.New}}
	case Scrubbing:
		if r.Build == "" || (ev.Kind == EvBuild && ev.Build != nil && ev.Build.ID == r.Build) {
			return Needs{}
		}
		return Needs{Build: r.Build}
	case Swapping:
		if d.Endpoint == config.EndpointSecret {
			old := d.Target
			if st.Current != nil {
				old = st.Current.ID
			}
			return Needs{DBs: []string{r.New, old}}
		}
		return Needs{DBs: []string{d.Target, r.New, oldName(d.Target, r.ID)}}
	case KeepingOld:
		if !now.Before(r.KeepOldUntil) {
			return Needs{Copy: r.Copy}
		}
		return Needs{}
	case Undoing:
		dbs := []string{d.Target, r.New}
		if r.Old != "" && r.Old != d.Target {
			dbs = append(dbs, r.Old)
		}
		return Needs{DBs: dbs, Copy: r.Copy}
	}
	return Needs{}
}

// Due reports whether the schedule starts a refresh at now, given when the
// last one started: its window is open, and was closed at some time since
// that start (one refresh per opening). The reason says why not.
func Due(d *config.DBRefresh, last, now time.Time) (bool, string) {
	w := d.Schedule
	if w == nil {
		return false, "no schedule: refreshes start on production's automated snapshot or by hand"
	}
	if !w.Open(now) {
		return false, "the schedule's window (" + w.String() + ") is closed"
	}
	if last.IsZero() || now.Sub(last) > 25*time.Hour {
		return true, ""
	}
	// Windows are shorter than a day: look for a closed moment since the
	// last start, every five minutes.
	for t := last.Add(5 * time.Minute); t.Before(now); t = t.Add(5 * time.Minute) {
		if !w.Open(t) {
			return true, ""
		}
	}
	return false, "a refresh already started in this opening of the schedule's window (" + last.Format(time.RFC3339) + ")"
}

type planner struct {
	f    *config.File
	app  *config.App
	d    *config.DBRefresh
	st   AppState
	obs  Observed
	now  time.Time
	ev   Event
	plan Plan
	next AppState
}

// Decide is the pure planner: given the app's refresh state, what the step
// observed and the event, it returns the actions to apply and the state to
// record. It moves a refresh only along Table.
func Decide(f *config.File, app *config.App, st AppState, obs Observed, now time.Time, ev Event) Plan {
	p := &planner{f: f, app: app, d: app.DBRefresh, st: st, obs: obs, now: now.UTC(), ev: ev, next: st.Clone()}
	if p.d == nil {
		p.note("%s has no dbRefresh configuration", app.Name)
		p.plan.Next = p.next
		return p.plan
	}
	ahead := AppState{}
	if r := p.next.Active; r != nil {
		ahead = p.advance(r)
	} else {
		ahead = p.start()
	}
	if p.plan.Bug != "" {
		return Plan{Bug: p.plan.Bug, Next: st, Notes: p.plan.Notes}
	}
	if ahead.App == "" {
		ahead = p.next.Clone()
	}
	p.plan.Ahead = ahead
	p.plan.Next = p.next
	return p.plan
}

func (p *planner) note(format string, args ...any) {
	p.plan.Notes = append(p.plan.Notes, fmt.Sprintf(format, args...))
}

func (p *planner) act(a Action) { p.plan.Actions = append(p.plan.Actions, a) }

// move changes the active refresh's state and notifies the app's people.
func (p *planner) move(r *Refresh, to State, by Trigger, cause string) bool {
	from := r.State
	if err := r.move(to, by, p.now, cause); err != nil {
		p.plan.Bug = err.Error()
		return false
	}
	p.plan.changed = true
	p.plan.Transitions = append(p.plan.Transitions, fmt.Sprintf("%s %s → %s", r.ID, orNew(from), to))
	p.act(p.notice(r, to, cause))
	if to.Terminal() {
		p.plan.Ended = append(p.plan.Ended, *r.Clone())
		p.next.Active = nil
	}
	return true
}

func orNew(s State) string {
	if s == None {
		return "(new)"
	}
	return string(s)
}

var headlines = map[State]string{
	Copying:    "database refresh started",
	Restoring:  "snapshot copied, restoring",
	Scrubbing:  "database restored, scrubbing",
	Swapping:   "scrubbed, switching staging to the new database",
	KeepingOld: "staging runs on the refreshed database",
	Undoing:    "database refresh failed, undoing",
	Done:       "database refresh done",
	Failed:     "database refresh undone: staging keeps its database",
}

func (p *planner) notice(r *Refresh, to State, cause string) Action {
	subject := fmt.Sprintf("[kaizen] %s: %s", p.app.Name, headlines[to])
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nRefresh %s of %s from production snapshot %s (taken %s).\n", cause, r.ID, p.d.Target, r.Source.ID, r.Source.Created.Format(time.RFC3339))
	switch to {
	case Copying:
		fmt.Fprintf(&b, "Next: copy to %s, restore as %s, scrub with %s, then switch staging (%s).\n", r.Copy, r.New, p.d.Scrub.CodeBuildProject, p.d.Endpoint)
	case KeepingOld:
		if r.Old != "" {
			fmt.Fprintf(&b, "The previous database is kept as %s until %s.\n", r.Old, r.KeepOldUntil.Format(time.RFC3339))
		}
	case Undoing, Failed:
		fmt.Fprintf(&b, "Staging stays on its current database; what this refresh created is deleted.\n")
	}
	return Action{Kind: Notify, Subject: subject, Message: b.String(), Why: cause}
}

// start begins a refresh when the event asks for one and production has a
// snapshot staging does not already run on.
func (p *planner) start() AppState {
	ev, d, st := p.ev, p.d, p.st
	var by Trigger
	var cause string
	switch ev.Kind {
	case EvOperator:
		if ev.Command != "start" {
			p.plan.Refused = "no refresh in flight to " + ev.Command
			p.note("%s", p.plan.Refused)
			return AppState{}
		}
		by, cause = ByOperator, "started by "+orUnknown(ev.By)
	case EvSnapshot:
		by, cause = BySnapshot, "production's automated snapshot "+ev.Snapshot+" was created"
	case EvTick:
		due, why := Due(d, st.LastStartedAt, p.now)
		if !due {
			p.note("%s", why)
			return AppState{}
		}
		by, cause = BySchedule, "the schedule "+d.Schedule.String()+" is open"
	default:
		p.note("no refresh in flight: nothing waits for %s", ev.Kind)
		return AppState{}
	}
	n := p.obs.Newest
	refuse := func(why string) AppState {
		if ev.Kind == EvOperator {
			p.plan.Refused = why
		}
		p.note("%s", why)
		return AppState{}
	}
	switch {
	case n == nil:
		return refuse(fmt.Sprintf("production (%s) has no available %s snapshot", d.Source.ID(), d.SnapshotType))
	case st.Current != nil && st.Current.Snapshot == n.ID:
		return refuse(fmt.Sprintf("staging already runs on production's newest snapshot %s", n.ID))
	case !st.LastStartedAt.IsZero() && stampOf(st.LastStartedAt) == stampOf(p.now):
		return refuse("a refresh already started this minute; its names would collide")
	}
	id := stampOf(p.now)
	r := &Refresh{
		App: p.app.Name, ID: id, Cluster: d.Source.Cluster(), Source: *n,
		Copy: copyName(d.Target, id), New: newName(d.Target, id), StartedAt: p.now,
		Deadline: p.now.Add(d.Timeout()),
	}
	if !p.move(r, Copying, by, cause) {
		return AppState{}
	}
	p.act(Action{Kind: CopySnapshot, DB: r.Copy, Snapshot: &r.Source, Refresh: r.ID, Why: "a copy in this account, with staging's key, is what staging may restore"})
	p.next.Active = r
	p.next.LastStartedAt = p.now
	return AppState{}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// abortable reports whether an operator's abort applies, and undoes.
func (p *planner) aborted(r *Refresh) bool {
	if p.ev.Kind != EvOperator {
		return false
	}
	if p.ev.Command == "start" {
		p.plan.Refused = fmt.Sprintf("refresh %s is already in flight (%s): one refresh per app", r.ID, r.State)
		p.note("%s", p.plan.Refused)
		return true
	}
	switch r.State {
	case Copying, Restoring, Scrubbing:
		p.undo(r, ByOperator, "aborted by "+orUnknown(p.ev.By))
	default:
		p.plan.Refused = fmt.Sprintf("refresh %s is %s: past the point an abort can undo", r.ID, r.State)
		p.note("%s", p.plan.Refused)
	}
	return true
}

// advance takes one step of the active refresh. It returns the state to
// write ahead when that differs from the next state (a secret swap).
func (p *planner) advance(r *Refresh) AppState {
	if p.ev.Kind == EvSnapshot {
		p.note("refresh %s is in flight (%s): one refresh per app, snapshot %s waits for the next", r.ID, r.State, p.ev.Snapshot)
	}
	if p.aborted(r) {
		return AppState{}
	}
	switch r.State {
	case Copying:
		p.copying(r)
	case Restoring:
		p.restoring(r)
	case Scrubbing:
		p.scrubbing(r)
	case Swapping:
		return p.swapping(r)
	case KeepingOld:
		return p.keepingOld(r)
	case Undoing:
		p.undoing(r)
	default:
		p.plan.Bug = fmt.Sprintf("refresh %s is in unknown state %q", r.ID, r.State)
	}
	return AppState{}
}

func (p *planner) late(r *Refresh) bool { return !r.Deadline.IsZero() && !p.now.Before(r.Deadline) }

func (p *planner) copying(r *Refresh) {
	c := p.obs.Copy
	switch {
	case c != nil && c.Status == "available":
		if !p.move(r, Restoring, ByAWS, "copy "+r.Copy+" is available") {
			return
		}
		r.Deadline = p.now.Add(p.d.Timeout())
		snap := *c
		snap.Engine = first(c.Engine, r.Source.Engine)
		p.act(Action{Kind: Restore, DB: r.New, Snapshot: &snap, Refresh: r.ID, Why: "the copy restores as a database of staging's own"})
	case c != nil && (c.Status == "failed" || c.Status == "error"):
		p.undo(r, ByAWS, fmt.Sprintf("copy %s is %s", r.Copy, c.Status))
	case p.late(r):
		p.undo(r, ByTimer, fmt.Sprintf("copy %s did not finish within %s", r.Copy, p.d.Timeout()))
	case c == nil:
		p.act(Action{Kind: CopySnapshot, DB: r.Copy, Snapshot: &r.Source, Refresh: r.ID, Why: "the copy is not there: copying again"})
	default:
		p.note("waiting for copy %s (%s)", r.Copy, c.Status)
	}
}

func (p *planner) restoring(r *Refresh) {
	db := p.obs.DB(r.New)
	switch {
	case db.Available():
		r.NewResource, r.Endpoint, r.Port = db.Resource, db.Endpoint, db.Port
		if !p.move(r, Scrubbing, ByAWS, fmt.Sprintf("%s is available at %s", r.New, db.Endpoint)) {
			return
		}
		r.Deadline = p.now.Add(p.d.ScrubTimeout())
		p.act(Action{Kind: StartScrub, DB: r.New, Host: r.Endpoint, Port: r.Port, Snapshot: &r.Source, Refresh: r.ID,
			Why: "production's data reaches staging only scrubbed"})
		p.act(Action{Kind: DeleteCopy, DB: r.Copy, Why: "restored: the copy is no longer needed"})
	case db != nil && failedStatus(db.Status):
		p.undo(r, ByAWS, fmt.Sprintf("the restore of %s is %s", r.New, db.Status))
	case p.late(r):
		p.undo(r, ByTimer, fmt.Sprintf("%s did not become available within %s", r.New, p.d.Timeout()))
	case db == nil:
		snap := Snapshot{ID: r.Copy, Engine: r.Source.Engine}
		p.act(Action{Kind: Restore, DB: r.New, Snapshot: &snap, Refresh: r.ID, Why: "the restored database is not there: restoring again"})
	default:
		p.note("waiting for %s (%s)", r.New, db.Status)
	}
}

func (p *planner) scrubbing(r *Refresh) {
	status := ""
	switch {
	case p.ev.Kind == EvBuild && p.ev.Build != nil && p.ev.Build.ID == r.Build:
		status = p.ev.Build.Status
	case p.obs.Build != nil:
		status = p.obs.Build.Status
	}
	if p.ev.Kind == EvBuild && p.ev.Build != nil && p.ev.Build.ID != r.Build {
		p.note("build %s is not refresh %s's scrub (%s)", p.ev.Build.ID, r.ID, orDash(r.Build))
	}
	switch {
	case r.Build == "" && !p.late(r):
		p.act(Action{Kind: StartScrub, DB: r.New, Host: r.Endpoint, Port: r.Port, Snapshot: &r.Source, Refresh: r.ID, Why: "the scrub build did not start: starting it again"})
	case status == BuildSucceeded:
		r.BuildStatus = status
		if !p.move(r, Swapping, ByBuild, fmt.Sprintf("scrub build %s succeeded", r.Build)) {
			return
		}
		r.Deadline = p.now.Add(p.d.Timeout())
		p.note("next: switch staging to %s", r.New)
	case buildFailed(status):
		r.BuildStatus = status
		p.undo(r, ByBuild, fmt.Sprintf("scrub build %s ended %s", r.Build, status))
	case p.late(r):
		p.undo(r, ByTimer, fmt.Sprintf("scrub build %s did not finish within %s", orDash(r.Build), p.d.ScrubTimeout()))
	default:
		p.note("waiting for scrub build %s (%s)", r.Build, orDash(status))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func first(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

// swapping moves staging to the new database: renames (the old one away,
// then the new one to the target), or the staging secret's host. The
// databases are told apart by their names, which the record follows
// (Old, Renamed): RDS's resource ids would do too, but emulators do not
// always keep them apart.
func (p *planner) swapping(r *Refresh) AppState {
	if p.d.Endpoint == config.EndpointSecret {
		return p.swapSecret(r)
	}
	target := p.d.Target
	t, nw, old := p.obs.DB(target), p.obs.DB(r.New), p.obs.DB(oldName(target, r.ID))
	// Renamed is what was planned; the names say what happened: a rename
	// whose call failed left the new database under its own name.
	if nw != nil {
		r.Renamed = false
	}
	moved := r.Renamed && nw == nil
	switch {
	case moved && t != nil && t.Available():
		return p.swapped(r, t)
	case moved && t != nil:
		p.note("waiting for %s to finish its rename to %s (%s)", r.New, target, t.Status)
	case p.late(r):
		p.undo(r, ByTimer, fmt.Sprintf("the switch to %s did not finish within %s", r.New, p.d.Timeout()))
	case moved:
		p.note("waiting for %s to appear under %s", r.New, target)
	case nw == nil || nw.Gone():
		p.undo(r, ByAWS, fmt.Sprintf("the new database %s is gone", r.New))
	case r.Old == "" && t != nil:
		// The old database moves out of the way first.
		if !t.Available() {
			p.note("waiting for %s to be available before renaming it (%s)", target, t.Status)
			return AppState{}
		}
		r.Old, r.OldResource, r.OldEndpoint = oldName(target, r.ID), t.Resource, t.Endpoint
		p.act(Action{Kind: Rename, From: target, To: r.Old, Why: "the old database makes way, under a name kept for keepOldHours"})
	case t != nil:
		p.note("waiting for %s to be free (%s)", target, t.Status)
	case old != nil && !old.Available():
		p.note("waiting for %s to finish its rename (%s)", old.ID, old.Status)
	case !nw.Available():
		p.note("waiting for %s to be available (%s)", nw.ID, nw.Status)
	default:
		r.Renamed = true
		p.act(Action{Kind: Rename, From: nw.ID, To: target, Why: "the new database takes the target's name, and with it the endpoint staging uses"})
	}
	return AppState{}
}

// swapped records that staging runs on the new database.
func (p *planner) swapped(r *Refresh, nw *DB) AppState {
	r.SwappedAt = p.now
	r.KeepOldUntil = p.now.Add(p.d.KeepOld())
	r.Deadline = time.Time{}
	if nw.Endpoint != "" {
		r.Endpoint = nw.Endpoint
	}
	cause := fmt.Sprintf("staging runs on %s, restored from %s", nw.ID, r.Source.ID)
	if !p.move(r, KeepingOld, ByAWS, cause) {
		return AppState{}
	}
	p.next.Current = &Database{ID: nw.ID, Endpoint: r.Endpoint, Snapshot: r.Source.ID, SnapshotCreated: r.Source.Created, RefreshedAt: p.now, Refresh: r.ID}
	return AppState{}
}

func (p *planner) swapSecret(r *Refresh) AppState {
	nw := p.obs.DB(r.New)
	switch {
	case nw == nil || nw.Gone():
		p.undo(r, ByAWS, fmt.Sprintf("the new database %s is gone", r.New))
		return AppState{}
	case p.late(r):
		p.undo(r, ByTimer, fmt.Sprintf("the switch to %s did not finish within %s", r.New, p.d.Timeout()))
		return AppState{}
	}
	if r.Old == "" {
		// The database the secret named before: the last refresh's, or
		// the target staging was built with.
		old := p.d.Target
		if p.st.Current != nil {
			old = p.st.Current.ID
		}
		if db := p.obs.DB(old); db != nil {
			r.Old, r.OldResource, r.OldEndpoint = db.ID, db.Resource, db.Endpoint
		}
	}
	ahead := p.next.Clone()
	ahead.Active = r.Clone()
	p.act(Action{Kind: SetSecretHost, Host: r.Endpoint, Port: r.Port, Why: "staging finds its database through the secret's host"})
	r.SecretSet = true
	p.swapped(r, nw)
	return ahead
}

// keepingOld deletes the old database once keepOldHours end. The write
// ahead keeps the refresh open, so a deletion that fails is tried again.
func (p *planner) keepingOld(r *Refresh) AppState {
	if p.now.Before(r.KeepOldUntil) {
		p.note("keeping %s until %s", orDash(r.Old), r.KeepOldUntil.Format(time.RFC3339))
		return AppState{}
	}
	ahead := p.next.Clone()
	cause := "no old database to keep"
	if r.Old != "" {
		cause = fmt.Sprintf("kept %s for %s: deleted", r.Old, p.d.KeepOld())
		p.act(Action{Kind: DeleteDB, DB: r.Old, Why: "keepOldHours ended"})
	}
	if c := p.obs.Copy; c != nil && c.Status != "deleting" {
		p.act(Action{Kind: DeleteCopy, DB: r.Copy, Why: "the copy outlived its restore (its deletion failed then)"})
	}
	p.move(r, Done, ByTimer, cause)
	return ahead
}

// undo moves the refresh to Undoing; the next steps put staging back and
// delete what the refresh made.
func (p *planner) undo(r *Refresh, by Trigger, reason string) {
	r.Reason = reason
	r.Deadline = time.Time{}
	p.move(r, Undoing, by, reason)
}

// settled reports whether a database may be deleted or renamed now.
func settled(d *DB) bool {
	return d.Status != "renaming" && d.Status != "modifying" && d.Status != "deleting" && d.Status != "creating" && d.Status != "backing-up"
}

func (p *planner) undoing(r *Refresh) {
	target := p.d.Target
	t, nw := p.obs.DB(target), p.obs.DB(r.New)
	var old *DB
	if r.Old != "" && r.Old != target {
		old = p.obs.DB(r.Old)
	}
	rename := p.d.Endpoint == config.EndpointRename
	// The new database under its own name was not renamed to the target
	// (or has been renamed back); and the target's database is not the new
	// one when RDS's resource ids, where they tell the two apart, say it
	// is the old.
	if nw != nil || t != nil && r.OldResource != "" && r.OldResource != r.NewResource && t.Resource == r.OldResource {
		r.Renamed = false
	}
	busy := false
	wait := func(format string, args ...any) {
		busy = true
		p.note(format, args...)
	}
	// First staging's database, back where staging finds it.
	switch {
	case r.SecretSet:
		p.act(Action{Kind: SetSecretHost, Host: r.OldEndpoint, Why: "staging goes back to its database"})
		r.SecretSet = false
	case rename && r.Renamed && nw == nil && t != nil:
		// The new database holds the target's name: it gives it back.
		if settled(t) {
			r.Renamed = false
			p.act(Action{Kind: Rename, From: target, To: r.New, Why: "the new database gives the target's name back"})
		} else {
			wait("waiting for %s to settle (%s)", target, t.Status)
		}
	case rename && r.Renamed && nw == nil:
		wait("waiting for %s to appear under %s or %s", r.New, target, r.New)
	case rename && old != nil && t != nil:
		wait("waiting for %s to be free to rename %s back", target, old.ID)
	case rename && old != nil && !settled(old):
		wait("waiting for %s to settle (%s)", old.ID, old.Status)
	case rename && old != nil:
		p.act(Action{Kind: Rename, From: old.ID, To: target, Why: "staging's database gets its name back"})
	}
	// Then what the refresh created, under its own name.
	if nw != nil && !nw.Gone() {
		if settled(nw) {
			p.act(Action{Kind: DeleteDB, DB: nw.ID, Why: "the refresh created it: " + r.Reason})
		} else {
			wait("waiting for %s to settle before deleting it (%s)", nw.ID, nw.Status)
		}
	}
	if c := p.obs.Copy; c != nil && c.Status != "deleting" {
		p.act(Action{Kind: DeleteCopy, DB: r.Copy, Why: "the refresh created it: " + r.Reason})
	}
	if busy || len(p.plan.Actions) > 0 {
		return
	}
	where := "its database " + target
	if t == nil {
		where = "no database (it had none)"
	}
	p.move(r, Failed, ByAWS, fmt.Sprintf("undone (%s): staging keeps %s; %s and %s are deleted", r.Reason, where, r.New, r.Copy))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
