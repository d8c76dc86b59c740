package simhttp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

const region = "eu-west-1"

var start = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// env is one test's world: a seeded cloud, its app, the server in front of
// it and real SDK clients pointed at that server.
type env struct {
	cloud *sim.Cloud
	cfg   *config.File
	app   *config.App
	srv   *httptest.Server

	ec2 *ec2.Client
	asg *autoscaling.Client
	elb *elbv2.Client
	sns *sns.Client
	cb  *codebuild.Client
	cp  *codepipeline.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg, err := config.Load("../../examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cloud: sim.New(start), cfg: cfg, app: &cfg.Apps[0]}
	e.cloud.SeedApp(e.app)
	e.srv = httptest.NewServer(New(e.cloud, WithConfig(cfg)))
	t.Cleanup(e.srv.Close)

	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "")
	ep := aws.String(e.srv.URL)
	// One attempt: error tests need not wait for retries.
	e.ec2 = ec2.New(ec2.Options{Region: region, BaseEndpoint: ep, Credentials: creds, RetryMaxAttempts: 1})
	e.asg = autoscaling.New(autoscaling.Options{Region: region, BaseEndpoint: ep, Credentials: creds, RetryMaxAttempts: 1})
	e.elb = elbv2.New(elbv2.Options{Region: region, BaseEndpoint: ep, Credentials: creds, RetryMaxAttempts: 1})
	e.sns = sns.New(sns.Options{Region: region, BaseEndpoint: ep, Credentials: creds, RetryMaxAttempts: 1})
	e.cb = codebuild.New(codebuild.Options{Region: region, BaseEndpoint: ep, Credentials: creds, RetryMaxAttempts: 1})
	e.cp = codepipeline.New(codepipeline.Options{Region: region, BaseEndpoint: ep, Credentials: creds, RetryMaxAttempts: 1})
	return e
}

// remote is the fleet seen through HTTP and the SDK; local the same cloud
// called in process, the reference.
func (e *env) remote() *cloud.Fleet {
	return &cloud.Fleet{EC2: e.ec2, ASG: e.asg, ELB: e.elb, SNS: e.sns, Attempts: 1}
}

func (e *env) local() *cloud.Fleet {
	c := e.cloud
	return &cloud.Fleet{EC2: c.EC2(), ASG: c.AutoScaling(), ELB: c.ELBv2(), SNS: c.SNS(), Attempts: 1}
}

// observe observes through HTTP, checks that it matches the in-process
// observation, and returns it.
func (e *env) observe(t *testing.T) release.Observed {
	t.Helper()
	ctx := context.Background()
	got, err := e.remote().Observe(ctx, e.app)
	if err != nil {
		t.Fatalf("observe over HTTP: %v", err)
	}
	want, err := e.local().Observe(ctx, e.app)
	if err != nil {
		t.Fatalf("observe in process: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("observe over HTTP differs:\n got %s\nwant %s", js(got), js(want))
	}
	return got
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// lastInput is the input of the last recorded call of op.
func lastInput(t *testing.T, c *sim.Cloud, op string) any {
	t.Helper()
	calls := c.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Op == op {
			return calls[i].Input
		}
	}
	t.Fatalf("no call of %s recorded", op)
	return nil
}

func errorCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an API error", err, err)
	}
	return ae.ErrorCode()
}

func TestObserveMatchesInProcess(t *testing.T) {
	e := newEnv(t)
	obs := e.observe(t)
	if obs.Weights[config.Blue] != 100 || obs.Preview != config.Green || obs.Color(config.Blue).Healthy != e.app.Floor {
		t.Fatalf("unexpected seed observation %s", js(obs))
	}
}

