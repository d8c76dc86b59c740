package cloud_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

// appN is the n-th of many apps, each with its own fleet.
func appN(n int) *config.App {
	name := fmt.Sprintf("app%03d", n)
	arn := "arn:aws:elasticloadbalancing:eu-west-1:111122223333:"
	return &config.App{
		Name: name, Account: sim.DefaultAccount, Floor: 2, PreviewSize: 1,
		Blue:        config.ColorConfig{ASG: name + "-blue", LaunchTemplateID: fmt.Sprintf("lt-%016x", 2*n+1), TargetGroupARN: arn + "targetgroup/" + name + "-blue/0"},
		Green:       config.ColorConfig{ASG: name + "-green", LaunchTemplateID: fmt.Sprintf("lt-%016x", 2*n+2), TargetGroupARN: arn + "targetgroup/" + name + "-green/0"},
		ListenerARN: arn + "listener/app/" + name + "/0/0",
		Preview:     config.Preview{RuleARN: arn + "listener-rule/app/" + name + "/0/0/0"},
		ImageTag:    config.Tag{Key: "kaizen:app", Value: name},
	}
}

func fleetOf(c *sim.Cloud) *cloud.Fleet {
	return &cloud.Fleet{EC2: c.EC2(), ASG: c.AutoScaling(), ELB: c.ELBv2(), SNS: c.SNS(), Versions: &cloud.VersionCache{}}
}

func callsByOp(c *sim.Cloud) map[string]int {
	out := map[string]int{}
	for _, call := range c.Calls() {
		out[call.Op]++
	}
	return out
}

// 250 apps are read in the fewest calls the APIs allow, every page
// followed: 500 groups in 5 DescribeAutoScalingGroups (100 a call), 250
// listeners and 250 rules in one call each (400 a page); every app's
// glance agrees with its observation alone but for what a glance does not
// read (target health; the AMI of a version not yet read).
func TestSnapshotPagesAndAgreesWithObserve(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	var apps []*config.App
	for i := range 250 {
		a := appN(i)
		c.SeedApp(a)
		apps = append(apps, a)
	}
	f := fleetOf(c)
	c.Reset()
	snap := f.Snapshot(ctx, apps, 0)
	if err := snap.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := callsByOp(c), map[string]int{"DescribeAutoScalingGroups": 5, "DescribeListeners": 1, "DescribeRules": 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshot of 250 apps: %v, want %v", got, want)
	}
	for i, a := range apps {
		glance, err := snap.Glance(a)
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		alone, err := f.Observe(ctx, a) // reads the versions: the cache knows them after
		if err != nil {
			t.Fatal(err)
		}
		for _, col := range config.Colors {
			if i == 0 && glance.Color(col).AMI != "" {
				t.Fatalf("a glance knew an AMI no one read: %+v", glance.Color(col))
			}
			glance.Color(col).AMI = alone.Color(col).AMI
			alone.Color(col).Healthy = 0
		}
		if !reflect.DeepEqual(glance, alone) {
			t.Fatalf("%s: glance %+v, observed alone %+v", a.Name, glance, alone)
		}
		again, _ := f.Snapshot(ctx, apps[i:i+1], 0).Glance(a)
		if again.Color(config.Blue).AMI == "" {
			t.Fatalf("%s: the version cache did not name the AMI", a.Name)
		}
	}
}

// A snapshot's Fleet answers an app's first reads of its groups,
// listener and rule (and, for many apps, scaling) from the batch; a second
// observation reads AWS.
func TestSnapshotFleetAnswersOnce(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	var apps []*config.App
	for i := range 12 {
		a := appN(i)
		c.SeedApp(a)
		apps = append(apps, a)
	}
	f := fleetOf(c)
	snap := f.Snapshot(ctx, apps, len(apps))
	c.Reset()
	sf := snap.Fleet()
	obs, err := sf.Observe(ctx, apps[3])
	if err != nil {
		t.Fatal(err)
	}
	if err := sf.ObserveScaling(ctx, apps[3], &obs); err != nil {
		t.Fatal(err)
	}
	if got, want := callsByOp(c), map[string]int{"DescribeLaunchTemplateVersions": 2, "DescribeTargetHealth": 2}; !reflect.DeepEqual(got, want) {
		t.Fatalf("first observation: %v, want only %v", got, want)
	}
	alone, _ := f.Observe(ctx, apps[3])
	if err := f.ObserveScaling(ctx, apps[3], &alone); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(obs, alone) {
		t.Fatalf("from the snapshot %+v, alone %+v", obs, alone)
	}
	c.Reset()
	if _, err := sf.Observe(ctx, apps[3]); err != nil {
		t.Fatal(err)
	}
	if n := callsByOp(c)["DescribeAutoScalingGroups"]; n != 1 {
		t.Fatalf("a second observation made %d DescribeAutoScalingGroups, want 1: answers are used once", n)
	}
}

