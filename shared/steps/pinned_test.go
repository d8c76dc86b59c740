package steps_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// Staging pins the group to the launch template version kaizen created, by
// number, never "$Latest" or "$Default": an instance launched later
// (scale-out, replacement, the promotion's capacity) must run the AMI the
// release put there, even after someone else adds a newer version to the
// template. The simulator reports the group's version as set, as AWS does,
// so a "$Latest" here fails this test, although it would resolve to the same
// version at first and nothing else would notice.
func TestStagingPinsTheCreatedVersion(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, store.NewMemory())
	ami := w.cloud.NewAMI(w.app, "shop-golden-1", "exec-1")
	w.must(route.Stage, w.amiEvent(ami))

	var staged config.Color
	for _, c := range config.Colors {
		if w.observe().Color(c).AMI == ami {
			staged = c
		}
	}
	if staged == "" {
		t.Fatalf("no color runs %s after staging: %s", ami, w.observe().Summary())
	}
	cc := w.app.Color(staged)

	// The version kaizen created: the template's only version with the AMI.
	vs, err := w.cloud.EC2().DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(cc.LaunchTemplateID)})
	if err != nil {
		t.Fatal(err)
	}
	var created []int64
	for _, v := range vs.LaunchTemplateVersions {
		if v.LaunchTemplateData != nil && aws.ToString(v.LaunchTemplateData.ImageId) == ami {
			created = append(created, aws.ToInt64(v.VersionNumber))
		}
	}
	if len(created) != 1 {
		t.Fatalf("versions of %s with %s: %v, want exactly one", cc.LaunchTemplateID, ami, created)
	}
	pinned := strconv.FormatInt(created[0], 10)

	group := func() astypes.AutoScalingGroup {
		t.Helper()
		out, err := w.cloud.AutoScaling().DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{cc.ASG}})
		if err != nil || len(out.AutoScalingGroups) != 1 {
			t.Fatalf("describe %s: %v", cc.ASG, err)
		}
		return out.AutoScalingGroups[0]
	}
	if got := aws.ToString(group().LaunchTemplate.Version); got != pinned {
		t.Fatalf("%s launches version %q after staging, want %q, the version kaizen created", cc.ASG, got, pinned)
	}

	// Someone adds a newer version; the instances launched from now on
	// still run the release's AMI.
	other := w.cloud.AddImage("someone-else", w.cloud.Now(), nil)
	if _, err := w.cloud.EC2().CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(cc.LaunchTemplateID), SourceVersion: aws.String("$Latest"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(other)},
	}); err != nil {
		t.Fatal(err)
	}
	w.wait(8 * time.Minute)
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	w.wait(10 * time.Minute)
	g := group()
	if got := aws.ToString(g.LaunchTemplate.Version); got != pinned {
		t.Fatalf("%s launches version %q after promotion, want %q", cc.ASG, got, pinned)
	}
	if len(g.Instances) <= w.app.PreviewSize {
		t.Fatalf("%s has %d instances after promotion: nothing launched after the newer version", cc.ASG, len(g.Instances))
	}
	for _, i := range g.Instances {
		if v := aws.ToString(i.LaunchTemplate.Version); v != pinned {
			t.Fatalf("instance %s launched from version %s, want %s: %s", aws.ToString(i.InstanceId), v, pinned, w.observe().Summary())
		}
	}
}
