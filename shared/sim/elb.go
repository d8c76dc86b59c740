package sim

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

type targetGroup struct{ arn string }

// targetPort is where targets listen and are health-checked (the
// reference fleet's target groups: HTTP on 80, the traffic port).
const targetPort = 80

type listener struct {
	arn     string
	actions []elbtypes.Action
}

type rule struct {
	arn, listener, priority string
	conditions              []elbtypes.RuleCondition
	actions                 []elbtypes.Action
}

// ELBv2 is the simulated Elastic Load Balancing v2 API.
type ELBv2 struct{ c *Cloud }

// ELBv2 returns the load balancing client of the cloud.
func (c *Cloud) ELBv2() *ELBv2 { return &ELBv2{c} }

// AddTargetGroup creates a target group.
func (c *Cloud) AddTargetGroup(arn string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tgs[arn] = &targetGroup{arn: arn}
}

// AddListener creates a listener whose default action forwards to tg.
func (c *Cloud) AddListener(arn, tg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listeners[arn] = &listener{arn: arn, actions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}}}
}

// AddRule creates a listener rule matching source CIDRs (and optionally a
// header) that forwards to tg.
func (c *Cloud) AddRule(arn, listenerARN, tg string, cidrs []string, header, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	conds := []elbtypes.RuleCondition{{Field: aws.String("source-ip"), SourceIpConfig: &elbtypes.SourceIpConditionConfig{Values: cidrs}}}
	if header != "" {
		conds = append(conds, elbtypes.RuleCondition{Field: aws.String("http-header"), HttpHeaderConfig: &elbtypes.HttpHeaderConditionConfig{HttpHeaderName: aws.String(header), Values: []string{value}}})
	}
	c.rules[arn] = &rule{arn: arn, listener: listenerARN, priority: "10", conditions: conds,
		actions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}}}
}

// checkActions validates forward actions as ELB does.
func (c *Cloud) checkActions(actions []elbtypes.Action) error {
	if len(actions) == 0 {
		return validation("At least one action must be specified")
	}
	for _, a := range actions {
		if a.Type != elbtypes.ActionTypeEnumForward {
			continue
		}
		if a.TargetGroupArn != nil {
			if c.tgs[aws.ToString(a.TargetGroupArn)] == nil {
				return notFound("TargetGroupNotFound", "Target groups '%s' not found", aws.ToString(a.TargetGroupArn))
			}
			continue
		}
		if a.ForwardConfig == nil || len(a.ForwardConfig.TargetGroups) == 0 {
			return validation("A forward action needs a target group")
		}
		total := 0
		for _, tg := range a.ForwardConfig.TargetGroups {
			if c.tgs[aws.ToString(tg.TargetGroupArn)] == nil {
				return notFound("TargetGroupNotFound", "Target groups '%s' not found", aws.ToString(tg.TargetGroupArn))
			}
			w := int(aws.ToInt32(tg.Weight))
			if w < 0 || w > 999 {
				return validation("Target group weight must be between 0 and 999")
			}
			total += w
		}
		if total == 0 {
			return validation("At least one target group in a forward action must have a weight greater than 0")
		}
	}
	return nil
}

func (e *ELBv2) DescribeListeners(ctx context.Context, in *elbv2.DescribeListenersInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error) {
	return serve(e.c, ctx, OpDescribeListeners, in, e.describeListeners)
}

func (e *ELBv2) describeListeners(in *elbv2.DescribeListenersInput) (*elbv2.DescribeListenersOutput, error) {
	c := e.c
	for _, arn := range in.ListenerArns {
		if c.listeners[arn] == nil {
			return nil, notFound("ListenerNotFound", "One or more listeners not found")
		}
	}
	arns, next, err := arnPage(OpDescribeListeners, in.ListenerArns, in.PageSize, in.Marker)
	if err != nil {
		return nil, err
	}
	var out []elbtypes.Listener
	for _, arn := range arns {
		out = append(out, c.listeners[arn].sdk())
	}
	return &elbv2.DescribeListenersOutput{Listeners: out, NextMarker: next}, nil
}

// arnPage is the page of the ARNs a DescribeListeners or DescribeRules
// call answers: any number of ARNs (ELB documents no maximum), in pages
// of PageSize (1..400; 400 when not given).
func arnPage(op Op, arns []string, size *int32, marker *string) ([]string, *string, error) {
	n, err := pageSize("pageSize", size, defaultListPage, maxListPage)
	if err != nil {
		return nil, nil, err
	}
	var uniq []string
	for _, a := range arns {
		if !contains(uniq, a) {
			uniq = append(uniq, a)
		}
	}
	from, to, next, err := pageOf(op, aws.ToString(marker), n, len(uniq))
	if err != nil {
		return nil, nil, err
	}
	if next == "" {
		return uniq[from:to], nil, nil
	}
	return uniq[from:to], aws.String(next), nil
}

// sdk is the listener as DescribeListeners and ModifyListener report it.
func (l *listener) sdk() elbtypes.Listener {
	out := elbtypes.Listener{ListenerArn: aws.String(l.arn), DefaultActions: *clone(&l.actions)}
	if lb := loadBalancerARN(l.arn); lb != "" {
		out.LoadBalancerArn = aws.String(lb)
	}
	return out
}

