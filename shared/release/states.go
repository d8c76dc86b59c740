package release

import (
	"encoding/json"
	"fmt"
	"github.com/kaizen-sre/kaizen/shared/statetable"
	"slices"
	"strings"
	"time"
)

// State is where a release stands. Every state a release can be in is a
// State, and Table lists every move between them: the timestamps on the
// record (PreviewReadyAt, WindowWaitSince, BakeUntil ...) and the weight of
// a shift are data, never a hidden sub-state.
type State string

const (
	// None is where a release is before it is recorded: the From of its
	// first transition.
	None State = ""

	Staged       State = "staged"        // on the idle color; the preview is coming up
	PreviewReady State = "preview_ready" // healthy on the preview: awaiting approval
	// Unhealthy: a guard alarm fired while the release was staged. An
	// approval of it is refused; a newer AMI, a rejection or an abort ends it.
	Unhealthy State = "unhealthy"

	Promoting        State = "promoting"          // approved; capacity matched, waiting for health
	WaitingForWindow State = "waiting_for_window" // approved, but the change window is closed
	Shifting         State = "shifting"           // the public moves in weighted steps
	Baking           State = "baking"             // public on the new color; the old one stays warm
	// RollingBack: a rollback was decided and its listener call is not
	// known to have gone through. A record says so only when that call
	// failed; the next step makes it again.
	RollingBack State = "rolling_back"

	Done       State = "done"        // bake finished, old color retired
	Abandoned  State = "abandoned"   // rejected at approval, or aborted before approval
	Superseded State = "superseded"  // a newer AMI replaced it before approval
	Failed     State = "failed"      // no health or no window in time, stopped before cutover, or taken over
	RolledBack State = "rolled_back" // the public went back to the previous color
)

// States lists every state in the order a release meets them.
var States = []State{Staged, PreviewReady, Unhealthy, Promoting, WaitingForWindow, Shifting, Baking, RollingBack,
	Done, Abandoned, Superseded, Failed, RolledBack}

// Terminal reports whether a release in state s is finished.
func (s State) Terminal() bool {
	switch s {
	case Done, Abandoned, Superseded, Failed, RolledBack:
		return true
	}
	return false
}

// Known reports whether s is one of States.
func (s State) Known() bool { return slices.Contains(States, s) }

// BeforeApproval reports whether a release in state s sits on the idle
// color, not approved: a newer AMI supersedes it, a rejection or an abort
// abandons it, and nothing may queue behind it.
func (s State) BeforeApproval() bool {
	return s == Staged || s == PreviewReady || s == Unhealthy
}

// Phase is the coarse state people (and kaizen before its sub-states were
// explicit) call s: staged, promoting or baking; any other state is its
// own phase.
func (s State) Phase() State {
	switch s {
	case PreviewReady, Unhealthy:
		return Staged
	case WaitingForWindow, Shifting:
		return Promoting
	}
	return s
}

// Trigger is the kind of cause that moves a release from one state to
// another.
type Trigger string

const (
	ByImage     Trigger = "image"     // a newer AMI (or the one that waited in the queue)
	ByHealth    Trigger = "health"    // enough targets observed healthy
	ByApproval  Trigger = "approval"  // approved: the pipeline, kaizen promote, or autoPromote
	ByRejection Trigger = "rejection" // rejected at the approval action
	ByWindow    Trigger = "window"    // the change window closed or opened
	ByTimer     Trigger = "timer"     // a recorded deadline passed (step, bake, cutover timeout, window wait)
	ByGuard     Trigger = "guard"     // a guard alarm fired
	ByOperator  Trigger = "operator"  // a person's abort or rollback
	ByAnalysis  Trigger = "analysis"  // the release's own metrics failed their analysis (analysis.go)
	// ByListener: the public is found where the record did not put it (a
	// switch by hand, a cutover whose record was lost), or the rollback's
	// own listener call moved it.
	ByListener Trigger = "listener"
)

// Edge is an allowed transition and the kinds of cause that may take it.
type Edge = statetable.Edge[State, Trigger]

func edge(from, to State, by ...Trigger) Edge { return Edge{From: from, To: to, By: by} }

