//go:build unix

package envfile

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// withUmask runs f with the process umask set to mask. The umask is
// process-wide: tests using it must not run in parallel.
func withUmask(t *testing.T, mask int, f func()) {
	t.Helper()
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	f()
}

// hookAfterCreate installs testHookAfterCreate for the rest of the test.
func hookAfterCreate(t *testing.T, f func(tmp string)) {
	t.Helper()
	testHookAfterCreate = f
	t.Cleanup(func() { testHookAfterCreate = nil })
}

func hookFail(t *testing.T, f func(step string) error) {
	t.Helper()
	testHookFail = f
	t.Cleanup(func() { testHookFail = nil })
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestWriteFileAtomicModeFromCreation stats the temporary file right after
// it was created: under umask 0 it already has exactly the requested mode;
// under a strict umask it has fewer bits, never more; the final file has
// exactly the requested mode in both cases.
func TestWriteFileAtomicModeFromCreation(t *testing.T) {
	tests := []struct {
		umask       int
		mode        os.FileMode
		wantCreated os.FileMode
	}{
		{0o000, 0o600, 0o600},
		{0o000, 0o640, 0o640},
		{0o000, 0o400, 0o400},
		{0o077, 0o640, 0o600},
		{0o027, 0o644, 0o640},
		{0o077, 0o600, 0o600},
	}
	for _, tt := range tests {
		name := strconv.FormatUint(uint64(tt.umask), 8) + "_" + strconv.FormatUint(uint64(tt.mode), 8)
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "secrets.sh")
			var created os.FileMode
			var createdSize int64 = -1
			var tmpDir string
			hookAfterCreate(t, func(tmp string) {
				fi, err := os.Lstat(tmp)
				if err != nil {
					t.Errorf("stat temporary file: %v", err)
					return
				}
				created, createdSize, tmpDir = fi.Mode().Perm(), fi.Size(), filepath.Dir(tmp)
			})
			withUmask(t, tt.umask, func() {
				if err := WriteFileAtomic(path, []byte("export A='1'\n"), tt.mode, -1); err != nil {
					t.Fatal(err)
				}
			})
			if created != tt.wantCreated {
				t.Errorf("temporary file created with mode %#o, want %#o", created, tt.wantCreated)
			}
			if created&^tt.mode != 0 {
				t.Errorf("temporary file created with mode %#o, looser than %#o", created, tt.mode)
			}
			if createdSize != 0 {
				t.Errorf("temporary file held %d bytes when created", createdSize)
			}
			if tmpDir != dir {
				t.Errorf("temporary file in %s, want %s", tmpDir, dir)
			}
			if got := perm(t, path); got != tt.mode {
				t.Errorf("final mode %#o, want %#o", got, tt.mode)
			}
			if b, _ := os.ReadFile(path); string(b) != "export A='1'\n" {
				t.Errorf("content %q", b)
			}
			checkOnlyFile(t, dir, "secrets.sh")
		})
	}
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.sh")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("new"), 0o600, -1); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("content %q, want new", b)
	}
	if got := perm(t, path); got != 0o600 {
		t.Errorf("mode %#o, want 0600", got)
	}
	checkOnlyFile(t, dir, "secrets.sh")
}

// A symbolic link at the destination is replaced, not followed.
func TestWriteFileAtomicDoesNotFollowSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("target"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "secrets.sh")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("new"), 0o600, -1); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "target" {
		t.Errorf("symlink target changed to %q", b)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("destination is %v, want a regular file with mode 0600", fi.Mode())
	}
}

// TestWriteFileAtomicFailureLeavesDestination makes each step fail in turn:
// the destination keeps its old content and mode, and no temporary file is
// left behind.
func TestWriteFileAtomicFailureLeavesDestination(t *testing.T) {
	for _, step := range []string{"chmod", "chown", "write", "sync", "close", "rename"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "secrets.sh")
			if err := os.WriteFile(path, []byte("old"), 0o640); err != nil {
				t.Fatal(err)
			}
			injected := errors.New("injected failure")
			reached := false
			hookFail(t, func(s string) error {
				if s == step {
					reached = true
					return injected
				}
				return nil
			})
			err := WriteFileAtomic(path, []byte("new"), 0o600, os.Getgid())
			if !errors.Is(err, injected) {
				t.Fatalf("error %v, want the injected failure", err)
			}
			if !reached {
				t.Fatal("step not reached")
			}
			if b, _ := os.ReadFile(path); string(b) != "old" {
				t.Errorf("destination now holds %q", b)
			}
			if got := perm(t, path); got != 0o640 {
				t.Errorf("destination mode %#o, want 0640", got)
			}
			checkOnlyFile(t, dir, "secrets.sh")
		})
	}
}

func TestWriteFileAtomicDirSyncFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.sh")
	injected := errors.New("injected failure")
	hookFail(t, func(s string) error {
		if s == "dirsync" {
			return injected
		}
		return nil
	})
	err := WriteFileAtomic(path, []byte("new"), 0o600, -1)
	if !errors.Is(err, injected) || !strings.Contains(err.Error(), "file written") {
		t.Fatalf("error %v, want the injected failure saying the file was written", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("destination holds %q", b)
	}
	checkOnlyFile(t, dir, "secrets.sh")
}

func TestWriteFileAtomicRenameOntoDirectoryFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.sh")
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("new"), 0o600, -1); err == nil {
		t.Fatal("no error")
	}
	if fi, err := os.Stat(filepath.Join(path, "inside")); err != nil || !fi.IsDir() {
		t.Errorf("destination directory changed: %v", err)
	}
	checkOnlyFile(t, dir, "secrets.sh")
}

func TestWriteFileAtomicBadArguments(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		mode os.FileMode
		gid  int
	}{
		{"setuid bit", filepath.Join(dir, "a"), os.ModeSetuid | 0o600, -1},
		{"directory mode", filepath.Join(dir, "a"), os.ModeDir | 0o600, -1},
		{"negative gid", filepath.Join(dir, "a"), 0o600, -2},
		{"group write bit", filepath.Join(dir, "a"), 0o660, -1},
		{"others write bit", filepath.Join(dir, "a"), 0o602, -1},
		{"world-writable", filepath.Join(dir, "a"), 0o666, -1},
		{"missing directory", filepath.Join(dir, "missing", "a"), 0o600, -1},
		{"trailing slash", dir + "/", 0o600, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := WriteFileAtomic(tc.path, []byte("x"), tc.mode, tc.gid); err == nil {
				t.Fatal("no error")
			}
			checkOnlyFile(t, dir)
		})
	}
}

// otherGroup returns a group id other than the process's, which the process
// may chown to (any group when running as root).
func otherGroup(t *testing.T) int {
	t.Helper()
	if os.Geteuid() == 0 {
		for _, name := range []string{"daemon", "bin", "sys", "adm", "nogroup"} {
			if g, err := user.LookupGroup(name); err == nil {
				if id, err := strconv.Atoi(g.Gid); err == nil && id != os.Getgid() {
					return id
				}
			}
		}
	}
	groups, _ := os.Getgroups()
	for _, g := range groups {
		if g != os.Getgid() {
			return g
		}
	}
	// Not a missing tool: an unprivileged user in a single group has no
	// group it may chown to.
	t.Skip("chown to another group not checked: not root and no supplementary group")
	return -1
}

func TestWriteFileAtomicGroup(t *testing.T) {
	gid := otherGroup(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.sh")
	if err := WriteFileAtomic(path, []byte("x"), 0o640, gid); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := int(fi.Sys().(*syscall.Stat_t).Gid); got != gid {
		t.Errorf("group %d, want %d", got, gid)
	}
	if got := fi.Mode().Perm(); got != 0o640 {
		t.Errorf("mode %#o, want 0640", got)
	}

	// gid -1 leaves the group as created.
	path2 := filepath.Join(dir, "unchanged.sh")
	if err := WriteFileAtomic(path2, []byte("x"), 0o600, -1); err != nil {
		t.Fatal(err)
	}
	fi2, err := os.Stat(path2)
	if err != nil {
		t.Fatal(err)
	}
	dirFi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A new file gets the process's group, or the directory's with setgid.
	want := uint32(os.Getegid())
	if dirFi.Mode()&os.ModeSetgid != 0 {
		want = dirFi.Sys().(*syscall.Stat_t).Gid
	}
	if got := fi2.Sys().(*syscall.Stat_t).Gid; got != want {
		t.Errorf("group %d, want %d", got, want)
	}
}
