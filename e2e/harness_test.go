package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/internal/testenv"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/simhttp"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// functions are the packaged functions, one bootstrap each.
var functions = route.Functions

const fixCmd = "run `make deps build-host` (it installs bin/aws-lambda-rie and builds build/lambda/host/<function>/bootstrap)"

// root is the repository root.
func root(t testing.TB) string {
	t.Helper()
	r, err := testenv.Root()
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	return r
}

// rieBin is the emulator; it fails the test when it is not installed.
func rieBin(t testing.TB) string {
	t.Helper()
	return mustExecutable(t, filepath.Join(root(t), "bin", "aws-lambda-rie"))
}

// bootstrapOf is a function's host binary; it fails the test when it is
// not built. A binary older than the sources is only reported: the tests
// would exercise the code it was built from.
func bootstrapOf(t testing.TB, fn string) string {
	t.Helper()
	return mustExecutable(t, filepath.Join(root(t), "build", "lambda", "host", fn, "bootstrap"))
}

func mustExecutable(t testing.TB, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		t.Fatalf("e2e: %s is missing: %s", path, fixCmd)
	case fi.IsDir() || fi.Mode()&0o111 == 0:
		t.Fatalf("e2e: %s is not an executable file: %s", path, fixCmd)
	}
	return path
}

var staleOnce sync.Once

