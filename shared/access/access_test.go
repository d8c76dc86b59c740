package access_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kaizen-sre/kaizen/shared/access"
	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/alaspoll"
	"github.com/kaizen-sre/kaizen/shared/alrelease"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/fake"
	"github.com/kaizen-sre/kaizen/shared/lab"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/secretchange"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// testConfig has two apps with distinct resources: shop shifts in weighted
// steps, rebuilds with CodeBuild, names its secret by ARN and runs Amazon
// Linux 2023; blog switches at once, rebuilds through a pipeline and names
// its secret by name. feeds serves their ALAS feeds.
func testConfig(t *testing.T, feeds string) *config.File {
	t.Helper()
	const acct, lb = "111122223333", "arn:aws:elasticloadbalancing:eu-west-1:111122223333:"
	app := func(name string, lt1, lt2 string) string {
		return fmt.Sprintf(`{
			"name": %[1]q,
			"blue":  {"asg": "%[1]s-blue",  "targetGroupArn": "%[2]stargetgroup/%[1]s-blue/0123456789abcdef",  "launchTemplateId": %[3]q},
			"green": {"asg": "%[1]s-green", "targetGroupArn": "%[2]stargetgroup/%[1]s-green/fedcba9876543210", "launchTemplateId": %[4]q},
			"listenerArn": "%[2]slistener/app/%[1]s/50dc6c495c0c9188/f2f7dc8efc522ab2",
			"preview": {"ruleArn": "%[2]slistener-rule/app/%[1]s/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee", "officeCidrs": ["203.0.113.10/32"]},
			"previewSize": 1, "floor": 2, "bakeMinutes": 30, "retireHoldMinutes": 5,
			"approval": {"pipeline": "%[1]s-release", "stage": "Approve", "action": "ProductionApproval"},
			"alarms": [
				{"name": "%[1]s-5xx-rate", "role": "guard"},
				{"name": "%[1]s-cpu-high", "role": "capacity", "step": 2, "cooldownMinutes": 5}
			],
			"topicArn": "arn:aws:sns:eu-west-1:%[5]s:kaizen-%[1]s",
			"instanceRoleArn": "arn:aws:iam::%[5]s:role/%[1]s-instance"
		`, name, lb, lt1, lt2, acct)
	}
	raw := `{"account": "` + acct + `", "region": "eu-west-1", "apps": [` +
		app("shop", "lt-0b1e0000000000001", "lt-06e0000000000002") + `,
			"weightSteps": [10, 50, 100], "stepMinutes": 2,
			"rebuild": {"codeBuildProject": "shop-golden-ami"},
			"alas": {"amazonLinux": "2023", "minSeverity": "important"},
			"secret": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/production-AbCdEf"
		},` +
		app("blog", "lt-0b1e0000000000003", "lt-06e0000000000004") + `,
			"rebuild": {"pipeline": "blog-image"},
			"alas": {"amazonLinux": "2", "minSeverity": "critical"},
			"secret": "blog/production"
		}]}`
	cfg, err := config.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	// The feeds come from the test's server (the configuration would
	// want https).
	cfg.Apps[0].ALAS.Feeds = []string{feeds + "/al2023.rss"}
	cfg.Apps[1].ALAS.Feeds = []string{feeds + "/al2.rss"}
	return cfg
}

func feedServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join("..", "alas", "testdata"))))
	t.Cleanup(srv.Close)
	return srv.URL
}

// calls records, per function, the IAM action of every AWS call the
// function made on the simulator, and in which scenario.
type calls struct {
	t     *testing.T
	seen  map[string]map[string][]string // function → action → scenarios
	kinds map[string]map[release.Kind]bool
}

func newCalls(t *testing.T) *calls {
	return &calls{t: t, seen: map[string]map[string][]string{}, kinds: map[string]map[release.Kind]bool{}}
}

// during runs f as the function fn in the scenario and books the calls it
// made.
func (c *calls) during(cloud *sim.Cloud, scenario, fn string, f func() error) {
	c.t.Helper()
	from := len(cloud.Calls())
	if err := f(); err != nil {
		c.t.Fatalf("%s: %s: %v", scenario, fn, err)
	}
	for _, call := range cloud.Calls()[from:] {
		a := access.Action(call.Service, call.Op)
		if c.seen[fn] == nil {
			c.seen[fn] = map[string][]string{}
		}
		if s := c.seen[fn][a]; !slices.Contains(s, scenario) {
			c.seen[fn][a] = append(s, scenario)
		}
	}
}