func TestApplyThroughSDK(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	f := e.remote()
	apply := func(a release.Action) release.Observed {
		t.Helper()
		if err := f.Apply(ctx, e.app, e.observe(t), a); err != nil {
			t.Fatalf("apply %s: %v", a, err)
		}
		return e.observe(t)
	}

	ami := e.cloud.NewAMI(e.app, "shop-golden-1", "exec-1")
	img, err := f.Image(ctx, ami)
	if err != nil || img == nil || !cloud.Ours(e.app, img) || img.Tags[e.app.PipelineTag] != "exec-1" {
		t.Fatalf("image %s over HTTP: %+v, %v", ami, img, err)
	}
	if newest, err := f.NewestImage(ctx, e.app); err != nil || newest == nil || newest.ID != ami {
		t.Fatalf("newest image over HTTP: %+v, %v; want %s", newest, err, ami)
	}

	obs := apply(release.Action{Kind: release.PutAMI, Color: config.Green, AMI: ami, Token: "tok-1",
		Capacity: &release.Capacity{Min: 1, Desired: 1, Max: 8}})
	if g := obs.Color(config.Green); g.AMI != ami || g.Version != "2" || g.Capacity != (release.Capacity{Min: 1, Desired: 1, Max: 8}) {
		t.Fatalf("green after PutAMI: %s", js(g))
	}
	in := lastInput(t, e.cloud, "CreateLaunchTemplateVersion").(*ec2.CreateLaunchTemplateVersionInput)
	if aws.ToString(in.ClientToken) != "tok-1" || aws.ToString(in.SourceVersion) != "1" || aws.ToString(in.VersionDescription) != "kaizen: "+ami {
		t.Fatalf("CreateLaunchTemplateVersion input: %s", js(in))
	}

	e.cloud.Advance(10 * time.Minute)
	if g := e.observe(t).Color(config.Green); g.Healthy != 1 {
		t.Fatalf("green not healthy after 10m: %s", js(g))
	}

	obs = apply(release.Action{Kind: release.SetCapacity, Color: config.Green, Capacity: &release.Capacity{Min: 2, Desired: 2, Max: 8}})
	if g := obs.Color(config.Green); g.Capacity != (release.Capacity{Min: 2, Desired: 2, Max: 8}) {
		t.Fatalf("green after SetCapacity: %s", js(g))
	}

	obs = apply(release.Action{Kind: release.Shift, Weights: map[config.Color]int{config.Blue: 10, config.Green: 90}})
	if !reflect.DeepEqual(obs.Weights, map[config.Color]int{config.Blue: 10, config.Green: 90}) {
		t.Fatalf("weights after weighted shift: %v", obs.Weights)
	}
	obs = apply(release.Action{Kind: release.Shift, Weights: map[config.Color]int{config.Green: 100}})
	if !reflect.DeepEqual(obs.Weights, map[config.Color]int{config.Green: 100}) {
		t.Fatalf("weights after full shift: %v", obs.Weights)
	}

	obs = apply(release.Action{Kind: release.PointPreview, Color: config.Blue})
	if obs.Preview != config.Blue {
		t.Fatalf("preview after PointPreview: %q", obs.Preview)
	}

	obs = apply(release.Action{Kind: release.Suspend, Color: config.Blue, Processes: release.ScalingProcesses})
	if got := obs.Color(config.Blue).Suspended; !reflect.DeepEqual(got, []string{"AlarmNotification", "ScheduledActions"}) {
		t.Fatalf("suspended after Suspend: %v", got)
	}
	obs = apply(release.Action{Kind: release.Resume, Color: config.Blue, Processes: release.ScalingProcesses})
	if got := obs.Color(config.Blue).Suspended; len(got) != 0 {
		t.Fatalf("suspended after Resume: %v", got)
	}

	apply(release.Action{Kind: release.Notify, Subject: "released " + ami, Message: "green serves the public"})
	pub := e.cloud.Published()
	if len(pub) != 1 || pub[0].Topic != e.app.TopicARN || pub[0].Subject != "released "+ami || pub[0].Message != "green serves the public" {
		t.Fatalf("published: %+v", pub)
	}

	want := map[string]int{"CreateLaunchTemplateVersion": 1, "UpdateAutoScalingGroup": 2, "ModifyListener": 2,
		"ModifyRule": 1, "SuspendProcesses": 1, "ResumeProcesses": 1, "Publish": 1}
	if got := e.cloud.Mutations(); !reflect.DeepEqual(got, want) {
		t.Fatalf("mutations %v, want %v", got, want)
	}
}

