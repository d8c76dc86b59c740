// Package rie runs kaizen's packaged Lambda functions under the AWS Lambda
// Runtime Interface Emulator (bin/aws-lambda-rie), for the tests that drive
// them as built: e2e (against the simulated AWS over HTTP) and conformance
// (against moto). It finds the emulator and the host bootstraps, warns when
// the bootstraps are older than their sources, starts a function with an
// environment, invokes it over the emulator's HTTP API, and builds and runs
// the kaizen CLI.
//
// What cannot be found or started fails the test with the command that
// fixes it; nothing here skips.
package rie

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/internal/testenv"
)

// fixBuild is what installs the emulator and builds the bootstraps.
const fixBuild = "run `make deps build-host` (it installs bin/aws-lambda-rie and builds build/lambda/host/<function>/bootstrap)"

// RepoRoot is the repository root; it fails the test when there is none
// above the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	r, err := testenv.Root()
	if err != nil {
		t.Fatalf("rie: %v", err)
	}
	return r
}

// Bin is the emulator binary; it fails the test when it is not installed.
func Bin(t testing.TB) string {
	t.Helper()
	return mustExecutable(t, filepath.Join(RepoRoot(t), "bin", "aws-lambda-rie"))
}

// Bootstrap is fn's host binary (build/lambda/host/fn/bootstrap); it fails
// the test when it is not built. A binary older than its sources is only
// reported, by WarnStale.
func Bootstrap(t testing.TB, fn string) string {
	t.Helper()
	return mustExecutable(t, bootstrapPath(RepoRoot(t), fn))
}

func bootstrapPath(root, fn string) string {
	return filepath.Join(root, "build", "lambda", "host", fn, "bootstrap")
}

func mustExecutable(t testing.TB, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		t.Fatalf("rie: %s is missing: %s", path, fixBuild)
	case fi.IsDir() || fi.Mode()&0o111 == 0:
		t.Fatalf("rie: %s is not an executable file: %s", path, fixBuild)
	}
	return path
}

var staleOnce sync.Once

// WarnStale logs, once per test binary, when a Go source under functions/
// or shared/ is newer than the oldest of fns' bootstraps: `go test` alone
// does not rebuild them (`make test` does), and the tests run the binaries
// as built.
func WarnStale(t testing.TB, fns []string) {
	staleOnce.Do(func() {
		r := RepoRoot(t)
		var oldest time.Time
		for _, fn := range fns {
			if fi, err := os.Stat(bootstrapPath(r, fn)); err == nil && (oldest.IsZero() || fi.ModTime().Before(oldest)) {
				oldest = fi.ModTime()
			}
		}
		if oldest.IsZero() {
			return
		}
		var newer string
		for _, dir := range []string{"functions", "shared"} {
			_ = filepath.WalkDir(filepath.Join(r, dir), func(p string, d os.DirEntry, err error) error {
				if err != nil || newer != "" || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
					return nil
				}
				if fi, err := d.Info(); err == nil && fi.ModTime().After(oldest) {
					newer = p
				}
				return nil
			})
		}
		if newer != "" {
			t.Logf("WARNING: %s is newer than the bootstraps under build/lambda/host; these tests run the binaries as built: run `make build-host` to test the current code", newer)
		}
	})
}

// Function is one packaged function running under the emulator.
type Function struct {
	Name string
	// URL is the emulator's invocation endpoint.
	URL      string
	cmd      *exec.Cmd
	log      *SyncBuffer
	exited   chan struct{}
	stopOnce sync.Once
}

// BaseEnv is what every function gets: the region, dummy credentials, the
// Lambda variables the runtime reads, and nothing of the developer's AWS
// setup.
func BaseEnv(fn, region string) map[string]string {
	return map[string]string{
		"PATH":                            os.Getenv("PATH"),
		"HOME":                            os.TempDir(),
		"TZ":                              "UTC",
		"AWS_REGION":                      region,
		"AWS_ACCESS_KEY_ID":               "test",
		"AWS_SECRET_ACCESS_KEY":           "test",
		"AWS_EC2_METADATA_DISABLED":       "true",
		"AWS_CONFIG_FILE":                 os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE":     os.DevNull,
		"AWS_MAX_ATTEMPTS":                "2",
		"AWS_LAMBDA_FUNCTION_NAME":        "kaizen-" + fn,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     "30",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
	}
}

