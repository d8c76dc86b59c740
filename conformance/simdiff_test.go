package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/alrelease"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/simhttp"
)

// target is one implementation of the AWS APIs kaizen calls, reached
// through the real SDK clients, with the ids of one app's fleet in it.
type target struct {
	name  string
	ec2   *ec2.Client
	asg   *autoscaling.Client
	elb   *elbv2.Client
	sns   *sns.Client
	cb    *codebuild.Client
	ssm   *ssm.Client
	app   *config.App
	ami   string // blue's AMI
	topic string
	// newAMI registers another AMI of the app.
	newAMI func(t *testing.T) string
	// settle lets the groups reach their desired capacity (the
	// simulation's clock moves; moto launches at once).
	settle func()
}

func clientsFor(name, region, url string) target {
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	return target{
		name: name,
		ec2:  ec2.New(ec2.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(url)}),
		asg:  autoscaling.New(autoscaling.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(url)}),
		elb:  elbv2.New(elbv2.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(url)}),
		sns:  sns.New(sns.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(url)}),
		cb:   codebuild.New(codebuild.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(url)}),
		ssm:  ssm.New(ssm.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(url)}),
	}
}

// probe asks both targets the same question; the answer is a short,
// id-free string.
type probe struct {
	name string
	ask  func(ctx context.Context, t *testing.T, x target) string
}

// answer renders an error as its AWS error code, or the output.
func answer(err error, ok func() string) string {
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return "error " + ae.ErrorCode()
		}
		return "error (not an AWS error) " + err.Error()
	}
	return ok()
}

func present(name string, set bool) string {
	if set {
		return name
	}
	return "no " + name
}

const missingAMI, missingLT, missingSnap = "ami-0123456789abcdef0", "lt-0123456789abcdef0", "snap-0123456789abcdef0"