// Table is the state table of a release: every move the planner may make.
// Release.move refuses any other. The README's diagram is generated from
// it (kaizen states --mermaid).
var Table = statetable.Table[State, Trigger]{
	edge(None, Staged, ByImage),

	// Staged, previewed from the office, then approved (or not).
	edge(Staged, PreviewReady, ByHealth),
	edge(Staged, Unhealthy, ByGuard, ByAnalysis),
	edge(PreviewReady, Unhealthy, ByGuard, ByAnalysis),
	edge(PreviewReady, Promoting, ByApproval),
	edge(Staged, Superseded, ByImage),
	edge(PreviewReady, Superseded, ByImage),
	edge(Unhealthy, Superseded, ByImage),
	edge(Staged, Abandoned, ByRejection, ByOperator),
	edge(PreviewReady, Abandoned, ByRejection, ByOperator),
	edge(Unhealthy, Abandoned, ByRejection, ByOperator),
	edge(Staged, Failed, ByListener),
	edge(PreviewReady, Failed, ByListener),
	edge(Unhealthy, Failed, ByListener),

	// Approved: capacity, change window, health, then the public moves.
	edge(Promoting, WaitingForWindow, ByWindow),
	edge(WaitingForWindow, Promoting, ByWindow),
	edge(Promoting, Shifting, ByHealth),
	edge(Promoting, Baking, ByHealth, ByListener),
	edge(WaitingForWindow, Baking, ByListener),
	edge(Promoting, Failed, ByTimer, ByGuard, ByOperator),
	edge(WaitingForWindow, Failed, ByTimer, ByGuard, ByOperator),
	edge(Shifting, Baking, ByTimer),

	// The public is on the new color: bake, or go back.
	edge(Shifting, RollingBack, ByGuard, ByAnalysis, ByOperator),
	edge(Shifting, RolledBack, ByListener),
	edge(Baking, Done, ByTimer),
	edge(Baking, RollingBack, ByGuard, ByAnalysis, ByOperator),
	edge(Baking, RolledBack, ByListener),
	edge(RollingBack, RolledBack, ByListener),
}

// Allowed reports whether Table lets a release move from one state to
// another for a cause of kind by.
func Allowed(from, to State, by Trigger) bool { return Table.Allowed(from, to, by) }

// RefusedTransition is a move Table does not allow: a bug in the planner.
type RefusedTransition = statetable.Refused[State, Trigger]

// move records a state change with its cause, if Table allows it.
func (r *Release) move(to State, by Trigger, at time.Time, cause string) error {
	if !Allowed(r.State, to, by) {
		return &RefusedTransition{Kind: "release", ID: r.ID, From: r.State, To: to, By: by}
	}
	r.History = append(r.History, Transition{At: at, From: r.State, To: to, By: by, Cause: cause})
	r.State = to
	if to.Terminal() {
		r.EndedAt = at
	}
	return nil
}

// UnmarshalJSON reads records of every kaizen version. Records written
// before the sub-states were explicit said "staged", "promoting" or
// "baking" and kept the rest in flags (unhealthy, rollbackPending) and
// data (previewReadyAt, weight); the state is derived from them. One that
// waited for its change window loads as promoting: the next step finds the
// window closed and moves it to waiting_for_window again.
func (r *Release) UnmarshalJSON(b []byte) error {
	type plain Release // without this method
	var v struct {
		plain
		OldUnhealthy       string `json:"unhealthy"`
		OldRollbackPending string `json:"rollbackPending"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Release(v.plain)
	switch {
	case r.State == Staged && v.OldUnhealthy != "":
		r.State, r.Reason = Unhealthy, v.OldUnhealthy
	case r.State == Staged && !r.PreviewReadyAt.IsZero():
		r.State = PreviewReady
	case (r.State == Promoting || r.State == Baking) && v.OldRollbackPending != "":
		r.State, r.Reason = RollingBack, v.OldRollbackPending
	case r.State == Promoting && r.Weight > 0:
		r.State = Shifting
	}
	return nil
}

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

// Dot renders Table as a Graphviz digraph.
func Dot() string {
	var b strings.Builder
	b.WriteString("digraph release {\n    rankdir=LR;\n    node [shape=box, style=rounded];\n    new [shape=point];\n")
	for _, s := range States {
		if s.Terminal() {
			fmt.Fprintf(&b, "    %s [peripheries=2];\n", s)
		}
	}
	for _, e := range Table {
		from := string(e.From)
		if e.From == None {
			from = "new"
		}
		fmt.Fprintf(&b, "    %s -> %s [label=%q];\n", from, e.To, statetable.Triggers(e.By))
	}
	b.WriteString("}\n")
	return b.String()
}
