package simhttp

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

// Scaling policies and scheduled actions go through the SDK over HTTP
// intact (nested target tracking and predictive configurations, step
// adjustments, times), read back as in process, and keep AWS's error
// codes; kaizen's copy of them works through the real clients.
func TestScalingThroughSDK(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.app
	step := &autoscaling.PutScalingPolicyInput{AutoScalingGroupName: aws.String(a.Blue.ASG), PolicyName: aws.String("latency-steps"),
		PolicyType: aws.String("StepScaling"), AdjustmentType: aws.String("ChangeInCapacity"), EstimatedInstanceWarmup: aws.Int32(420),
		MetricAggregationType: aws.String("Average"),
		StepAdjustments: []astypes.StepAdjustment{
			{MetricIntervalLowerBound: aws.Float64(0), MetricIntervalUpperBound: aws.Float64(0.5), ScalingAdjustment: aws.Int32(1)},
			{MetricIntervalLowerBound: aws.Float64(0.5), ScalingAdjustment: aws.Int32(3)},
		}}
	out, err := e.asg.PutScalingPolicy(ctx, step)
	if err != nil || !strings.Contains(aws.ToString(out.PolicyARN), ":policyName/latency-steps") {
		t.Fatalf("PutScalingPolicy over HTTP: %v, %+v", err, out)
	}
	if got := lastInput(t, e.cloud, "PutScalingPolicy"); !reflect.DeepEqual(got, step) {
		t.Errorf("PutScalingPolicy input:\n got %s\nsent %s", js(got), js(step))
	}
	when := start.Add(48 * time.Hour)
	sched := &autoscaling.PutScheduledUpdateGroupActionInput{AutoScalingGroupName: aws.String(a.Blue.ASG), ScheduledActionName: aws.String("launch-day"),
		StartTime: aws.Time(when), EndTime: aws.Time(when.Add(6 * time.Hour)), MinSize: aws.Int32(4), DesiredCapacity: aws.Int32(5)}
	if _, err := e.asg.PutScheduledUpdateGroupAction(ctx, sched); err != nil {
		t.Fatal(err)
	}
	if got := lastInput(t, e.cloud, "PutScheduledUpdateGroupAction"); !reflect.DeepEqual(got, sched) {
		t.Errorf("PutScheduledUpdateGroupAction input:\n got %s\nsent %s", js(got), js(sched))
	}

	for _, g := range []string{a.Blue.ASG, a.Green.ASG} {
		in := &autoscaling.DescribePoliciesInput{AutoScalingGroupName: aws.String(g), MaxRecords: aws.Int32(2)}
		got, gerr := e.asg.DescribePolicies(ctx, in)
		want, werr := e.cloud.AutoScaling().DescribePolicies(ctx, in)
		if gerr != nil || werr != nil || !reflect.DeepEqual(got.ScalingPolicies, want.ScalingPolicies) || aws.ToString(got.NextToken) != aws.ToString(want.NextToken) {
			t.Errorf("DescribePolicies of %s over HTTP differs:\n got %s %v\nwant %s %v", g, js(got), gerr, js(want), werr)
		}
		sin := &autoscaling.DescribeScheduledActionsInput{AutoScalingGroupName: aws.String(g)}
		sgot, gerr := e.asg.DescribeScheduledActions(ctx, sin)
		swant, werr := e.cloud.AutoScaling().DescribeScheduledActions(ctx, sin)
		if gerr != nil || werr != nil || !reflect.DeepEqual(sgot.ScheduledUpdateGroupActions, swant.ScheduledUpdateGroupActions) {
			t.Errorf("DescribeScheduledActions of %s over HTTP differs:\n got %s %v\nwant %s %v", g, js(sgot), gerr, js(swant), werr)
		}
	}

	// Observed through the SDK as in process, page by page.
	obs, lobs := e.observe(t), e.observe(t)
	if err := e.remote().ObserveScaling(ctx, a, &obs); err != nil {
		t.Fatal(err)
	}
	if err := e.local().ObserveScaling(ctx, a, &lobs); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(obs, lobs) {
		t.Fatalf("ObserveScaling over HTTP differs:\n got %s\nwant %s", js(obs), js(lobs))
	}
	// The reference policies are equal on both colors, names and target
	// groups aside.
	blue, green := obs.Color(config.Blue).Scaling.Items, obs.Color(config.Green).Scaling.Items
	if len(blue) != 5 || len(green) != 3 {
		t.Fatalf("blue %d items, green %d: want 5 and 3", len(blue), len(green))
	}
	specs := map[string]bool{}
	for _, b := range blue {
		specs[b.Spec] = true
	}
	for _, g := range green {
		if !specs[g.Spec] || !strings.HasPrefix(g.Name, a.Green.ASG+"-") {
			t.Errorf("the reference policy %s has no equal on blue: %s", g.Name, g.Spec)
		}
	}

	// kaizen's puts and deletes through the SDK.
	for _, it := range blue {
		if it.Name == "latency-steps" || it.Name == "launch-day" {
			if err := e.remote().Apply(ctx, a, obs, release.Action{Kind: release.PutScaling, Color: config.Green, Item: &it}); err != nil {
				t.Fatalf("put %s on green: %v", it.Name, err)
			}
		}
	}
	del := release.ScalingItem{Kind: release.ScalingPolicy, Name: a.Green.ASG + "-Cpu"}
	if err := e.remote().Apply(ctx, a, obs, release.Action{Kind: release.DeleteScaling, Color: config.Green, Item: &del}); err != nil {
		t.Fatal(err)
	}
	if got := e.cloud.ScalingPolicyNames(a.Green.ASG); !reflect.DeepEqual(got, []string{"latency-steps", "shop-green-Predictive", "shop-green-RequestsPerTarget"}) {
		t.Errorf("green's policies after the copy: %v", got)
	}
	if err := e.remote().ObserveScaling(ctx, a, &obs); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, it := range obs.Color(config.Green).Scaling.Items {
		for _, b := range blue {
			if b.Name == it.Name && b.Spec == it.Spec {
				n++
			}
		}
	}
	if n != 2 {
		t.Errorf("%d copied items read back equal to blue's, want 2 (the step policy and the schedule)", n)
	}

	// AWS's error codes.
	for name, call := range map[string]func() error{
		"a request-count policy on another color's target group": func() error {
			_, err := e.asg.PutScalingPolicy(ctx, &autoscaling.PutScalingPolicyInput{AutoScalingGroupName: aws.String(a.Green.ASG), PolicyName: aws.String("wrong-tg"),
				PolicyType: aws.String("TargetTrackingScaling"), TargetTrackingConfiguration: &astypes.TargetTrackingConfiguration{TargetValue: aws.Float64(1),
					PredefinedMetricSpecification: &astypes.PredefinedMetricSpecification{PredefinedMetricType: astypes.MetricTypeALBRequestCountPerTarget,
						ResourceLabel: aws.String(sim.ResourceLabel(a, config.Blue))}}})
			return err
		},
		"a second target tracking policy on one metric": func() error {
			_, err := e.asg.PutScalingPolicy(ctx, &autoscaling.PutScalingPolicyInput{AutoScalingGroupName: aws.String(a.Blue.ASG), PolicyName: aws.String("cpu-again"),
				PolicyType: aws.String("TargetTrackingScaling"), TargetTrackingConfiguration: &astypes.TargetTrackingConfiguration{TargetValue: aws.Float64(70),
					PredefinedMetricSpecification: &astypes.PredefinedMetricSpecification{PredefinedMetricType: astypes.MetricTypeASGAverageCPUUtilization}}})
			return err
		},
		"a scheduled action in the past": func() error {
			_, err := e.asg.PutScheduledUpdateGroupAction(ctx, &autoscaling.PutScheduledUpdateGroupActionInput{AutoScalingGroupName: aws.String(a.Blue.ASG),
				ScheduledActionName: aws.String("yesterday"), StartTime: aws.Time(start.Add(-24 * time.Hour)), MinSize: aws.Int32(1)})
			return err
		},
		"policies of an unknown group": func() error {
			_, err := e.asg.DescribePolicies(ctx, &autoscaling.DescribePoliciesInput{AutoScalingGroupName: aws.String("nope")})
			return err
		},
	} {
		if code := errorCode(t, call()); code != "ValidationError" {
			t.Errorf("%s: code %q", name, code)
		}
	}
}