var probes = []probe{
	// ---- EC2 ----
	{"DescribeImages: the fields kaizen and a person read", func(ctx context.Context, t *testing.T, x target) string {
		out, err := x.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{x.ami}})
		return answer(err, func() string {
			i := out.Images[0]
			cd := aws.ToString(i.CreationDate)
			_, perr := time.Parse("2006-01-02T15:04:05.000Z", cd)
			return strings.Join([]string{present("OwnerId", aws.ToString(i.OwnerId) == account), present("Public", i.Public != nil),
				present("CreationDate as 2006-01-02T15:04:05.000Z", perr == nil), present("RootDeviceName", i.RootDeviceName != nil),
				present("snapshot", len(i.BlockDeviceMappings) > 0 && i.BlockDeviceMappings[0].Ebs != nil && i.BlockDeviceMappings[0].Ebs.SnapshotId != nil)}, ", ")
		})
	}},
	{"DescribeImages of an unknown AMI id", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{missingAMI}})
		return answer(err, func() string { return "ok" })
	}},
	{"DescribeImages: Owners self, tag and state filters", func(ctx context.Context, t *testing.T, x target) string {
		out, err := x.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []ec2types.Filter{
			{Name: aws.String("tag:kaizen:app"), Values: []string{x.app.Name}}, {Name: aws.String("state"), Values: []string{"available"}}}})
		return answer(err, func() string { return fmt.Sprintf("%d image(s)", len(out.Images)) })
	}},
	{"DescribeLaunchTemplateVersions of an unknown template", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(missingLT), Versions: []string{"1"}})
		return answer(err, func() string { return "ok" })
	}},
	{"DescribeLaunchTemplateVersions of an unknown version", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(x.app.Blue.LaunchTemplateID), Versions: []string{"99"}})
		return answer(err, func() string { return "ok" })
	}},
	{"DescribeLaunchTemplateVersions $Default and $Latest", func(ctx context.Context, t *testing.T, x target) string {
		out, err := x.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(x.app.Blue.LaunchTemplateID), Versions: []string{"$Default", "$Latest"}})
		return answer(err, func() string {
			var vs []string
			for _, v := range out.LaunchTemplateVersions {
				vs = append(vs, fmt.Sprintf("v%d default=%v created=%v %s", aws.ToInt64(v.VersionNumber), aws.ToBool(v.DefaultVersion), v.CreateTime != nil,
					present("CreatedBy", v.CreatedBy != nil)))
			}
			return strings.Join(vs, "; ")
		})
	}},
	{"CreateLaunchTemplateVersion: output, and the same ClientToken again", func(ctx context.Context, t *testing.T, x target) string {
		in := &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String(x.app.Green.LaunchTemplateID), SourceVersion: aws.String("1"),
			ClientToken: aws.String("conformance-token-1"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(x.ami)}}
		a, err := x.ec2.CreateLaunchTemplateVersion(ctx, in)
		if err != nil {
			return answer(err, nil)
		}
		b, err := x.ec2.CreateLaunchTemplateVersion(ctx, in)
		return answer(err, func() string {
			v := a.LaunchTemplateVersion
			return fmt.Sprintf("%s, %s, %s, %s, %s, %s; retry returns the same version: %v", present("LaunchTemplateData", v.LaunchTemplateData != nil),
				present("CreateTime", v.CreateTime != nil), present("DefaultVersion", v.DefaultVersion != nil),
				present("LaunchTemplateName", v.LaunchTemplateName != nil), present("CreatedBy", v.CreatedBy != nil),
				present("VersionDescription", v.VersionDescription != nil),
				aws.ToInt64(a.LaunchTemplateVersion.VersionNumber) == aws.ToInt64(b.LaunchTemplateVersion.VersionNumber))
		})
	}},
	{"DeregisterImage twice; DeleteSnapshot in use, then twice", func(ctx context.Context, t *testing.T, x target) string {
		id := x.newAMI(t)
		img, err := x.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
		if err != nil {
			return answer(err, nil)
		}
		snap := aws.ToString(img.Images[0].BlockDeviceMappings[0].Ebs.SnapshotId)
		var res []string
		_, err = x.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
		res = append(res, "delete snapshot in use: "+answer(err, func() string { return "ok" }))
		_, err = x.ec2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(id)})
		res = append(res, "deregister: "+answer(err, func() string { return "ok" }))
		_, err = x.ec2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(id)})
		res = append(res, "again: "+answer(err, func() string { return "ok" }))
		d, err := x.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
		res = append(res, "describe it: "+answer(err, func() string {
			if len(d.Images) == 0 {
				return "empty"
			}
			return string(d.Images[0].State)
		}))
		_, err = x.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
		res = append(res, "delete snapshot: "+answer(err, func() string { return "ok" }))
		_, err = x.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
		res = append(res, "again: "+answer(err, func() string { return "ok" }))
		return strings.Join(res, "; ")
	}},

	// ---- Auto Scaling ----
	{"DescribeAutoScalingGroups of an unknown group", func(ctx context.Context, t *testing.T, x target) string {
		out, err := x.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"no-such-group"}})
		return answer(err, func() string { return fmt.Sprintf("%d group(s)", len(out.AutoScalingGroups)) })
	}},
	{"DescribeAutoScalingGroups: the live group's instances", func(ctx context.Context, t *testing.T, x target) string {
		out, err := x.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{x.app.Blue.ASG}})
		return answer(err, func() string {
			g := out.AutoScalingGroups[0]
			var ins []string
			for _, i := range g.Instances {
				lt := "no LaunchTemplate"
				if i.LaunchTemplate != nil {
					lt = "v" + aws.ToString(i.LaunchTemplate.Version)
				}
				ins = append(ins, fmt.Sprintf("%s %s %s", i.LifecycleState, aws.ToString(i.HealthStatus), lt))
			}
			sort.Strings(ins)
			return fmt.Sprintf("pinned v%s, %s, %s, %s; instances: %s", aws.ToString(g.LaunchTemplate.Version), present("AutoScalingGroupARN", g.AutoScalingGroupARN != nil),
				present("AvailabilityZones", len(g.AvailabilityZones) > 0), present("TargetGroupARNs", len(g.TargetGroupARNs) > 0), strings.Join(ins, ", "))
		})
	}},
	{"UpdateAutoScalingGroup of an unknown group", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("no-such-group"), DesiredCapacity: aws.Int32(1)})
		return answer(err, func() string { return "ok" })
	}},
	{"UpdateAutoScalingGroup with min above max", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(x.app.Green.ASG), MinSize: aws.Int32(5), MaxSize: aws.Int32(2)})
		return answer(err, func() string { return "ok" })
	}},
	{"UpdateAutoScalingGroup pinned to an unknown version", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(x.app.Green.ASG),
			LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(x.app.Green.LaunchTemplateID), Version: aws.String("99")}})
		return answer(err, func() string { return "ok" })
	}},
	{"SuspendProcesses, then DescribeAutoScalingGroups", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String(x.app.Green.ASG), ScalingProcesses: []string{"AlarmNotification", "ScheduledActions"}})
		if err != nil {
			return answer(err, nil)
		}
		out, err := x.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{x.app.Green.ASG}})
		return answer(err, func() string {
			var ps []string
			for _, p := range out.AutoScalingGroups[0].SuspendedProcesses {
				// AWS: "User suspended at 2019-09-03T17:29:07Z"; the time
				// is left out of the answer, its shape is not.
				reason := aws.ToString(p.SuspensionReason)
				if at, ok := strings.CutPrefix(reason, "User suspended at "); ok {
					if _, err := time.Parse(time.RFC3339, at); err == nil {
						reason = "User suspended at <time>"
					}
				}
				ps = append(ps, aws.ToString(p.ProcessName)+" ("+reason+")")
			}
			sort.Strings(ps)
			return strings.Join(ps, ", ")
		})
	}},

	{"UpdateAutoScalingGroup pinned to a new version: the instances' version", func(ctx context.Context, t *testing.T, x target) string {
		v, err := x.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String(x.app.Green.LaunchTemplateID),
			SourceVersion: aws.String("1"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(x.ami)}})
		if err != nil {
			return answer(err, nil)
		}
		pinned := fmt.Sprint(aws.ToInt64(v.LaunchTemplateVersion.VersionNumber))
		set := func(desired int32) error {
			_, err := x.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(x.app.Green.ASG),
				LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(x.app.Green.LaunchTemplateID), Version: aws.String(pinned)},
				MinSize:        aws.Int32(0), DesiredCapacity: aws.Int32(desired), MaxSize: aws.Int32(6)})
			return err
		}
		if err := set(1); err != nil {
			return answer(err, nil)
		}
		x.settle()
		out, err := x.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{x.app.Green.ASG}})
		res := answer(err, func() string {
			var ins []string
			for _, i := range out.AutoScalingGroups[0].Instances {
				if aws.ToString(i.LaunchTemplate.Version) == pinned {
					ins = append(ins, "on the pinned version")
				} else {
					ins = append(ins, "on version "+aws.ToString(i.LaunchTemplate.Version)+", not the pinned one")
				}
			}
			return fmt.Sprintf("%d instance(s): %s", len(ins), strings.Join(ins, ", "))
		})
		if err := set(0); err != nil {
			t.Fatalf("%s: empty green again: %v", x.name, err)
		}
		x.settle()
		return res
	}},

	// ---- ELBv2 ----
	{"DescribeListeners of an unknown listener", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{strings.Replace(x.app.ListenerARN, "/app/", "/app/x", 1)}})
		return answer(err, func() string { return "ok" })
	}},
	{"DescribeListeners: a plain forward's shape", func(ctx context.Context, t *testing.T, x target) string {
		out, err := x.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{x.app.ListenerARN}})
		return answer(err, func() string { return actionShape(x.app, out.Listeners[0].DefaultActions) })
	}},
	{"ModifyListener: weighted forward, its output and its shape", func(ctx context.Context, t *testing.T, x target) string {
		mod, err := x.elb.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(x.app.ListenerARN), DefaultActions: []elbtypes.Action{{
			Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
				{TargetGroupArn: aws.String(x.app.Blue.TargetGroupARN), Weight: aws.Int32(90)}, {TargetGroupArn: aws.String(x.app.Green.TargetGroupARN), Weight: aws.Int32(10)}}}}}})
		if err != nil {
			return answer(err, nil)
		}
		out, err := x.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{x.app.ListenerARN}})
		res := answer(err, func() string {
			return fmt.Sprintf("output lists %d listener(s); described: %s", len(mod.Listeners), actionShape(x.app, out.Listeners[0].DefaultActions))
		})
		_, err = x.elb.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(x.app.ListenerARN), DefaultActions: []elbtypes.Action{{
			Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(x.app.Blue.TargetGroupARN)}}})
		if err != nil {
			t.Fatalf("%s: restore the listener: %v", x.name, err)
		}
		return res
	}},
	{"ModifyListener to an unknown target group", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.elb.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(x.app.ListenerARN), DefaultActions: []elbtypes.Action{{
			Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(x.app.Blue.TargetGroupARN + "0")}}})
		return answer(err, func() string { return "ok" })
	}},
	{"DescribeRules: the preview rule", func(ctx context.Context, t *testing.T, x target) string {
		out, err := x.elb.DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{x.app.Preview.RuleARN}})
		return answer(err, func() string {
			r := out.Rules[0]
			c := r.Conditions[0]
			return fmt.Sprintf("priority %s, %s, condition %s %v (Values %v); %s", aws.ToString(r.Priority), present("IsDefault", r.IsDefault != nil),
				aws.ToString(c.Field), c.SourceIpConfig != nil, c.Values, actionShape(x.app, r.Actions))
		})
	}},
	{"DescribeRules of an unknown rule", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.elb.DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{x.app.Preview.RuleARN + "0"}})
		return answer(err, func() string { return "ok" })
	}},
	{"ModifyRule: its output", func(ctx context.Context, t *testing.T, x target) string {
		out, err := x.elb.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: aws.String(x.app.Preview.RuleARN), Actions: []elbtypes.Action{{
			Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(x.app.Green.TargetGroupARN)}}})
		return answer(err, func() string { return fmt.Sprintf("output lists %d rule(s)", len(out.Rules)) })
	}},
	{"DescribeTargetHealth: the live group's targets", func(ctx context.Context, t *testing.T, x target) string {
		out, err := x.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(x.app.Blue.TargetGroupARN)})
		return answer(err, func() string {
			var ts []string
			for _, d := range out.TargetHealthDescriptions {
				ts = append(ts, fmt.Sprintf("%s port %d %s", d.TargetHealth.State, aws.ToInt32(d.Target.Port), present("HealthCheckPort", d.HealthCheckPort != nil)))
			}
			sort.Strings(ts)
			return strings.Join(ts, ", ")
		})
	}},
	{"DescribeTargetHealth of an unknown target group", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(x.app.Blue.TargetGroupARN + "0")})
		return answer(err, func() string { return "ok" })
	}},

	// ---- SNS ----
	{"Publish to the app's topic", func(ctx context.Context, t *testing.T, x target) string {
		out, err := x.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(x.topic), Subject: aws.String("[kaizen] probe"), Message: aws.String("probe")})
		return answer(err, func() string { return present("MessageId", out.MessageId != nil) })
	}},
	{"Publish to an unknown topic", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(x.topic + "-missing"), Subject: aws.String("probe"), Message: aws.String("probe")})
		return answer(err, func() string { return "ok" })
	}},
	{"Publish with a 101-character subject", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(x.topic), Subject: aws.String(strings.Repeat("s", 101)), Message: aws.String("probe")})
		return answer(err, func() string { return "ok" })
	}},
	{"Publish with a line break in the subject", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(x.topic), Subject: aws.String("two\nlines"), Message: aws.String("probe")})
		return answer(err, func() string { return "ok" })
	}},

	// ---- CodeBuild, CodePipeline, SSM (the rebuild and ALAS paths) ----
	{"StartBuild of the app's project, then BatchGetBuilds", func(ctx context.Context, t *testing.T, x target) string {
		s, err := x.cb.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String(x.app.Rebuild.CodeBuildProject),
			EnvironmentVariablesOverride: []cbtypes.EnvironmentVariable{{Name: aws.String("SECURITY_ADVISORIES"), Value: aws.String("ALAS-1"), Type: cbtypes.EnvironmentVariableTypePlaintext}}})
		if err != nil {
			return "start: " + answer(err, nil)
		}
		res := "start: " + string(s.Build.BuildStatus)
		l, err := x.cb.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String(x.app.Rebuild.CodeBuildProject)})
		res += "; list: " + answer(err, func() string { return fmt.Sprintf("%d build(s)", len(l.Ids)) })
		g, err := x.cb.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{aws.ToString(s.Build.Id)}})
		return res + "; get: " + answer(err, func() string {
			b := g.Builds[0]
			return fmt.Sprintf("%s, %s, %s, %s", b.BuildStatus, present("StartTime", b.StartTime != nil), present("Arn", b.Arn != nil),
				present("Phases", len(b.Phases) > 0))
		})
	}},
	{"StartBuild of an unknown project", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.cb.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("no-such-project")})
		return answer(err, func() string { return "ok" })
	}},
	{"ListBuildsForProject of an unknown project", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.cb.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("no-such-project")})
		return answer(err, func() string { return "ok" })
	}},
	{"BatchGetBuilds of an unknown build", func(ctx context.Context, t *testing.T, x target) string {
		out, err := x.cb.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{"no-such-project:0000"}})
		return answer(err, func() string {
			return fmt.Sprintf("%d build(s), %d not found", len(out.Builds), len(out.BuildsNotFound))
		})
	}},
	{"GetParameter of an unknown parameter", func(ctx context.Context, t *testing.T, x target) string {
		_, err := x.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/kaizen/no-such-parameter")})
		return answer(err, func() string { return "ok" })
	}},
}

