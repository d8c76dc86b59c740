package statetable

import (
	"errors"
	"strings"
	"testing"
)

type st string
type tr string

var table = Table[st, tr]{
	{From: "", To: "a", By: []tr{"new"}},
	{From: "a", To: "b", By: []tr{"x", "y"}},
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		from, to st
		by       tr
		want     bool
	}{
		{"", "a", "new", true},
		{"a", "b", "y", true},
		{"a", "b", "z", false}, // a cause of another kind
		{"b", "a", "x", false}, // not in the table
	} {
		if got := table.Allowed(tc.from, tc.to, tc.by); got != tc.want {
			t.Errorf("Allowed(%q, %q, %q) = %v, want %v", tc.from, tc.to, tc.by, got, tc.want)
		}
	}
}

func TestRefusedAndMermaid(t *testing.T) {
	var err error = &Refused[st, tr]{Kind: "release", ID: "r1", To: "b", By: "z"}
	var r *Refused[st, tr]
	if !errors.As(err, &r) || err.Error() != "release r1: transition (new) → b by z is not in the state table" {
		t.Fatalf("Refused = %q", err)
	}
	m := table.Mermaid([]st{"b"})
	for _, want := range []string{"stateDiagram-v2\n", "    [*] --> a: new\n", "    a --> b: x, y\n", "    b --> [*]\n"} {
		if !strings.Contains(m, want) {
			t.Errorf("Mermaid lacks %q:\n%s", want, m)
		}
	}
}
