package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// clients are the simulated clients by service, as sim.Op.Service names
// them.
func clients(c *sim.Cloud) map[string]any {
	return map[string]any{
		"ec2": c.EC2(), "autoscaling": c.AutoScaling(), "elbv2": c.ELBv2(), "sns": c.SNS(),
		"codebuild": c.CodeBuild(), "codepipeline": c.CodePipeline(), "ssm": c.SSM(),
		"rds": c.RDS(), "secretsmanager": c.SecretsManager(), "cloudwatch": c.CloudWatch(),
	}
}

var ctxType = reflect.TypeFor[context.Context]()

// operation reports whether m has an SDK operation's shape:
// (ctx, *Input, ...func(*Options)) (*Output, error).
func operation(m reflect.Type) bool {
	return m.NumIn() == 3 && m.In(0) == ctxType && m.In(1).Kind() == reflect.Pointer && m.IsVariadic() &&
		m.NumOut() == 2 && m.Out(1) == reflect.TypeFor[error]()
}

// Every Op constant names an operation a simulated client implements, and
// that operation is the one its fault fires on and its call is recorded
// under; conversely every operation of every client is an Op.
func TestEveryOpIsAnOperationOfItsClient(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	cls := clients(c)
	listed := map[string]bool{}
	for _, op := range sim.Ops() {
		listed[op.Service()+"."+string(op)] = true
		t.Run(string(op), func(t *testing.T) {
			cl, ok := cls[op.Service()]
			if !ok {
				t.Fatalf("service %q has no simulated client", op.Service())
			}
			m := reflect.ValueOf(cl).MethodByName(string(op))
			if !m.IsValid() || !operation(m.Type()) {
				t.Fatalf("%T has no operation %s", cl, op)
			}
			boom := errors.New("injected")
			c.Fail(op, boom, 1)
			res := m.Call([]reflect.Value{reflect.ValueOf(ctx), reflect.New(m.Type().In(1).Elem())})
			if err, _ := res[1].Interface().(error); !errors.Is(err, boom) {
				t.Fatalf("%s with a fault injected returned %v, want the fault", op, err)
			}
			calls := c.Calls()
			last := calls[len(calls)-1]
			if last.Op != string(op) || last.Service != op.Service() || last.Mutating != op.Mutating() || !errors.Is(last.Err, boom) {
				t.Fatalf("recorded %+v", last)
			}
		})
	}
	for service, cl := range cls {
		typ := reflect.TypeOf(cl)
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			if !operation(reflect.ValueOf(cl).Method(i).Type()) {
				continue
			}
			if !listed[service+"."+m.Name] {
				t.Errorf("%s.%s is implemented but is no sim.Op", service, m.Name)
			}
		}
	}
	if n := c.MutationCount(); n != 0 {
		t.Errorf("failed calls were counted as mutations: %s", c.MutationSummary())
	}
}

// A misspelt op cannot silently never fire.
func TestFailRefusesAnUnknownOp(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "ModifyListner") {
			t.Fatalf("recovered %v, want a panic naming the op", r)
		}
	}()
	sim.New(t0).Fail("ModifyListner", sim.Throttle(), 1)
}

func TestFailClears(t *testing.T) {
	c := sim.New(t0)
	c.AddTargetGroup("tg-a")
	c.AddListener("l", "tg-a")
	c.Fail(sim.OpDescribeListeners, sim.Throttle(), 5)
	c.Fail(sim.OpDescribeListeners, nil, 0)
	if _, err := c.ELBv2().DescribeListeners(context.Background(), &elbv2.DescribeListenersInput{ListenerArns: []string{"l"}}); err != nil {
		t.Fatalf("a cleared fault fired: %v", err)
	}
}

