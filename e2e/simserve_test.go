package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/internal/rie"
	"github.com/kaizen-sre/kaizen/internal/testenv"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// buildCLI builds cmd/kaizen into a temporary directory.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin, err := rie.BuildCLI(root(t), t.TempDir())
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	return bin
}

// kaizenRun runs the CLI to completion and returns its exit code and output.
func kaizenRun(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	return kaizenRunEnv(t, bin, nil, args...)
}

// kaizenRunEnv is kaizenRun with extra environment variables.
func kaizenRunEnv(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	return rie.RunCLI(t, bin, append(os.Environ(), env...), 10*time.Second, args...)
}

var readyLine = regexp.MustCompile(`^kaizen sim: serving the simulated AWS on (http://127\.0\.0\.1:[0-9]+) \(AWS_ENDPOINT_URL\)$`)

// `kaizen sim serve` is the simulated AWS as a process: the packaged stage
// function stages an AMI registered through its admin endpoint, the clock
// moves on request, every call is logged, and SIGTERM ends it cleanly.
// Bad flags and a bad configuration exit with messages that name them.
func TestSimServe(t *testing.T) {
	t.Parallel()
	bin := buildCLI(t)
	rie.Bin(t)
	rie.Bootstrap(t, "stage")
	example := filepath.Join(root(t), "examples", "kaizen.json")
	// No bake, so that one release can finish within the test.
	cfgPath := filepath.Join(t.TempDir(), "kaizen.json")
	eb, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, bytes.Replace(eb, []byte(`"bakeMinutes": 60`), []byte(`"bakeMinutes": 0`), 1), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "sim", "serve", "--addr", "127.0.0.1:0", "--config", cfgPath, "--start", time.Now().UTC().Format(time.RFC3339))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &rie.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var url string
	select {
	case line := <-lines:
		m := readyLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("ready line %q does not match %s\nstderr:\n%s", line, readyLine, stderr)
		}
		url = m[1]
	case <-time.After(10 * time.Second):
		t.Fatalf("no ready line within 10s\nstderr:\n%s", stderr)
	}

	// An AMI as the image build would register it.
	var created struct{ ID string }
	adminJSON(t, http.MethodPost, url+"/_sim/ami", `{"app":"shop","pipelineExecution":"exec-cli-1"}`, &created)
	if !strings.HasPrefix(created.ID, "ami-") {
		t.Fatalf("POST /_sim/ami: id %q", created.ID)
	}

	// The packaged stage function against the served simulation.
	ep, err := testenv.DynamoEndpoint()
	if err != nil {
		t.Fatalf("e2e: DynamoDB API on loopback: %v", err)
	}
	db := testenv.DynamoClient(ep)
	table := testenv.NewTable(t, db)
	stage := rie.Start(t, "stage", region, map[string]string{
		"AWS_ENDPOINT_URL": url, "AWS_ENDPOINT_URL_DYNAMODB": ep, "KAIZEN_CONFIG": cfgPath, "KAIZEN_TABLE": table,
	})
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	mk := route.Maker{Account: cfg.Account, Region: cfg.Region, Next: func() string { return "e2e-sim-serve-1" }}
	if err := stage.MustInvoke(t, mk.AMI(created.ID, "available", time.Now())).Err(); err != nil {
		t.Fatalf("stage against kaizen sim serve: %v\n%s", err, stage.Log())
	}
	st, err := (&store.Dynamo{DB: db, Table: table}).Load(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if st.Active == nil || st.Active.AMI != created.ID || st.Active.Color != config.Green {
		t.Errorf("stage did not stage %s on green: %+v", created.ID, st.Active)
	}
	var mutations map[string]int
	adminJSON(t, http.MethodGet, url+"/_sim/mutations", "", &mutations)
	if mutations["CreateLaunchTemplateVersion"] != 1 || mutations["UpdateAutoScalingGroup"] != 1 {
		t.Errorf("mutating calls seen by the server: %v; want one CreateLaunchTemplateVersion (the AMI on green) and one UpdateAutoScalingGroup (preview size)", mutations)
	}
	if log := stderr.String(); !strings.Contains(log, "op=CreateLaunchTemplateVersion") {
		t.Errorf("the server did not log the calls:\n%s", log)
	}

	operatorCLI(t, bin, url, ep, table, cfgPath, created.ID)

	var before, after struct{ Now time.Time }
	adminJSON(t, http.MethodGet, url+"/_sim/now", "", &before)
	adminJSON(t, http.MethodPost, url+"/_sim/advance?d=5m", "", &after)
	if got := after.Now.Sub(before.Now); got != 5*time.Minute {
		t.Errorf("advance 5m moved the clock by %s", got)
	}

	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("after SIGTERM: %v\nstderr:\n%s", err, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("kaizen sim serve did not stop within 10s of SIGTERM")
	}

	// Errors name the problem.
	bad := filepath.Join(t.TempDir(), "kaizen.json")
	b, _ := os.ReadFile(example)
	if err := os.WriteFile(bad, bytes.Replace(b, []byte(`"floor": 2`), []byte(`"floor": 0`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sim"}, 2, "usage: kaizen sim serve"},
		{[]string{"sim", "serve", "--start", "yesterday"}, 2, "--start"},
		{[]string{"sim", "serve", "--config", bad}, 1, "apps[0].floor"},
		{[]string{"sim", "serve", "--quiet", "--addr", busy.Addr().String()}, 1, "--addr " + busy.Addr().String()},
	} {
		code, _, errs := kaizenRun(t, bin, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("kaizen %s: exit %d, stderr %q; want exit %d naming %q", strings.Join(tc.args, " "), code, errs, tc.code, tc.want)
		}
	}
}

func adminJSON(t *testing.T, method, url, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d", method, url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
}

// operatorCLI finishes the staged release through the real handlers (SDK
// clients against the served simulation), stages another, and checks that
// `kaizen status` and `kaizen history` against the server show the one in
// flight and the finished one.
func operatorCLI(t *testing.T, bin, url, dynamo, table, cfgPath, ami1 string) {
	t.Helper()
	ctx := t.Context()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	d := &steps.Reconciler{
		Config: cfg,
		Fleet: &cloud.Fleet{
			EC2: ec2.New(ec2.Options{Region: cfg.Region, Credentials: creds, BaseEndpoint: &url}),
			ASG: autoscaling.New(autoscaling.Options{Region: cfg.Region, Credentials: creds, BaseEndpoint: &url}),
			ELB: elbv2.New(elbv2.Options{Region: cfg.Region, Credentials: creds, BaseEndpoint: &url}),
			SNS: sns.New(sns.Options{Region: cfg.Region, Credentials: creds, BaseEndpoint: &url}), Attempts: 1,
		},
		Store: &store.Dynamo{DB: testenv.DynamoClient(dynamo), Table: table},
		Log:   slog.New(slog.DiscardHandler),
	}
	seq := 0
	mk := route.Maker{Account: cfg.Account, Region: cfg.Region, Next: func() string { seq++; return fmt.Sprintf("e2e-cli-%d", seq) }}
	a := cfg.Apps[0].Approval
	send := func(fn string, raw []byte) {
		t.Helper()
		if _, err := d.Handle(ctx, fn, raw); err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
	}
	tickUntil := func(what string, done func(release.AppState) bool) {
		t.Helper()
		for i := 0; i < 30; i++ {
			var now struct{ Now time.Time }
			adminJSON(t, http.MethodPost, url+"/_sim/advance?d=1m", "", &now)
			send(route.Tick, mk.Schedule("kaizen-tick", time.Now()))
			if st, err := d.Store.Load(ctx, "shop"); err == nil && done(st) {
				return
			}
		}
		t.Fatalf("%s: not reached", what)
	}
	tickUntil("preview ready", func(st release.AppState) bool { return st.Active != nil && !st.Active.PreviewReadyAt.IsZero() })
	send(route.Promote, mk.Approval(a.Pipeline, a.Stage, a.Action, "exec-cli-1", "SUCCEEDED", time.Now()))
	tickUntil("release done", func(st release.AppState) bool { return st.Active == nil })
	var ami2 struct{ ID string }
	adminJSON(t, http.MethodPost, url+"/_sim/ami", `{"app":"shop","pipelineExecution":"exec-cli-2"}`, &ami2)
	send(route.Stage, mk.AMI(ami2.ID, "available", time.Now()))

	env := []string{"--config", cfgPath, "--endpoint", url, "--dynamodb-endpoint", dynamo, "--table", table}
	creds2 := []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull}
	code, out, errs := kaizenRunEnv(t, bin, creds2, append([]string{"status"}, env...)...)
	if code != 0 || !strings.Contains(out, ami2.ID+" (") || !strings.Contains(out, "staged on blue") || !strings.Contains(out, "blue 0 / green 100") {
		t.Errorf("kaizen status: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = kaizenRunEnv(t, bin, creds2, append([]string{"history"}, env...)...)
	if code != 0 || !regexp.MustCompile(ami1+`\s.*\sdone\s`).MatchString(out) || !regexp.MustCompile(ami2.ID+`\s.*\sstaged\s`).MatchString(out) {
		t.Errorf("kaizen history: exit %d\n%s%s", code, out, errs)
	}
}