// step runs one event through a release-step function of the lab.
func (c *calls) step(l *lab.Lab, scenario, fn string, raw []byte) []steps.Outcome {
	c.t.Helper()
	var outs []steps.Outcome
	c.during(l.Cloud, scenario, fn, func() error {
		var err error
		outs, err = l.Send(context.Background(), fn, raw)
		return err
	})
	for _, o := range outs {
		for _, a := range o.Applied {
			if c.kinds[fn] == nil {
				c.kinds[fn] = map[release.Kind]bool{}
			}
			c.kinds[fn][a.Kind] = true
		}
	}
	return outs
}

func (c *calls) tick(l *lab.Lab, scenario string) {
	c.t.Helper()
	c.step(l, scenario, route.Tick, l.Maker.Schedule("kaizen-tick", l.Cloud.Now()))
}

// tickUntil ticks minute by minute until done holds for the first app.
func (c *calls) tickUntil(l *lab.Lab, scenario string, minutes int, done func(release.AppState) bool) {
	c.t.Helper()
	for range minutes {
		st, err := l.Store.Load(context.Background(), l.App().Name)
		if err != nil {
			c.t.Fatal(err)
		}
		if done(st) {
			return
		}
		l.Cloud.Advance(time.Minute)
		c.tick(l, scenario)
	}
	c.t.Fatalf("%s: not reached after %d minutes", scenario, minutes)
}

func (c *calls) wait(l *lab.Lab, scenario string, d time.Duration) {
	c.t.Helper()
	for end := l.Cloud.Now().Add(d); l.Cloud.Now().Before(end); {
		l.Cloud.Advance(time.Minute)
		c.tick(l, scenario)
	}
}

func previewReady(st release.AppState) bool {
	return st.Active != nil && !st.Active.PreviewReadyAt.IsZero()
}

func baking(st release.AppState) bool {
	return st.Active != nil && st.Active.State == release.Baking
}

func idle(st release.AppState) bool { return st.Active == nil }

// stage puts a new AMI of the first app on its idle color through the AMI
// event and ticks until people can preview it.
func (c *calls) stage(l *lab.Lab, scenario, name, execution string) string {
	c.t.Helper()
	ami := l.Cloud.NewAMI(l.App(), name, execution)
	c.step(l, scenario, route.Stage, l.Maker.AMI(ami, "available", l.Cloud.Now()))
	c.tickUntil(l, scenario, 30, previewReady)
	return ami
}

func (c *calls) approval(l *lab.Lab, scenario, execution, state string) {
	c.t.Helper()
	a := l.App().Approval
	c.step(l, scenario, route.Promote, l.Maker.Approval(a.Pipeline, a.Stage, a.Action, execution, state, l.Cloud.Now()))
}

func (c *calls) alarm(l *lab.Lab, scenario, name, state, previous string) []steps.Outcome {
	c.t.Helper()
	return c.step(l, scenario, route.Guard, l.Maker.Alarm(name, state, previous, "Threshold Crossed", l.Cloud.Now()))
}

func (c *calls) noViolations(l *lab.Lab, scenario string) {
	c.t.Helper()
	if errs := l.Violations(context.Background()); len(errs) > 0 {
		c.t.Fatalf("%s: invariants broken: %v", scenario, errs)
	}
}