func elbWorld() *sim.Cloud {
	c := sim.New(t0)
	c.AddTargetGroup("tg-a")
	c.AddTargetGroup("tg-b")
	c.AddListener("l", "tg-a")
	c.AddRule("r", "l", "tg-b", []string{"10.0.0.0/8"}, "", "")
	return c
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The call log keeps a copy of each input: a caller that changes its input
// after the call, down to a pointer deep inside it, changes neither the log
// nor the simulated state.
func TestCallsRecordACopyOfTheInput(t *testing.T) {
	ctx := context.Background()
	c := elbWorld()
	in := &elbv2.ModifyListenerInput{ListenerArn: aws.String("l"), DefaultActions: []elbtypes.Action{{
		Type: elbtypes.ActionTypeEnumForward,
		ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
			{TargetGroupArn: aws.String("tg-a"), Weight: aws.Int32(90)},
			{TargetGroupArn: aws.String("tg-b"), Weight: aws.Int32(10)},
		}},
	}}}
	sent := js(t, in)
	if _, err := c.ELBv2().ModifyListener(ctx, in); err != nil {
		t.Fatal(err)
	}
	// Reuse the input as a caller building the next request might.
	*in.DefaultActions[0].ForwardConfig.TargetGroups[0].Weight = 0
	in.DefaultActions[0].ForwardConfig.TargetGroups[1].TargetGroupArn = aws.String("tg-x")
	*in.ListenerArn = "l-other"
	in.DefaultActions = append(in.DefaultActions, elbtypes.Action{Type: elbtypes.ActionTypeEnumFixedResponse})

	calls := c.Calls()
	rec, ok := calls[len(calls)-1].Input.(*elbv2.ModifyListenerInput)
	if !ok || rec == in {
		t.Fatalf("recorded input %T is the caller's pointer or no ModifyListenerInput", calls[len(calls)-1].Input)
	}
	if got := js(t, rec); got != sent {
		t.Fatalf("the log changed with the caller's input:\n got %s\nsent %s", got, sent)
	}
	out, err := c.ELBv2().DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{"l"}})
	if err != nil {
		t.Fatal(err)
	}
	tgs := out.Listeners[0].DefaultActions[0].ForwardConfig.TargetGroups
	if len(out.Listeners[0].DefaultActions) != 1 || aws.ToInt32(tgs[0].Weight) != 90 || aws.ToString(tgs[1].TargetGroupArn) != "tg-b" {
		t.Fatalf("the listener changed with the caller's input: %s", js(t, out.Listeners[0].DefaultActions))
	}

	// Rule conditions hold pointers too; and a described result is the
	// caller's to change.
	rin := &elbv2.ModifyRuleInput{RuleArn: aws.String("r"), Conditions: []elbtypes.RuleCondition{{
		Field: aws.String("source-ip"), SourceIpConfig: &elbtypes.SourceIpConditionConfig{Values: []string{"10.1.0.0/16"}},
	}}}
	if _, err := c.ELBv2().ModifyRule(ctx, rin); err != nil {
		t.Fatal(err)
	}
	rin.Conditions[0].SourceIpConfig.Values[0] = "0.0.0.0/0"
	rs, err := c.ELBv2().DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{"r"}})
	if err != nil {
		t.Fatal(err)
	}
	rs.Rules[0].Actions[0].TargetGroupArn = aws.String("tg-a")
	rs.Rules[0].Conditions[0].SourceIpConfig.Values[0] = "0.0.0.0/0"
	rs, _ = c.ELBv2().DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{"r"}})
	if got := rs.Rules[0].Conditions[0].SourceIpConfig.Values; !slices.Equal(got, []string{"10.1.0.0/16"}) {
		t.Fatalf("rule condition = %v, want the value sent", got)
	}
	if got := aws.ToString(rs.Rules[0].Actions[0].TargetGroupArn); got != "tg-b" {
		t.Fatalf("rule forwards to %s: a described result aliased the state", got)
	}
}

