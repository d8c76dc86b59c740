// Package dbrefresh refreshes a staging app's database from production's
// RDS snapshots, one reconcile step per event or tick, in the shape of the
// release steps: load the record, observe RDS (and the scrub build), plan
// with a pure function along a state table (states.go), write ahead, apply,
// record. A refresh copies production's newest snapshot into staging's
// account and key, restores the copy as "<target>-<stamp>", runs the scrub
// build against it, swaps it in (renames, so the endpoint stays, or the
// staging secret's host) and deletes the old database after keepOldHours.
// A failure at any step puts staging back on its database and deletes what
// the refresh made.
//
// Production is only described and copied from: every mutating call names
// a resource derived from the configured target ("<target>", "<target>-*"),
// which config validation keeps apart from every production identifier,
// and the function's IAM role allows nothing else (infra/stacks).
package dbrefresh

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Transition is one entry of a refresh's history.
type Transition struct {
	At    time.Time `json:"at"`
	From  State     `json:"from,omitempty"`
	To    State     `json:"to"`
	By    Trigger   `json:"by,omitempty"`
	Cause string    `json:"cause"`
}

// Snapshot is an RDS DB snapshot or DB cluster snapshot.
type Snapshot struct {
	// ID is the snapshot's identifier; a snapshot shared by another
	// account is named by its ARN.
	ID      string    `json:"id"`
	ARN     string    `json:"arn,omitempty"`
	Created time.Time `json:"created"`
	Status  string    `json:"status,omitempty"`
	Type    string    `json:"type,omitempty"` // automated, manual, shared
	// Source is the DB instance or cluster it was taken of.
	Source    string `json:"source,omitempty"`
	Engine    string `json:"engine,omitempty"`
	Encrypted bool   `json:"encrypted,omitempty"`
	KMSKeyID  string `json:"kmsKeyId,omitempty"`
}

// Ref is how RDS calls name the snapshot: its ARN when it is another
// account's, else its identifier.
func (s Snapshot) Ref() string {
	if s.Type == "shared" && s.ARN != "" {
		return s.ARN
	}
	return s.ID
}

// Refresh is the record of one refresh of a staging database.
type Refresh struct {
	App string `json:"app"`
	// ID is the refresh's stamp ("20261122-0205"), also part of the names
	// of what it creates.
	ID    string `json:"id"`
	State State  `json:"state"`
	// Cluster is set when the database is an Aurora cluster.
	Cluster bool `json:"cluster,omitempty"`
	// Source is production's snapshot being restored.
	Source Snapshot `json:"source"`
	// Copy is the copy of Source in this account: "<target>-<stamp>".
	Copy string `json:"copy"`
	// New is the restored database, "<target>-<stamp>" until the swap
	// renames it to the target.
	New         string `json:"new"`
	NewResource string `json:"newResource,omitempty"` // RDS's immutable resource id
	Endpoint    string `json:"endpoint,omitempty"`
	Port        int32  `json:"port,omitempty"`
	// Old is the database staging ran on before, as the swap left it
	// ("<target>-old-<stamp>" after a rename); OldResource is its resource
	// id, OldEndpoint the endpoint the staging secret named.
	Old         string `json:"old,omitempty"`
	OldResource string `json:"oldResource,omitempty"`
	OldEndpoint string `json:"oldEndpoint,omitempty"`
	// SecretSet records that the staging secret was pointed at the new
	// database (endpoint "secret"): an undo points it back.
	SecretSet bool `json:"secretSet,omitempty"`
	// Renamed records that the new database was renamed to the target
	// (endpoint "rename"): from then on the target's name is the new
	// database's, and an undo gives it back first.
	Renamed bool `json:"renamed,omitempty"`
	// Build is the scrub build; BuildStatus its last known status.
	Build       string `json:"build,omitempty"`
	BuildStatus string `json:"buildStatus,omitempty"`
	// Reason says why a refresh is undone.
	Reason string `json:"reason,omitempty"`
	// Deadline bounds the current wait.
	Deadline     time.Time    `json:"deadline,omitempty"`
	KeepOldUntil time.Time    `json:"keepOldUntil,omitempty"`
	StartedAt    time.Time    `json:"startedAt"`
	SwappedAt    time.Time    `json:"swappedAt,omitempty"`
	EndedAt      time.Time    `json:"endedAt,omitempty"`
	History      []Transition `json:"history"`
}

// move records a state change with its cause, if Table allows it.
func (r *Refresh) move(to State, by Trigger, at time.Time, cause string) error {
	if !Allowed(r.State, to, by) {
		return &RefusedTransition{Kind: "refresh", ID: r.ID, From: r.State, To: to, By: by}
	}
	r.History = append(r.History, Transition{At: at, From: r.State, To: to, By: by, Cause: cause})
	r.State = to
	if to.Terminal() {
		r.EndedAt = at
	}
	return nil
}

// Clone deep-copies r.
func (r *Refresh) Clone() *Refresh {
	if r == nil {
		return nil
	}
	c := *r
	c.History = append([]Transition(nil), r.History...)
	return &c
}

