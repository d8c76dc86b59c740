//go:build unix

package envfile

// Tests for mutants that survived `make mutate`: each fails when the
// change it names is made to the code.

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"
)

// A NUL is refused wherever it is, the first byte included. (Mutant:
// `IndexByte(value, 0) > 0`.)
func TestRenderRefusesLeadingNUL(t *testing.T) {
	for _, in := range []string{`{"A":"\u0000"}`, `{"A":"\u0000x"}`, `{"A":"x\u0000"}`} {
		if _, err := Render([]byte(in), Options{}); err == nil || !strings.Contains(err.Error(), "NUL") {
			t.Errorf("Render(%s): %v, want the NUL refused", in, err)
		}
	}
}

// Surrogate escapes are read in either case of hex digit, and a pair is a
// pair exactly when the low half is in DC00-DFFF. (Mutants: the A-F digits
// misread; the low half's bounds made exclusive.)
func TestUnpairedSurrogateEdges(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want bool
	}{
		{`"\uD83D\uDE00"`, false}, // upper-case pair
		{`"\ud83d\ude00"`, false},
		{`"\uDBFF\uDFFF"`, false}, // the last pair
		{`"\uD800\uDC00"`, false}, // the first pair
		{`"\uDBFF"`, true},
		{`"\uDC00"`, true},
		{`"\uDFFF"`, true},
		{`"\uD800\uDBFF"`, true}, // a high half after a high half
		{`"\uD800\uE000"`, true}, // followed by a character past the low halves
		{`"\uD800\u0041"`, true},
		{`"\uD7FF\uE000"`, false}, // just outside the surrogates
		{`"\uABCD\uEF01"`, false},
	} {
		if got := unpairedSurrogate([]byte(c.raw)); got != c.want {
			t.Errorf("unpairedSurrogate(%s) = %v, want %v", c.raw, got, c.want)
		}
	}
}

// systemd refuses exactly the noncharacters and U+FEFF.
func TestSystemdRejectsEdges(t *testing.T) {
	for r, want := range map[rune]bool{
		0xFDCF: false, 0xFDD0: true, 0xFDEF: true, 0xFDF0: false,
		0xFEFF: true, 0xFFFD: false, 0xFFFE: true, 0xFFFF: true, 0x1FFFE: true, 0x10FFFF: true, 0x10FFFD: false,
	} {
		s := "ab" + string(r)
		off, got := systemdRejects(s)
		if got != want || (want && off != 2) {
			t.Errorf("systemdRejects(%U) = %d, %v; want %v at offset 2", r, off, got, want)
		}
	}
}

// Error messages show a key whole up to 64 bytes, and cut a longer one at
// a character boundary.
func TestQkeyLengths(t *testing.T) {
	k64 := strings.Repeat("k", 64)
	if got := qkey(k64); got != strconv.Quote(k64) {
		t.Errorf("qkey(64 bytes) = %s, want it whole", got)
	}
	k65 := strings.Repeat("k", 65)
	if got, want := qkey(k65), fmt.Sprintf("%q... (65 bytes)", k65[:64]); got != want {
		t.Errorf("qkey(65 bytes) = %s, want %s", got, want)
	}
	// é takes bytes 63 and 64: the cut goes before it.
	k := strings.Repeat("a", 63) + "é" + strings.Repeat("b", 10)
	got := qkey(k)
	if want := fmt.Sprintf("%q... (%d bytes)", k[:63], len(k)); got != want {
		t.Errorf("qkey cut inside a character: %s, want %s", got, want)
	}
	if uq, err := strconv.Unquote(strings.SplitN(got, "...", 2)[0]); err != nil || !utf8.ValidString(uq) {
		t.Errorf("qkey(%q) shows invalid UTF-8: %s", k, got)
	}
}

// invalidUTF8Offset names the first bad byte, or the length of valid input.
func TestInvalidUTF8Offset(t *testing.T) {
	for in, want := range map[string]int{"": 0, "abc": 3, "é": 2, "ab\xffc": 2, "\xc3": 0, "é\xe2\x82": 2} {
		if got := invalidUTF8Offset([]byte(in)); got != want {
			t.Errorf("invalidUTF8Offset(%q) = %d, want %d", in, got, want)
		}
	}
}

// An invalid name is reported as the key when there is no prefix, and as
// the prefixed name when there is one.
func TestInvalidNameMessageNamesWhatIsWrong(t *testing.T) {
	_, err := Render([]byte(`{"a-b":"1"}`), Options{})
	if err == nil || !strings.Contains(err.Error(), `key "a-b" is not a valid environment variable name`) {
		t.Errorf("without a prefix: %v", err)
	}
	_, err = Render([]byte(`{"a-b":"1"}`), Options{Prefix: "APP_"})
	if err == nil || !strings.Contains(err.Error(), `key "a-b": name "APP_a-b" is not a valid environment variable name`) {
		t.Errorf("with a prefix: %v", err)
	}
}

// Without --group the file keeps the group it was created with; with one,
// only the group changes, never the owner. (Mutants: the CLI's default
// group id -1 changed; WriteFileAtomic's chown touching the owner.)
func TestGroupChangesOnlyTheGroup(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "default.env")
	if r := runCLI(t, []string{"--out", out}, `{"A":"1"}`, nil); r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := ownership(t, dir) // what a new file in dir gets
	if got := ownership(t, out); got != want {
		t.Errorf("without --group: owner:group %s, want %s", got, want)
	}

	gid := otherGroup(t)
	path := filepath.Join(dir, "group.env")
	if err := WriteFileAtomic(path, []byte("x"), 0o640, gid); err != nil {
		t.Fatal(err)
	}
	if got, want := ownership(t, path), fmt.Sprintf("%d:%d", os.Geteuid(), gid); got != want {
		t.Errorf("with group %d: owner:group %s, want %s", gid, got, want)
	}
}

// ownership is "uid:gid" of path; for a directory, that of a new file in it
// (the directory's group when it is set-group-id).
func ownership(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.IsDir() {
		gid := os.Getegid()
		if fi.Mode()&os.ModeSetgid != 0 {
			gid = int(st.Gid)
		}
		return fmt.Sprintf("%d:%d", os.Geteuid(), gid)
	}
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

// A group given by name resolves to its own id, not to root's. (Mutant:
// lookupGroup's error test negated, which answers 0 for every name.)
func TestLookupGroupByNameOtherThanRoot(t *testing.T) {
	for _, name := range []string{"daemon", "bin", "sys", "adm", "nogroup", "users"} {
		g, err := user.LookupGroup(name)
		if err != nil || g.Gid == "0" {
			continue
		}
		got, err := lookupGroup(name)
		if err != nil || strconv.Itoa(got) != g.Gid {
			t.Errorf("lookupGroup(%q) = %d, %v; want %s", name, got, err, g.Gid)
		}
		return
	}
	// Not a missing tool: a system without these standard groups.
	t.Skip("lookup by name of a non-root group not checked: none of daemon, bin, sys, adm, nogroup, users exists")
}