// loadBalancerARN is the load balancer of a listener ARN
// (arn:...:listener/app/NAME/LB-ID/LISTENER-ID → arn:...:loadbalancer/app/NAME/LB-ID),
// or "" for an ARN of another shape.
func loadBalancerARN(listenerARN string) string {
	head, path, ok := strings.Cut(listenerARN, ":listener/")
	if !ok {
		return ""
	}
	parts := strings.Split(path, "/")
	if len(parts) != 4 {
		return ""
	}
	return head + ":loadbalancer/" + strings.Join(parts[:3], "/")
}

func (e *ELBv2) ModifyListener(ctx context.Context, in *elbv2.ModifyListenerInput, _ ...func(*elbv2.Options)) (*elbv2.ModifyListenerOutput, error) {
	return serve(e.c, ctx, OpModifyListener, in, e.modifyListener)
}

func (e *ELBv2) modifyListener(in *elbv2.ModifyListenerInput) (*elbv2.ModifyListenerOutput, error) {
	c := e.c
	l := c.listeners[aws.ToString(in.ListenerArn)]
	if l == nil {
		return nil, notFound("ListenerNotFound", "One or more listeners not found")
	}
	if in.DefaultActions != nil {
		if err := c.checkActions(in.DefaultActions); err != nil {
			return nil, err
		}
		l.actions = in.DefaultActions
	}
	// AWS answers with the modified listener.
	return &elbv2.ModifyListenerOutput{Listeners: []elbtypes.Listener{l.sdk()}}, nil
}

func (e *ELBv2) DescribeRules(ctx context.Context, in *elbv2.DescribeRulesInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeRulesOutput, error) {
	return serve(e.c, ctx, OpDescribeRules, in, e.describeRules)
}

func (e *ELBv2) describeRules(in *elbv2.DescribeRulesInput) (*elbv2.DescribeRulesOutput, error) {
	c := e.c
	for _, arn := range in.RuleArns {
		if c.rules[arn] == nil {
			return nil, notFound("RuleNotFound", "One or more rules not found")
		}
	}
	arns, next, err := arnPage(OpDescribeRules, in.RuleArns, in.PageSize, in.Marker)
	if err != nil {
		return nil, err
	}
	var out []elbtypes.Rule
	for _, arn := range arns {
		out = append(out, c.rules[arn].sdk())
	}
	return &elbv2.DescribeRulesOutput{Rules: out, NextMarker: next}, nil
}

// sdk is the rule as DescribeRules and ModifyRule report it; the
// simulation's rules are never a listener's default rule.
func (r *rule) sdk() elbtypes.Rule {
	return elbtypes.Rule{RuleArn: aws.String(r.arn), Priority: aws.String(r.priority), IsDefault: aws.Bool(false),
		Conditions: *clone(&r.conditions), Actions: *clone(&r.actions)}
}

func (e *ELBv2) ModifyRule(ctx context.Context, in *elbv2.ModifyRuleInput, _ ...func(*elbv2.Options)) (*elbv2.ModifyRuleOutput, error) {
	return serve(e.c, ctx, OpModifyRule, in, e.modifyRule)
}

func (e *ELBv2) modifyRule(in *elbv2.ModifyRuleInput) (*elbv2.ModifyRuleOutput, error) {
	c := e.c
	r := c.rules[aws.ToString(in.RuleArn)]
	if r == nil {
		return nil, notFound("RuleNotFound", "One or more rules not found")
	}
	if in.Actions != nil {
		if err := c.checkActions(in.Actions); err != nil {
			return nil, err
		}
		r.actions = in.Actions
	}
	if in.Conditions != nil {
		r.conditions = in.Conditions
	}
	// AWS answers with the modified rule.
	return &elbv2.ModifyRuleOutput{Rules: []elbtypes.Rule{r.sdk()}}, nil
}

func (e *ELBv2) DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	return serve(e.c, ctx, OpDescribeTargetHealth, in, e.describeTargetHealth)
}

func (e *ELBv2) describeTargetHealth(in *elbv2.DescribeTargetHealthInput) (*elbv2.DescribeTargetHealthOutput, error) {
	c := e.c
	arn := aws.ToString(in.TargetGroupArn)
	if c.tgs[arn] == nil {
		return nil, notFound("TargetGroupNotFound", "Target groups '%s' not found", arn)
	}
	var out []elbtypes.TargetHealthDescription
	names := make([]string, 0, len(c.groups))
	for n := range c.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		g := c.groups[n]
		if g.targetGroup != arn {
			continue
		}
		for _, i := range g.instances {
			if !c.inService(i) {
				continue // registered once InService
			}
			// The reasons and descriptions are AWS's for these states.
			th := &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumInitial,
				Reason: elbtypes.TargetHealthReasonEnumRegistrationInProgress, Description: aws.String("Target registration is in progress")}
			switch {
			case c.healthy(i):
				th = &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumHealthy}
			case c.never[i.ami] && !c.now.Before(i.launched.Add(c.LaunchDelay+c.HealthyDelay)):
				th = &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumUnhealthy,
					Reason: elbtypes.TargetHealthReasonEnumFailedHealthChecks, Description: aws.String("Health checks failed")}
			}
			out = append(out, elbtypes.TargetHealthDescription{
				Target: &elbtypes.TargetDescription{Id: aws.String(i.id), Port: aws.Int32(targetPort)}, TargetHealth: th,
				HealthCheckPort: aws.String(strconv.Itoa(targetPort)),
			})
		}
	}
	return &elbv2.DescribeTargetHealthOutput{TargetHealthDescriptions: out}, nil
}
