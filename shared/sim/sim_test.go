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
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/sim"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// clients are the simulated clients by service, as sim.Op.Service names
// them.
func clients(c *sim.Cloud) map[string]any {
	return map[string]any{
		"ec2": c.EC2(), "autoscaling": c.AutoScaling(), "elbv2": c.ELBv2(), "sns": c.SNS(),
		"codebuild": c.CodeBuild(), "codepipeline": c.CodePipeline(), "ssm": c.SSM(),
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