// Mutations counts successful mutating calls only; every call is in the
// log with its outcome.
func TestMutationsCountSuccessfulMutatingCalls(t *testing.T) {
	ctx := context.Background()
	c := elbWorld()
	elb := c.ELBv2()
	fwd := func(tg string) []elbtypes.Action {
		return []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}}
	}
	c.Fail(sim.OpModifyListener, sim.Throttle(), 1)
	if _, err := elb.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String("l"), DefaultActions: fwd("tg-b")}); err == nil {
		t.Fatal("injected fault did not fire")
	}
	_, err := elb.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String("nope"), DefaultActions: fwd("tg-b")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ListenerNotFound" {
		t.Fatalf("unknown listener: %v, want ListenerNotFound", err)
	}
	if _, err := elb.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String("l"), DefaultActions: fwd("tg-b")}); err != nil {
		t.Fatal(err)
	}
	if _, err := elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{"l"}}); err != nil {
		t.Fatal(err)
	}
	if got := c.Mutations(); !reflect.DeepEqual(got, map[string]int{"ModifyListener": 1}) {
		t.Fatalf("mutations = %v, want ModifyListener once", got)
	}
	var outcomes []string
	for _, call := range c.Calls() {
		o := call.Op + " ok"
		if call.Err != nil {
			o = call.Op + " failed"
		}
		outcomes = append(outcomes, o)
	}
	want := []string{"ModifyListener failed", "ModifyListener failed", "ModifyListener ok", "DescribeListeners ok"}
	if !slices.Equal(outcomes, want) {
		t.Fatalf("calls = %v, want %v", outcomes, want)
	}
	c.Reset()
	if len(c.Calls()) != 0 || c.MutationCount() != 0 {
		t.Fatal("Reset left calls or counts")
	}
}

// A group keeps its launch template version exactly as set, as AWS does:
// "$Latest" stays "$Latest" in DescribeAutoScalingGroups, and only launches
// resolve it, each to the newest version at its time.
func TestGroupKeepsTheVersionAsSet(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	c.LaunchDelay, c.HealthyDelay = time.Minute, time.Minute
	ami1 := c.AddImage("golden-1", t0, nil)
	c.AddLaunchTemplate("lt-1", "web", ami1)
	c.AddTargetGroup("tg")
	c.AddGroup("web", "lt-1", "1", "tg", 0, 0, 4)
	newVersion := func(name string) (string, int64) {
		ami := c.AddImage(name, c.Now(), nil)
		out, err := c.EC2().CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
			LaunchTemplateId: aws.String("lt-1"), SourceVersion: aws.String("1"),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ami)},
		})
		if err != nil {
			t.Fatal(err)
		}
		return ami, aws.ToInt64(out.LaunchTemplateVersion.VersionNumber)
	}
	set := func(version *string, desired int32) {
		t.Helper()
		if _, err := c.AutoScaling().UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String("web"), DesiredCapacity: aws.Int32(desired),
			LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-1"), Version: version},
		}); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Minute)
	}
	describe := func() astypes.AutoScalingGroup {
		t.Helper()
		out, err := c.AutoScaling().DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
		if err != nil || len(out.AutoScalingGroups) != 1 {
			t.Fatalf("describe: %v", err)
		}
		return out.AutoScalingGroups[0]
	}
	instanceVersions := func(g astypes.AutoScalingGroup) []string {
		var vs []string
		for _, i := range g.Instances {
			vs = append(vs, aws.ToString(i.LaunchTemplate.Version))
		}
		slices.Sort(vs)
		return vs
	}

	_, v2 := newVersion("golden-2")
	set(aws.String("$Latest"), 1)
	g := describe()
	if got := aws.ToString(g.LaunchTemplate.Version); got != "$Latest" {
		t.Fatalf("group version = %q, want $Latest as set", got)
	}
	if got := instanceVersions(g); !slices.Equal(got, []string{"2"}) || v2 != 2 {
		t.Fatalf("instance versions = %v, want the launch to resolve $Latest to 2", got)
	}
	// A version created later is what the next launch gets.
	newVersion("golden-3")
	set(aws.String("$Latest"), 2)
	if g := describe(); aws.ToString(g.LaunchTemplate.Version) != "$Latest" || !slices.Equal(instanceVersions(g), []string{"2", "3"}) {
		t.Fatalf("after a new version: group %q, instances %v; want $Latest and 2, 3", aws.ToString(g.LaunchTemplate.Version), instanceVersions(g))
	}
	set(nil, 2)
	if got := aws.ToString(describe().LaunchTemplate.Version); got != "$Default" {
		t.Fatalf("group version without one = %q, want $Default", got)
	}
	set(aws.String("2"), 2)
	if got := aws.ToString(describe().LaunchTemplate.Version); got != "2" {
		t.Fatalf("pinned group version = %q, want 2", got)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "not an API error: " + err.Error()
	}
	return "ok"
}