// TestInputsArriveIntact checks that what a client sends is what the
// simulation receives, member for member.
func TestInputsArriveIntact(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.app
	check := func(op string, sent any) {
		t.Helper()
		if got := lastInput(t, e.cloud, op); !reflect.DeepEqual(got, sent) {
			t.Errorf("%s input:\n got %s\nsent %s", op, js(got), js(sent))
		}
	}
	ami := e.cloud.NewAMI(a, "shop-golden-1", "")

	di := &ec2.DescribeImagesInput{ImageIds: []string{ami}, Owners: []string{"self"}, MaxResults: aws.Int32(10),
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + a.ImageTag.Key), Values: []string{a.ImageTag.Value, "other"}}, {Name: aws.String("state"), Values: []string{"available"}}}}
	if _, err := e.ec2.DescribeImages(ctx, di); err != nil {
		t.Fatal(err)
	}
	check("DescribeImages", di)

	dv := &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(a.Green.LaunchTemplateID), Versions: []string{"1", "$Latest"}}
	if _, err := e.ec2.DescribeLaunchTemplateVersions(ctx, dv); err != nil {
		t.Fatal(err)
	}
	check("DescribeLaunchTemplateVersions", dv)

	cv := &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String(a.Green.LaunchTemplateID), SourceVersion: aws.String("$Default"),
		ClientToken: aws.String("tok"), VersionDescription: aws.String("a <new> & better AMI"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ami)}}
	out, err := e.ec2.CreateLaunchTemplateVersion(ctx, cv)
	if err != nil {
		t.Fatal(err)
	}
	check("CreateLaunchTemplateVersion", cv)
	if aws.ToInt64(out.LaunchTemplateVersion.VersionNumber) != 2 {
		t.Fatalf("created version %d, want 2", aws.ToInt64(out.LaunchTemplateVersion.VersionNumber))
	}

	ua := &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(a.Green.ASG),
		LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(a.Green.LaunchTemplateID), Version: aws.String("2")},
		MinSize:        aws.Int32(1), DesiredCapacity: aws.Int32(1), MaxSize: aws.Int32(5)}
	if _, err := e.asg.UpdateAutoScalingGroup(ctx, ua); err != nil {
		t.Fatal(err)
	}
	check("UpdateAutoScalingGroup", ua)

	ml := &elbv2.ModifyListenerInput{ListenerArn: aws.String(a.ListenerARN), DefaultActions: []elbtypes.Action{{
		Type: elbtypes.ActionTypeEnumForward, Order: aws.Int32(1),
		ForwardConfig: &elbtypes.ForwardActionConfig{
			TargetGroups: []elbtypes.TargetGroupTuple{
				{TargetGroupArn: aws.String(a.Blue.TargetGroupARN), Weight: aws.Int32(10)},
				{TargetGroupArn: aws.String(a.Green.TargetGroupARN), Weight: aws.Int32(90)},
			},
			TargetGroupStickinessConfig: &elbtypes.TargetGroupStickinessConfig{Enabled: aws.Bool(false)},
		},
	}}}
	if _, err := e.elb.ModifyListener(ctx, ml); err != nil {
		t.Fatal(err)
	}
	check("ModifyListener", ml)

	mr := &elbv2.ModifyRuleInput{RuleArn: aws.String(a.Preview.RuleARN),
		Actions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(a.Blue.TargetGroupARN)}},
		Conditions: []elbtypes.RuleCondition{
			{Field: aws.String("source-ip"), SourceIpConfig: &elbtypes.SourceIpConditionConfig{Values: []string{"203.0.113.10/32", "198.51.100.0/24"}}},
			{Field: aws.String("http-header"), HttpHeaderConfig: &elbtypes.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Preview"), Values: []string{"1"}}},
		}}
	if _, err := e.elb.ModifyRule(ctx, mr); err != nil {
		t.Fatal(err)
	}
	check("ModifyRule", mr)

	th := &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(a.Blue.TargetGroupARN)}
	if _, err := e.elb.DescribeTargetHealth(ctx, th); err != nil {
		t.Fatal(err)
	}
	check("DescribeTargetHealth", th)

	// A map with renamed key and value (Name, Value) and a blob.
	pb := &sns.PublishInput{TopicArn: aws.String(a.TopicARN), Subject: aws.String("subject"), Message: aws.String("line 1\nline 2 <&>"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"app":   {DataType: aws.String("String"), StringValue: aws.String("shop")},
			"bytes": {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2, 255}},
		}}
	if _, err := e.sns.Publish(ctx, pb); err != nil {
		t.Fatal(err)
	}
	check("Publish", pb)

	sb := &codebuild.StartBuildInput{ProjectName: aws.String("shop-golden-ami"), SourceVersion: aws.String("main"),
		EnvironmentVariablesOverride: []cbtypes.EnvironmentVariable{{Name: aws.String("ALAS"), Value: aws.String("ALAS2023-2025-001"), Type: cbtypes.EnvironmentVariableTypePlaintext}}}
	if _, err := e.cb.StartBuild(ctx, sb); err != nil {
		t.Fatal(err)
	}
	check("StartBuild", sb)

	e.cloud.AddPipeline("shop-image", "REASON")
	sp := &codepipeline.StartPipelineExecutionInput{Name: aws.String("shop-image"), ClientRequestToken: aws.String("tok"),
		Variables: []cptypes.PipelineVariable{{Name: aws.String("REASON"), Value: aws.String("secret rotated")}}}
	if _, err := e.cp.StartPipelineExecution(ctx, sp); err != nil {
		t.Fatal(err)
	}
	check("StartPipelineExecution", sp)
}