// One unknown listener fails the batch call; the snapshot says so, and
// each app observed alone fails or not on its own.
func TestSnapshotWithAWrongARN(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	good, bad := appN(1), appN(2)
	c.SeedApp(good)
	c.SeedApp(bad)
	bad.ListenerARN += "-wrong"
	snap := fleetOf(c).Snapshot(ctx, []*config.App{good, bad}, 0)
	if snap.Err() == nil {
		t.Fatal("a batch with an unknown listener did not fail")
	}
	if _, err := snap.Glance(good); err == nil {
		t.Fatal("a glance from a failed batch")
	}
	if _, err := snap.Fleet().Observe(ctx, good); err != nil {
		t.Fatalf("the good app alone: %v", err)
	}
	if _, err := snap.Fleet().Observe(ctx, bad); err == nil {
		t.Fatal("the bad app alone observed")
	}
}

// One DescribeImages (two pages of 1,000) finds every app's newest AMI of
// its own tag and owners.
func TestNewestImagesPages(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	var apps []*config.App
	want := map[string]string{}
	for i := range 300 {
		a := appN(i)
		apps = append(apps, a)
		for k := range 4 {
			id := c.AddImage(fmt.Sprintf("%s-%d", a.Name, k), t0.Add(time.Duration(k)*time.Minute), map[string]string{a.ImageTag.Key: a.ImageTag.Value})
			want[a.Name] = id
		}
	}
	// Someone else's newer image with app000's tag is not app000's.
	c.AddImageID("ami-foreign", "foreign", t0.Add(time.Hour), map[string]string{"kaizen:app": "app000"})
	c.SetImageOwner("ami-foreign", "999988887777", false)
	apps[0].ImageOwners = []string{"444455556666"}
	f := fleetOf(c)
	c.Reset()
	got, err := f.NewestImages(ctx, apps)
	if err != nil {
		t.Fatal(err)
	}
	if n := callsByOp(c)["DescribeImages"]; n != 2 {
		t.Fatalf("%d DescribeImages for 1,200 images, want 2 pages", n)
	}
	for _, a := range apps {
		if got[a.Name] == nil || got[a.Name].ID != want[a.Name] {
			t.Fatalf("%s: newest %v, want %s", a.Name, got[a.Name], want[a.Name])
		}
		one, err := f.NewestImage(ctx, a)
		if err != nil || one.ID != got[a.Name].ID {
			t.Fatalf("%s: NewestImage %v (%v), batched %v", a.Name, one, err, got[a.Name])
		}
	}
}

// A prefetched observation costs one round trip: every read starts at
// once, the pinned versions from their templates' $Latest.
func TestPrefetchObservesInOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	a := appN(1)
	c.SeedApp(a)
	c.Latency = 20 * time.Millisecond
	f := fleetOf(c)
	want, err := f.Observe(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	f = fleetOf(c) // a cold container: no version known
	c.Reset()
	got, err := f.Prefetch(ctx, a).Observe(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("prefetched %+v, alone %+v", got, want)
	}
	if n, path := sim.CriticalPath(c.Calls()); n != 1 {
		t.Fatalf("a prefetched observation took %d round trips: %v", n, path)
	}
}

// Pacing keeps reads within the budget, in the order asked, and an urgent
// read does not wait.
func TestPacer(t *testing.T) {
	ctx := context.Background()
	clock := time.Unix(0, 0)
	var slept []time.Duration
	p := cloud.NewPacer()
	p.Now = func() time.Time { return clock }
	p.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	c := sim.New(t0)
	a := appN(1)
	c.SeedApp(a)
	f := fleetOf(c).Paced(p)
	for range 30 { // the ELB budget's burst
		if _, err := f.ELB.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &a.Blue.TargetGroupARN}); err != nil {
			t.Fatal(err)
		}
	}
	if len(slept) != 0 {
		t.Fatalf("waited within the burst: %v", slept)
	}
	f.ELB.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{a.ListenerARN}})
	f.ELB.DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{a.Preview.RuleARN}})
	if len(slept) != 2 || slept[0] >= slept[1] {
		t.Fatalf("waits past the burst %v: want two, the later one longer", slept)
	}
	f.ELB.DescribeListeners(cloud.Urgent(ctx), &elbv2.DescribeListenersInput{ListenerArns: []string{a.ListenerARN}})
	if len(slept) != 2 {
		t.Fatalf("an urgent read waited: %v", slept)
	}
	// Mutating calls and other services are not paced.
	f.ASG.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: &a.Blue.ASG})
	f.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if len(slept) != 2 {
		t.Fatalf("a mutating call or a fresh bucket waited: %v", slept)
	}
}
