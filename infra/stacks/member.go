package stacks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Apps in other accounts and regions. The kaizen stack owns a custom event
// bus, BusName, that only the member accounts may put events on; its rules
// there take the members' events for the release steps and, for the apps
// that name a secret, secretchange. In each place (account and region) an
// app lives in, other than kaizen's own, a member stack forwards exactly
// those events to the bus, and in each member account it creates the role
// kaizen assumes, allowed only what the release steps (and secretchange's
// reads and notices) do (shared/access) on that account's configured
// resources.

// BusName is the central event bus the members forward to.
const BusName = "kaizen"

// MemberFunctions are the functions that act on apps in member accounts:
// the release steps. Their events are forwarded; their roles may assume
// the members' roles.
var MemberFunctions = []string{route.Stage, route.Promote, route.Guard, route.Tick}

// ForwardedFunctions are the functions whose events the members forward:
// the release steps, and secretchange, whose rules exist only for a place
// where an app names a secret (route.RulesFor leaves them out
// otherwise). secretchange assumes the roles of the apps with a secret
// (SecretRoles) to list their images and notify them.
var ForwardedFunctions = append(slices.Clone(MemberFunctions), route.SecretChange)

// BusARN is the central bus's ARN.
func BusARN(f *config.File) string {
	return fmt.Sprintf("arn:%s:events:%s:%s:event-bus/%s", filePartition(f), f.Region, f.Account, BusName)
}

func filePartition(f *config.File) string {
	if len(f.Apps) > 0 {
		return partition(&f.Apps[0])
	}
	return "aws"
}

// RemotePlaces lists the places apps live in other than kaizen's own.
func RemotePlaces(f *config.File) []config.Place {
	var out []config.Place
	for _, p := range f.Places() {
		if p != f.Home() {
			out = append(out, p)
		}
	}
	return out
}

// placeView is the configuration as seen from one place: its account and
// region, and the apps that live there, so that route.RulesFor and
// Statements resolve names (secrets, groups) there.
func placeView(f *config.File, p config.Place) *config.File {
	v := *f
	v.Account, v.Region, v.Apps = p.Account, p.Region, nil
	for i := range f.Apps {
		if f.Apps[i].Place() == p {
			v.Apps = append(v.Apps, f.Apps[i])
		}
	}
	return &v
}

// ForwardedRules are the rules of the release steps and secretchange
// (ForwardedFunctions) for the apps of p, narrowed to their resources
// there (their secrets resolved in p's account and region): what the
// member's rules forward and the bus's rules take.
func ForwardedRules(f *config.File, p config.Place) []route.Rule {
	var out []route.Rule
	for _, r := range route.RulesFor(placeView(f, p)) {
		if slices.Contains(ForwardedFunctions, r.Function) {
			out = append(out, r)
		}
	}
	return out
}

// SecretRoles are the member roles of the apps in other accounts that
// name a secret, each once: the roles secretchange may assume.
func SecretRoles(f *config.File) []string {
	var out []string
	for _, a := range f.Members() {
		for _, app := range f.AppsIn(a) {
			if app.RoleARN != "" && app.Secret != "" && !slices.Contains(out, app.RoleARN) {
				out = append(out, app.RoleARN)
			}
		}
	}
	return out
}

// ALASRoles are the member roles alaspoll may assume to notify the apps
// of other accounts from their account: every member app's, each once
// (every app is polled).
func ALASRoles(f *config.File) []string {
	var out []string
	for _, a := range f.Members() {
		out = append(out, MemberRoles(f, a)...)
	}
	return out
}

// hasSecret reports whether an app of account names a secret.
func hasSecret(f *config.File, account string) bool {
	return slices.ContainsFunc(f.AppsIn(account), func(a *config.App) bool { return a.Secret != "" })
}

// MemberRoles are the roles apps of account name, each once.
func MemberRoles(f *config.File, account string) []string {
	var out []string
	for _, a := range f.AppsIn(account) {
		if a.RoleARN != "" && !slices.Contains(out, a.RoleARN) {
			out = append(out, a.RoleARN)
		}
	}
	return out
}

