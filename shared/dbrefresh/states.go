package dbrefresh

import (
	"github.com/kaizen-sre/kaizen/shared/statetable"
	"slices"
)

// State is where a refresh stands. Table lists every move between states;
// the deadlines and identifiers on the record are data, never a hidden
// sub-state.
type State string

const (
	// None is where a refresh is before it is recorded.
	None State = ""

	Copying    State = "copying"     // production's snapshot is being copied into staging's account and key
	Restoring  State = "restoring"   // the copy is being restored as <target>-<stamp>
	Scrubbing  State = "scrubbing"   // the scrub build runs against the restored database
	Swapping   State = "swapping"    // staging is being moved to the new database (renames, or the secret)
	KeepingOld State = "keeping_old" // staging runs on the new database; the old one is kept for keepOldHours
	// Undoing: a step failed or timed out. Staging is put back on its
	// database (if the swap had begun) and what the refresh created is
	// deleted.
	Undoing State = "undoing"

	Done   State = "done"   // staging runs on the new database; the old one is deleted
	Failed State = "failed" // undone: staging runs on the database it had, nothing the refresh made is left
)

// States lists every state in the order a refresh meets them.
var States = []State{Copying, Restoring, Scrubbing, Swapping, KeepingOld, Undoing, Done, Failed}

// Terminal reports whether a refresh in state s is finished.
func (s State) Terminal() bool { return s == Done || s == Failed }

// Known reports whether s is one of States.
func (s State) Known() bool { return slices.Contains(States, s) }

// Trigger is the kind of cause that moves a refresh.
type Trigger string

const (
	BySnapshot Trigger = "snapshot" // production's automated snapshot was created
	BySchedule Trigger = "schedule" // the configured schedule's window opened
	ByOperator Trigger = "operator" // a person: kaizen dbrefresh start or abort
	ByAWS      Trigger = "aws"      // observed: a copy, restore, rename or deletion finished or failed
	ByBuild    Trigger = "build"    // the scrub build ended
	ByTimer    Trigger = "timer"    // a wait ran past its deadline, or the old database's keep ended
)

// Edge is an allowed transition and the kinds of cause that may take it.
type Edge = statetable.Edge[State, Trigger]

func edge(from, to State, by ...Trigger) Edge { return Edge{From: from, To: to, By: by} }

// Table is the state table of a refresh: every move the planner may make.
// A move it does not list is a planner bug: the plan is dropped.
var Table = statetable.Table[State, Trigger]{
	edge(None, Copying, BySnapshot, BySchedule, ByOperator),

	edge(Copying, Restoring, ByAWS),
	edge(Restoring, Scrubbing, ByAWS),
	edge(Scrubbing, Swapping, ByBuild),
	edge(Swapping, KeepingOld, ByAWS),
	edge(KeepingOld, Done, ByTimer),

	// Anything before staging runs on the new database can be undone.
	edge(Copying, Undoing, ByAWS, ByTimer, ByOperator),
	edge(Restoring, Undoing, ByAWS, ByTimer, ByOperator),
	edge(Scrubbing, Undoing, ByBuild, ByTimer, ByOperator),
	edge(Swapping, Undoing, ByAWS, ByTimer),
	edge(Undoing, Failed, ByAWS),
}

// Allowed reports whether Table lets a refresh move from one state to
// another for a cause of kind by.
func Allowed(from, to State, by Trigger) bool { return Table.Allowed(from, to, by) }

// RefusedTransition is a move Table does not allow: a bug in the planner.
type RefusedTransition = statetable.Refused[State, Trigger]

// Mermaid renders Table as a Mermaid state diagram.
func Mermaid() string {
	var terminal []State
	for _, s := range States {
		if s.Terminal() {
			terminal = append(terminal, s)
		}
	}
	return Table.Mermaid(terminal)
}