// The services around a fleet exist only once seeded, as in AWS: a topic,
// a project and a pipeline that do not exist are refused with AWS's codes.
func TestServicesExistOnlyOnceSeeded(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	app := &config.App{Name: "web", TopicARN: "arn:aws:sns:eu-west-1:111122223333:kaizen-web",
		Rebuild: config.Rebuild{CodeBuildProject: "web-image"}, Approval: config.Approval{Pipeline: "web-release"}}
	publish := func() error {
		_, err := c.SNS().Publish(ctx, &sns.PublishInput{TopicArn: aws.String(app.TopicARN), Message: aws.String("m")})
		return err
	}
	start := func() error {
		_, err := c.CodeBuild().StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("web-image")})
		return err
	}
	list := func() error {
		_, err := c.CodeBuild().ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("web-image")})
		return err
	}
	execute := func() error {
		_, err := c.CodePipeline().StartPipelineExecution(ctx, &codepipeline.StartPipelineExecutionInput{Name: aws.String("web-release")})
		return err
	}
	executions := func() error {
		_, err := c.CodePipeline().ListPipelineExecutions(ctx, &codepipeline.ListPipelineExecutionsInput{PipelineName: aws.String("web-release")})
		return err
	}
	calls := []func() error{publish, start, list, execute, executions}
	want := []string{"NotFound", "ResourceNotFoundException", "ResourceNotFoundException", "PipelineNotFoundException", "PipelineNotFoundException"}
	for i, call := range calls {
		if got := apiCode(call()); got != want[i] {
			t.Errorf("call %d before seeding: %s, want %s", i, got, want[i])
		}
	}
	if n := c.MutationCount(); n != 0 {
		t.Errorf("refused calls counted: %s", c.MutationSummary())
	}
	c.SeedServices(app)
	for i, call := range calls {
		if err := call(); err != nil {
			t.Errorf("call %d once seeded: %v", i, err)
		}
	}
	if got := c.MutationSummary(); got != "Publish×1, StartBuild×1, StartPipelineExecution×1" {
		t.Errorf("mutations %s", got)
	}
}

