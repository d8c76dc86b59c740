package sim

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// Scaling policies and scheduled actions of the simulated groups. They are
// kept and validated as AWS does (the errors below are AWS's codes and
// wording where known), and they are inert: the simulation has no load
// and runs no schedule, so they never change a group's capacity.

// scaling is what one group carries besides its size.
type scaling struct {
	policies  map[string]astypes.ScalingPolicy
	scheduled map[string]astypes.ScheduledUpdateGroupAction
}

func (g *group) scale() *scaling {
	if g.scaling == nil {
		g.scaling = &scaling{policies: map[string]astypes.ScalingPolicy{}, scheduled: map[string]astypes.ScheduledUpdateGroupAction{}}
	}
	return g.scaling
}

// groupNotFound is how the scaling operations report an unknown group.
func groupNotFound(name string) error { return validation("Group %s not found", name) }

// recordPage returns the records of a Describe call from the position in token,
// at most max (AWS's default 50, at most 100), and the next token.
func recordPage[T any](all []T, token *string, max *int32) ([]T, *string, error) {
	from := 0
	if t := aws.ToString(token); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(all) {
			return nil, nil, validation("The NextToken value is not valid")
		}
		from = n
	}
	size := 50
	if max != nil {
		if *max < 1 || *max > 100 {
			return nil, nil, validation("MaxRecords must be between 1 and 100, got %d", *max)
		}
		size = int(*max)
	}
	to := min(from+size, len(all))
	var next *string
	if to < len(all) {
		next = aws.String(strconv.Itoa(to))
	}
	return all[from:to], next, nil
}

// groupNames is the one group a Describe names, or every group in order.
func (a *AutoScaling) groupNames(name *string) ([]string, error) {
	if n := aws.ToString(name); n != "" {
		if a.c.groups[n] == nil {
			return nil, groupNotFound(n)
		}
		return []string{n}, nil
	}
	return sortedSet(a.c.groups), nil
}

func (a *AutoScaling) DescribePolicies(ctx context.Context, in *autoscaling.DescribePoliciesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribePoliciesOutput, error) {
	return serve(a.c, ctx, OpDescribePolicies, in, a.describePolicies)
}