// TestOutputsArriveIntact checks that what the simulation answers is what a
// client decodes, member for member.
func TestOutputsArriveIntact(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.app
	c := e.cloud
	// Make the state richer: a weighted listener, green instances pending
	// and healthy, suspended processes, a build and an execution.
	ami := c.NewAMI(a, "shop-golden-1", "exec-1")
	obs := e.observe(t)
	f := e.local()
	for _, act := range []release.Action{
		{Kind: release.PutAMI, Color: config.Green, AMI: ami, Token: "t", Capacity: &release.Capacity{Min: 0, Desired: 2, Max: 8}},
		{Kind: release.Shift, Weights: map[config.Color]int{config.Blue: 50, config.Green: 50}},
		{Kind: release.Suspend, Color: config.Green, Processes: release.ScalingProcesses},
	} {
		if err := f.Apply(ctx, a, obs, act); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(4 * time.Minute)
	if _, err := c.CodeBuild().StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("shop-golden-ami")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CodePipeline().StartPipelineExecution(ctx, &codepipeline.StartPipelineExecutionInput{Name: aws.String("shop-release")}); err != nil {
		t.Fatal(err)
	}
	buildID := c.Builds()[0].ID

	same := func(op string, got, want any, gotErr, wantErr error) {
		t.Helper()
		if gotErr != nil || wantErr != nil {
			t.Fatalf("%s: over HTTP %v, in process %v", op, gotErr, wantErr)
		}
		// The request metadata is the transport's, not the service's.
		for _, v := range []any{got, want} {
			reflect.ValueOf(v).Elem().FieldByName("ResultMetadata").Set(reflect.ValueOf(middleware.Metadata{}))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s output:\n got %s\nwant %s", op, js(got), js(want))
		}
	}

	{
		in := &ec2.DescribeImagesInput{Owners: []string{"self"}}
		got, gerr := e.ec2.DescribeImages(ctx, in)
		want, werr := c.EC2().DescribeImages(ctx, in)
		same("DescribeImages", got, want, gerr, werr)
		if len(got.Images) != 2 {
			t.Fatalf("%d images, want 2", len(got.Images))
		}
	}
	{
		in := &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(a.Green.LaunchTemplateID)}
		got, gerr := e.ec2.DescribeLaunchTemplateVersions(ctx, in)
		want, werr := c.EC2().DescribeLaunchTemplateVersions(ctx, in)
		same("DescribeLaunchTemplateVersions", got, want, gerr, werr)
	}
	{
		in := &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{a.Blue.ASG, a.Green.ASG, "unknown"}}
		got, gerr := e.asg.DescribeAutoScalingGroups(ctx, in)
		want, werr := c.AutoScaling().DescribeAutoScalingGroups(ctx, in)
		same("DescribeAutoScalingGroups", got, want, gerr, werr)
	}
	{
		in := &elbv2.DescribeListenersInput{ListenerArns: []string{a.ListenerARN}}
		got, gerr := e.elb.DescribeListeners(ctx, in)
		want, werr := c.ELBv2().DescribeListeners(ctx, in)
		same("DescribeListeners", got, want, gerr, werr)
	}
	{
		in := &elbv2.DescribeRulesInput{RuleArns: []string{a.Preview.RuleARN}}
		got, gerr := e.elb.DescribeRules(ctx, in)
		want, werr := c.ELBv2().DescribeRules(ctx, in)
		same("DescribeRules", got, want, gerr, werr)
	}
	for _, tg := range []string{a.Blue.TargetGroupARN, a.Green.TargetGroupARN} {
		in := &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)}
		got, gerr := e.elb.DescribeTargetHealth(ctx, in)
		want, werr := c.ELBv2().DescribeTargetHealth(ctx, in)
		same("DescribeTargetHealth", got, want, gerr, werr)
	}
	{
		in := &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("shop-golden-ami")}
		got, gerr := e.cb.ListBuildsForProject(ctx, in)
		want, werr := c.CodeBuild().ListBuildsForProject(ctx, in)
		same("ListBuildsForProject", got, want, gerr, werr)
	}
	{
		// A running build, a finished one and one that does not exist.
		done, err := c.CodeBuild().StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("shop-golden-ami")})
		if err != nil {
			t.Fatal(err)
		}
		c.Advance(25 * time.Minute)
		c.FinishBuild(aws.ToString(done.Build.Id), "FAILED")
		in := &codebuild.BatchGetBuildsInput{Ids: []string{buildID, aws.ToString(done.Build.Id), "shop-golden-ami:nope"}}
		got, gerr := e.cb.BatchGetBuilds(ctx, in)
		want, werr := c.CodeBuild().BatchGetBuilds(ctx, in)
		same("BatchGetBuilds", got, want, gerr, werr)
		if len(got.Builds) != 2 || got.Builds[0].StartTime == nil || got.Builds[0].Arn == nil || len(got.Builds[1].Phases) != 3 ||
			!got.Builds[1].BuildComplete || !reflect.DeepEqual(got.BuildsNotFound, []string{"shop-golden-ami:nope"}) {
			t.Errorf("BatchGetBuilds: %s", js(got))
		}
	}
	{
		in := &codebuild.StartBuildInput{ProjectName: aws.String("shop-golden-ami")}
		got, gerr := e.cb.StartBuild(ctx, in)
		want, werr := c.CodeBuild().BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{aws.ToString(got.Build.Id)}})
		if gerr != nil || werr != nil || !reflect.DeepEqual(got.Build, &want.Builds[0]) {
			t.Errorf("StartBuild output %s (%v), want the build as BatchGetBuilds has it: %s (%v)", js(got.Build), gerr, js(want.Builds), werr)
		}
	}
	{
		// The same ClientToken answers the same version, in process and
		// over HTTP alike.
		in := &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String(a.Blue.LaunchTemplateID), SourceVersion: aws.String("1"),
			ClientToken: aws.String("outputs"), VersionDescription: aws.String("kaizen: " + ami),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ami)}}
		got, gerr := e.ec2.CreateLaunchTemplateVersion(ctx, in)
		want, werr := c.EC2().CreateLaunchTemplateVersion(ctx, in)
		same("CreateLaunchTemplateVersion", got, want, gerr, werr)
		v := got.LaunchTemplateVersion
		if v.LaunchTemplateData == nil || aws.ToString(v.LaunchTemplateData.ImageId) != ami || v.CreateTime == nil || v.CreatedBy == nil ||
			v.DefaultVersion == nil || aws.ToString(v.LaunchTemplateName) == "" || aws.ToString(v.VersionDescription) != "kaizen: "+ami {
			t.Errorf("CreateLaunchTemplateVersion output is not the whole version: %s", js(v))
		}
	}
	{
		in := &elbv2.ModifyListenerInput{ListenerArn: aws.String(a.ListenerARN), DefaultActions: []elbtypes.Action{{
			Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
				{TargetGroupArn: aws.String(a.Blue.TargetGroupARN), Weight: aws.Int32(30)}, {TargetGroupArn: aws.String(a.Green.TargetGroupARN), Weight: aws.Int32(70)}}}}}}
		got, gerr := e.elb.ModifyListener(ctx, in)
		want, werr := c.ELBv2().ModifyListener(ctx, in)
		same("ModifyListener", got, want, gerr, werr)
		d, err := c.ELBv2().DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{a.ListenerARN}})
		if err != nil || !reflect.DeepEqual(got.Listeners, d.Listeners) {
			t.Errorf("ModifyListener output %s, want the listener as described: %s (%v)", js(got.Listeners), js(d), err)
		}
	}
	{
		in := &elbv2.ModifyRuleInput{RuleArn: aws.String(a.Preview.RuleARN), Actions: []elbtypes.Action{{
			Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(a.Blue.TargetGroupARN)}}}
		got, gerr := e.elb.ModifyRule(ctx, in)
		want, werr := c.ELBv2().ModifyRule(ctx, in)
		same("ModifyRule", got, want, gerr, werr)
		d, err := c.ELBv2().DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{a.Preview.RuleARN}})
		if err != nil || !reflect.DeepEqual(got.Rules, d.Rules) || got.Rules[0].IsDefault == nil {
			t.Errorf("ModifyRule output %s, want the rule as described: %s (%v)", js(got.Rules), js(d), err)
		}
	}
	{
		in := &codepipeline.ListPipelineExecutionsInput{PipelineName: aws.String("shop-release")}
		got, gerr := e.cp.ListPipelineExecutions(ctx, in)
		want, werr := c.CodePipeline().ListPipelineExecutions(ctx, in)
		same("ListPipelineExecutions", got, want, gerr, werr)
	}
}