// Database is the database staging runs on, as the last refresh left it.
type Database struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint,omitempty"`
	// Snapshot is production's snapshot it was restored from, and
	// SnapshotCreated when that snapshot was taken: the age of its data.
	Snapshot        string    `json:"snapshot"`
	SnapshotCreated time.Time `json:"snapshotCreated"`
	RefreshedAt     time.Time `json:"refreshedAt"`
	Refresh         string    `json:"refresh"`
}

// Lease marks the invocation applying a plan, until Until.
type Lease struct {
	Token string    `json:"token"`
	Until time.Time `json:"until"`
}

// AppState is one app's refresh state: the per-app item written with
// optimistic locking.
type AppState struct {
	App     string   `json:"app"`
	Version int64    `json:"version"`
	Active  *Refresh `json:"active,omitempty"`
	// Current is the database staging runs on, once kaizen has refreshed it.
	Current *Database `json:"current,omitempty"`
	// LastStartedAt is when the last refresh started: the schedule starts
	// one per opening of its window.
	LastStartedAt time.Time `json:"lastStartedAt,omitempty"`
	// Pending lists the actions of a step that did not finish; LastError
	// says why.
	Pending   []string  `json:"pending,omitempty"`
	LastError string    `json:"lastError,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitempty"`
	Lease     *Lease    `json:"lease,omitempty"`
}

// Clone deep-copies st.
func (st AppState) Clone() AppState {
	c := st
	c.Active = st.Active.Clone()
	if st.Current != nil {
		cur := *st.Current
		c.Current = &cur
	}
	c.Pending = append([]string(nil), st.Pending...)
	if st.Lease != nil {
		l := *st.Lease
		c.Lease = &l
	}
	return c
}

// DB is a database (an instance, or a cluster with its writer) as observed.
type DB struct {
	ID       string    `json:"id"`
	Resource string    `json:"resource,omitempty"` // DbiResourceId or DbClusterResourceId
	Status   string    `json:"status"`
	Endpoint string    `json:"endpoint,omitempty"`
	Port     int32     `json:"port,omitempty"`
	Created  time.Time `json:"created,omitempty"`
}

// Available reports whether the database takes connections and changes.
func (d *DB) Available() bool { return d != nil && d.Status == "available" }

// Gone reports whether the database does not exist or is being deleted.
func (d *DB) Gone() bool { return d == nil || d.Status == "deleting" }

// failedStatuses are the DB statuses from which a restore never becomes
// available (RDS's "incompatible-*" and "failed").
func failedStatus(s string) bool {
	return s == "failed" || s == "inaccessible-encryption-credentials" || strings.HasPrefix(s, "incompatible-")
}

// Build is the scrub build as observed.
type Build struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// Observed is what one step saw of RDS and the scrub build.
type Observed struct {
	// Newest is production's newest available snapshot of the configured
	// type (nil if it was not looked at, or there is none).
	Newest *Snapshot `json:"newest,omitempty"`
	// Looked says Newest was looked for.
	Looked bool `json:"looked,omitempty"`
	// DBs holds the databases the step looked at, by identifier; one
	// looked at and not found is absent.
	DBs map[string]*DB `json:"dbs,omitempty"`
	// Copy is the refresh's copy of the snapshot (nil if not found or not
	// looked at).
	Copy *Snapshot `json:"copy,omitempty"`
	// Build is the scrub build (nil if not looked at).
	Build *Build `json:"build,omitempty"`
}

// DB returns the observed database with the identifier (nil if absent).
func (o Observed) DB(id string) *DB {
	if id == "" {
		return nil
	}
	return o.DBs[id]
}

// ByResource finds an observed database by its resource id.
func (o Observed) ByResource(res string) *DB {
	if res == "" {
		return nil
	}
	for _, d := range o.DBs {
		if d.Resource == res {
			return d
		}
	}
	return nil
}

// Summary is a one-line description for logs.
func (o Observed) Summary() string {
	var parts []string
	if o.Newest != nil {
		parts = append(parts, "newest snapshot "+o.Newest.ID)
	}
	for _, id := range sortedKeys(o.DBs) {
		parts = append(parts, fmt.Sprintf("%s %s", id, o.DBs[id].Status))
	}
	if o.Copy != nil {
		parts = append(parts, fmt.Sprintf("copy %s %s", o.Copy.ID, o.Copy.Status))
	}
	if o.Build != nil {
		parts = append(parts, fmt.Sprintf("build %s %s", o.Build.ID, o.Build.Status))
	}
	if len(parts) == 0 {
		return "nothing observed"
	}
	return strings.Join(parts, ", ")
}

// EventKind says what started a step.
type EventKind string

const (
	EvTick     EventKind = "tick"     // the function's schedule
	EvSnapshot EventKind = "snapshot" // production's automated snapshot was created
	EvBuild    EventKind = "build"    // the scrub build changed state
	EvOperator EventKind = "operator" // kaizen dbrefresh start or abort
)

