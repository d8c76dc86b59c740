package cloud

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Prefetch starts, all at once, every read Observe makes of app, and
// returns a Fleet that answers Observe's reads from them: an observation
// then costs one round trip, not the seven sequential ones it makes
// alone. The guard's path to its listener call starts with it.
//
// The pinned launch template versions are not known before the groups
// are read, so each color's template is read at $Latest alongside them:
// kaizen pins a group to the version it just created, its template's
// latest, so that answers the pinned version unless someone made a newer
// one (then the version is read after the groups, as Observe would). Every
// answer is used once: a later Observe (a step deciding again) reads AWS.
func (f *Fleet) Prefetch(ctx context.Context, app *config.App) *Fleet {
	p := &prefetch{calls: map[string]*future{}}
	groups := []string{app.Blue.ASG, app.Green.ASG}
	p.start(ctx, "asg:"+strings.Join(groups, ","), func(ctx context.Context) (any, error) {
		return f.ASG.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: groups, MaxRecords: aws.Int32(GroupsPerCall)})
	})
	p.start(ctx, "listener:"+app.ListenerARN, func(ctx context.Context) (any, error) {
		return f.ELB.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{app.ListenerARN}, PageSize: aws.Int32(ELBPageSize)})
	})
	p.start(ctx, "rule:"+app.Preview.RuleARN, func(ctx context.Context) (any, error) {
		return f.ELB.DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{app.Preview.RuleARN}, PageSize: aws.Int32(ELBPageSize)})
	})
	for _, c := range config.Colors {
		cc := app.Color(c)
		p.start(ctx, "health:"+cc.TargetGroupARN, func(ctx context.Context) (any, error) {
			return f.ELB.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(cc.TargetGroupARN)})
		})
		p.start(ctx, "latest:"+cc.LaunchTemplateID, func(ctx context.Context) (any, error) {
			return f.EC2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
				LaunchTemplateId: aws.String(cc.LaunchTemplateID), Versions: []string{"$Latest"},
			})
		})
	}
	g := *f
	g.EC2 = prefetchedEC2{f.EC2, p}
	g.ASG = prefetchedASG{f.ASG, p}
	g.ELB = prefetchedELB{f.ELB, p}
	return &g
}

type future struct {
	done chan struct{}
	val  any
	err  error
	used bool
}

type prefetch struct {
	mu    sync.Mutex
	calls map[string]*future
}

func (p *prefetch) start(ctx context.Context, key string, call func(context.Context) (any, error)) {
	fu := &future{done: make(chan struct{})}
	p.calls[key] = fu
	go func() {
		defer close(fu.done)
		fu.val, fu.err = call(ctx)
	}()
}

// take waits for the prefetched answer of key, if there is one not used
// yet, and marks it used.
func (p *prefetch) take(ctx context.Context, key string) (any, error, bool) {
	p.mu.Lock()
	fu, ok := p.calls[key]
	if !ok || fu.used {
		p.mu.Unlock()
		return nil, nil, false
	}
	fu.used = true
	p.mu.Unlock()
	select {
	case <-fu.done:
		return fu.val, fu.err, true
	case <-ctx.Done():
		return nil, ctx.Err(), true
	}
}

// peek waits for the prefetched answer of key without using it up.
func (p *prefetch) peek(ctx context.Context, key string) (any, error, bool) {
	p.mu.Lock()
	fu, ok := p.calls[key]
	p.mu.Unlock()
	if !ok {
		return nil, nil, false
	}
	select {
	case <-fu.done:
		return fu.val, fu.err, true
	case <-ctx.Done():
		return nil, ctx.Err(), true
	}
}

type prefetchedASG struct {
	AutoScalingAPI
	p *prefetch
}

func (c prefetchedASG) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	if in != nil && in.NextToken == nil && len(in.Filters) == 0 && aws.ToInt32(in.MaxRecords) == GroupsPerCall {
		if v, err, ok := c.p.take(ctx, "asg:"+strings.Join(in.AutoScalingGroupNames, ",")); ok {
			out, _ := v.(*autoscaling.DescribeAutoScalingGroupsOutput)
			return out, err
		}
	}
	return c.AutoScalingAPI.DescribeAutoScalingGroups(ctx, in, opts...)
}

type prefetchedELB struct {
	ELBv2API
	p *prefetch
}

func (c prefetchedELB) DescribeListeners(ctx context.Context, in *elbv2.DescribeListenersInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error) {
	if in != nil && in.Marker == nil && in.LoadBalancerArn == nil && len(in.ListenerArns) == 1 {
		if v, err, ok := c.p.take(ctx, "listener:"+in.ListenerArns[0]); ok {
			out, _ := v.(*elbv2.DescribeListenersOutput)
			return out, err
		}
	}
	return c.ELBv2API.DescribeListeners(ctx, in, opts...)
}

func (c prefetchedELB) DescribeRules(ctx context.Context, in *elbv2.DescribeRulesInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeRulesOutput, error) {
	if in != nil && in.Marker == nil && in.ListenerArn == nil && len(in.RuleArns) == 1 {
		if v, err, ok := c.p.take(ctx, "rule:"+in.RuleArns[0]); ok {
			out, _ := v.(*elbv2.DescribeRulesOutput)
			return out, err
		}
	}
	return c.ELBv2API.DescribeRules(ctx, in, opts...)
}

func (c prefetchedELB) DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	if in != nil && len(in.Targets) == 0 && len(in.Include) == 0 {
		if v, err, ok := c.p.take(ctx, "health:"+aws.ToString(in.TargetGroupArn)); ok {
			out, _ := v.(*elbv2.DescribeTargetHealthOutput)
			return out, err
		}
	}
	return c.ELBv2API.DescribeTargetHealth(ctx, in, opts...)
}

type prefetchedEC2 struct {
	EC2API
	p *prefetch
}

// DescribeLaunchTemplateVersions answers a numbered version from the
// template's prefetched $Latest when that is the version asked for (a
// numbered version never changes, so the answer may serve any number of
// reads).
func (c prefetchedEC2) DescribeLaunchTemplateVersions(ctx context.Context, in *ec2.DescribeLaunchTemplateVersionsInput, opts ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error) {
	if in != nil && in.NextToken == nil && len(in.Versions) == 1 && len(in.Filters) == 0 {
		if n, err := strconv.ParseInt(in.Versions[0], 10, 64); err == nil {
			if v, err, ok := c.p.peek(ctx, "latest:"+aws.ToString(in.LaunchTemplateId)); ok && err == nil {
				if out, _ := v.(*ec2.DescribeLaunchTemplateVersionsOutput); out != nil && len(out.LaunchTemplateVersions) == 1 &&
					aws.ToInt64(out.LaunchTemplateVersions[0].VersionNumber) == n {
					return out, nil
				}
			}
		}
	}
	return c.EC2API.DescribeLaunchTemplateVersions(ctx, in, opts...)
}
