package sim

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go"
)

var tLimits = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// AWS's buckets: ELBv2's Describe* calls share one of 40 tokens refilled
// at 10 a second and fail with Throttling beyond; EC2 throttles each API
// on its own bucket of 100 at 20 a second with RequestLimitExceeded;
// Auto Scaling shares one; services kaizen's fleet does not use are not
// throttled.
func TestThrottleFollowsAWSBuckets(t *testing.T) {
	ctx := context.Background()
	c := New(tLimits)
	c.AddTargetGroup("tg")
	c.AddListener("l", "tg")
	c.Throttle(AWSRates())
	clock := time.Unix(0, 0)
	c.limits.now = func() time.Time { return clock }
	elb, ec, as := c.ELBv2(), c.EC2(), c.AutoScaling()
	describe := func() error {
		_, err := elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{"l"}})
		return err
	}
	for i := range 20 {
		if err := describe(); err != nil {
			t.Fatalf("DescribeListeners %d: %v", i, err)
		}
		if _, err := elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String("tg")}); err != nil {
			t.Fatalf("DescribeTargetHealth %d: %v", i, err)
		}
	}
	if err := describe(); code(err) != "Throttling" {
		t.Fatalf("the 41st ELBv2 Describe* call in a second: %v, want Throttling", err)
	}
	clock = clock.Add(time.Second)
	for i := range 10 {
		if err := describe(); err != nil {
			t.Fatalf("a second later, call %d of the 10 refilled: %v", i, err)
		}
	}
	if err := describe(); code(err) != "Throttling" {
		t.Fatalf("an 11th call a second later: %v, want Throttling", err)
	}
	for i := range 100 {
		if _, err := ec.DescribeImages(ctx, &ec2.DescribeImagesInput{}); err != nil {
			t.Fatalf("DescribeImages %d: %v", i, err)
		}
	}
	if _, err := ec.DescribeImages(ctx, &ec2.DescribeImagesInput{}); code(err) != "RequestLimitExceeded" {
		t.Fatalf("the 101st DescribeImages: %v, want RequestLimitExceeded", err)
	}
	// Another EC2 API has its own bucket.
	if _, err := ec.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String("lt-none")}); code(err) != "InvalidLaunchTemplateId.NotFound" {
		t.Fatalf("DescribeLaunchTemplateVersions after DescribeImages ran dry: %v", err)
	}
	for i := range 20 {
		if _, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{}); err != nil {
			t.Fatalf("DescribeAutoScalingGroups %d: %v", i, err)
		}
	}
	if _, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{}); code(err) != "Throttling" {
		t.Fatalf("the 21st Auto Scaling call: %v, want Throttling", err)
	}
	if got := c.Throttled(); got != 4 {
		t.Fatalf("Throttled() = %d, want 4", got)
	}
	c.Throttle(nil)
	if err := describe(); err != nil {
		t.Fatalf("with throttling off: %v", err)
	}
}

