package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// The colors' scaling policies and scheduled actions. kaizen compares and
// copies them as release.ScalingItem: the definition a put call takes
// (PutScalingPolicy's or PutScheduledUpdateGroupAction's input without the
// group and the name), as canonical JSON in which the color's own names
// are placeholders. A target tracking or predictive policy on the ALB's
// request count names the color's own target group in its ResourceLabel
// ("app/<alb>/<id>/targetgroup/<tg>/<id>"); copied to the other color it
// names that color's target group.

const (
	phTargetGroup = "${targetGroup}" // "targetgroup/<name>/<id>", in labels, dimensions and ARNs
	phGroup       = "${autoScalingGroup}"
)

// targetGroupPart is the "targetgroup/<name>/<id>" of a target group ARN:
// the tail of an ALB request-count ResourceLabel and the value of the
// TargetGroup dimension.
func targetGroupPart(arn string) string {
	if i := strings.Index(arn, ":targetgroup/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// ObserveScaling reads both colors' scaling policies and scheduled actions
// into obs: four read calls, made only while a release is on its way to
// the public.
func (f *Fleet) ObserveScaling(ctx context.Context, app *config.App, obs *release.Observed) error {
	for _, c := range config.Colors {
		items, err := f.scalingOf(ctx, app, c)
		if err != nil {
			return err
		}
		obs.Color(c).Scaling = &release.Scaling{Items: items}
	}
	return nil
}

func (f *Fleet) scalingOf(ctx context.Context, app *config.App, c config.Color) ([]release.ScalingItem, error) {
	cc := app.Color(c)
	var items []release.ScalingItem
	var token *string
	for {
		out, err := f.ASG.DescribePolicies(ctx, &autoscaling.DescribePoliciesInput{
			AutoScalingGroupName: aws.String(cc.ASG), NextToken: token, MaxRecords: aws.Int32(100),
		})
		if err != nil {
			return nil, fmt.Errorf("describe scaling policies of %s: %w", cc.ASG, err)
		}
		for _, p := range out.ScalingPolicies {
			it, err := policyItem(app, c, p)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
		if token = out.NextToken; aws.ToString(token) == "" {
			break
		}
	}
	token = nil
	for {
		out, err := f.ASG.DescribeScheduledActions(ctx, &autoscaling.DescribeScheduledActionsInput{
			AutoScalingGroupName: aws.String(cc.ASG), NextToken: token, MaxRecords: aws.Int32(100),
		})
		if err != nil {
			return nil, fmt.Errorf("describe scheduled actions of %s: %w", cc.ASG, err)
		}
		for _, a := range out.ScheduledUpdateGroupActions {
			it, err := scheduledItem(app, c, a)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
		if token = out.NextToken; aws.ToString(token) == "" {
			break
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].Kind != items[j].Kind {
			return items[i].Kind < items[j].Kind
		}
		return items[i].Name < items[j].Name
	})
	return items, nil
}

func policyItem(app *config.App, c config.Color, p astypes.ScalingPolicy) (release.ScalingItem, error) {
	in := autoscaling.PutScalingPolicyInput{
		AdjustmentType: p.AdjustmentType, Cooldown: p.Cooldown, Enabled: p.Enabled,
		EstimatedInstanceWarmup: p.EstimatedInstanceWarmup, MetricAggregationType: p.MetricAggregationType,
		MinAdjustmentMagnitude: p.MinAdjustmentMagnitude,
		PolicyType:             p.PolicyType, PredictiveScalingConfiguration: p.PredictiveScalingConfiguration,
		ScalingAdjustment: p.ScalingAdjustment, StepAdjustments: p.StepAdjustments,
		TargetTrackingConfiguration: p.TargetTrackingConfiguration,
	}
	spec, err := canonical(app, c, in)
	if err != nil {
		return release.ScalingItem{}, fmt.Errorf("scaling policy %s of %s: %w", aws.ToString(p.PolicyName), app.Color(c).ASG, err)
	}
	return release.ScalingItem{Kind: release.ScalingPolicy, Name: aws.ToString(p.PolicyName), Type: aws.ToString(p.PolicyType), Spec: spec}, nil
}

func scheduledItem(app *config.App, c config.Color, a astypes.ScheduledUpdateGroupAction) (release.ScalingItem, error) {
	in := autoscaling.PutScheduledUpdateGroupActionInput{
		DesiredCapacity: a.DesiredCapacity, MinSize: a.MinSize, MaxSize: a.MaxSize,
		Recurrence: a.Recurrence, TimeZone: a.TimeZone, EndTime: a.EndTime,
	}
	typ := "once"
	if r := aws.ToString(a.Recurrence); r != "" {
		// A recurring action's StartTime is when it next runs, which AWS
		// works out again from the recurrence; copied, it could already
		// be in the past.
		typ = r
	} else {
		in.StartTime = a.StartTime
	}
	spec, err := canonical(app, c, in)
	if err != nil {
		return release.ScalingItem{}, fmt.Errorf("scheduled action %s of %s: %w", aws.ToString(a.ScheduledActionName), app.Color(c).ASG, err)
	}
	return release.ScalingItem{Kind: release.ScheduledAction, Name: aws.ToString(a.ScheduledActionName), Type: typ, Spec: spec}, nil
}

// canonical renders a put input as compact JSON with sorted keys, absent
// values left out, and color c's own names as placeholders.
func canonical(app *config.App, c config.Color, in any) (string, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return "", err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	tg, group := targetGroupPart(app.Color(c).TargetGroupARN), app.Color(c).ASG
	v = rewrite(v, func(s string) string {
		s = strings.ReplaceAll(s, tg, phTargetGroup)
		if s == group {
			return phGroup
		}
		return s
	})
	if v == nil {
		v = map[string]any{}
	}
	out, err := json.Marshal(v)
	return string(out), err
}

// rewrite drops nulls and empty lists and objects, and maps every string
// through f.
func rewrite(v any, f func(string) string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e = rewrite(e, f); e == nil {
				delete(x, k)
			} else {
				x[k] = e
			}
		}
		if len(x) == 0 {
			return nil
		}
		return x
	case []any:
		var out []any
		for _, e := range x {
			if e = rewrite(e, f); e != nil {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if x == "" {
			return nil
		}
		return f(x)
	}
	return v
}

// forColor decodes a canonical spec into a put input for color c: the
// placeholders become c's own names.
func forColor(app *config.App, c config.Color, spec string, in any) error {
	var v any
	if err := json.Unmarshal([]byte(spec), &v); err != nil {
		return err
	}
	tg, group := targetGroupPart(app.Color(c).TargetGroupARN), app.Color(c).ASG
	v = rewrite(v, func(s string) string {
		if s == phGroup {
			return group
		}
		return strings.ReplaceAll(s, phTargetGroup, tg)
	})
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, in)
}

// applyScaling puts or deletes one scaling policy or scheduled action on
// the action's color.
func (f *Fleet) applyScaling(ctx context.Context, app *config.App, a release.Action) error {
	it := a.Item
	if it == nil {
		return fmt.Errorf("%s without an item", a.Kind)
	}
	group := app.Color(a.Color).ASG
	switch {
	case a.Kind == release.PutScaling && it.Kind == release.ScalingPolicy:
		var in autoscaling.PutScalingPolicyInput
		if err := forColor(app, a.Color, it.Spec, &in); err != nil {
			return fmt.Errorf("scaling policy %s: %w", it.Name, err)
		}
		in.AutoScalingGroupName, in.PolicyName = aws.String(group), aws.String(it.Name)
		return f.retry(ctx, "put scaling policy "+it.Name+" on "+group, func() error {
			_, err := f.ASG.PutScalingPolicy(ctx, &in)
			return err
		})
	case a.Kind == release.PutScaling && it.Kind == release.ScheduledAction:
		var in autoscaling.PutScheduledUpdateGroupActionInput
		if err := forColor(app, a.Color, it.Spec, &in); err != nil {
			return fmt.Errorf("scheduled action %s: %w", it.Name, err)
		}
		in.AutoScalingGroupName, in.ScheduledActionName = aws.String(group), aws.String(it.Name)
		return f.retry(ctx, "put scheduled action "+it.Name+" on "+group, func() error {
			_, err := f.ASG.PutScheduledUpdateGroupAction(ctx, &in)
			return err
		})
	case a.Kind == release.DeleteScaling && it.Kind == release.ScalingPolicy:
		return f.retry(ctx, "delete scaling policy "+it.Name+" of "+group, func() error {
			_, err := f.ASG.DeletePolicy(ctx, &autoscaling.DeletePolicyInput{AutoScalingGroupName: aws.String(group), PolicyName: aws.String(it.Name)})
			return err
		})
	case a.Kind == release.DeleteScaling && it.Kind == release.ScheduledAction:
		return f.retry(ctx, "delete scheduled action "+it.Name+" of "+group, func() error {
			_, err := f.ASG.DeleteScheduledAction(ctx, &autoscaling.DeleteScheduledActionInput{AutoScalingGroupName: aws.String(group), ScheduledActionName: aws.String(it.Name)})
			return err
		})
	}
	return fmt.Errorf("%s of an unknown item kind %q", a.Kind, it.Kind)
}
