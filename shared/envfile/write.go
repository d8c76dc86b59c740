package envfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Test hooks, nil in production.
var (
	// testHookAfterCreate is called with the temporary file's path right
	// after it was created, before anything else is done to it.
	testHookAfterCreate func(tmpPath string)
	// testHookFail, when it returns an error for a step, makes
	// WriteFileAtomic fail at that step as if the system call had failed.
	// Steps: "chmod", "chown", "write", "sync", "close", "rename", "dirsync".
	testHookFail func(step string) error
)

func failpoint(step string) error {
	if testHookFail != nil {
		return testHookFail(step)
	}
	return nil
}

// WriteFileAtomic replaces the file at path with data, so that readers see
// either the old file or the complete new one, and the data is never readable
// with looser permissions than mode.
//
// It creates a temporary file in path's directory with O_CREATE|O_EXCL and
// mode (so the file never has more permission bits than mode, whatever the
// umask), sets exactly mode with chmod (undoing the umask), changes its group
// to gid unless gid is -1, writes data, fsyncs and closes it, renames it onto
// path and fsyncs the directory. mode may only hold permission bits, and no
// group or others write bit (0o022).
//
// On an error before the rename the temporary file is removed and path is
// untouched. If only the final fsync of the directory fails, the new file is
// in place and the error says so.
func WriteFileAtomic(path string, data []byte, mode os.FileMode, gid int) (err error) {
	if mode&^os.ModePerm != 0 {
		return fmt.Errorf("write %s: mode %#o has bits other than permission bits", path, uint32(mode))
	}
	if mode&0o022 != 0 {
		return fmt.Errorf("write %s: mode %#o lets group or others write the file", path, uint32(mode))
	}
	if gid < -1 {
		return fmt.Errorf("write %s: invalid group id %d", path, gid)
	}
	dir, base := filepath.Split(path)
	if base == "" || base == "." || base == ".." {
		return fmt.Errorf("write %s: not a file name", path)
	}
	if dir == "" {
		dir = "."
	}
	if len(base) > 100 { // keep the temporary name under NAME_MAX
		base = base[:100]
	}

	var f *os.File
	var tmp string
	for range 100 {
		var rnd [8]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		tmp = filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(rnd[:]))
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err == nil || !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: create temporary file: %w", path, err)
	}
	closed, renamed := false, false
	defer func() {
		if err != nil && !renamed {
			if !closed {
				f.Close()
			}
			os.Remove(tmp)
		}
	}()
	if testHookAfterCreate != nil {
		testHookAfterCreate(tmp)
	}

	// The umask may have removed bits at creation; set exactly mode.
	if err = failpoint("chmod"); err == nil {
		err = f.Chmod(mode)
	}
	if err != nil {
		return fmt.Errorf("write %s: chmod temporary file: %w", path, err)
	}
	if gid != -1 {
		if err = failpoint("chown"); err == nil {
			err = f.Chown(-1, gid)
		}
		if err != nil {
			return fmt.Errorf("write %s: chown temporary file to group %d: %w", path, gid, err)
		}
		// chown may clear bits for some file systems or callers; set again.
		if err = f.Chmod(mode); err != nil {
			return fmt.Errorf("write %s: chmod temporary file: %w", path, err)
		}
	}
	if err = failpoint("write"); err == nil {
		_, err = f.Write(data)
	}
	if err != nil {
		return fmt.Errorf("write %s: write temporary file: %w", path, err)
	}
	if err = failpoint("sync"); err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fmt.Errorf("write %s: fsync temporary file: %w", path, err)
	}
	closed = true
	if err = failpoint("close"); err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("write %s: close temporary file: %w", path, err)
	}
	if err = failpoint("rename"); err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("write %s: rename temporary file: %w", path, err)
	}
	renamed = true

	// The new file is in place: report a failure for what it is.
	derr := failpoint("dirsync")
	var d *os.File
	if derr == nil {
		d, derr = os.Open(dir)
	}
	if derr == nil {
		derr = d.Sync()
		if cerr := d.Close(); derr == nil {
			derr = cerr
		}
	}
	if derr != nil {
		return &dirSyncError{path: path, err: derr}
	}
	return nil
}

// dirSyncError is returned when path was replaced but its directory could
// not be fsynced.
type dirSyncError struct {
	path string
	err  error
}

func (e *dirSyncError) Error() string {
	return fmt.Sprintf("write %s: file written, but fsync of its directory failed: %v", e.path, e.err)
}

func (e *dirSyncError) Unwrap() error { return e.err }
