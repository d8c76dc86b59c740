package cloud

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// ScalingBatchMin is how many apps must need their scaling policies
// before a Snapshot reads every policy and scheduled action of the
// account and Region (DescribePolicies and DescribeScheduledActions with
// no group name, 100 a page) rather than two calls per color.
const ScalingBatchMin = 10

// A Snapshot is many apps' fleets read in batches: their groups
// (GroupsPerCall a call), listeners and preview rules (ELBPageSize a
// call), and, for many apps at once, the scaling policies and scheduled
// actions, all in parallel. It serves two things:
//
//   - Glance: an observation of an app from the snapshot alone, without
//     target health and, unless the Fleet's VersionCache knows the pinned
//     version, without its AMI. It serves apps with nothing in flight,
//     whose planning reads neither.
//   - Fleet: a Fleet that answers an app's first reads of its groups,
//     listener, rule and scaling from the snapshot, so that a step run
//     alone costs only its target health (and template versions not yet
//     cached). Each answer is used once: a step deciding again reads AWS.
//
// The snapshot is as fresh as the tick's start: a step that acts on it
// writes ahead with the state's version, and a change made since by
// another step fails that write, as it would after any observation.
type Snapshot struct {
	f         *Fleet
	err       error
	groups    map[string]astypes.AutoScalingGroup
	listeners map[string]elbtypes.Listener
	rules     map[string]elbtypes.Rule
	policies  map[string][]astypes.ScalingPolicy              // by group; nil: not read
	scheduled map[string][]astypes.ScheduledUpdateGroupAction // by group; nil: not read

	mu   sync.Mutex
	used map[string]bool
}

// Snapshot reads apps' fleets in batches; scaling names the apps whose
// scaling policies their steps will read.
func (f *Fleet) Snapshot(ctx context.Context, apps []*config.App, scaling int) *Snapshot {
	s := &Snapshot{f: f, used: map[string]bool{}}
	if len(apps) == 0 {
		return s
	}
	var names, listeners, rules []string
	for _, a := range apps {
		names = append(names, a.Blue.ASG, a.Green.ASG)
		listeners = appendNew(listeners, a.ListenerARN)
		if a.Preview.RuleARN != "" {
			rules = appendNew(rules, a.Preview.RuleARN)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 5)
	run := func(i int, fn func() error) {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn() }()
	}
	run(0, func() (err error) { s.groups, err = f.describeGroups(ctx, names); return })
	run(1, func() (err error) { s.listeners, err = f.describeListeners(ctx, listeners); return })
	run(2, func() (err error) { s.rules, err = f.describeRules(ctx, rules); return })
	if scaling >= ScalingBatchMin {
		run(3, func() (err error) { s.policies, err = f.allPolicies(ctx); return })
		run(4, func() (err error) { s.scheduled, err = f.allScheduled(ctx); return })
	}
	wg.Wait()
	// One unknown ARN fails a whole DescribeListeners or DescribeRules call
	// (ListenerNotFound, RuleNotFound): then every app is observed alone,
	// and only the app whose ARN is wrong fails.
	for _, err := range errs {
		if err != nil {
			s.err = fmt.Errorf("batched observation: %w", err)
			s.groups, s.listeners, s.rules, s.policies, s.scheduled = nil, nil, nil, nil, nil
			break
		}
	}
	return s
}