// The simulated CodePipeline refuses undeclared variables as AWS does, and
// a rebuild pipeline is seeded declaring rebuild.PipelineVariables, as the
// reference pipeline stack (infra/stacks/pipeline.go) declares them: what
// shared/rebuild sends is accepted, anything more is refused.
func TestRebuildPipelineDeclaresWhatRebuildSends(t *testing.T) {
	ctx := context.Background()
	for _, variable := range []string{"", "ADVISORIES"} {
		t.Run("variable "+variable, func(t *testing.T) {
			c := sim.New(t0)
			app := &config.App{Name: "web", Rebuild: config.Rebuild{Pipeline: "web-image", PipelineVariable: variable},
				Approval: config.Approval{Pipeline: "web-release"}}
			c.SeedServices(app)
			b := &rebuild.Builder{CodePipeline: c.CodePipeline()}
			if _, err := b.Start(ctx, app, []string{"ALAS2023-2024-771", "ALAS2023-2024-772"}, "2023.6.20241111"); err != nil {
				t.Fatalf("an advisory rebuild with a release version: %v", err)
			}
			if _, err := b.StartForSecret(ctx, app, "secret changed", "evt-1"); err != nil {
				t.Fatalf("a secret rebuild: %v", err)
			}
			var sent []string
			for _, call := range c.Calls() {
				if in, ok := call.Input.(*codepipeline.StartPipelineExecutionInput); ok {
					for _, v := range in.Variables {
						sent = append(sent, aws.ToString(v.Name))
					}
				}
			}
			if want := rebuild.PipelineVariables(app); !slices.Equal(sent, want) {
				t.Fatalf("rebuild sent variables %v, want every declared one, %v (else this test checks less than it says)", sent, want)
			}

			vars := func(names ...string) []cptypes.PipelineVariable {
				var out []cptypes.PipelineVariable
				for _, n := range names {
					out = append(out, cptypes.PipelineVariable{Name: aws.String(n), Value: aws.String("x")})
				}
				return out
			}
			declared := rebuild.PipelineVariables(app)
			for name, in := range map[string]*codepipeline.StartPipelineExecutionInput{
				"an extra variable":                        {Name: aws.String("web-image"), Variables: vars(append(slices.Clone(declared), rebuild.EnvReason)...)},
				"a variable of the approval pipeline only": {Name: aws.String("web-release"), Variables: vars(declared[0])},
				"an empty value": {Name: aws.String("web-image"), Variables: []cptypes.PipelineVariable{
					{Name: aws.String(declared[0]), Value: aws.String("")}}},
			} {
				before := len(c.Calls())
				_, err := c.CodePipeline().StartPipelineExecution(ctx, in)
				if got := apiCode(err); got != "ValidationException" {
					t.Errorf("%s: %s, want ValidationException", name, got)
				}
				if len(c.Calls()) != before+1 {
					t.Errorf("%s: not recorded", name)
				}
			}
			if got := c.Mutations()["StartPipelineExecution"]; got != 2 {
				t.Errorf("%d executions started, want the 2 rebuilds", got)
			}
		})
	}
}

// SuspensionReason reads as AWS's does, with the virtual time of the
// suspension; suspending again keeps it.
func TestSuspensionReasonNamesTheTime(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	ami := c.AddImage("golden-1", t0, nil)
	c.AddLaunchTemplate("lt-1", "web", ami)
	c.AddTargetGroup("tg")
	c.AddGroup("web", "lt-1", "1", "tg", 0, 0, 4)
	suspend := func(procs ...string) {
		t.Helper()
		if _, err := c.AutoScaling().SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String("web"), ScalingProcesses: procs}); err != nil {
			t.Fatal(err)
		}
	}
	suspend("Launch")
	c.Advance(90 * time.Second)
	suspend("Launch", "Terminate")
	out, err := c.AutoScaling().DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	g := out.AutoScalingGroups[0]
	var got []string
	for _, p := range g.SuspendedProcesses {
		got = append(got, aws.ToString(p.ProcessName)+": "+aws.ToString(p.SuspensionReason))
	}
	want := []string{"Launch: User suspended at 2026-11-24T09:00:00Z", "Terminate: User suspended at 2026-11-24T09:01:30Z"}
	if !slices.Equal(got, want) {
		t.Fatalf("suspended %q, want %q", got, want)
	}
	if !strings.HasPrefix(aws.ToString(g.AutoScalingGroupARN), "arn:aws:autoscaling:eu-west-1:111122223333:autoScalingGroup:") ||
		!strings.HasSuffix(aws.ToString(g.AutoScalingGroupARN), ":autoScalingGroupName/web") || len(g.AvailabilityZones) == 0 {
		t.Fatalf("group ARN %q, zones %v", aws.ToString(g.AutoScalingGroupARN), g.AvailabilityZones)
	}
}

// Deregistering an AMI twice answers InvalidAMIID.Unavailable, as AWS
// does for a deregistered AMI; an id that never existed, NotFound.
func TestDeregisterTwice(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	ami := c.AddImage("golden-1", t0, nil)
	dereg := func(id string) string {
		_, err := c.EC2().DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(id)})
		return apiCode(err)
	}
	if got := []string{dereg(ami), dereg(ami), dereg("ami-0123456789abcdef0")}; !slices.Equal(got, []string{"ok", "InvalidAMIID.Unavailable", "InvalidAMIID.NotFound"}) {
		t.Fatalf("deregister, again, unknown: %v", got)
	}
}