// Event is the planner's input besides the state and the observation.
type Event struct {
	Kind EventKind `json:"kind"`
	ID   string    `json:"id"`
	// Snapshot is the snapshot an EvSnapshot event announced.
	Snapshot string `json:"snapshot,omitempty"`
	// Build is the build an EvBuild event is about, with its status.
	Build *Build `json:"build,omitempty"`
	// Command ("start" or "abort") and By are a person's.
	Command string `json:"command,omitempty"`
	By      string `json:"by,omitempty"`
}

// The environment variables the scrub build gets: where the restored
// database is, which snapshot it holds, and which refresh started it.
const (
	EnvEndpoint   = "KAIZEN_DB_ENDPOINT"
	EnvPort       = "KAIZEN_DB_PORT"
	EnvIdentifier = "KAIZEN_DB_IDENTIFIER"
	EnvSnapshot   = "KAIZEN_SOURCE_SNAPSHOT"
	EnvRefresh    = "KAIZEN_DBREFRESH"
)

// ScrubVariables are every variable StartScrub sets; the function's role
// denies StartBuild with any other (infra/stacks).
var ScrubVariables = []string{EnvEndpoint, EnvPort, EnvIdentifier, EnvSnapshot, EnvRefresh}

// Cloud is the port to AWS: what a step observes and how it applies an
// action (awscloud.Cloud implements it over the SDK's clients). Apply
// returns the scrub build's id for StartScrub.
type Cloud interface {
	Observe(ctx context.Context, f *config.File, app *config.App, needs Needs) (Observed, error)
	Apply(ctx context.Context, f *config.File, app *config.App, a Action) (string, error)
}

// Kind is the kind of one planned action.
type Kind string

const (
	CopySnapshot  Kind = "copy-snapshot"   // production's snapshot → Copy, with staging's key
	Restore       Kind = "restore"         // Copy → New (a cluster also gets its writer instance)
	DeleteCopy    Kind = "delete-copy"     // the copy, once restored (or when undone)
	StartScrub    Kind = "start-scrub"     // the scrub build, with the new endpoint
	Rename        Kind = "rename"          // From → To, applied at once
	SetSecretHost Kind = "set-secret-host" // the staging secret's host key → Host
	DeleteDB      Kind = "delete-db"       // a database this refresh made or replaced, no final snapshot
	Notify        Kind = "notify"
)

// Kinds lists every action Kind, in a stable order.
var Kinds = []Kind{CopySnapshot, Restore, DeleteCopy, StartScrub, Rename, SetSecretHost, DeleteDB, Notify}

// Action is one change a plan makes.
type Action struct {
	Kind Kind `json:"kind"`
	// DB names the database (Restore, DeleteDB, StartScrub) or the
	// snapshot copy (CopySnapshot, DeleteCopy).
	DB string `json:"db,omitempty"`
	// From and To are a rename's identifiers.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Snapshot is what CopySnapshot copies or Restore restores.
	Snapshot *Snapshot `json:"snapshot,omitempty"`
	Host     string    `json:"host,omitempty"`
	Port     int32     `json:"port,omitempty"`
	// Refresh is the refresh's id (StartScrub passes it to the build).
	Refresh string `json:"refresh,omitempty"`
	Subject string `json:"subject,omitempty"`
	Message string `json:"message,omitempty"`
	Why     string `json:"why,omitempty"`
}

func (a Action) String() string {
	switch a.Kind {
	case CopySnapshot:
		return fmt.Sprintf("copy snapshot %s to %s", a.Snapshot.Ref(), a.DB)
	case Restore:
		return fmt.Sprintf("restore %s from %s", a.DB, a.Snapshot.ID)
	case DeleteCopy:
		return "delete snapshot copy " + a.DB
	case StartScrub:
		return fmt.Sprintf("start the scrub build against %s (%s)", a.DB, a.Host)
	case Rename:
		return fmt.Sprintf("rename %s to %s", a.From, a.To)
	case SetSecretHost:
		return "point the staging secret at " + a.Host
	case DeleteDB:
		return "delete database " + a.DB
	case Notify:
		return "notify: " + a.Subject
	}
	return string(a.Kind)
}

// Plan is what the planner decided for one step.
type Plan struct {
	Actions []Action `json:"actions"`
	// Ahead is the state to record before the first action (the write
	// ahead); Next the state once every action is applied.
	Ahead AppState `json:"-"`
	Next  AppState `json:"next"`
	// Ended are refreshes that reached a terminal state: ledger entries.
	Ended       []Refresh `json:"ended,omitempty"`
	Transitions []string  `json:"transitions,omitempty"`
	Notes       []string  `json:"notes,omitempty"`
	// Refused says why an operator's command was refused.
	Refused string `json:"refused,omitempty"`
	// Bug is set when the planner tried a move Table refuses: nothing is
	// applied.
	Bug string `json:"bug,omitempty"`
	// changed says the record changes even without actions.
	changed bool
}

// Changed reports whether the plan changes anything.
func (p Plan) Changed() bool { return len(p.Actions) > 0 || p.changed }