func (a *AutoScaling) describePolicies(in *autoscaling.DescribePoliciesInput) (*autoscaling.DescribePoliciesOutput, error) {
	names, err := a.groupNames(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	var all []astypes.ScalingPolicy
	for _, n := range names {
		s := a.c.groups[n].scale()
		for _, pn := range sortedSet(s.policies) {
			p := s.policies[pn]
			if len(in.PolicyNames) > 0 && !contains(in.PolicyNames, pn) || len(in.PolicyTypes) > 0 && !contains(in.PolicyTypes, aws.ToString(p.PolicyType)) {
				continue
			}
			all = append(all, *clone(&p))
		}
	}
	out, next, err := recordPage(all, in.NextToken, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	return &autoscaling.DescribePoliciesOutput{ScalingPolicies: out, NextToken: next}, nil
}

func (a *AutoScaling) PutScalingPolicy(ctx context.Context, in *autoscaling.PutScalingPolicyInput, _ ...func(*autoscaling.Options)) (*autoscaling.PutScalingPolicyOutput, error) {
	return serve(a.c, ctx, OpPutScalingPolicy, in, a.putPolicy)
}

// policyTypes are the types PutScalingPolicy takes.
var policyTypes = []string{"SimpleScaling", "StepScaling", "TargetTrackingScaling", "PredictiveScaling"}

func (a *AutoScaling) putPolicy(in *autoscaling.PutScalingPolicyInput) (*autoscaling.PutScalingPolicyOutput, error) {
	c := a.c
	gn, pn := aws.ToString(in.AutoScalingGroupName), aws.ToString(in.PolicyName)
	g := c.groups[gn]
	if g == nil {
		return nil, groupNotFound(gn)
	}
	if pn == "" {
		return nil, validation("1 validation error detected: Value null at 'policyName' failed to satisfy constraint: Member must not be null")
	}
	typ := aws.ToString(in.PolicyType)
	if typ == "" {
		typ = "SimpleScaling" // AWS's default
	}
	if !contains(policyTypes, typ) {
		return nil, validation("Invalid policy type %s", typ)
	}
	var labels []string
	switch typ {
	case "TargetTrackingScaling":
		tt := in.TargetTrackingConfiguration
		if tt == nil || tt.TargetValue == nil {
			return nil, validation("TargetTrackingConfiguration is required for policies of type TargetTrackingScaling")
		}
		if (tt.PredefinedMetricSpecification == nil) == (tt.CustomizedMetricSpecification == nil) {
			return nil, validation("Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification must be specified")
		}
		if pm := tt.PredefinedMetricSpecification; pm != nil {
			if pm.PredefinedMetricType == astypes.MetricTypeALBRequestCountPerTarget {
				labels = append(labels, aws.ToString(pm.ResourceLabel))
			}
			// AWS allows one target tracking policy per metric.
			for on, o := range g.scale().policies {
				if on != pn && aws.ToString(o.PolicyType) == typ && o.TargetTrackingConfiguration != nil &&
					o.TargetTrackingConfiguration.PredefinedMetricSpecification != nil &&
					o.TargetTrackingConfiguration.PredefinedMetricSpecification.PredefinedMetricType == pm.PredefinedMetricType &&
					aws.ToString(o.TargetTrackingConfiguration.PredefinedMetricSpecification.ResourceLabel) == aws.ToString(pm.ResourceLabel) {
					return nil, validation("Only one TargetTrackingScaling policy for a given metric specification is allowed.")
				}
			}
		}
	case "PredictiveScaling":
		ps := in.PredictiveScalingConfiguration
		if ps == nil || len(ps.MetricSpecifications) != 1 {
			return nil, validation("PredictiveScalingConfiguration with exactly one metric specification is required for policies of type PredictiveScaling")
		}
		m := ps.MetricSpecifications[0]
		if m.TargetValue == nil {
			return nil, validation("TargetValue is required in a predictive scaling metric specification")
		}
		if mp := m.PredefinedMetricPairSpecification; mp != nil && mp.PredefinedMetricType == astypes.PredefinedMetricPairTypeALBRequestCount {
			labels = append(labels, aws.ToString(mp.ResourceLabel))
		}
		if b := ps.SchedulingBufferTime; b != nil && (*b < 0 || *b > 3600) {
			return nil, validation("SchedulingBufferTime must be between 0 and 3600 seconds")
		}
	default:
		if in.TargetTrackingConfiguration != nil || in.PredictiveScalingConfiguration != nil {
			return nil, validation("TargetTrackingConfiguration and PredictiveScalingConfiguration apply only to their policy types, not %s", typ)
		}
	}
	// An ALB request count metric names a target group; it must be the
	// group's own.
	for _, l := range labels {
		i := strings.Index(l, "/targetgroup/")
		if !strings.HasPrefix(l, "app/") || i < 0 {
			return nil, validation("The resource label %q is not valid: it must be app/<load-balancer-name>/<load-balancer-id>/targetgroup/<target-group-name>/<target-group-id>", l)
		}
		if !strings.HasSuffix(g.targetGroup, ":"+l[i+1:]) {
			return nil, validation("Target group not attached to the Auto Scaling group")
		}
	}
	p := astypes.ScalingPolicy{
		AutoScalingGroupName: aws.String(gn), PolicyName: aws.String(pn), PolicyType: aws.String(typ),
		AdjustmentType: in.AdjustmentType, Cooldown: in.Cooldown, EstimatedInstanceWarmup: in.EstimatedInstanceWarmup,
		MetricAggregationType: in.MetricAggregationType, MinAdjustmentMagnitude: in.MinAdjustmentMagnitude,
		ScalingAdjustment: in.ScalingAdjustment, StepAdjustments: in.StepAdjustments,
		TargetTrackingConfiguration: in.TargetTrackingConfiguration, PredictiveScalingConfiguration: in.PredictiveScalingConfiguration,
		Enabled: aws.Bool(in.Enabled == nil || *in.Enabled),
	}
	old, replacing := g.scale().policies[pn]
	if replacing {
		p.PolicyARN = old.PolicyARN
	} else {
		p.PolicyARN = aws.String(fmt.Sprintf("arn:aws:autoscaling:%s:%s:scalingPolicy:%s:autoScalingGroupName/%s:policyName/%s", c.Region, c.Account, nameUUID(gn+"/"+pn+"/"+c.id("p")), gn, pn))
	}
	if typ == "TargetTrackingScaling" {
		// AWS makes the policy's two alarms.
		for _, hl := range []string{"AlarmHigh", "AlarmLow"} {
			n := fmt.Sprintf("TargetTracking-%s-%s-%s", gn, hl, nameUUID(aws.ToString(p.PolicyARN)+hl))
			p.Alarms = append(p.Alarms, astypes.Alarm{AlarmName: aws.String(n), AlarmARN: aws.String(fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", c.Region, c.Account, n))})
		}
	}
	g.scale().policies[pn] = p
	return &autoscaling.PutScalingPolicyOutput{PolicyARN: p.PolicyARN, Alarms: p.Alarms}, nil
}

func (a *AutoScaling) DeletePolicy(ctx context.Context, in *autoscaling.DeletePolicyInput, _ ...func(*autoscaling.Options)) (*autoscaling.DeletePolicyOutput, error) {
	return serve(a.c, ctx, OpDeletePolicy, in, func(in *autoscaling.DeletePolicyInput) (*autoscaling.DeletePolicyOutput, error) {
		gn := aws.ToString(in.AutoScalingGroupName)
		if gn == "" {
			// The policy's ARN alone names it too.
			if arn := aws.ToString(in.PolicyName); strings.HasPrefix(arn, "arn:") {
				if i := strings.Index(arn, ":autoScalingGroupName/"); i >= 0 {
					rest := arn[i+len(":autoScalingGroupName/"):]
					if j := strings.Index(rest, ":policyName/"); j >= 0 {
						gn, in.PolicyName = rest[:j], aws.String(rest[j+len(":policyName/"):])
					}
				}
			}
		}
		g := a.c.groups[gn]
		if g == nil {
			return nil, groupNotFound(gn)
		}
		// AWS documents no error for a policy that is not there (and moto
		// answers it with success): deleting is idempotent.
		delete(g.scale().policies, aws.ToString(in.PolicyName))
		return &autoscaling.DeletePolicyOutput{}, nil
	})
}

func (a *AutoScaling) DescribeScheduledActions(ctx context.Context, in *autoscaling.DescribeScheduledActionsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeScheduledActionsOutput, error) {
	return serve(a.c, ctx, OpDescribeScheduledActions, in, a.describeScheduled)
}

func (a *AutoScaling) describeScheduled(in *autoscaling.DescribeScheduledActionsInput) (*autoscaling.DescribeScheduledActionsOutput, error) {
	names, err := a.groupNames(in.AutoScalingGroupName)
	if err != nil {
		return nil, err
	}
	var all []astypes.ScheduledUpdateGroupAction
	for _, n := range names {
		s := a.c.groups[n].scale()
		for _, an := range sortedSet(s.scheduled) {
			if len(in.ScheduledActionNames) > 0 && !contains(in.ScheduledActionNames, an) {
				continue
			}
			sa := s.scheduled[an]
			all = append(all, *clone(&sa))
		}
	}
	out, next, err := recordPage(all, in.NextToken, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	return &autoscaling.DescribeScheduledActionsOutput{ScheduledUpdateGroupActions: out, NextToken: next}, nil
}

func (a *AutoScaling) PutScheduledUpdateGroupAction(ctx context.Context, in *autoscaling.PutScheduledUpdateGroupActionInput, _ ...func(*autoscaling.Options)) (*autoscaling.PutScheduledUpdateGroupActionOutput, error) {
	return serve(a.c, ctx, OpPutScheduledUpdateGroupAction, in, a.putScheduled)
}

func (a *AutoScaling) putScheduled(in *autoscaling.PutScheduledUpdateGroupActionInput) (*autoscaling.PutScheduledUpdateGroupActionOutput, error) {
	c := a.c
	gn, an := aws.ToString(in.AutoScalingGroupName), aws.ToString(in.ScheduledActionName)
	g := c.groups[gn]
	if g == nil {
		return nil, groupNotFound(gn)
	}
	if an == "" {
		return nil, validation("1 validation error detected: Value null at 'scheduledActionName' failed to satisfy constraint: Member must not be null")
	}
	if in.MinSize == nil && in.MaxSize == nil && in.DesiredCapacity == nil {
		return nil, validation("At least one of MinSize, MaxSize or DesiredCapacity must be specified")
	}
	start := in.StartTime
	if start == nil {
		start = in.Time
	}
	if start != nil && start.Before(c.now) {
		return nil, validation("Given start time is in the past")
	}
	if in.EndTime != nil && start != nil && !in.EndTime.After(*start) {
		return nil, validation("Given end time is not after the start time")
	}
	if r := aws.ToString(in.Recurrence); r != "" && len(strings.Fields(r)) != 5 {
		return nil, validation("Given recurrence is not a valid cron expression: %s", r)
	}
	if start == nil {
		// AWS reports when the action next runs; for a recurrence kaizen
		// does not evaluate cron, the next minute stands in for it.
		start = aws.Time(c.now.Truncate(time.Minute).Add(time.Minute))
	}
	sa := astypes.ScheduledUpdateGroupAction{
		AutoScalingGroupName: aws.String(gn), ScheduledActionName: aws.String(an),
		ScheduledActionARN: aws.String(fmt.Sprintf("arn:aws:autoscaling:%s:%s:scheduledUpdateGroupAction:%s:autoScalingGroupName/%s:scheduledActionName/%s", c.Region, c.Account, nameUUID(gn+"/"+an), gn, an)),
		MinSize:            in.MinSize, MaxSize: in.MaxSize, DesiredCapacity: in.DesiredCapacity,
		Recurrence: in.Recurrence, TimeZone: in.TimeZone, StartTime: aws.Time(start.UTC()), Time: aws.Time(start.UTC()), EndTime: in.EndTime,
	}
	if aws.ToString(in.Recurrence) != "" && aws.ToString(in.TimeZone) == "" {
		sa.TimeZone = aws.String("Etc/UTC")
	}
	g.scale().scheduled[an] = sa
	return &autoscaling.PutScheduledUpdateGroupActionOutput{}, nil
}

func (a *AutoScaling) DeleteScheduledAction(ctx context.Context, in *autoscaling.DeleteScheduledActionInput, _ ...func(*autoscaling.Options)) (*autoscaling.DeleteScheduledActionOutput, error) {
	return serve(a.c, ctx, OpDeleteScheduledAction, in, func(in *autoscaling.DeleteScheduledActionInput) (*autoscaling.DeleteScheduledActionOutput, error) {
		gn := aws.ToString(in.AutoScalingGroupName)
		g := a.c.groups[gn]
		if g == nil {
			return nil, groupNotFound(gn)
		}
		delete(g.scale().scheduled, aws.ToString(in.ScheduledActionName))
		return &autoscaling.DeleteScheduledActionOutput{}, nil
	})
}

// AddScalingPolicy puts a scaling policy on a group, as the group's owner
// (a template, a person) would: not recorded as a call.
func (c *Cloud) AddScalingPolicy(in *autoscaling.PutScalingPolicyInput) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.AutoScaling().putPolicy(clone(in))
	return err
}

// AddScheduledAction puts a scheduled action on a group, as the group's
// owner would: not recorded as a call.
func (c *Cloud) AddScheduledAction(in *autoscaling.PutScheduledUpdateGroupActionInput) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.AutoScaling().putScheduled(clone(in))
	return err
}

// RemoveScalingPolicy deletes a group's policy, as its owner would.
func (c *Cloud) RemoveScalingPolicy(group, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.groups[group]; g != nil {
		delete(g.scale().policies, name)
	}
}

// ScalingPolicyNames lists a group's policy names, sorted.
func (c *Cloud) ScalingPolicyNames(group string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.groups[group]; g != nil {
		return sortedSet(g.scale().policies)
	}
	return nil
}

// meter adds step's instance time to every group. Callers hold mu.
func (c *Cloud) meter(step time.Duration) {
	for _, g := range c.groups {
		g.instanceTime += time.Duration(len(g.instances)) * step
	}
}

// InstanceHours is each group's instance time since the cloud was made
// (every instance from launch to termination, pending ones included), in
// hours: what EC2 bills.
func (c *Cloud) InstanceHours() map[string]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]float64{}
	names := make([]string, 0, len(c.groups))
	for n := range c.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out[n] = c.groups[n].instanceTime.Hours()
	}
	return out
}