// releaseSteps drives stage, promote, guard and tick through the release
// scenarios on the simulator and books their calls.
func releaseSteps(t *testing.T, c *calls) {
	cfg := testConfig(t, "http://127.0.0.1:0")
	newLab := func() *lab.Lab { return lab.New(cfg, t0, io.Discard) }

	// A whole release in weighted steps, then a rollback during the bake
	// and the retirement of the bad color after the hold.
	{
		const sc = "release, rollback during bake"
		l := newLab()
		c.tick(l, sc)
		c.stage(l, sc, "shop-golden-1", "exec-1")
		c.approval(l, sc, "exec-1", "SUCCEEDED")
		c.tickUntil(l, sc, 40, baking)
		c.noViolations(l, sc)
		outs := c.alarm(l, sc, "shop-5xx-rate", "ALARM", "OK")
		if !applied(outs, release.Shift) {
			t.Fatalf("%s: the guard alarm did not move the public: %+v", sc, outs)
		}
		c.wait(l, sc, time.Duration(l.App().RetireHoldMinutes+2)*time.Minute)
		c.noViolations(l, sc)
	}
	// The bake ends: tick retires the old color.
	{
		const sc = "bake to retire"
		l := newLab()
		c.tick(l, sc)
		c.stage(l, sc, "shop-golden-1", "exec-1")
		c.approval(l, sc, "exec-1", "SUCCEEDED")
		c.tickUntil(l, sc, 40, baking)
		c.tickUntil(l, sc, l.App().BakeMinutes+10, idle)
		c.noViolations(l, sc)
	}
	// A capacity alarm steps the live color up; its clearing lets it back
	// down.
	{
		const sc = "capacity step"
		l := newLab()
		c.tick(l, sc)
		outs := c.alarm(l, sc, "shop-cpu-high", "ALARM", "OK")
		if !applied(outs, release.SetCapacity) {
			t.Fatalf("%s: the capacity alarm changed no capacity: %+v", sc, outs)
		}
		l.Cloud.Advance(10 * time.Minute)
		c.alarm(l, sc, "shop-cpu-high", "OK", "ALARM")
		c.wait(l, sc, 10*time.Minute)
		c.noViolations(l, sc)
	}
	// The colors' scaling differs: staging makes green's equal to blue's
	// (puts and deletes of policies and scheduled actions).
	{
		const sc = "scaling policies copied"
		l := newLab()
		app := l.App()
		for _, err := range []error{
			l.Cloud.AddScalingPolicy(&autoscaling.PutScalingPolicyInput{AutoScalingGroupName: aws.String(app.Blue.ASG), PolicyName: aws.String("steps"),
				PolicyType: aws.String("StepScaling"), AdjustmentType: aws.String("ChangeInCapacity"),
				StepAdjustments: []astypes.StepAdjustment{{MetricIntervalLowerBound: aws.Float64(0), ScalingAdjustment: aws.Int32(1)}}}),
			l.Cloud.AddScheduledAction(&autoscaling.PutScheduledUpdateGroupActionInput{AutoScalingGroupName: aws.String(app.Blue.ASG),
				ScheduledActionName: aws.String("morning"), Recurrence: aws.String("30 7 * * 1-5"), MinSize: aws.Int32(3)}),
			l.Cloud.AddScalingPolicy(&autoscaling.PutScalingPolicyInput{AutoScalingGroupName: aws.String(app.Green.ASG), PolicyName: aws.String("old"),
				PolicyType: aws.String("SimpleScaling"), AdjustmentType: aws.String("ChangeInCapacity"), ScalingAdjustment: aws.Int32(1)}),
			l.Cloud.AddScheduledAction(&autoscaling.PutScheduledUpdateGroupActionInput{AutoScalingGroupName: aws.String(app.Green.ASG),
				ScheduledActionName: aws.String("night"), Recurrence: aws.String("0 22 * * *"), MaxSize: aws.Int32(2)}),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		c.tick(l, sc)
		c.stage(l, sc, "shop-golden-1", "exec-1")
		c.noViolations(l, sc)
	}
	// Guard alarms before the cutover: while staged (a notice) and after
	// approval (the release stops).
	{
		const sc = "guard before cutover"
		l := newLab()
		c.tick(l, sc)
		c.stage(l, sc, "shop-golden-1", "exec-1")
		c.alarm(l, sc, "shop-5xx-rate", "ALARM", "OK")
		l.Cloud.Advance(time.Minute)
		c.alarm(l, sc, "shop-5xx-rate", "OK", "ALARM")
		c.approval(l, sc, "exec-1", "SUCCEEDED")
		l.Cloud.Advance(time.Minute)
		c.alarm(l, sc, "shop-p99-latency", "ALARM", "OK") // not configured: ignored
		c.alarm(l, sc, "shop-5xx-rate", "ALARM", "OK")
		c.wait(l, sc, 20*time.Minute)
		c.noViolations(l, sc)
	}
	// A rejected approval, then AMIs announced by CodeBuild and Image
	// Builder, and one that supersedes a staged release.
	{
		const sc = "reject, codebuild, image builder, supersede"
		l := newLab()
		c.tick(l, sc)
		c.stage(l, sc, "shop-golden-1", "exec-1")
		c.approval(l, sc, "exec-1", "STARTED")
		c.approval(l, sc, "exec-1", "FAILED")
		c.wait(l, sc, 5*time.Minute)

		ami := l.Cloud.NewAMI(l.App(), "shop-golden-2", "exec-2")
		c.step(l, sc, route.Stage, l.Maker.Make(route.SourceCodeBuild, route.TypeCodeBuildState, l.Cloud.Now(), nil, map[string]any{
			"build-status": "SUCCEEDED", "project-name": "shop-golden-ami", "build-id": "shop-golden-ami:1",
			"additional-information": map[string]any{"exported-environment-variables": []any{map[string]any{"name": route.DefaultAMIExportVarName, "value": ami}}},
		}))
		c.wait(l, sc, 10*time.Minute)
		l.Cloud.NewAMI(l.App(), "shop-golden-3", "exec-3")
		c.step(l, sc, route.Stage, l.Maker.Make(route.SourceImageBuilder, route.TypeImageBuilderState, l.Cloud.Now(),
			[]string{"arn:aws:imagebuilder:eu-west-1:111122223333:image/shop/1.0.3/1"}, map[string]any{"state": map[string]any{"status": "AVAILABLE"}}))
		c.wait(l, sc, 10*time.Minute)
		c.approval(l, sc, "exec-3", "SUCCEEDED")
		c.tickUntil(l, sc, 40, baking)
		// A newer AMI during the bake waits, queued, for the bake to end.
		ami4 := l.Cloud.NewAMI(l.App(), "shop-golden-4", "exec-4")
		c.step(l, sc, route.Stage, l.Maker.AMI(ami4, "available", l.Cloud.Now()))
		c.wait(l, sc, time.Duration(l.App().BakeMinutes+10)*time.Minute)
		c.noViolations(l, sc)
	}
}

// rebuilder is secretchange and alaspoll wired as their functions wire
// them, on one simulated account.
type rebuilder struct {
	cloud   *sim.Cloud
	cfg     *config.File
	secrets *secretchange.Handler
	poll    *alaspoll.Handler
	maker   route.Maker
}

func newRebuilder(cfg *config.File) *rebuilder {
	cl := sim.New(t0)
	for i := range cfg.Apps {
		cl.SeedApp(&cfg.Apps[i])
	}
	quiet := slog.New(slog.DiscardHandler)
	builder := &rebuild.Builder{CodeBuild: cl.CodeBuild(), CodePipeline: cl.CodePipeline()}
	notifier := &cloud.Fleet{SNS: cl.SNS(), Attempts: 1}
	mem := store.NewMemory()
	r := &rebuilder{cloud: cl, cfg: cfg, maker: route.Maker{Account: cfg.Account, Region: cfg.Region, Next: idSeq()}}
	r.secrets = &secretchange.Handler{Config: cfg, Rebuilder: builder, Notifier: notifier, Store: mem, Pending: mem, Now: cl.Now, Log: quiet}
	r.poll = &alaspoll.Handler{Config: cfg, Log: quiet, Poller: &alas.Poller{
		Store:          &fake.ALASStore{},
		Rebuilder:      &rebuild.Once{Rebuilder: builder, Claims: &fake.Claims{}, Log: quiet},
		Notifier:       notifier,
		ReleaseVersion: (&alrelease.Latest{SSM: cl.SSM(), EC2: cl.EC2()}).ReleaseVersion,
		Log:            quiet,
		// A week after the feeds' newest advisories.
		Now: func() time.Time { return time.Date(2025, 1, 16, 9, 0, 0, 0, time.UTC) },
	}, Pending: r.secrets}
	return r
}

func (r *rebuilder) put(c *calls, sc, secret string) {
	raw := r.maker.Make(route.SourceSecretsManager, route.TypeCloudTrailAPICall, r.cloud.Now(), nil, map[string]any{
		"eventSource": route.SecretsManagerEventSrc, "eventName": "PutSecretValue", "awsRegion": r.cfg.Region,
		"requestParameters": map[string]any{"secretId": secret},
	})
	c.during(r.cloud, sc, route.SecretChange, func() error { _, err := r.secrets.Handle(context.Background(), raw); return err })
}

func (r *rebuilder) rotated(c *calls, sc, secret string) {
	raw := r.maker.Make(route.SourceSecretsManager, route.TypeCloudTrailSvcEvent, r.cloud.Now(), nil, map[string]any{
		"eventSource": route.SecretsManagerEventSrc, "eventName": "RotationSucceeded", "awsRegion": r.cfg.Region,
		"additionalEventData": map[string]any{"SecretId": secret},
	})
	c.during(r.cloud, sc, route.SecretChange, func() error { _, err := r.secrets.Handle(context.Background(), raw); return err })
}

func (r *rebuilder) pollOnce(c *calls, sc string) {
	raw := r.maker.Schedule("kaizen-alaspoll", r.cloud.Now())
	c.during(r.cloud, sc, route.ALASPoll, func() error { _, err := r.poll.Handle(context.Background(), raw); return err })
}

func (r *rebuilder) finishBuilds() {
	for _, b := range r.cloud.Builds() {
		r.cloud.FinishBuild(b.ID, "SUCCEEDED")
	}
}

// rebuilds drives secretchange and alaspoll on the simulator.
func rebuilds(t *testing.T, c *calls) {
	cfg := testConfig(t, feedServer(t))
	{
		const sc = "secret changes"
		r := newRebuilder(cfg)
		r.put(c, sc, cfg.Apps[0].Secret)
		r.rotated(c, sc, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:blog/production-Zz9Yy8")
		// A change while the build runs waits for it; alaspoll starts it
		// once the build has ended.
		r.put(c, sc, "shop/production")
		r.finishBuilds()
		r.cloud.Advance(30 * time.Minute)
		r.pollOnce(c, sc)
		if n := len(r.cloud.Builds()); n != 2 {
			t.Fatalf("%s: %d builds, want the secret's and the pending one", sc, n)
		}
	}
	{
		// New advisories: shop's AL2023 build, with the release version,
		// and blog's pipeline.
		const sc = "new advisories"
		r := newRebuilder(cfg)
		r.pollOnce(c, sc)
		if n := len(r.cloud.Builds()); n != 1 {
			t.Fatalf("%s: %d builds, want shop's", sc, n)
		}
	}
}

// TestFunctionsCallOnlyWhatTheirRolesAllow drives every function through
// representative scenarios on the simulator and checks that each AWS call
// it made is an action of its policy (access.Actions, from which the CDK
// app builds its role), and that each applied only the action Kinds it may.
// A call the role lacks fails here, not with AccessDenied in production.
func TestFunctionsCallOnlyWhatTheirRolesAllow(t *testing.T) {
	c := newCalls(t)
	releaseSteps(t, c)
	rebuilds(t, c)

	for _, fn := range route.Functions {
		allowed := access.Actions(fn)
		var used []string
		for a, scenarios := range c.seen[fn] {
			used = append(used, a)
			if !slices.Contains(allowed, a) {
				t.Errorf("%s called %s (in %s), which its role does not allow", fn, a, strings.Join(scenarios, "; "))
			}
		}
		sort.Strings(used)
		var unused []string
		for _, a := range allowed {
			if _, ok := c.seen[fn][a]; !ok {
				unused = append(unused, a)
			}
		}
		t.Logf("%s called %v; allowed but not called here: %v", fn, used, unused)
		for k := range c.kinds[fn] {
			if !access.Allowed(fn, k) {
				t.Errorf("%s applied a %s action, which access.Allowed refuses it", fn, k)
			}
		}
	}

	// The scenarios reach the calls that matter, so the check above is
	// not vacuous.
	for fn, want := range map[string][]string{
		route.Stage: {"ec2:DescribeImages", "ec2:CreateLaunchTemplateVersion", "autoscaling:UpdateAutoScalingGroup", "sns:Publish",
			"autoscaling:DescribePolicies", "autoscaling:DescribeScheduledActions", "autoscaling:PutScalingPolicy", "autoscaling:DeletePolicy",
			"autoscaling:PutScheduledUpdateGroupAction", "autoscaling:DeleteScheduledAction"},
		route.Promote:      {"autoscaling:UpdateAutoScalingGroup", "autoscaling:DescribeAutoScalingGroups"},
		route.Guard:        {"elasticloadbalancing:ModifyListener", "autoscaling:UpdateAutoScalingGroup", "sns:Publish"},
		route.Tick:         {"ec2:DescribeImages", "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule", "autoscaling:UpdateAutoScalingGroup", "ec2:CreateLaunchTemplateVersion"},
		route.SecretChange: {"codebuild:StartBuild", "codepipeline:StartPipelineExecution", "sns:Publish"},
		route.ALASPoll:     {"codebuild:StartBuild", "codepipeline:StartPipelineExecution", "ssm:GetParameter", "ec2:DescribeImages", "sns:Publish"},
	} {
		for _, a := range want {
			if _, ok := c.seen[fn][a]; !ok {
				t.Errorf("the scenarios never made %s call %s", fn, a)
			}
		}
	}
}

func TestGuardNeitherPutsAMIsNorPassesRoles(t *testing.T) {
	if access.Allowed(route.Guard, release.PutAMI) {
		t.Error("guard may apply PutAMI")
	}
	got := access.Actions(route.Guard)
	for _, a := range []string{"ec2:CreateLaunchTemplateVersion", "iam:PassRole", "ec2:RunInstances", "ec2:CreateTags"} {
		if slices.Contains(got, a) {
			t.Errorf("guard's actions include %s", a)
		}
	}
	for _, k := range []release.Kind{release.Shift, release.PointPreview, release.SetCapacity, release.Suspend, release.Resume, release.Notify} {
		if !access.Allowed(route.Guard, k) {
			t.Errorf("guard may not apply %s", k)
		}
	}
}

func TestKindsAndActions(t *testing.T) {
	for _, fn := range []string{route.Stage, route.Promote, route.Tick} {
		if !slices.Equal(access.Kinds(fn), access.AllKinds) {
			t.Errorf("%s: Kinds = %v, want every Kind", fn, access.Kinds(fn))
		}
	}
	if got := access.Functions(); !slices.Equal(got, route.Functions) {
		t.Errorf("Functions = %v, want route.Functions %v", got, route.Functions)
	}
	if access.Kinds("nosuch") != nil || access.Allowed("nosuch", release.Notify) || access.Actions("nosuch") != nil {
		t.Error("an unknown function may do something")
	}
	for _, fn := range route.Functions {
		acts := access.Actions(fn)
		if !slices.IsSorted(acts) || len(slices.Compact(slices.Clone(acts))) != len(acts) {
			t.Errorf("%s: Actions not sorted and unique: %v", fn, acts)
		}
		for _, k := range access.Kinds(fn) {
			for _, a := range access.Calls(k) {
				if !slices.Contains(acts, a) {
					t.Errorf("%s may apply %s but lacks %s", fn, k, a)
				}
			}
		}
		// The state store's calls come off its narrow interface.
		for _, a := range []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteItem"} {
			if !slices.Contains(acts, a) {
				t.Errorf("%s lacks %s", fn, a)
			}
		}
		for _, a := range acts {
			// dbrefresh reads and writes a secret: the staging database's
			// (endpoint "secret"), which infra/stacks scopes it to and
			// config refuses to be the app's image secret. The tick only
			// reads one: Datadog's keys (analysis.datadog.secretArn).
			secret := strings.HasPrefix(a, "secretsmanager:") && fn != route.DBRefresh && (fn != route.Tick || a != "secretsmanager:GetSecretValue")
			if secret || a == "dynamodb:Scan" || strings.HasSuffix(a, ":*") {
				t.Errorf("%s: %s", fn, a)
			}
		}
	}
	for _, k := range access.AllKinds {
		if len(access.Calls(k)) == 0 {
			t.Errorf("Kind %s makes no calls", k)
		}
	}
	if got := access.Action("elbv2", "ModifyListener"); got != "elasticloadbalancing:ModifyListener" {
		t.Errorf("Action(elbv2, ModifyListener) = %s", got)
	}
}

// notCalledByFunctions are fleet client methods only a person runs, through
// the CLI with their own credentials, so no function's role has them.
var notCalledByFunctions = map[string]string{
	"ec2:DeregisterImage": "kaizen images prune",
	"ec2:DeleteSnapshot":  "kaizen images prune",
}

// Every method of the fleet's narrow client interfaces is in some
// function's actions or named above: adding a call to an interface without
// deciding who may make it fails here.
func TestEveryClientMethodIsAccountedFor(t *testing.T) {
	all := map[string]bool{}
	for _, fn := range route.Functions {
		for _, a := range access.Actions(fn) {
			all[a] = true
		}
	}
	for service, iface := range map[string]any{
		"ec2": (*cloud.EC2API)(nil), "autoscaling": (*cloud.AutoScalingAPI)(nil), "elbv2": (*cloud.ELBv2API)(nil),
		"sns": (*cloud.SNSAPI)(nil), "codebuild": (*cloud.CodeBuildAPI)(nil), "codepipeline": (*cloud.CodePipelineAPI)(nil),
		"dynamodb": (*cloud.DynamoDBAPI)(nil), "ssm": (*alrelease.SSMAPI)(nil),
	} {
		typ := reflect.TypeOf(iface).Elem()
		for i := range typ.NumMethod() {
			a := access.Action(service, typ.Method(i).Name)
			if !all[a] && notCalledByFunctions[a] == "" {
				t.Errorf("%s (%s.%s) is in no function's actions and not listed as the CLI's", a, typ.Name(), typ.Method(i).Name)
			}
			if all[a] && notCalledByFunctions[a] != "" {
				t.Errorf("%s is listed as the CLI's only, but a function has it", a)
			}
		}
	}
}

// alaspoll's release-version look-up is exactly alrelease.Latest's narrow
// interfaces (spelled out in access to keep the SSM client out of the
// other functions).
func TestALAS2023LookUpIsAlreleasesInterfaces(t *testing.T) {
	var want []string
	for service, iface := range map[string]any{"ssm": (*alrelease.SSMAPI)(nil), "ec2": (*alrelease.ImagesAPI)(nil)} {
		typ := reflect.TypeOf(iface).Elem()
		for i := range typ.NumMethod() {
			want = append(want, access.Action(service, typ.Method(i).Name))
		}
	}
	got := access.Actions(route.ALASPoll)
	for _, a := range want {
		if !slices.Contains(got, a) {
			t.Errorf("alaspoll lacks %s, which alrelease.Latest calls", a)
		}
	}
	for _, a := range got {
		if strings.HasPrefix(a, "ssm:") && !slices.Contains(want, a) {
			t.Errorf("alaspoll has %s, which alrelease.Latest does not call", a)
		}
	}
}

func applied(outs []steps.Outcome, k release.Kind) bool {
	for _, o := range outs {
		for _, a := range o.Applied {
			if a.Kind == k {
				return true
			}
		}
	}
	return false
}

func idSeq() func() string {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("access-test-%04d", n)
	}
}

