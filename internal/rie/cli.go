package rie

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BuildCLI builds cmd/kaizen of the repository at root into dir and returns
// the binary's path. It takes no test, so that a TestMain can build it in
// the background.
func BuildCLI(root, dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is not on PATH; it builds cmd/kaizen for these tests: %v", err)
	}
	bin := filepath.Join(dir, "kaizen")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/kaizen")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/kaizen: %v\n%s", err, out)
	}
	return bin, nil
}

// RunCLI runs the kaizen CLI at bin from the repository root with exactly
// env (nil: the test's own environment) and returns its exit code and
// output. Failing to start, or still running after timeout (it is then
// killed), fails the test.
func RunCLI(t testing.TB, bin string, env []string, timeout time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = RepoRoot(t)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// A killed CLI's output is read after Wait; a child left holding its
	// pipes must not hold Wait up.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("kaizen %s: %v", strings.Join(args, " "), err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errb.String()
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("kaizen %s: still running after %s\n%s%s", strings.Join(args, " "), timeout, out.String(), errb.String())
	}
	return 0, "", ""
}