// Page sizes and per-call limits, as the API references give them.
func TestPageSizes(t *testing.T) {
	ctx := context.Background()
	c := New(tLimits)
	c.AddLaunchTemplate("lt-1", "web", "ami-1")
	var names []string
	for i := range 150 {
		n := fmt.Sprintf("g%03d", i)
		names = append(names, n)
		c.AddGroup(n, "lt-1", "1", "tg", 0, 0, 1)
	}
	as := c.AutoScaling()
	if _, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: names[:51]}); code(err) != "ValidationError" {
		t.Fatalf("51 names without MaxRecords: %v, want ValidationError (50 by default)", err)
	}
	if _, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(101)}); code(err) != "ValidationError" {
		t.Fatalf("MaxRecords 101: %v, want ValidationError", err)
	}
	out, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	if err != nil || len(out.AutoScalingGroups) != 50 || out.NextToken == nil {
		t.Fatalf("all groups, default page: %d groups, next %v, %v", len(out.AutoScalingGroups), out.NextToken, err)
	}
	seen := 0
	in := &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(100)}
	for pages := 1; ; pages++ {
		out, err := as.DescribeAutoScalingGroups(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(out.AutoScalingGroups)
		if out.NextToken == nil {
			if pages != 2 || seen != 150 {
				t.Fatalf("%d groups in %d pages, want 150 in 2", seen, pages)
			}
			break
		}
		in.NextToken = out.NextToken
	}
	if _, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{NextToken: aws.String("bogus")}); code(err) != "ValidationError" {
		t.Fatalf("a bogus NextToken: %v", err)
	}

	c.AddTargetGroup("tg")
	var arns []string
	for i := range 450 {
		a := fmt.Sprintf("arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/lb/0/%d", i)
		c.AddListener(a, "tg")
		arns = append(arns, a)
	}
	elb := c.ELBv2()
	lo, err := elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: arns})
	if err != nil || len(lo.Listeners) != 400 || lo.NextMarker == nil {
		t.Fatalf("450 listeners: first page %d, marker %v, %v", len(lo.Listeners), lo.NextMarker, err)
	}
	lo, err = elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: arns, Marker: lo.NextMarker})
	if err != nil || len(lo.Listeners) != 50 || lo.NextMarker != nil {
		t.Fatalf("450 listeners: second page %d, marker %v, %v", len(lo.Listeners), lo.NextMarker, err)
	}
	if _, err := elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: arns, PageSize: aws.Int32(401)}); code(err) != "ValidationError" {
		t.Fatalf("PageSize 401: %v", err)
	}
	if _, err := elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: append(arns[:1:1], "arn:unknown")}); code(err) != "ListenerNotFound" {
		t.Fatalf("an unknown ARN fails the whole call: %v", err)
	}

	ec := c.EC2()
	for i := range 12 {
		c.AddImage(fmt.Sprintf("img-%d", i), tLimits, map[string]string{"app": "web"})
	}
	io, err := ec.DescribeImages(ctx, &ec2.DescribeImagesInput{MaxResults: aws.Int32(5)})
	if err != nil || len(io.Images) != 5 || io.NextToken == nil {
		t.Fatalf("a page of 5 images: %d, %v, %v", len(io.Images), io.NextToken, err)
	}
	if all, err := ec.DescribeImages(ctx, &ec2.DescribeImagesInput{}); err != nil || len(all.Images) != 12 || all.NextToken != nil {
		t.Fatalf("unpaginated: %d images, token %v, %v", len(all.Images), all.NextToken, err)
	}
	if _, err := ec.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String("lt-1"), MaxResults: aws.Int32(201)}); code(err) != "ValidationError" {
		t.Fatalf("DescribeLaunchTemplateVersions MaxResults 201: %v", err)
	}
}

// Latency is slept for real, calls overlap, and the critical path counts
// the calls that ran one after another.
func TestLatencyAndCriticalPath(t *testing.T) {
	ctx := context.Background()
	c := New(tLimits)
	c.AddTargetGroup("tg")
	c.AddListener("l", "tg")
	c.Latency = 20 * time.Millisecond
	elb := c.ELBv2()
	describe := func() {
		elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String("tg")})
	}
	t0 := time.Now()
	done := make(chan struct{})
	for range 3 {
		go func() { describe(); done <- struct{}{} }()
	}
	for range 3 {
		<-done
	}
	describe()
	elb.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String("l")})
	describe()
	if wall := time.Since(t0); wall < 80*time.Millisecond {
		t.Fatalf("four sequential rounds took %v, want at least 80ms", wall)
	}
	if n, path := CriticalPath(c.Calls()); n != 4 {
		t.Fatalf("critical path %d %v, want 4 (three parallel calls count once)", n, path)
	}
	if n, path := PathTo(c.Calls(), string(OpModifyListener)); n != 3 || path[2] != string(OpModifyListener) {
		t.Fatalf("path to ModifyListener %d %v, want 3 ending with it", n, path)
	}
}
