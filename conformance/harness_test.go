package conformance

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/internal/rie"
	"github.com/kaizen-sre/kaizen/internal/testenv"
)

const fixMoto = "moto_server not found: run `make deps` (pip install 'moto[server]==5.2.1')"

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
var root = rie.RepoRoot

// packaged are the functions these tests run under the emulator.
var packaged = []string{"stage", "promote", "guard", "tick", "secretchange", "dbrefresh"}

// ---- moto ----

// motoServer is the one moto_server of the test binary. Tests share it and
// keep apart by region.
type motoServer struct {
	once   sync.Once
	url    string
	err    error
	cmd    *exec.Cmd
	log    *rie.SyncBuffer
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
	m.log = &rie.SyncBuffer{}
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
	r, err := testenv.Root()
	if err != nil {
		c.err = err
		return
	}
	if c.dir, c.err = os.MkdirTemp("", "kaizen-conformance-"); c.err != nil {
		return
	}
	c.bin, c.err = rie.BuildCLI(r, c.dir)
}

// runCLI runs the kaizen CLI to completion with exactly env, within 30s.
func runCLI(t testing.TB, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return rie.RunCLI(t, kaizenBin(t), env, 30*time.Second, args...)
}
