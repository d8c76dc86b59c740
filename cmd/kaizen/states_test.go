package main

import (
	"os"
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/shared/release"
)

// The README's diagram is the planner's table: regenerate it with
// `go run ./cmd/kaizen states --mermaid` when the table changes.
func TestStatesDiagramInREADME(t *testing.T) {
	b, err := os.ReadFile("README.md") // TestMain runs from the repo root
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- states:begin -->\n", "<!-- states:end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q block", strings.TrimSpace(begin), end)
	}
	code, out, errs := kz(t, "states", "--mermaid")
	if code != 0 {
		t.Fatalf("kaizen states --mermaid: exit %d, %s", code, errs)
	}
	if got, want := s[i+len(begin):j], "```mermaid\n"+out+"```\n"; got != want {
		t.Fatalf("README.md's state diagram differs from the planner's table; replace the block with the output of `go run ./cmd/kaizen states --mermaid`\nREADME:\n%s\ntable:\n%s", got, want)
	}
}

func TestStatesCommand(t *testing.T) {
	code, out, _ := kz(t, "states")
	if code != 0 || strings.Count(out, "\n") != len(release.Table)+1 || !strings.Contains(out, "preview_ready       promoting           approval") {
		t.Fatalf("kaizen states: exit %d\n%s", code, out)
	}
	code, out, _ = kz(t, "states", "--dot")
	if code != 0 || !strings.HasPrefix(out, "digraph release {") || strings.Count(out, " -> ") != len(release.Table) {
		t.Fatalf("kaizen states --dot: exit %d\n%s", code, out)
	}
	for _, s := range release.States {
		if !strings.Contains(out, " "+string(s)+" ") && !strings.Contains(out, " "+string(s)+";") {
			t.Errorf("--dot lacks state %s", s)
		}
	}
	if code, out, errs := kz(t, "states", "--dot", "--mermaid"); code != 2 || out != "" || !strings.Contains(errs, "Usage") {
		t.Fatalf("states --dot --mermaid: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
