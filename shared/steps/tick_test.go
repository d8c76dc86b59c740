package steps_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/lab"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/steps"
)

// scaleLab is a lab of n copies of the example app, settled: ticks until
// one changes neither AWS nor any app's state.
func scaleLab(t *testing.T, n int) *lab.Lab {
	t.Helper()
	base, err := config.Load("../../examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := lab.Scaled(base, n)
	if err != nil {
		t.Fatal(err)
	}
	l := lab.New(cfg, t0, io.Discard)
	ctx := context.Background()
	for i := 0; ; i++ {
		if i == 40 {
			t.Fatalf("%d apps did not settle", n)
		}
		l.Cloud.Advance(time.Minute)
		l.Cloud.Reset()
		before := states(t, l)
		if _, err := l.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if l.Cloud.MutationCount() == 0 && reflect.DeepEqual(before, states(t, l)) {
			return l
		}
	}
}

func states(t *testing.T, l *lab.Lab) map[string]int64 {
	out := map[string]int64{}
	for _, a := range l.Config.Apps {
		st, err := l.Store.Load(context.Background(), a.Name)
		if err != nil {
			t.Fatal(err)
		}
		out[a.Name] = st.Version
	}
	return out
}

func ops(c *sim.Cloud) map[string]int {
	out := map[string]int{}
	for _, call := range c.Calls() {
		out[call.Op]++
	}
	return out
}

// An idle tick over 250 apps reads in batches only: one DescribeImages for
// every app, and a shard of at most 100 apps (two DescribeAutoScalingGroups
// pages, one DescribeListeners, one DescribeRules); no target health, no
// template version, no step run alone. Over a cycle of shards every app is
// looked at once; an app changed outside kaizen is put right when its
// shard comes, and a new AMI is staged at the next tick, whatever the
// shard.
func TestIdleTickIsBatched(t *testing.T) {
	ctx := context.Background()
	l := scaleLab(t, 250)
	shards := 3
	looked := map[string]int{}
	for range shards {
		l.Cloud.Advance(time.Minute)
		l.Cloud.Reset()
		outs, err := l.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := ops(l.Cloud)
		want := map[string]int{"DescribeImages": 1, "DescribeAutoScalingGroups": 2, "DescribeListeners": 1, "DescribeRules": 1}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("idle tick of 250 apps: %v, want %v", got, want)
		}
		for _, o := range outs {
			looked[o.App]++
			if o.Err != "" || len(o.Plan.Actions) > 0 {
				t.Fatalf("%s: %+v", o.App, o)
			}
		}
	}
	if len(looked) != 250 {
		t.Fatalf("a cycle of %d ticks looked at %d apps, want all 250", shards, len(looked))
	}
	for app, n := range looked {
		if n != 1 {
			t.Fatalf("%s looked at %d times in a cycle", app, n)
		}
	}

	// Someone lowers an idle app's live color below the floor, and a new
	// AMI of another app appears: the AMI is staged at the next tick, the
	// floor restored within a cycle.
	low, fresh := &l.Config.Apps[7], &l.Config.Apps[8]
	if _, err := l.Cloud.AutoScaling().UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(low.Blue.ASG), MinSize: aws.Int32(0), DesiredCapacity: aws.Int32(0),
	}); err != nil {
		t.Fatal(err)
	}
	ami := l.Cloud.NewAMI(fresh, "golden-new", "")
	l.Cloud.Advance(time.Minute)
	if _, err := l.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.Store.Load(ctx, fresh.Name); st.Active == nil || st.Active.AMI != ami {
		t.Fatalf("the new AMI was not staged at the next tick: %+v", st.Active)
	}
	for range shards {
		l.Cloud.Advance(time.Minute)
		if _, err := l.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	obs, err := l.Observe(ctx, low)
	if err != nil {
		t.Fatal(err)
	}
	if v := obs.Color(config.Blue); v.Min < low.Floor || v.Desired < low.Floor {
		t.Fatalf("the floor was not restored within a cycle: %+v", v)
	}
}

// slowHealth makes one target group's health hang until the caller's
// deadline.
type slowHealth struct {
	cloud.ELBv2API
	tg string
}