// The state table's and the rebuilds' actions are spelled out in access
// (reflection there would bloat every bootstrap); they must be exactly the
// methods of the narrow interfaces the adapters call through.
func TestStoreAndRebuildActionsAreTheirInterfaces(t *testing.T) {
	methods := func(service string, iface any) []string {
		var out []string
		typ := reflect.TypeOf(iface).Elem()
		for i := range typ.NumMethod() {
			out = append(out, access.Action(service, typ.Method(i).Name))
		}
		return out
	}
	of := func(fn string, prefixes ...string) []string {
		var out []string
		for _, a := range access.Actions(fn) {
			for _, p := range prefixes {
				if strings.HasPrefix(a, p+":") {
					out = append(out, a)
				}
			}
		}
		return out
	}
	sorted := func(s []string) []string { slices.Sort(s); return s }
	store := sorted(methods("dynamodb", (*cloud.DynamoDBAPI)(nil)))
	rebuild := sorted(slices.Concat(methods("codebuild", (*cloud.CodeBuildAPI)(nil)), methods("codepipeline", (*cloud.CodePipelineAPI)(nil))))
	for _, fn := range access.Functions() {
		if got := sorted(of(fn, "dynamodb")); !slices.Equal(got, store) {
			t.Errorf("%s: DynamoDB actions %v, cloud.DynamoDBAPI has %v", fn, got, store)
		}
	}
	for _, fn := range []string{route.ALASPoll, route.SecretChange} {
		if got := sorted(of(fn, "codebuild", "codepipeline")); !slices.Equal(got, rebuild) {
			t.Errorf("%s: rebuild actions %v, the CodeBuild and CodePipeline interfaces have %v", fn, got, rebuild)
		}
	}
}
