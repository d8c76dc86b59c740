package stacks

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kaizen-sre/kaizen/shared/route"
)

// Files in every function's asset directory. The functions find their
// configuration through KAIZEN_CONFIG, which points at ConfigFile under
// /var/task (where Lambda unpacks the asset).
const (
	BootstrapFile = "bootstrap"
	ConfigFile    = "kaizen.json"
	TaskRoot      = "/var/task"
)

// Asset is one function's staged code: a directory with exactly the
// bootstrap and the configuration, and a hash of their bytes.
type Asset struct {
	Dir string
	// Hash covers the file names, modes and contents, nothing else (no
	// mtimes, no absolute paths), so the same inputs give the same asset hash
	// on any machine and in any checkout.
	Hash string
}

// StageAssets copies each function's prebuilt bootstrap from
// assetsDir/<fn>/bootstrap and the configuration bytes into
// stagingDir/<fn>/, replacing whatever was there, and returns the staged
// directories by function name.
func StageAssets(assetsDir, stagingDir string, configJSON []byte) (map[string]Asset, error) {
	if len(configJSON) == 0 {
		return nil, errors.New("stage assets: empty configuration")
	}
	assets := make(map[string]Asset, len(route.Functions))
	for _, fn := range route.Functions {
		src := filepath.Join(assetsDir, fn, BootstrapFile)
		bootstrap, err := os.ReadFile(src)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("stage assets: %s is missing: build the functions first (make build), or point the context key kaizen:assets at a directory with <function>/bootstrap", src)
		}
		if err != nil {
			return nil, fmt.Errorf("stage assets: %w", err)
		}
		if len(bootstrap) == 0 {
			return nil, fmt.Errorf("stage assets: %s is empty", src)
		}
		dir, err := filepath.Abs(filepath.Join(stagingDir, fn))
		if err != nil {
			return nil, fmt.Errorf("stage assets: %w", err)
		}
		files := []stagedFile{
			{name: BootstrapFile, mode: 0o755, data: bootstrap},
			{name: ConfigFile, mode: 0o644, data: configJSON},
		}
		if err := writeDir(dir, files); err != nil {
			return nil, fmt.Errorf("stage assets: %s: %w", fn, err)
		}
		assets[fn] = Asset{Dir: dir, Hash: hashFiles(files)}
	}
	return assets, nil
}

type stagedFile struct {
	name string
	mode fs.FileMode
	data []byte
}

// writeDir makes dir hold exactly files. A file whose bytes and mode are
// already right is left alone; any other is replaced through a rename, so a
// reader never sees a half-written bootstrap.
func writeDir(dir string, files []stagedFile) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, f := range files {
		want[f.name] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !want[e.Name()] {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() && st.Mode().Perm() == f.mode {
			if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, f.data) {
				continue
			}
		}
		tmp, err := os.CreateTemp(dir, "."+f.name+".*")
		if err != nil {
			return err
		}
		_, werr := tmp.Write(f.data)
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), f.mode)); err != nil {
			os.Remove(tmp.Name())
			return err
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			os.Remove(tmp.Name())
			return err
		}
	}
	return nil
}

func hashFiles(files []stagedFile) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", f.name, f.mode, len(f.data))
		h.Write(f.data)
	}
	return hex.EncodeToString(h.Sum(nil))
}
