package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
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

const (
	fixMoto  = "moto_server not found: run `make deps` (pip install 'moto[server]==5.2.1')"
	fixBuild = "run `make deps build-host` (it installs bin/aws-lambda-rie and builds build/lambda/host/<function>/bootstrap)"
)

// TestMain starts moto_server and builds the CLI in the background, and
// stops moto and removes the CLI binary at the end, whatever the outcome.
// Tests wait for what they need; a failure to start fails them.
func TestMain(m *testing.M) {
	// Both take seconds: start them while the tests build their fleets.
	go moto.once.Do(moto.start)
	go cli.once.Do(cli.build)
	code := m.Run()
	// Wait for a start or a build still running (Do returns once the first
	// call has), so that nothing outlives the tests.
	moto.once.Do(func() {})
	moto.stop()
	cli.once.Do(func() {})
	if cli.dir != "" {
		os.RemoveAll(cli.dir)
	}
	os.Exit(code)
}

// root is the repository root.
func root(t testing.TB) string {
	t.Helper()
	r, err := testenv.Root()
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	return r
}

func mustExecutable(t testing.TB, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		t.Fatalf("conformance: %s is missing: %s", path, fixBuild)
	case fi.IsDir() || fi.Mode()&0o111 == 0:
		t.Fatalf("conformance: %s is not an executable file: %s", path, fixBuild)
	}
	return path
}

func rieBin(t testing.TB) string {
	t.Helper()
	return mustExecutable(t, filepath.Join(root(t), "bin", "aws-lambda-rie"))
}

func bootstrapOf(t testing.TB, fn string) string {
	t.Helper()
	return mustExecutable(t, filepath.Join(root(t), "build", "lambda", "host", fn, "bootstrap"))
}

var staleOnce sync.Once

// warnStale logs once when a Go source the functions are built from is
// newer than a bootstrap: `go test ./conformance/` does not rebuild them
// (`make test` does), and these tests run the binaries as built.
func warnStale(t testing.TB) {
	staleOnce.Do(func() {
		r := root(t)
		var oldest time.Time
		for _, fn := range []string{"stage", "promote", "guard", "tick", "secretchange"} {
			if fi, err := os.Stat(filepath.Join(r, "build", "lambda", "host", fn, "bootstrap")); err == nil && (oldest.IsZero() || fi.ModTime().Before(oldest)) {
				oldest = fi.ModTime()
			}
		}
		if oldest.IsZero() {
			return
		}
		newer := ""
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
			t.Logf("conformance: WARNING: %s is newer than the bootstraps under build/lambda/host; run `make build-host` to test the current code", newer)
		}
	})
}

// ---- moto ----

// motoServer is the one moto_server of the test binary. Tests share it and
// keep apart by region.
type motoServer struct {
	once   sync.Once
	url    string
	err    error
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
}

var moto motoServer

// motoURL starts moto_server on a free loopback port the first time it is
// asked for, and fails the test (never skips) when it cannot.
func motoURL(t testing.TB) string {
	t.Helper()
	moto.once.Do(moto.start)
	if moto.err != nil {
		t.Fatalf("conformance: %v", moto.err)
	}
	return moto.url
}

func (m *motoServer) start() {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		m.err = errors.New(fixMoto)
		return
	}
	port, err := testenv.FreePort()
	if err != nil {
		m.err = err
		return
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	m.log = &syncBuffer{}
	m.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	m.cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1")
	// Its own process group, killed with the test binary too.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		m.err = fmt.Errorf("start %s: %v (%s)", bin, err, fixMoto)
		return
	}
	m.exited = make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(m.exited) }()
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Ready once its own API answers, not merely once the port is open.
		resp, err := http.Post(url+"/moto-api/reset", "application/json", nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				m.url = url
				return
			}
		}
		select {
		case <-m.exited:
			m.err = fmt.Errorf("%s exited before serving: %s\nits output:\n%s", bin, fixMoto, m.log)
			return
		default:
		}
		if time.Now().After(deadline) {
			m.stop()
			m.err = fmt.Errorf("%s did not serve on %s within 30s\nits output:\n%s", bin, addr, m.log)
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (m *motoServer) stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.exited
	}
}