// warnStale logs once when a bootstrap is older than a Go source it is
// built from: `go test ./e2e/` alone does not rebuild them, `make test` does.
func warnStale(t testing.TB) {
	staleOnce.Do(func() {
		r := root(t)
		var oldest time.Time
		for _, fn := range functions {
			if fi, err := os.Stat(filepath.Join(r, "build", "lambda", "host", fn, "bootstrap")); err == nil && (oldest.IsZero() || fi.ModTime().Before(oldest)) {
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
			t.Logf("e2e: WARNING: %s is newer than the bootstraps under build/lambda/host; these tests run the binaries as built: run `make build-host` to test the current code", newer)
		}
	})
}

// world is one simulated account: the simulated AWS served over HTTP, a
// fresh DynamoDB table on dynalite, and a configuration file the functions
// read.
type world struct {
	t       *testing.T
	ctx     context.Context
	cfg     *config.File
	cfgPath string
	cloud   *sim.Cloud
	simURL  string
	dynURL  string
	table   string
	store   *store.Dynamo
	fleet   *cloud.Fleet
	mk      route.Maker
}

var eventSeq atomic.Int64

// newWorld seeds every app of examples/kaizen.json (after edit, if given)
// on a simulated AWS whose clock starts now: the functions compare the wall
// clock with what they record, so the virtual clock must start near it;
// instance launches and health checks then follow cloud.Advance.
func newWorld(t *testing.T, edit func(*config.File)) *world {
	t.Helper()
	warnStale(t)
	rieBin(t)
	for _, fn := range functions {
		bootstrapOf(t, fn)
	}
	cfg, err := config.Load(filepath.Join(root(t), "examples", "kaizen.json"))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	w := &world{t: t, ctx: context.Background(), cfg: cfg, cfgPath: writeConfig(t, cfg)}
	w.cloud = sim.New(time.Now().UTC())
	for i := range cfg.Apps {
		w.cloud.SeedApp(&cfg.Apps[i])
	}
	srv := httptest.NewServer(simhttp.New(w.cloud, simhttp.WithConfig(cfg)))
	t.Cleanup(srv.Close)
	w.simURL = srv.URL
	if w.dynURL, err = testenv.DynamoEndpoint(); err != nil {
		t.Fatalf("e2e: DynamoDB API on loopback: %v", err)
	}
	db := testenv.DynamoClient(w.dynURL)
	w.table = testenv.NewTable(t, db)
	w.store = &store.Dynamo{DB: db, Table: w.table}
	c := w.cloud
	w.fleet = &cloud.Fleet{EC2: c.EC2(), ASG: c.AutoScaling(), ELB: c.ELBv2(), SNS: c.SNS(), Attempts: 1}
	w.mk = route.Maker{Account: cfg.Account, Region: cfg.Region, Next: func() string {
		return fmt.Sprintf("e2e-%d-%d", os.Getpid(), eventSeq.Add(1))
	}}
	return w
}

// writeConfig writes cfg where the functions read it (KAIZEN_CONFIG).
func writeConfig(t testing.TB, cfg *config.File) string {
	t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(b); err != nil {
		t.Fatalf("e2e: the edited configuration does not validate: %v", err)
	}
	p := filepath.Join(t.TempDir(), "kaizen.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *world) app() *config.App { return &w.cfg.Apps[0] }

// env is the environment of a function in this world.
func (w *world) env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":          w.simURL,
		"AWS_ENDPOINT_URL_DYNAMODB": w.dynURL,
		"KAIZEN_CONFIG":             w.cfgPath,
		"KAIZEN_TABLE":              w.table,
	}
}

// start runs fn's bootstrap under the emulator in this world.
func (w *world) start(fn string) *Function { return startFunction(w.t, fn, w.env()) }

// state is the app's record in DynamoDB.
func (w *world) state() release.AppState {
	w.t.Helper()
	st, err := w.store.Load(w.ctx, w.app().Name)
	if err != nil {
		w.t.Fatalf("load state: %v", err)
	}
	return st
}

// observe reads the fleet through the in-process simulation.
func (w *world) observe() release.Observed {
	w.t.Helper()
	obs, err := w.fleet.Observe(w.ctx, w.app())
	if err != nil {
		w.t.Fatalf("observe: %v", err)
	}
	return obs
}

// send invokes fn with an event, fails on a function error, then checks
// every invariant on what the store records and the simulation shows.
func (w *world) send(f *Function, what string, event []byte) (release.AppState, release.Observed) {
	w.t.Helper()
	res := f.Invoke(w.t, event)
	if err := res.Err(); err != nil {
		w.t.Fatalf("%s: %s: %v\n%s log:\n%s", f.Name, what, err, f.Name, f.Log())
	}
	st, obs := w.state(), w.observe()
	for _, err := range release.Check(w.app(), st, obs) {
		w.t.Errorf("after %s (%s): %v [%s]", what, f.Name, err, obs.Summary())
	}
	return st, obs
}

// Function is one packaged function running under the emulator.
type Function struct {
	Name string
	// URL is the emulator's invocation endpoint.
	URL  string
	cmd  *exec.Cmd
	log  *syncBuffer
	stop func()
}

// baseEnv is what every function gets: the region, dummy credentials, and
// nothing of the developer's AWS setup.
func baseEnv(fn string) map[string]string {
	return map[string]string{
		"PATH":                            os.Getenv("PATH"),
		"HOME":                            os.TempDir(),
		"TZ":                              "UTC",
		"AWS_REGION":                      "eu-west-1",
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

// spawn starts the emulator for fn's bootstrap on free loopback ports (its
// runtime API too: the default 9001 would collide between emulators) and
// waits until it accepts invocations. The emulator starts the bootstrap on
// the first invocation.
func spawn(t testing.TB, fn string, env map[string]string) *Function {
	t.Helper()
	ports, err := testenv.FreePorts(2) // distinct: the emulator binds both
	if err != nil {
		t.Fatal(err)
	}
	apiPort, port := ports[0], ports[1]
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(rieBin(t), "--log-level", "error",
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort),
		"--runtime-interface-emulator-address", addr,
		bootstrapOf(t, fn))
	all := baseEnv(fn)
	for k, v := range env {
		all[k] = v
	}
	for k, v := range all {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = t.TempDir()
	// Its own process group, so cleanup reaches it; killed with the test
	// binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	f := &Function{Name: fn, URL: "http://" + addr + "/2015-03-31/functions/function/invocations", cmd: cmd, log: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = f.log, f.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("e2e: start the emulator for %s: %v", fn, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	f.stop = func() {
		// SIGTERM lets the emulator shut the runtime down; the bootstrap
		// (in the emulator's own group) also exits when the runtime API
		// goes away.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	if err := waitListening(addr, exited, 10*time.Second); err != nil {
		f.stop()
		t.Fatalf("e2e: the emulator for %s: %v\nits output:\n%s", fn, err, f.Log())
	}
	return f
}

// startFunction is spawn with the emulator stopped when the test ends (and
// its output logged if the test failed).
func startFunction(t *testing.T, fn string, env map[string]string) *Function {
	t.Helper()
	f := spawn(t, fn, env)
	t.Cleanup(func() {
		f.stop()
		if t.Failed() {
			t.Logf("%s (emulator and function output):\n%s", fn, f.Log())
		}
	})
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

// WaitLog waits until the output holds s (or d passes) and returns it.
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

// Invoke sends one event and returns the answer; only a transport failure
// fails the test.
func (f *Function) Invoke(t testing.TB, event []byte) Result {
	t.Helper()
	res, err := f.invoke(event)
	if err != nil {
		t.Fatalf("invoke %s: %v\nits log:\n%s", f.Name, err, f.Log())
	}
	return res
}

func (f *Function) invoke(event []byte) (Result, error) {
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

// syncBuffer is a bytes.Buffer safe for the process's writes and the
// test's reads.
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

// event reads a sample event from events/.
func event(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
