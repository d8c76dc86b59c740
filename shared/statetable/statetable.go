// Package statetable is the shape kaizen's state machines share (a
// release's, shared/release; a database refresh's, shared/dbrefresh): a
// table of allowed moves, each with the kinds of cause that may make it,
// checked on every move and drawn for people.
package statetable

import (
	"fmt"
	"slices"
	"strings"
)

// Edge is one allowed move: From → To, for a cause of one of the kinds By.
// The zero From is "new" (the record does not exist yet).
type Edge[S, T ~string] struct {
	From S   `json:"from"`
	To   S   `json:"to"`
	By   []T `json:"by"`
}

// Table lists every move a planner may make; a move it does not list is a
// planner bug.
type Table[S, T ~string] []Edge[S, T]

// Allowed reports whether the table lets a record move from one state to
// another for a cause of kind by.
func (t Table[S, T]) Allowed(from, to S, by T) bool {
	for _, e := range t {
		if e.From == from && e.To == to {
			return slices.Contains(e.By, by)
		}
	}
	return false
}

// Refused is a move the table does not allow: a bug in the planner. Kind
// names the record ("release", "refresh").
type Refused[S, T ~string] struct {
	Kind, ID string
	From, To S
	By       T
}

func (e *Refused[S, T]) Error() string {
	from := string(e.From)
	if from == "" {
		from = "(new)"
	}
	return fmt.Sprintf("%s %s: transition %s → %s by %s is not in the state table", e.Kind, e.ID, from, e.To, e.By)
}

// Triggers joins the kinds of an edge's causes for people.
func Triggers[T ~string](ts []T) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return strings.Join(out, ", ")
}

// Mermaid renders the table as a Mermaid state diagram; terminal states
// end in [*].
func (t Table[S, T]) Mermaid(terminal []S) string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	node := func(s S) string {
		if s == "" {
			return "[*]"
		}
		return string(s)
	}
	for _, e := range t {
		fmt.Fprintf(&b, "    %s --> %s: %s\n", node(e.From), node(e.To), Triggers(e.By))
	}
	for _, s := range terminal {
		fmt.Fprintf(&b, "    %s --> [*]\n", s)
	}
	return b.String()
}
