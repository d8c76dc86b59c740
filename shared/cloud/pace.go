package cloud

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

// A Pacer keeps kaizen's read calls under AWS's request rates, so that a
// tick over hundreds of apps is never throttled and never empties the
// buckets the team's other tools share with it (the rates are per account
// and Region, for everyone). It waits for a token before a Describe call;
// mutating calls are not paced (a rollback never waits behind reads).
//
// Budgets are three quarters of AWS's buckets, the rest left to the
// team's other tools (sources in shared/sim/limits.go): EC2 Describe* 100
// tokens at 20 a second per API, documented; ELBv2 Describe* 40 at 10,
// documented; Auto Scaling, undocumented, assumed 20 at 5.
type Pacer struct {
	mu      sync.Mutex
	buckets map[string]*paceBucket
	// Now and Sleep default to the wall clock.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

type paceBucket struct {
	burst, perSecond float64
	tokens           float64
	at               time.Time
}

// The families a Pacer budgets: burst and refill per second.
var paceBudgets = map[string][2]float64{
	"ec2:DescribeImages":                 {75, 15},
	"ec2:DescribeLaunchTemplateVersions": {75, 15},
	"elbv2:describe":                     {30, 7.5},
	"autoscaling:describe":               {15, 3.75},
}

// NewPacer returns a Pacer on the wall clock with kaizen's budgets.
func NewPacer() *Pacer { return &Pacer{buckets: map[string]*paceBucket{}} }

func (p *Pacer) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// wait takes a token of family, waiting its turn: tokens are reserved in
// the order asked for (a bucket may go into debt), so no caller starves
// behind later ones.
func (p *Pacer) wait(ctx context.Context, family string) error {
	if p == nil {
		return nil
	}
	budget, ok := paceBudgets[family]
	if !ok {
		return nil
	}
	p.mu.Lock()
	now := p.now()
	b := p.buckets[family]
	if b == nil {
		if p.buckets == nil {
			p.buckets = map[string]*paceBucket{}
		}
		b = &paceBucket{burst: budget[0], perSecond: budget[1], tokens: budget[0], at: now}
		p.buckets[family] = b
	}
	b.tokens = min(b.burst, b.tokens+now.Sub(b.at).Seconds()*b.perSecond)
	b.at = now
	b.tokens--
	debt := -b.tokens
	p.mu.Unlock()
	if debt <= 0 || ctx.Value(urgentKey{}) != nil {
		return nil
	}
	if err := p.sleep(ctx, time.Duration(debt/b.perSecond*float64(time.Second))); err != nil {
		p.mu.Lock()
		b.tokens++ // not used after all
		p.mu.Unlock()
		return err
	}
	return nil
}

type urgentKey struct{}

// Urgent marks reads that must not wait their turn: a guard alarm's, on
// the way to a rollback. They still take their tokens, so the reads after
// them wait the longer.
func Urgent(ctx context.Context) context.Context { return context.WithValue(ctx, urgentKey{}, true) }

func (p *Pacer) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Paced returns a copy of f whose Describe calls wait on p. Other calls,
// and methods the interfaces gain later, pass straight through.
func (f *Fleet) Paced(p *Pacer) *Fleet {
	g := *f
	g.EC2 = pacedEC2{f.EC2, p}
	g.ASG = pacedASG{f.ASG, p}
	g.ELB = pacedELB{f.ELB, p}
	return &g
}

type pacedEC2 struct {
	EC2API
	p *Pacer
}

func (c pacedEC2) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, opts ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	if err := c.p.wait(ctx, "ec2:DescribeImages"); err != nil {
		return nil, err
	}
	return c.EC2API.DescribeImages(ctx, in, opts...)
}

func (c pacedEC2) DescribeLaunchTemplateVersions(ctx context.Context, in *ec2.DescribeLaunchTemplateVersionsInput, opts ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error) {
	if err := c.p.wait(ctx, "ec2:DescribeLaunchTemplateVersions"); err != nil {
		return nil, err
	}
	return c.EC2API.DescribeLaunchTemplateVersions(ctx, in, opts...)
}

type pacedASG struct {
	AutoScalingAPI
	p *Pacer
}

func (c pacedASG) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	if err := c.p.wait(ctx, "autoscaling:describe"); err != nil {
		return nil, err
	}
	return c.AutoScalingAPI.DescribeAutoScalingGroups(ctx, in, opts...)
}

type pacedELB struct {
	ELBv2API
	p *Pacer
}

func (c pacedELB) DescribeListeners(ctx context.Context, in *elbv2.DescribeListenersInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error) {
	if err := c.p.wait(ctx, "elbv2:describe"); err != nil {
		return nil, err
	}
	return c.ELBv2API.DescribeListeners(ctx, in, opts...)
}

func (c pacedELB) DescribeRules(ctx context.Context, in *elbv2.DescribeRulesInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeRulesOutput, error) {
	if err := c.p.wait(ctx, "elbv2:describe"); err != nil {
		return nil, err
	}
	return c.ELBv2API.DescribeRules(ctx, in, opts...)
}

func (c pacedELB) DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	if err := c.p.wait(ctx, "elbv2:describe"); err != nil {
		return nil, err
	}
	return c.ELBv2API.DescribeTargetHealth(ctx, in, opts...)
}

func (c pacedASG) DescribePolicies(ctx context.Context, in *autoscaling.DescribePoliciesInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribePoliciesOutput, error) {
	if err := c.p.wait(ctx, "autoscaling:describe"); err != nil {
		return nil, err
	}
	return c.AutoScalingAPI.DescribePolicies(ctx, in, opts...)
}

func (c pacedASG) DescribeScheduledActions(ctx context.Context, in *autoscaling.DescribeScheduledActionsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeScheduledActionsOutput, error) {
	if err := c.p.wait(ctx, "autoscaling:describe"); err != nil {
		return nil, err
	}
	return c.AutoScalingAPI.DescribeScheduledActions(ctx, in, opts...)
}