func (f *Fleet) allPolicies(ctx context.Context) (map[string][]astypes.ScalingPolicy, error) {
	out := map[string][]astypes.ScalingPolicy{}
	in := &autoscaling.DescribePoliciesInput{MaxRecords: aws.Int32(100)}
	for {
		page, err := f.ASG.DescribePolicies(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, p := range page.ScalingPolicies {
			g := aws.ToString(p.AutoScalingGroupName)
			out[g] = append(out[g], p)
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

func (f *Fleet) allScheduled(ctx context.Context) (map[string][]astypes.ScheduledUpdateGroupAction, error) {
	out := map[string][]astypes.ScheduledUpdateGroupAction{}
	in := &autoscaling.DescribeScheduledActionsInput{MaxRecords: aws.Int32(100)}
	for {
		page, err := f.ASG.DescribeScheduledActions(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, a := range page.ScheduledUpdateGroupActions {
			g := aws.ToString(a.AutoScalingGroupName)
			out[g] = append(out[g], a)
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// Err is why the batch failed, if it did: observe every app alone.
func (s *Snapshot) Err() error { return s.err }

// Glance observes app from the snapshot alone (see Snapshot).
func (s *Snapshot) Glance(app *config.App) (release.Observed, error) {
	obs := release.Observed{Weights: map[config.Color]int{}, Colors: map[config.Color]*release.ColorView{}}
	if s.err != nil {
		return obs, s.err
	}
	for _, c := range config.Colors {
		cc := app.Color(c)
		g, ok := s.groups[cc.ASG]
		if !ok {
			return obs, fmt.Errorf("auto scaling group %s (%s) not found", cc.ASG, c)
		}
		lt, err := pinned(app, c, g)
		if err != nil {
			return obs, err
		}
		var ltv *ec2types.LaunchTemplateVersion
		if v, ok := s.f.Versions.Get(cc.LaunchTemplateID, aws.ToString(lt.Version)); ok {
			ltv = &v
		}
		obs.Colors[c] = view(g, ltv, nil)
	}
	return obs, traffic(app, &obs, s.listeners, s.rules)
}

// Fleet is s.f answering first reads from the snapshot (see Snapshot).
func (s *Snapshot) Fleet() *Fleet {
	g := *s.f
	g.ASG = snapASG{s.f.ASG, s}
	g.ELB = snapELB{s.f.ELB, s}
	return &g
}

// first reports whether key is answered from the snapshot now: once.
func (s *Snapshot) first(key string) bool {
	if s.err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used[key] {
		return false
	}
	s.used[key] = true
	return true
}

type snapASG struct {
	AutoScalingAPI
	s *Snapshot
}

func (c snapASG) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	if in != nil && in.NextToken == nil && len(in.Filters) == 0 && len(in.AutoScalingGroupNames) > 0 {
		out := &autoscaling.DescribeAutoScalingGroupsOutput{}
		all := true
		for _, n := range in.AutoScalingGroupNames {
			g, ok := c.s.groups[n]
			if !ok {
				all = false
				break
			}
			out.AutoScalingGroups = append(out.AutoScalingGroups, g)
		}
		if all && c.s.first("asg:"+strings.Join(in.AutoScalingGroupNames, ",")) {
			return out, nil
		}
	}
	return c.AutoScalingAPI.DescribeAutoScalingGroups(ctx, in, opts...)
}

func (c snapASG) DescribePolicies(ctx context.Context, in *autoscaling.DescribePoliciesInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribePoliciesOutput, error) {
	if in != nil && c.s.policies != nil && in.NextToken == nil && len(in.PolicyNames) == 0 && len(in.PolicyTypes) == 0 {
		if g := aws.ToString(in.AutoScalingGroupName); g != "" {
			if _, known := c.s.groups[g]; known && c.s.first("policies:"+g) {
				return &autoscaling.DescribePoliciesOutput{ScalingPolicies: c.s.policies[g]}, nil
			}
		}
	}
	return c.AutoScalingAPI.DescribePolicies(ctx, in, opts...)
}

func (c snapASG) DescribeScheduledActions(ctx context.Context, in *autoscaling.DescribeScheduledActionsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeScheduledActionsOutput, error) {
	if in != nil && c.s.scheduled != nil && in.NextToken == nil && len(in.ScheduledActionNames) == 0 && in.StartTime == nil && in.EndTime == nil {
		if g := aws.ToString(in.AutoScalingGroupName); g != "" {
			if _, known := c.s.groups[g]; known && c.s.first("scheduled:"+g) {
				return &autoscaling.DescribeScheduledActionsOutput{ScheduledUpdateGroupActions: c.s.scheduled[g]}, nil
			}
		}
	}
	return c.AutoScalingAPI.DescribeScheduledActions(ctx, in, opts...)
}

type snapELB struct {
	ELBv2API
	s *Snapshot
}

func (c snapELB) DescribeListeners(ctx context.Context, in *elbv2.DescribeListenersInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error) {
	if in != nil && in.Marker == nil && in.LoadBalancerArn == nil && len(in.ListenerArns) == 1 {
		if l, ok := c.s.listeners[in.ListenerArns[0]]; ok && c.s.first("listener:"+in.ListenerArns[0]) {
			return &elbv2.DescribeListenersOutput{Listeners: []elbtypes.Listener{l}}, nil
		}
	}
	return c.ELBv2API.DescribeListeners(ctx, in, opts...)
}

func (c snapELB) DescribeRules(ctx context.Context, in *elbv2.DescribeRulesInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeRulesOutput, error) {
	if in != nil && in.Marker == nil && in.ListenerArn == nil && len(in.RuleArns) == 1 {
		if r, ok := c.s.rules[in.RuleArns[0]]; ok && c.s.first("rule:"+in.RuleArns[0]) {
			return &elbv2.DescribeRulesOutput{Rules: []elbtypes.Rule{r}}, nil
		}
	}
	return c.ELBv2API.DescribeRules(ctx, in, opts...)
}