func (s slowHealth) DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	if in.TargetGroupArn != nil && *in.TargetGroupArn == s.tg {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.ELBv2API.DescribeTargetHealth(ctx, in, opts...)
}

// One app whose calls hang holds no other app's step: it fails at its own
// deadline, the others are staged in the same tick.
func TestTickIsolatesASlowApp(t *testing.T) {
	ctx := context.Background()
	l := scaleLab(t, 6)
	slow := &l.Config.Apps[2]
	l.Deps.Fleet.ELB = slowHealth{l.Deps.Fleet.ELB, slow.Blue.TargetGroupARN}
	for i := range l.Config.Apps {
		l.Cloud.NewAMI(&l.Config.Apps[i], "golden-new", "")
	}
	l.Cloud.Advance(time.Minute)
	start := time.Now()
	outs, err := l.Deps.TickWith(ctx, "", steps.TickLimits{Concurrency: 2, AppTimeout: 300 * time.Millisecond})
	if wall := time.Since(start); wall > 3*time.Second {
		t.Fatalf("the tick took %v", wall)
	}
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("tick error %v, want the slow app's deadline", err)
	}
	for _, o := range outs {
		st, _ := l.Store.Load(ctx, o.App)
		if o.App == slow.Name {
			if o.Err == "" || st.Active != nil {
				t.Fatalf("the slow app: %+v, active %+v", o, st.Active)
			}
			continue
		}
		if o.Err != "" || st.Active == nil || st.Active.State != release.Staged {
			t.Fatalf("%s held by the slow app: %s, active %+v", o.App, o.Err, st.Active)
		}
	}
}

// A tick never outruns its budget: it starts no step it could not finish
// in time, and names the apps it left; the next tick takes them.
func TestTickLeavesWhatItCannotFinish(t *testing.T) {
	ctx := context.Background()
	l := scaleLab(t, 4)
	for i := range l.Config.Apps {
		l.Cloud.NewAMI(&l.Config.Apps[i], "golden-new", "")
	}
	l.Cloud.Advance(time.Minute)
	outs, err := l.Deps.TickWith(ctx, "", steps.TickLimits{AppTimeout: 20 * time.Second, Budget: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 4 {
		t.Fatalf("%d outcomes, want one per app", len(outs))
	}
	for _, o := range outs {
		if o.Err != steps.ErrLeftForNextTick.Error() {
			t.Fatalf("%s: %q, want it left for the next tick", o.App, o.Err)
		}
	}
	if m := l.Cloud.MutationCount(); m != 0 {
		t.Fatalf("a tick out of time changed AWS: %s", l.Cloud.MutationSummary())
	}
	outs, err = l.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		if st, _ := l.Store.Load(ctx, o.App); st.Active == nil {
			t.Fatalf("%s not staged by the next tick", o.App)
		}
	}
}

// The guard's path to its listener call is three sequential round trips
// (the reads, all at once; the write-ahead; ModifyListener), with 30 ms a
// call, DynamoDB included, in a container that has read no template
// version yet.
func TestGuardRollbackInThreeRoundTrips(t *testing.T) {
	ctx := context.Background()
	l := scaleLab(t, 3)
	if err := l.ToBake(ctx); err != nil {
		t.Fatal(err)
	}
	ts := &lab.TimedStore{Store: l.Store, Latency: 30 * time.Millisecond}
	l.Deps.Store = ts
	l.Deps.Fleet.Versions = &cloud.VersionCache{}
	l.Cloud.Latency = 30 * time.Millisecond
	l.Cloud.Reset()
	alarm := ""
	for _, a := range l.App().Alarms {
		if a.Role == config.RoleGuard {
			alarm = a.Name
		}
	}
	if _, err := l.Send(ctx, route.Guard, l.Maker.Alarm(alarm, "ALARM", "OK", "5xx", l.Cloud.Now())); err != nil {
		t.Fatal(err)
	}
	n, path := sim.PathTo(append(l.Cloud.Calls(), ts.Calls()...), string(sim.OpModifyListener))
	if n == 0 || n > 3 {
		t.Fatalf("the guard's path to ModifyListener: %d round trips %v, want at most 3", n, path)
	}
	if obs, _ := l.Observe(ctx, l.App()); obs.Live() != config.Blue {
		t.Fatalf("not rolled back: %s", obs.Summary())
	}
}