func TestErrorsKeepTheirCodes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.app

	_, err := e.elb.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(a.ListenerARN),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/nope/1")}}})
	if code := errorCode(t, err); code != "TargetGroupNotFound" {
		t.Errorf("ModifyListener to an unknown target group: code %q (%v)", code, err)
	}
	// The SDK resolves the code to its modeled error type.
	var tgnf *elbtypes.TargetGroupNotFoundException
	if !errors.As(err, &tgnf) || !strings.Contains(tgnf.ErrorMessage(), "nope") {
		t.Errorf("ModifyListener error %T %v is not a TargetGroupNotFoundException naming the group", err, err)
	}

	_, err = e.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(a.Blue.ASG),
		DesiredCapacity: aws.Int32(99)})
	if code := errorCode(t, err); code != "ValidationError" {
		t.Errorf("UpdateAutoScalingGroup above max: code %q (%v)", code, err)
	}

	_, err = e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-00000000000000000"}})
	if code := errorCode(t, err); code != "InvalidAMIID.NotFound" || !cloud.IsNotFound(err) {
		t.Errorf("DescribeImages of an unknown id: code %q (%v)", code, err)
	}
	if img, err := e.remote().Image(ctx, "ami-00000000000000000"); img != nil || err != nil {
		t.Errorf("Fleet.Image of an unknown id over HTTP: %v, %v; want nil, nil", img, err)
	}

	_, err = e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String("lt-nope"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-1")}})
	if code := errorCode(t, err); code != "InvalidLaunchTemplateId.NotFound" {
		t.Errorf("CreateLaunchTemplateVersion of an unknown template: code %q (%v)", code, err)
	}

	_, err = e.cb.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("")})
	var iie *cbtypes.InvalidInputException
	if code := errorCode(t, err); code != "InvalidInputException" || !errors.As(err, &iie) {
		t.Errorf("StartBuild without a project: code %q (%T %v)", code, err, err)
	}

	// What does not exist, or no longer does, as AWS reports it; the SDK
	// resolves each code to its modeled error type where it has one.
	_, err = e.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(a.TopicARN + "-missing"), Message: aws.String("m")})
	var snsNF *snstypes.NotFoundException
	if code := errorCode(t, err); code != "NotFound" || !errors.As(err, &snsNF) {
		t.Errorf("Publish to an unknown topic: code %q (%T %v)", code, err, err)
	}
	var cbNF *cbtypes.ResourceNotFoundException
	_, err = e.cb.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("no-such-project")})
	if code := errorCode(t, err); code != "ResourceNotFoundException" || !errors.As(err, &cbNF) {
		t.Errorf("StartBuild of an unknown project: code %q (%T %v)", code, err, err)
	}
	_, err = e.cb.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("no-such-project")})
	if code := errorCode(t, err); code != "ResourceNotFoundException" || !errors.As(err, &cbNF) {
		t.Errorf("ListBuildsForProject of an unknown project: code %q (%T %v)", code, err, err)
	}
	var cpNF *cptypes.PipelineNotFoundException
	_, err = e.cp.StartPipelineExecution(ctx, &codepipeline.StartPipelineExecutionInput{Name: aws.String("no-such-pipeline")})
	if code := errorCode(t, err); code != "PipelineNotFoundException" || !errors.As(err, &cpNF) {
		t.Errorf("StartPipelineExecution of an unknown pipeline: code %q (%T %v)", code, err, err)
	}
	_, err = e.cp.ListPipelineExecutions(ctx, &codepipeline.ListPipelineExecutionsInput{PipelineName: aws.String("no-such-pipeline")})
	if code := errorCode(t, err); code != "PipelineNotFoundException" || !errors.As(err, &cpNF) {
		t.Errorf("ListPipelineExecutions of an unknown pipeline: code %q (%T %v)", code, err, err)
	}
	var cpVal *cptypes.ValidationException
	_, err = e.cp.StartPipelineExecution(ctx, &codepipeline.StartPipelineExecutionInput{Name: aws.String(a.Approval.Pipeline),
		Variables: []cptypes.PipelineVariable{{Name: aws.String("UNDECLARED"), Value: aws.String("x")}}})
	if code := errorCode(t, err); code != "ValidationException" || !errors.As(err, &cpVal) || !strings.Contains(err.Error(), "UNDECLARED") {
		t.Errorf("StartPipelineExecution with an undeclared variable: code %q (%T %v)", code, err, err)
	}
	gone := e.cloud.NewAMI(a, "shop-golden-gone", "")
	if _, err := e.ec2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.ec2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(gone)})
	if code := errorCode(t, err); code != "InvalidAMIID.Unavailable" {
		t.Errorf("DeregisterImage of a deregistered AMI: code %q (%v)", code, err)
	}

	// Injected faults: a server fault is a 503 the fleet retries; throttling
	// stays throttling.
	e.cloud.Fail(sim.OpModifyRule, sim.ServerError(), 1)
	_, err = e.elb.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: aws.String(a.Preview.RuleARN)})
	var re *awshttp.ResponseError
	if code := errorCode(t, err); code != "InternalError" || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable || !cloud.IsRetryable(err) {
		t.Errorf("injected server error: code %q (%v)", code, err)
	}
	e.cloud.Fail(sim.OpDescribeImages, sim.Throttle(), 1)
	_, err = e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if !cloud.IsThrottled(err) {
		t.Errorf("injected throttling: %v", err)
	}
	e.cloud.Fail(sim.OpPublish, sim.Timeout(), 1)
	_, err = e.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(a.TopicARN), Message: aws.String("m")})
	if code := errorCode(t, err); code != "RequestTimeout" || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusGatewayTimeout {
		t.Errorf("injected timeout: code %q (%v)", code, err)
	}

	// Operations the simulation does not serve are refused in each
	// protocol, naming the operation.
	for name, call := range map[string]func() error{
		"DeleteAutoScalingGroup": func() error {
			_, err := e.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("x")})
			return err
		},
		"DescribeInstances": func() error {
			_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			return err
		},
		"CreateTopic": func() error {
			_, err := e.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("x")})
			return err
		},
		"DeleteListener": func() error {
			_, err := e.elb.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: aws.String("x")})
			return err
		},
		"ListProjects": func() error {
			_, err := e.cb.ListProjects(ctx, &codebuild.ListProjectsInput{})
			return err
		},
		"GetPipeline": func() error {
			_, err := e.cp.GetPipeline(ctx, &codepipeline.GetPipelineInput{Name: aws.String("x")})
			return err
		},
	} {
		err := call()
		want := "InvalidAction"
		if name == "ListProjects" || name == "GetPipeline" {
			want = "UnknownOperationException"
		}
		if code := errorCode(t, err); code != want || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: code %q (%v), want %s naming the operation", name, code, err, want)
		}
	}
}