// MemberStackProps configures one member stack.
type MemberStackProps struct {
	awscdk.StackProps
	Config *Config
	// Place is the account and region the stack is deployed to.
	Place config.Place
	// KaizenStackName names the kaizen stack, whose functions' roles the
	// member's role trusts.
	KaizenStackName string
	// Roles are the roles this stack creates (each role once per account:
	// in the stack of the first region its apps live in).
	Roles []string
}

// MemberStack forwards a member's events and lends kaizen its role.
type MemberStack struct {
	awscdk.Stack
	Forward awsiam.Role
	Rules   []awsevents.Rule
	Roles   map[string]awsiam.Role
}

// NewMemberStack builds a member stack.
func NewMemberStack(scope constructs.Construct, id string, props *MemberStackProps) *MemberStack {
	if props == nil || props.Config == nil || props.Config.File == nil {
		panic("stacks: MemberStackProps.Config is required")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := &MemberStack{Stack: stack, Roles: map[string]awsiam.Role{}}
	f := props.Config.File
	bus := BusARN(f)

	// EventBridge puts the member's events on the central bus with a role
	// allowed only that (the bus target grants it events:PutEvents on the
	// bus).
	s.Forward = awsiam.NewRole(stack, jsii.String("ForwardToKaizen"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
		Description: jsii.String("kaizen: forwards this account's release events to kaizen's event bus"),
	})
	dlq := awssqs.NewQueue(stack, jsii.String("ForwardDeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(dlq, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is the dead-letter queue of the forwarding rules' target: events EventBridge could not put " +
			"on kaizen's bus land here; a dead-letter queue of its own would only move them again."),
	}}, jsii.Bool(true))
	target := awseventstargets.NewEventBus(awsevents.EventBus_FromEventBusArn(stack, jsii.String("KaizenBus"), jsii.String(bus)),
		&awseventstargets.EventBusProps{Role: s.Forward, DeadLetterQueue: dlq})
	for _, r := range ForwardedRules(f, props.Place) {
		s.Rules = append(s.Rules, awsevents.NewRule(stack, jsii.String("Forward-"+r.Name), &awsevents.RuleProps{
			Description:  jsii.String(fmt.Sprintf("kaizen: forwards %s events to kaizen's bus (for %s)", r.Name, r.Function)),
			EventPattern: EventPattern(r.Pattern),
			Targets:      &[]awsevents.IRuleTarget{target},
		}))
	}

	for _, arn := range props.Roles {
		s.Roles[arn] = memberRole(stack, f, props.Place.Account, arn, props.KaizenStackName)
	}
	return s
}

