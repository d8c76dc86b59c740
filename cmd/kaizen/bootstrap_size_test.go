package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBootstrapSizes builds every function's arm64 bootstrap exactly as
// `make build-arm64` does (the Makefile's own rule, into a scratch BUILD
// directory: one `go build` for all functions) and fails if any is larger
// than maxBootstrapBytes (12 MiB). What makes a bootstrap grow is rarely
// its own code: a reflective method lookup anywhere (reflect.Type.Method)
// keeps every exported method of every type, and importing an SDK service
// package links its whole schema table; see shared/awsapi and
// shared/lambdamain.
func TestBootstrapSizes(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make: %v (the test builds with the Makefile's rule)", err)
	}
	out := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "BUILD="+out, "build-arm64") // cwd: the repo root (TestMain)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build-arm64: %v\n%s", err, b)
	}
	fns, err := os.ReadDir("functions")
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range fns {
		if !fn.IsDir() {
			continue
		}
		fi, err := os.Stat(filepath.Join(out, "arm64", fn.Name(), "bootstrap"))
		if err != nil {
			t.Errorf("%s: %v", fn.Name(), err)
			continue
		}
		t.Logf("%-13s %s", fn.Name(), mib(fi.Size()))
		if fi.Size() > maxBootstrapBytes {
			t.Errorf("%s: bootstrap is %s (%d bytes), over the %s budget", fn.Name(), mib(fi.Size()), fi.Size(), mib(maxBootstrapBytes))
		}
	}
}