func TestBuildsAndPipelines(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	sb, err := e.cb.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("shop-golden-ami"),
		EnvironmentVariablesOverride: []cbtypes.EnvironmentVariable{{Name: aws.String("ADVISORIES"), Value: aws.String("ALAS2023-2025-001,ALAS2023-2025-002")}}})
	if err != nil {
		t.Fatal(err)
	}
	builds := e.cloud.Builds()
	if len(builds) != 1 || builds[0].ID != aws.ToString(sb.Build.Id) || builds[0].Env["ADVISORIES"] != "ALAS2023-2025-001,ALAS2023-2025-002" {
		t.Fatalf("builds %+v after StartBuild returned %s", builds, js(sb.Build))
	}
	lb, err := e.cb.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("shop-golden-ami")})
	if err != nil || !reflect.DeepEqual(lb.Ids, []string{builds[0].ID}) {
		t.Fatalf("ListBuildsForProject: %v, %v", lb, err)
	}
	bg, err := e.cb.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: lb.Ids})
	if err != nil || len(bg.Builds) != 1 || bg.Builds[0].BuildStatus != cbtypes.StatusTypeInProgress || aws.ToString(bg.Builds[0].ProjectName) != "shop-golden-ami" {
		t.Fatalf("BatchGetBuilds: %s, %v", js(bg), err)
	}

	e.cloud.AddPipeline("shop-image", "ADVISORIES")
	sp, err := e.cp.StartPipelineExecution(ctx, &codepipeline.StartPipelineExecutionInput{Name: aws.String("shop-image"),
		Variables: []cptypes.PipelineVariable{{Name: aws.String("ADVISORIES"), Value: aws.String("ALAS2023-2025-001")}}})
	if err != nil {
		t.Fatal(err)
	}
	in := lastInput(t, e.cloud, "StartPipelineExecution").(*codepipeline.StartPipelineExecutionInput)
	if len(in.Variables) != 1 || aws.ToString(in.Variables[0].Value) != "ALAS2023-2025-001" {
		t.Fatalf("StartPipelineExecution variables arrived as %s", js(in.Variables))
	}
	le, err := e.cp.ListPipelineExecutions(ctx, &codepipeline.ListPipelineExecutionsInput{PipelineName: aws.String("shop-image")})
	if err != nil || len(le.PipelineExecutionSummaries) != 1 {
		t.Fatalf("ListPipelineExecutions: %s, %v", js(le), err)
	}
	if s := le.PipelineExecutionSummaries[0]; aws.ToString(s.PipelineExecutionId) != aws.ToString(sp.PipelineExecutionId) || s.Status != cptypes.PipelineExecutionStatusInProgress {
		t.Fatalf("execution summary %s, started %s", js(s), aws.ToString(sp.PipelineExecutionId))
	}
}