// memberRole is the role kaizen's release steps assume in account: trusted
// by the kaizen stack's roles only (in kaizen's account, named after its
// stack, with a session name kaizen gives), allowed what shared/access
// lists for those steps on the account's configured resources.
func memberRole(stack awscdk.Stack, f *config.File, account, arn, kaizenStack string) awsiam.Role {
	name := arn[strings.LastIndex(arn, "/")+1:]
	path := "/"
	if i, j := strings.Index(arn, ":role/")+len(":role"), strings.LastIndex(arn, "/"); j > i {
		path = arn[i : j+1]
	}
	p := filePartition(f)
	trust := awsiam.NewPrincipalWithConditions(awsiam.NewAccountPrincipal(jsii.String(f.Account)), &map[string]interface{}{
		"ArnLike":    map[string]interface{}{"aws:PrincipalArn": fmt.Sprintf("arn:%s:iam::%s:role/%s-*", p, f.Account, kaizenStack)},
		"StringLike": map[string]interface{}{"sts:RoleSessionName": "kaizen-*"},
	})
	role := awsiam.NewRole(stack, jsii.String("KaizenRole-"+name), &awsiam.RoleProps{
		RoleName:           jsii.String(name),
		Path:               jsii.String(path),
		AssumedBy:          trust,
		Description:        jsii.String("kaizen: the release steps' access to this account's blue/green fleets"),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	spec, statements := MemberStatements(f, account)
	for _, st := range statements {
		role.AddToPrincipalPolicy(policyStatement(st))
	}
	suppressWildcards(role, spec, statements)
	return role
}

// memberScopes are the grants that act in a member account: the fleet,
// its topic, and its metrics (metric analysis reads a member app's
// CloudWatch metrics in the member account; granted only where an app
// of the account is judged by CloudWatch). The state table, the rebuild,
// the public parameters and Datadog's keys stay in kaizen's account.
var memberScopes = []Scope{
	ScopeNoResourceLevel, ScopeLaunchTemplates, ScopeLaunchedResources, ScopeTagOnLaunch,
	ScopeAutoScalingGroups, ScopeListener, ScopePreviewRule, ScopeInstanceRole, ScopeTopic,
	ScopeMetricData,
}

// judgedByCloudWatch reports whether an app of account is judged by its
// CloudWatch metrics (an analysis block with provider cloudwatch).
func judgedByCloudWatch(f *config.File, account string) bool {
	for _, a := range f.AppsIn(account) {
		if a.Analysis != nil && a.Analysis.Provider == config.ProviderCloudWatch {
			return true
		}
	}
	return false
}

// MemberStatements are the member role's statements in account: the
// union of the release steps' grants (shared/access, scoped as
// grantCatalog says) that act in a member account, and secretchange's
// (reading the fleet, notifying) when an app there names a secret,
// resolved against the account's apps in each region they live in.
func MemberStatements(f *config.File, account string) (FunctionSpec, []Statement) {
	spec := FunctionSpec{Name: "member " + account}
	fns := MemberFunctions
	if hasSecret(f, account) {
		fns = ForwardedFunctions
	}
	for _, fn := range fns {
		for _, g := range GrantsFor(fn) {
			if !slices.Contains(memberScopes, g.Scope) || (g.Scope == ScopeMetricData && !judgedByCloudWatch(f, account)) {
				continue
			}
			i := slices.IndexFunc(spec.Grants, func(h Grant) bool { return h.Sid == g.Sid })
			if i < 0 {
				spec.Grants = append(spec.Grants, Grant{Sid: g.Sid, Scope: g.Scope, Actions: slices.Clone(g.Actions)})
				continue
			}
			for _, a := range g.Actions {
				if !slices.Contains(spec.Grants[i].Actions, a) {
					spec.Grants[i].Actions = append(spec.Grants[i].Actions, a)
				}
			}
		}
	}
	for i := range spec.Grants {
		slices.Sort(spec.Grants[i].Actions)
	}
	var out []Statement
	for _, p := range f.Places() {
		if p.Account != account {
			continue
		}
		for _, st := range Statements(spec, placeView(f, p), "") {
			i := slices.IndexFunc(out, func(o Statement) bool { return o.Sid == st.Sid })
			if i < 0 {
				out = append(out, st)
				continue
			}
			out[i].Resources = uniq(append(out[i].Resources, st.Resources...))
			for op, kv := range st.Conditions {
				for k, vs := range kv {
					out[i].Conditions[op][k] = uniq(append(out[i].Conditions[op][k], vs...))
				}
			}
		}
	}
	return spec, out
}

// addBus gives the kaizen stack its central bus when apps live elsewhere:
// a resource policy that lets exactly the member accounts put events on
// it, the release steps' rules on it for each place's apps (narrowed to
// that account and region), and the release steps' right to assume the
// members' roles.
func (s *KaizenStack) addBus(f *config.File) {
	places := RemotePlaces(f)
	if len(places) == 0 {
		return
	}
	s.Bus = awsevents.NewEventBus(s.Stack, jsii.String("Bus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(BusName),
		Description:  jsii.String("kaizen: release events forwarded from the member accounts"),
	})
	var accounts []string
	for _, p := range places {
		if !slices.Contains(accounts, p.Account) {
			accounts = append(accounts, p.Account)
		}
	}
	var principals []interface{}
	for _, a := range accounts {
		principals = append(principals, fmt.Sprintf("arn:%s:iam::%s:root", filePartition(f), a))
	}
	// One statement naming exactly the member accounts. (jsii warns that
	// CfnEventBusPolicy's principal property is deprecated whenever the
	// resource is made; it is not set here.)
	awsevents.NewCfnEventBusPolicy(s.Stack, jsii.String("BusPolicy"), &awsevents.CfnEventBusPolicyProps{
		EventBusName: s.Bus.EventBusName(),
		StatementId:  jsii.String("MembersPutEvents"),
		Statement: map[string]interface{}{
			"Sid":       "MembersPutEvents",
			"Effect":    "Allow",
			"Principal": map[string]interface{}{"AWS": principals},
			"Action":    "events:PutEvents",
			"Resource":  s.Bus.EventBusArn(),
		},
	})
	for _, p := range places {
		tag := strings.ReplaceAll(p.String(), "/", "-")
		for _, r := range ForwardedRules(f, p) {
			fn := s.Functions[r.Function]
			spec, _ := Spec(r.Function)
			ep := EventPattern(r.Pattern)
			ep.Account = jsii.Strings(p.Account)
			ep.Region = jsii.Strings(p.Region)
			awsevents.NewRule(s.Stack, jsii.String("Bus-"+tag+"-"+r.Name), &awsevents.RuleProps{
				EventBus:     s.Bus,
				Description:  jsii.String(fmt.Sprintf("kaizen: %s takes %s forwarded from %s", r.Function, r.Name, p)),
				EventPattern: ep,
				Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn.Lambda, &awseventstargets.LambdaFunctionProps{
					DeadLetterQueue: fn.DeadLetters,
					RetryAttempts:   jsii.Number(float64(spec.TargetRetries)),
					MaxEventAge:     awscdk.Duration_Seconds(jsii.Number(spec.TargetMaxEventAge.Seconds())),
				})},
			})
		}
	}
	var roles []string
	for _, a := range f.Members() {
		roles = append(roles, MemberRoles(f, a)...)
	}
	if len(roles) == 0 {
		return
	}
	for _, fn := range MemberFunctions {
		s.Functions[fn].Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("AssumeMemberRoles"),
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: jsii.Strings(roles...),
		}))
	}
	// alaspoll notifies each member app from its account, through the
	// app's role: every app is polled (each has ALAS settings), so every
	// member role. The member role's sns:Publish on the app's topic is the
	// release steps' own (MemberStatements).
	s.Functions[route.ALASPoll].Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("AssumeMemberRoles"),
		Actions:   jsii.Strings("sts:AssumeRole"),
		Resources: jsii.Strings(ALASRoles(f)...),
	}))
	// secretchange reads a member app's images and notifies it through
	// the app's role: only the roles of apps that name a secret.
	if sr := SecretRoles(f); len(sr) > 0 {
		s.Functions[route.SecretChange].Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("AssumeMemberRoles"),
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: jsii.Strings(sr...),
		}))
	}
}

// addMembers adds a member stack per place apps live in besides kaizen's,
// each role in the stack of the first region its account appears in.
func addMembers(app awscdk.App, o Options, kaizenStack string) []*MemberStack {
	f := o.Config.File
	var out []*MemberStack
	made := map[string]bool{}
	for _, p := range RemotePlaces(f) {
		var roles []string
		if !made[p.Account] && p.Account != f.Account {
			roles = MemberRoles(f, p.Account)
			made[p.Account] = true
		}
		id := fmt.Sprintf("%sMember-%s-%s", kaizenStack, p.Account, p.Region)
		out = append(out, NewMemberStack(app, id, &MemberStackProps{
			StackProps: awscdk.StackProps{
				Env:         &awscdk.Environment{Account: jsii.String(p.Account), Region: jsii.String(p.Region)},
				StackName:   jsii.String(id),
				Description: jsii.String(fmt.Sprintf("kaizen member %s: forwards release events to kaizen's bus and lends kaizen its role", p)),
			},
			Config: o.Config, Place: p, KaizenStackName: kaizenStack, Roles: roles,
		}))
	}
	return out
}