// actionShape describes a forward action without ids.
func actionShape(app *config.App, actions []elbtypes.Action) string {
	if len(actions) != 1 {
		return fmt.Sprintf("%d actions", len(actions))
	}
	a := actions[0]
	color := func(arn string) string {
		if c, ok := app.ColorOfTargetGroup(arn); ok {
			return string(c)
		}
		return "?"
	}
	s := string(a.Type)
	if a.TargetGroupArn != nil {
		s += " TargetGroupArn=" + color(aws.ToString(a.TargetGroupArn))
	}
	if a.ForwardConfig != nil {
		var ts []string
		for _, tg := range a.ForwardConfig.TargetGroups {
			w := "nil"
			if tg.Weight != nil {
				w = fmt.Sprint(*tg.Weight)
			}
			ts = append(ts, color(aws.ToString(tg.TargetGroupArn))+":"+w)
		}
		s += " ForwardConfig=[" + strings.Join(ts, ",") + "]"
	}
	return s
}

// The same questions to kaizen's simulation (served by simhttp, as the
// packaged functions reach it) and to moto: where the answers differ, one
// of them departs from AWS. This is how the simulation's fidelity gets a
// second opinion; the differences found so far are listed in
// knownDifferences with which side AWS's documentation takes.
func TestSimAgainstMoto(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// moto: a fleet built through the SDK, plus a CodeBuild project.
	w := newWorld(t, spec{name: "probe", region: "ca-central-1", floor: 2, previewSize: 1, bakeMinutes: 0})
	// Through the recorder, so that the CodeBuild fidelity patches apply.
	m := clientsFor("moto", w.spec.region, w.rec.URL())
	m.app, m.ami, m.topic = w.app, w.golden0, w.topic
	m.newAMI = func(t *testing.T) string {
		return w.newAMIAlongside(fmt.Sprintf("probe-extra-%d", time.Now().UnixNano()), "", nil)
	}
	m.settle = func() {}
	w.createProject(w.app.Rebuild.CodeBuildProject)

	// The simulation: the same app seeded as the demo and the e2e tests do.
	cfg := *w.cfg
	c := sim.New(time.Now().UTC())
	// The same account and region as the app's configuration (and moto's):
	// OwnerId and the ARNs the simulation makes name them.
	c.Account, c.Region = cfg.Account, cfg.Region
	sa := cfg.Apps[0]
	simAMI := c.SeedApp(&sa)
	srv := httptest.NewServer(simhttp.New(c, simhttp.WithConfig(&cfg)))
	t.Cleanup(srv.Close)
	s := clientsFor("sim", w.spec.region, srv.URL)
	s.app, s.ami, s.topic = &sa, simAMI, w.topic
	s.newAMI = func(t *testing.T) string {
		return c.NewAMI(&sa, fmt.Sprintf("probe-extra-%d", time.Now().UnixNano()), "")
	}
	s.settle = func() { c.Advance(10 * time.Minute) }
	c.SetParameter(alrelease.DefaultParameter, simAMI)

	var table []string
	for _, p := range probes {
		sa, ma := p.ask(ctx, t, s), p.ask(ctx, t, m)
		known, isKnown := knownDifferences[p.name]
		switch {
		case sa == ma && isKnown:
			t.Logf("%s: sim and moto now agree (%s): remove it from knownDifferences", p.name, sa)
		case sa == ma:
		case isKnown:
			table = append(table, fmt.Sprintf("%s\n    sim:  %s\n    moto: %s\n    %s", p.name, sa, ma, known))
		default:
			t.Errorf("%s: sim and moto disagree:\n    sim:  %s\n    moto: %s", p.name, sa, ma)
		}
	}
	t.Logf("known differences between shared/sim and moto:\n%s", strings.Join(table, "\n"))
}