// ---- packaged functions under the Lambda Runtime Interface Emulator ----

// Function is one packaged function running under the emulator.
type Function struct {
	Name string
	URL  string
	cmd  *exec.Cmd
	log  *syncBuffer
	stop func()
}

// baseEnv is what every function gets: the world's region, dummy
// credentials, and nothing of the developer's AWS setup.
func baseEnv(fn, region string) map[string]string {
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

// startFunction runs fn's bootstrap under the emulator on free loopback
// ports and stops it when the test ends (logging its output if the test
// failed).
func startFunction(t *testing.T, fn, region string, env map[string]string) *Function {
	t.Helper()
	ports, err := testenv.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[1])
	cmd := exec.Command(rieBin(t), "--log-level", "error",
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[0]),
		"--runtime-interface-emulator-address", addr,
		bootstrapOf(t, fn))
	all := baseEnv(fn, region)
	for k, v := range env {
		all[k] = v
	}
	for k, v := range all {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = t.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	f := &Function{Name: fn, URL: "http://" + addr + "/2015-03-31/functions/function/invocations", cmd: cmd, log: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = f.log, f.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("conformance: start the emulator for %s: %v", fn, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	f.stop = func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	t.Cleanup(func() {
		f.stop()
		if t.Failed() {
			t.Logf("%s (emulator and function output):\n%s", fn, f.Log())
		}
	})
	if err := waitListening(addr, exited, 10*time.Second); err != nil {
		t.Fatalf("conformance: the emulator for %s: %v\nits output:\n%s", fn, err, f.Log())
	}
	return f
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

var invoker = &http.Client{Timeout: 60 * time.Second}

// invoke sends one event; a transport failure, the emulator's non-200 or a
// function error is returned as an error.
func (f *Function) invoke(event []byte) error {
	resp, err := invoker.Post(f.URL, "application/json", bytes.NewReader(event))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	var fe struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(body, &fe) == nil && (fe.ErrorMessage != "" || fe.ErrorType != "") {
		return fmt.Errorf("function error %s: %s", fe.ErrorType, fe.ErrorMessage)
	}
	return nil
}

// ---- the operator CLI ----

// cliBuild is cmd/kaizen built into a temporary directory.
type cliBuild struct {
	once sync.Once
	bin  string
	dir  string
	err  error
}

var cli cliBuild

// kaizenBin is cmd/kaizen, built once per test binary.
func kaizenBin(t testing.TB) string {
	t.Helper()
	cli.once.Do(cli.build)
	if cli.err != nil {
		t.Fatalf("conformance: %v", cli.err)
	}
	return cli.bin
}

func (c *cliBuild) build() {
	goBin, err := exec.LookPath("go")
	if err != nil {
		c.err = fmt.Errorf("the go command is not on PATH; it builds cmd/kaizen: %v", err)
		return
	}
	r, err := testenv.Root()
	if err != nil {
		c.err = err
		return
	}
	if c.dir, c.err = os.MkdirTemp("", "kaizen-conformance-"); c.err != nil {
		return
	}
	c.bin = filepath.Join(c.dir, "kaizen")
	cmd := exec.Command(goBin, "build", "-o", c.bin, "./cmd/kaizen")
	cmd.Dir = r
	if out, err := cmd.CombinedOutput(); err != nil {
		c.err = fmt.Errorf("go build ./cmd/kaizen: %v\n%s", err, out)
	}
}

// ---- small helpers ----

// syncBuffer is a bytes.Buffer safe for a process's writes and the test's
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCLI runs the kaizen CLI to completion with a timeout.
func runCLI(t testing.TB, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(kaizenBin(t), args...)
	cmd.Dir = root(t)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
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
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("kaizen %s: still running after 30s\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	}
	return 0, "", ""
}