// Spawn starts the emulator for fn's bootstrap on free loopback ports (its
// runtime API too: the default 9001 would collide between emulators) and
// waits until it accepts invocations; the emulator starts the bootstrap on
// the first invocation. The process environment is BaseEnv(fn, region)
// overlaid with env. The emulator failing to start or to listen within 10s
// fails the test with its output. The caller stops it (Stop); Start does
// so at the end of the test.
func Spawn(t testing.TB, fn, region string, env map[string]string) *Function {
	t.Helper()
	ports, err := testenv.FreePorts(2) // distinct: the emulator binds both
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[1])
	cmd := exec.Command(Bin(t), "--log-level", "error",
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[0]),
		"--runtime-interface-emulator-address", addr,
		Bootstrap(t, fn))
	all := BaseEnv(fn, region)
	for k, v := range env {
		all[k] = v
	}
	for k, v := range all {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = t.TempDir()
	// Its own process group, so Stop reaches the bootstrap too; killed with
	// the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	f := &Function{Name: fn, URL: "http://" + addr + "/2015-03-31/functions/function/invocations", cmd: cmd, log: &SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = f.log, f.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("rie: start the emulator for %s: %v", fn, err)
	}
	f.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(f.exited) }()
	if err := waitListening(addr, f.exited, 10*time.Second); err != nil {
		f.Stop()
		t.Fatalf("rie: the emulator for %s: %v\nits output:\n%s", fn, err, f.Log())
	}
	return f
}

// Start is Spawn with the emulator stopped when the test ends, and its
// output logged if the test failed.
func Start(t testing.TB, fn, region string, env map[string]string) *Function {
	t.Helper()
	f := Spawn(t, fn, region, env)
	t.Cleanup(func() {
		t.Helper() // the log line names the caller of Start
		f.Stop()
		if t.Failed() {
			t.Logf("%s (emulator and function output):\n%s", fn, f.Log())
		}
	})
	return f
}

// Stop ends the emulator and its bootstrap and waits for them; a second
// call does nothing. SIGTERM lets the emulator shut the runtime down (the
// bootstrap also exits when the runtime API goes away); SIGKILL follows
// after 3s.
func (f *Function) Stop() {
	f.stopOnce.Do(func() {
		pgid := -f.cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-f.exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			<-f.exited
		}
	})
}

func waitListening(addr string, exited <-chan struct{}, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before listening on %s", addr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after %s", addr, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Log is what the emulator and the function wrote so far.
func (f *Function) Log() string { return f.log.String() }

// WaitLog waits until the output holds s (or d passes) and returns it: the
// function's log reaches the emulator's output a moment after the answer.
func (f *Function) WaitLog(s string, d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		log := f.Log()
		if strings.Contains(log, s) || time.Now().After(deadline) {
			return log
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var invoker = &http.Client{Timeout: 60 * time.Second}

// Result is an invocation's answer.
type Result struct {
	Status int
	Body   []byte
	// ErrorMessage and ErrorType are set when the function returned an
	// error (the emulator answers 200 with this payload).
	ErrorMessage, ErrorType string
}

// Err reports a failed invocation: a function error, or the emulator's
// non-200 (an init failure answers 502).
func (r Result) Err() error {
	switch {
	case r.Status != http.StatusOK:
		return fmt.Errorf("HTTP %d: %s", r.Status, r.Body)
	case r.ErrorType != "" || r.ErrorMessage != "":
		return fmt.Errorf("function error %s: %s", r.ErrorType, r.ErrorMessage)
	}
	return nil
}

// Invoke sends one event and returns the answer. The error is a transport
// failure only; what the function or the emulator answered, errors
// included, is in the Result (see Result.Err).
func (f *Function) Invoke(event []byte) (Result, error) {
	resp, err := invoker.Post(f.URL, "application/json", bytes.NewReader(event))
	if err != nil {
		return Result{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Result{}, err
	}
	res := Result{Status: resp.StatusCode, Body: body}
	var fe struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(body, &fe) == nil {
		res.ErrorMessage, res.ErrorType = fe.ErrorMessage, fe.ErrorType
	}
	return res, nil
}

// MustInvoke is Invoke with a transport failure failing the test (with the
// function's output).
func (f *Function) MustInvoke(t testing.TB, event []byte) Result {
	t.Helper()
	res, err := f.Invoke(event)
	if err != nil {
		t.Fatalf("invoke %s: %v\nits log:\n%s", f.Name, err, f.Log())
	}
	return res
}

// SyncBuffer is a bytes.Buffer safe for a process's writes and the test's
// reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