// knownDifferences are the probes where shared/sim and moto disagree today,
// with the side AWS's documentation (the API reference) takes. "sim
// departs" entries are for shared/sim to fix; "moto departs" entries are
// fidelity_test.go's business.
var knownDifferences = map[string]string{
	"CreateLaunchTemplateVersion: output, and the same ClientToken again": "moto departs from AWS: it ignores ClientToken, so a retry creates " +
		"a second version (AWS returns the first, as the sim does; fidelity_test.go)",
	"UpdateAutoScalingGroup with min above max":           "moto departs from AWS (ValidationError, as the sim answers)",
	"UpdateAutoScalingGroup pinned to an unknown version": "moto departs from AWS (ValidationError, as the sim answers)",
	"SuspendProcesses, then DescribeAutoScalingGroups": "moto departs from AWS, whose SuspensionReason reads \"User suspended at <time>\", " +
		"as the sim's does: moto leaves it empty",
	"UpdateAutoScalingGroup pinned to a new version: the instances' version": "moto departs from AWS: instances report the template's default version, " +
		"not the one they launched from (fidelity patch 1); the sim agrees with AWS",
	"ModifyListener to an unknown target group": "moto departs from AWS (TargetGroupNotFound, as the sim answers)",
	"BatchGetBuilds of an unknown build": "moto departs from AWS: it leaves an unknown id out of builds without listing it in buildsNotFound " +
		"(AWS: \"the IDs of builds for which information could not be found\", as the sim lists them)",
}
