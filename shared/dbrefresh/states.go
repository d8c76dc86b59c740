package dbrefresh

import (
	"fmt"
	"slices"
	"strings"
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
type Edge struct {
	From State     `json:"from"`
	To   State     `json:"to"`
	By   []Trigger `json:"by"`
}

// Table is the state table of a refresh: every move the planner may make.
// A move it does not list is a planner bug: the plan is dropped.
var Table = []Edge{
	{None, Copying, []Trigger{BySnapshot, BySchedule, ByOperator}},

	{Copying, Restoring, []Trigger{ByAWS}},
	{Restoring, Scrubbing, []Trigger{ByAWS}},
	{Scrubbing, Swapping, []Trigger{ByBuild}},
	{Swapping, KeepingOld, []Trigger{ByAWS}},
	{KeepingOld, Done, []Trigger{ByTimer}},

	// Anything before staging runs on the new database can be undone.
	{Copying, Undoing, []Trigger{ByAWS, ByTimer, ByOperator}},
	{Restoring, Undoing, []Trigger{ByAWS, ByTimer, ByOperator}},
	{Scrubbing, Undoing, []Trigger{ByBuild, ByTimer, ByOperator}},
	{Swapping, Undoing, []Trigger{ByAWS, ByTimer}},
	{Undoing, Failed, []Trigger{ByAWS}},
}

// Allowed reports whether Table lets a refresh move from one state to
// another for a cause of kind by.
func Allowed(from, to State, by Trigger) bool {
	for _, e := range Table {
		if e.From == from && e.To == to {
			return slices.Contains(e.By, by)
		}
	}
	return false
}

// RefusedTransition is a move Table does not allow: a bug in the planner.
type RefusedTransition struct {
	ID       string
	From, To State
	By       Trigger
}

func (e *RefusedTransition) Error() string {
	from := string(e.From)
	if from == "" {
		from = "(new)"
	}
	return fmt.Sprintf("refresh %s: transition %s → %s by %s is not in the state table", e.ID, from, e.To, e.By)
}

// Mermaid renders Table as a Mermaid state diagram.
func Mermaid() string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	node := func(s State) string {
		if s == None {
			return "[*]"
		}
		return string(s)
	}
	for _, e := range Table {
		by := make([]string, len(e.By))
		for i, t := range e.By {
			by[i] = string(t)
		}
		fmt.Fprintf(&b, "    %s --> %s: %s\n", node(e.From), node(e.To), strings.Join(by, ", "))
	}
	for _, s := range States {
		if s.Terminal() {
			fmt.Fprintf(&b, "    %s --> [*]\n", s)
		}
	}
	return b.String()
}