// TestEndpointFromEnvironment reaches the server the way the packaged
// Lambdas do: the default configuration chain with AWS_ENDPOINT_URL.
func TestEndpointFromEnvironment(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL":                           e.srv.URL,
		"AWS_ACCESS_KEY_ID":                          "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":                      "secret",
		"AWS_SESSION_TOKEN":                          "",
		"AWS_REGION":                                 region,
		"AWS_PROFILE":                                "",
		"AWS_CONFIG_FILE":                            none,
		"AWS_SHARED_CREDENTIALS_FILE":                none,
		"AWS_EC2_METADATA_DISABLED":                  "true",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS":        "",
		"AWS_ENDPOINT_URL_EC2":                       "",
		"AWS_ENDPOINT_URL_AUTO_SCALING":              "",
		"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2": "",
		"AWS_ENDPOINT_URL_SNS":                       "",
		"AWS_ENDPOINT_URL_CODEBUILD":                 "",
	} {
		t.Setenv(k, v)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cfg.BaseEndpoint) != e.srv.URL {
		t.Fatalf("BaseEndpoint %q, want %q from AWS_ENDPOINT_URL", aws.ToString(cfg.BaseEndpoint), e.srv.URL)
	}
	f := &cloud.Fleet{EC2: ec2.NewFromConfig(cfg), ASG: autoscaling.NewFromConfig(cfg), ELB: elbv2.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg), Attempts: 1}
	got, err := f.Observe(ctx, e.app)
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.local().Observe(ctx, e.app)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("observe via AWS_ENDPOINT_URL:\n got %s\nwant %s (%v)", js(got), js(want), err)
	}
	if err := f.Notify(ctx, e.app, "hello", "from the environment"); err != nil {
		t.Fatal(err)
	}
	if _, err := codebuild.NewFromConfig(cfg).StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("shop-golden-ami")}); err != nil {
		t.Fatal(err)
	}
	if len(e.cloud.Published()) != 1 || len(e.cloud.Builds()) != 1 {
		t.Fatalf("published %d, builds %d; want 1 and 1", len(e.cloud.Published()), len(e.cloud.Builds()))
	}
}

func TestAdmin(t *testing.T) {
	e := newEnv(t)
	do := func(method, path, body string, wantStatus int, out any) {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, wantStatus)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v in %s", method, path, err, b)
			}
		}
	}

	var now nowJSON
	do("GET", "/_sim/now", "", 200, &now)
	if !now.Now.Equal(start) {
		t.Fatalf("now %v, want %v", now.Now, start)
	}
	do("POST", "/_sim/advance?d=5m", "", 200, &now)
	if !now.Now.Equal(start.Add(5*time.Minute)) || !e.cloud.Now().Equal(now.Now) {
		t.Fatalf("after advance: %v (cloud %v)", now.Now, e.cloud.Now())
	}
	do("POST", "/_sim/advance?d=-1m", "", 400, nil)
	do("POST", "/_sim/advance", "", 400, nil)
	do("GET", "/_sim/advance?d=1m", "", 405, nil)

	var ami struct{ ID string }
	do("POST", "/_sim/ami", `{"app":"shop","name":"shop-golden-7","pipelineExecution":"exec-7"}`, 200, &ami)
	img, err := e.remote().Image(context.Background(), ami.ID)
	if err != nil || img == nil || img.Name != "shop-golden-7" || !cloud.Ours(e.app, img) || img.Tags[e.app.PipelineTag] != "exec-7" {
		t.Fatalf("AMI %q from /_sim/ami: %+v, %v", ami.ID, img, err)
	}
	do("POST", "/_sim/ami", `{"app":"nope"}`, 404, nil)
	do("POST", "/_sim/ami", `{`, 400, nil)

	if err := e.remote().Notify(context.Background(), e.app, "subject", "message"); err != nil {
		t.Fatal(err)
	}
	var pub []struct{ Topic, Subject, Message string }
	do("GET", "/_sim/published", "", 200, &pub)
	if len(pub) != 1 || pub[0].Topic != e.app.TopicARN || pub[0].Subject != "subject" || pub[0].Message != "message" {
		t.Fatalf("published %+v", pub)
	}
	var muts map[string]int
	do("GET", "/_sim/mutations", "", 200, &muts)
	if !reflect.DeepEqual(muts, map[string]int{"Publish": 1}) {
		t.Fatalf("mutations %v", muts)
	}

	// Without the configuration no AMI can be tagged for an app.
	bare := httptest.NewServer(New(sim.New(start)))
	defer bare.Close()
	resp, err := http.Post(bare.URL+"/_sim/ami", "application/json", strings.NewReader(`{"app":"shop"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("/_sim/ami without configuration: %d, want 400", resp.StatusCode)
	}
}

func TestServiceOf(t *testing.T) {
	form := func(v url.Values) *http.Request {
		r := httptest.NewRequest("POST", "http://127.0.0.1:4566/", strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{"credential scope", func() *http.Request {
			r := form(url.Values{"Action": {"DescribeImages"}, "Version": {"2011-01-01"}})
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20250301/eu-west-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
			return r
		}, svcEC2},
		{"target", func() *http.Request {
			r := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
			r.Header.Set("X-Amz-Target", "CodePipeline_20150709.ListPipelineExecutions")
			return r
		}, svcCodePipeline},
		{"nothing to go by", func() *http.Request { return form(nil) }, ""},
		{"path segment", func() *http.Request {
			return httptest.NewRequest("POST", "http://127.0.0.1:4566/elasticloadbalancing/", nil)
		}, svcELB},
		{"host label", func() *http.Request { return httptest.NewRequest("POST", "http://sns.localhost:4566/", nil) }, svcSNS},
		{"version", func() *http.Request { return form(url.Values{"Action": {"X"}, "Version": {"2011-01-01"}}) }, svcAutoScaling},
		{"malformed scope falls back", func() *http.Request {
			r := form(url.Values{"Action": {"X"}, "Version": {"2015-12-01"}})
			r.Header.Set("Authorization", "Bearer token")
			return r
		}, svcELB},
	} {
		if got := serviceOf(tc.req()); got != tc.want {
			t.Errorf("%s: service %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLogger(t *testing.T) {
	var buf strings.Builder
	c := sim.New(start)
	c.AddTopic("arn:t")
	srv := httptest.NewServer(New(c, WithLogger(slog.New(slog.NewTextHandler(&buf, nil)))))
	defer srv.Close()
	client := sns.New(sns.Options{Region: region, BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	if _, err := client.Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String("arn:t"), Message: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	_, _ = client.Publish(context.Background(), &sns.PublishInput{Message: aws.String("m")})
	log := buf.String()
	if !strings.Contains(log, "service=sns op=Publish\n") || !strings.Contains(log, "status=400 code=InvalidParameter") {
		t.Fatalf("log:\n%s", log)
	}
}
