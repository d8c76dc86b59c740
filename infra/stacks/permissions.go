package stacks

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/access"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/limits"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Scope is what a grant's actions are limited to. It is resolved against the
// configuration, so the IAM resources follow the configured ARNs and names.
type Scope string

const (
	// ScopeNoResourceLevel is for actions IAM cannot scope to a resource:
	// the only valid resource is "*". Only read-only actions may use it.
	ScopeNoResourceLevel Scope = "*"
	// ScopeLaunchTemplates is the apps' launch templates (both colors).
	ScopeLaunchTemplates Scope = "launch-templates"
	// ScopeLaunchedResources is what a launch from those templates touches
	// (instances, volumes, interfaces, subnets, security groups, key pairs,
	// images), only when the launch uses one of the apps' templates.
	ScopeLaunchedResources Scope = "launched-resources"
	// ScopeTagOnLaunch is tagging instances, volumes and interfaces, only as
	// part of RunInstances.
	ScopeTagOnLaunch Scope = "tag-on-launch"
	// ScopeAutoScalingGroups is the apps' Auto Scaling groups (both colors).
	ScopeAutoScalingGroups Scope = "auto-scaling-groups"
	// ScopeListener is the apps' listeners.
	ScopeListener Scope = "listener"
	// ScopePreviewRule is the apps' preview listener rules.
	ScopePreviewRule Scope = "preview-rule"
	// ScopeInstanceRole is the apps' instance roles, passed to EC2 only.
	ScopeInstanceRole Scope = "instance-role"
	// ScopeTopic is the apps' notification topics.
	ScopeTopic Scope = "topic"
	// ScopeTable is kaizen's state table.
	ScopeTable Scope = "table"
	// ScopeRebuildProject is the apps' golden-image CodeBuild projects.
	ScopeRebuildProject Scope = "rebuild-project"
	// ScopeRebuildPipeline is the apps' golden-image pipelines.
	ScopeRebuildPipeline Scope = "rebuild-pipeline"
	// ScopeLatestAL2023 is AWS's public parameters that name the newest
	// Amazon Linux AMIs (alaspoll reads the AL2023 release version there).
	ScopeLatestAL2023 Scope = "latest-al-parameters"
	// ScopeGuardAlarms is the apps' guard alarms, whose states an approval
	// request shows.
	ScopeGuardAlarms Scope = "guard-alarms"
	// ScopeMetricData is CloudWatch's metric data, which metric analysis
	// reads (shared/analysis/cloudwatch): GetMetricData has no
	// resource-level permissions, so "*" is its only resource.
	ScopeMetricData Scope = "metric-data"
	// ScopeDatadogSecret is the one secret holding Datadog's keys
	// (analysis.datadog.secretArn), which the tick reads at start-up.
	ScopeDatadogSecret Scope = "datadog-secret"
	// ScopeDatadogKey is that secret's customer managed KMS key
	// (analysis.datadog.kmsKeyArn), used through Secrets Manager only;
	// none when the secret uses Secrets Manager's own key.
	ScopeDatadogKey Scope = "datadog-key"

	// The database refresh's scopes (dbrefresh.go): production's snapshots
	// may only be copied from; everything that changes is staging's.
	ScopeRDSDescribe         Scope = "rds-describe"
	ScopeProductionSnapshots Scope = "production-snapshots"
	ScopeStagingDatabases    Scope = "staging-databases"
	ScopeScrubProject        Scope = "scrub-project"
	ScopeStagingSecret       Scope = "staging-secret"
	ScopeStagingKey          Scope = "staging-key"
	ScopeStagingKeyGrant     Scope = "staging-key-grant"
	ScopeRefreshTopic        Scope = "refresh-topic"
)

// Grant is a group of actions a function calls and what they are scoped to.
type Grant struct {
	Sid     string
	Actions []string
	Scope   Scope
}

// FunctionSpec is everything the kaizen stack needs to know about one
// function besides its code.
type FunctionSpec struct {
	Name        string
	Description string
	MemoryMB    int
	// Timeout is at most limits.FunctionTimeout, which a release step's
	// lease outlasts.
	Timeout time.Duration
	// Retries and MaxEventAge bound Lambda's own retries of an asynchronous
	// invocation; past them the event goes to the function's dead-letter
	// queue.
	Retries     int
	MaxEventAge time.Duration
	// TargetRetries and TargetMaxEventAge bound EventBridge's retries of the
	// delivery to Lambda (throttling, service errors); past them the event
	// goes to the same dead-letter queue.
	TargetRetries     int
	TargetMaxEventAge time.Duration
	// Schedule, if set, runs the function at this rate.
	Schedule time.Duration
	// ReservedConcurrency, if set, is reserved for the function out of the
	// account's concurrency (and is also its ceiling).
	ReservedConcurrency int
	Grants              []Grant
}

// GuardReservedConcurrency is reserved for guard. Lambda's concurrency is
// one pool for every function of the account and region: a burst elsewhere
// (another team's functions, a flood of events) must not leave guard
// throttled at the moment an alarm asks for a rollback. A rollback takes
// one invocation of well under a second, so five at once serve many apps'
// alarms firing together; more wait in Lambda's queue, within guard's
// fifteen-minute event age. (Lambda keeps 100 of the account's
// concurrency unreserved, so the account's quota must be above 105.)
const GuardReservedConcurrency = 5

// ReadOnlyActions are the only actions that may have the resource "*": IAM
// has no resource-level permissions for them, and they change nothing.
var ReadOnlyActions = append(append(slices.Clone(fleetReadOnly), rdsReadOnly...), metricsReadOnly...)

// metricsReadOnly is what metric analysis reads.
var metricsReadOnly = []string{"cloudwatch:GetMetricData"}

var fleetReadOnly = []string{
	"autoscaling:DescribeAutoScalingGroups",
	"autoscaling:DescribePolicies",
	"autoscaling:DescribeScheduledActions",
	"ec2:DescribeImages",
	"ec2:DescribeLaunchTemplateVersions",
	"elasticloadbalancing:DescribeListeners",
	"elasticloadbalancing:DescribeRules",
	"elasticloadbalancing:DescribeTargetHealth",
}

// grantCatalog says how each IAM action a function may need is scoped. It
// names actions only to scope them: which actions a function gets comes
// from shared/access (GrantsFor), the same table the functions consult
// before they act. An action in two grants (RunInstances, checked on the
// template and on what a launch creates) is granted through both.
var grantCatalog = append([]Grant{
	// These Describe actions have no resource-level permissions in IAM:
	// "*" is the only resource they accept. They are read-only.
	{Sid: "ObserveFleet", Scope: ScopeNoResourceLevel, Actions: fleetReadOnly},
	{Sid: "PutAMIOnColor", Scope: ScopeLaunchTemplates, Actions: []string{"ec2:CreateLaunchTemplateVersion"}},
	{Sid: "SizeColors", Scope: ScopeAutoScalingGroups, Actions: []string{
		"autoscaling:UpdateAutoScalingGroup",
		"autoscaling:SuspendProcesses",
		"autoscaling:ResumeProcesses",
	}},
	// The new color's scaling policies and scheduled actions follow the
	// live color's; all four take the group's ARN as their resource.
	{Sid: "MatchColorScaling", Scope: ScopeAutoScalingGroups, Actions: []string{
		"autoscaling:PutScalingPolicy",
		"autoscaling:DeletePolicy",
		"autoscaling:PutScheduledUpdateGroupAction",
		"autoscaling:DeleteScheduledAction",
	}},
	// UpdateAutoScalingGroup with a launch template checks that the caller
	// could launch from it: ec2:RunInstances on the template, on the
	// resources a launch creates or uses, and ec2:CreateTags for tags
	// applied at launch. kaizen never calls RunInstances itself; the
	// ec2:LaunchTemplate and ec2:CreateAction conditions keep these grants
	// from being usable for anything but the apps' templates.
	{Sid: "LaunchFromColorTemplates", Scope: ScopeLaunchTemplates, Actions: []string{"ec2:RunInstances"}},
	{Sid: "LaunchedByColorTemplates", Scope: ScopeLaunchedResources, Actions: []string{"ec2:RunInstances"}},
	{Sid: "TagOnLaunch", Scope: ScopeTagOnLaunch, Actions: []string{"ec2:CreateTags"}},
	{Sid: "SwitchPublic", Scope: ScopeListener, Actions: []string{"elasticloadbalancing:ModifyListener"}},
	{Sid: "PointPreview", Scope: ScopePreviewRule, Actions: []string{"elasticloadbalancing:ModifyRule"}},
	{Sid: "PassInstanceRole", Scope: ScopeInstanceRole, Actions: []string{"iam:PassRole"}},
	{Sid: "RebuildProject", Scope: ScopeRebuildProject, Actions: []string{
		"codebuild:StartBuild", "codebuild:ListBuildsForProject", "codebuild:BatchGetBuilds",
	}},
	{Sid: "RebuildPipeline", Scope: ScopeRebuildPipeline, Actions: []string{
		"codepipeline:StartPipelineExecution", "codepipeline:ListPipelineExecutions",
	}},
	{Sid: "ReadLatestAL2023", Scope: ScopeLatestAL2023, Actions: []string{"ssm:GetParameter"}},
	{Sid: "Notify", Scope: ScopeTopic, Actions: []string{"sns:Publish"}},
	{Sid: "ReadGuardAlarms", Scope: ScopeGuardAlarms, Actions: []string{"cloudwatch:DescribeAlarms"}},
	{Sid: "ReadReleaseMetrics", Scope: ScopeMetricData, Actions: metricsReadOnly},
	{Sid: "ReadDatadogKeys", Scope: ScopeDatadogSecret, Actions: []string{"secretsmanager:GetSecretValue"}},
	{Sid: "DecryptDatadogKeys", Scope: ScopeDatadogKey, Actions: []string{"kms:Decrypt"}},
	{Sid: "ReleaseState", Scope: ScopeTable, Actions: []string{
		"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteItem",
	}},
}, dbRefreshGrants...)

// GrantsFor derives a function's grants from the actions shared/access
// says it needs, each scoped as grantCatalog says. It panics if an action
// has no scope here: a new call must be scoped before it is deployed.
func GrantsFor(function string) []Grant {
	actions := access.Actions(function)
	if len(actions) == 0 {
		panic(fmt.Sprintf("stacks: shared/access describes no function %q", function))
	}
	var out []Grant
	scoped := map[string]bool{}
	for _, g := range grantCatalog {
		if owners, ok := scopeOwners[g.Scope]; ok && !slices.Contains(owners, function) {
			continue
		}
		var as []string
		for _, a := range g.Actions {
			if slices.Contains(actions, a) {
				as = append(as, a)
				scoped[a] = true
			}
		}
		if len(as) > 0 {
			out = append(out, Grant{Sid: g.Sid, Scope: g.Scope, Actions: as})
		}
	}
	for _, a := range actions {
		if !scoped[a] {
			panic(fmt.Sprintf("stacks: %s needs %s, which no grant scopes (add it to grantCatalog)", function, a))
		}
	}
	return out
}

// CatalogActions lists every action grantCatalog scopes, sorted.
func CatalogActions() []string {
	var out []string
	for _, g := range grantCatalog {
		out = append(out, g.Actions...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Specs lists every function in route.Functions order: its size, retry
// policy and its grants, derived from shared/access.
var Specs = []FunctionSpec{
	{
		Name: route.Stage, Description: "Puts a new golden AMI on the idle color and points the preview rule at it.",
		MemoryMB: 256, Timeout: limits.FunctionTimeout,
		// An AMI that arrives late is still worth staging; the reconciler
		// observes before it acts, so a retry is harmless.
		Retries: 2, MaxEventAge: 6 * time.Hour,
		TargetRetries: 8, TargetMaxEventAge: 6 * time.Hour,
		Grants: GrantsFor(route.Stage),
	},
	{
		Name: route.Promote, Description: "Promotes the staged color when the approval action succeeds; abandons it on reject.",
		MemoryMB: 256, Timeout: limits.FunctionTimeout,
		// People wait on an approval: retry quickly, and give up (to the
		// dead-letter queue and its alarm) within the hour.
		Retries: 2, MaxEventAge: time.Hour,
		TargetRetries: 8, TargetMaxEventAge: time.Hour,
		Grants: GrantsFor(route.Promote),
	},
	{
		Name: route.Guard, Description: "Rolls the public back on a guard alarm; steps the live color up on a capacity alarm.",
		MemoryMB: 256, Timeout: 30 * time.Second,
		// A rollback or scale-out that comes a quarter of an hour late is
		// no longer the right reaction; the dead-letter alarm calls a person.
		Retries: 2, MaxEventAge: 15 * time.Minute,
		TargetRetries: 4, TargetMaxEventAge: 15 * time.Minute,
		ReservedConcurrency: GuardReservedConcurrency,
		Grants:              GrantsFor(route.Guard),
	},
	{
		Name: route.Tick, Description: "Advances what waits on time or on AWS: preview ready, cutover, weight steps, bake end, retire.",
		MemoryMB: 256, Timeout: limits.FunctionTimeout,
		// The next tick, a minute later, does the same work: never retry.
		Retries: 0, MaxEventAge: time.Minute,
		TargetRetries: 0, TargetMaxEventAge: time.Minute,
		Schedule: time.Minute,
		Grants:   GrantsFor(route.Tick),
	},
	{
		Name: route.ALASPoll, Description: "Polls the ALAS feeds and starts a golden-image rebuild for new advisories.",
		MemoryMB: 256, Timeout: limits.FunctionTimeout,
		// The next poll repeats the work; one retry covers a passing
		// network error without overlapping the next poll.
		Retries: 1, MaxEventAge: 20 * time.Minute,
		TargetRetries: 2, TargetMaxEventAge: 20 * time.Minute,
		Schedule: 30 * time.Minute,
		Grants:   GrantsFor(route.ALASPoll),
	},
	{
		Name: route.SecretChange, Description: "Starts a golden-image rebuild when the app's secret changes.",
		MemoryMB: 128, Timeout: 30 * time.Second,
		// A missed secret change leaves stale secrets in the image: retry,
		// keep the event as long as Lambda allows, then the dead-letter queue.
		Retries: 2, MaxEventAge: 6 * time.Hour,
		TargetRetries: 8, TargetMaxEventAge: 6 * time.Hour,
		Grants: GrantsFor(route.SecretChange),
	},
	{
		Name: route.DBRefresh, Description: "Refreshes a staging database from production's newest RDS snapshot: copy, restore, scrub, swap.",
		MemoryMB: 256, Timeout: limits.FunctionTimeout,
		// The schedule advances every wait; a retried event (the scrub's
		// end, production's snapshot) is harmless, and a late one still
		// counts within the hour.
		Retries: 2, MaxEventAge: time.Hour,
		TargetRetries: 4, TargetMaxEventAge: time.Hour,
		Schedule: DBRefreshSchedule,
		Grants:   GrantsFor(route.DBRefresh),
	},
}

// Spec returns the spec of the named function.
func Spec(name string) (FunctionSpec, bool) {
	for _, s := range Specs {
		if s.Name == name {
			return s, true
		}
	}
	return FunctionSpec{}, false
}

// Statement is one IAM policy statement, before it becomes a CDK object.
type Statement struct {
	Sid string
	// Deny makes it a Deny statement: see startBuildDenies.
	Deny       bool
	Actions    []string
	Resources  []string
	Conditions map[string]map[string][]string
}

// Statements resolves a function's grants against the configuration.
// tableARN may be a CDK token. A grant that resolves to no resources (no app
// has an instance role, or none rebuilds through a pipeline) is left out.
func Statements(spec FunctionSpec, f *config.File, tableARN string) []Statement {
	var out []Statement
	for _, g := range spec.Grants {
		if g.Scope == ScopeNoResourceLevel || g.Scope == ScopeRDSDescribe || g.Scope == ScopeMetricData {
			for _, a := range g.Actions {
				if !slices.Contains(ReadOnlyActions, a) {
					panic(fmt.Sprintf("stacks: %s grant %s: %s is not a read-only action without resource-level permissions", spec.Name, g.Sid, a))
				}
			}
		}
		st := Statement{Sid: g.Sid, Actions: slices.Clone(g.Actions)}
		for i := range f.Apps {
			st.Resources = append(st.Resources, resources(g.Scope, f, &f.Apps[i], tableARN)...)
		}
		st.Resources = uniq(st.Resources)
		if len(st.Resources) == 0 {
			continue
		}
		switch g.Scope {
		case ScopeLaunchedResources:
			var lts []string
			for i := range f.Apps {
				lts = append(lts, resources(ScopeLaunchTemplates, f, &f.Apps[i], "")...)
			}
			st.Conditions = map[string]map[string][]string{"ArnLike": {"ec2:LaunchTemplate": uniq(lts)}}
		case ScopeTagOnLaunch:
			st.Conditions = map[string]map[string][]string{"StringEquals": {"ec2:CreateAction": {"RunInstances"}}}
		case ScopeInstanceRole:
			st.Conditions = map[string]map[string][]string{"StringEquals": {"iam:PassedToService": {"ec2.amazonaws.com"}}}
		case ScopeDatadogKey:
			// Only as Secrets Manager decrypts the secret for the tick.
			st.Conditions = map[string]map[string][]string{"StringEquals": {"kms:ViaService": {fmt.Sprintf("secretsmanager.%s.amazonaws.com", f.Region)}}}
		case ScopeStagingKeyGrant:
			// Only the grants RDS asks for on the copy's and the restore's behalf.
			st.Conditions = map[string]map[string][]string{"Bool": {"kms:GrantIsForAWSResource": {"true"}}}
		}
		out = append(out, st)
		if slices.Contains(st.Actions, "codebuild:StartBuild") {
			out = append(out, startBuildDenies(StartBuildVariables(spec.Name))...)
		}
	}
	return out
}

func resources(s Scope, f *config.File, a *config.App, tableARN string) []string {
	p, r, acct := partition(a), f.Region, f.Account
	ec2 := func(res string) string { return fmt.Sprintf("arn:%s:ec2:%s:%s:%s", p, r, acct, res) }
	switch s {
	case ScopeNoResourceLevel, ScopeMetricData:
		return []string{"*"}
	case ScopeLaunchTemplates:
		return []string{ec2("launch-template/" + a.Blue.LaunchTemplateID), ec2("launch-template/" + a.Green.LaunchTemplateID)}
	case ScopeLaunchedResources:
		return []string{
			ec2("instance/*"), ec2("volume/*"), ec2("network-interface/*"),
			ec2("subnet/*"), ec2("security-group/*"), ec2("key-pair/*"),
			fmt.Sprintf("arn:%s:ec2:%s::image/*", p, r),
		}
	case ScopeTagOnLaunch:
		return []string{ec2("instance/*"), ec2("volume/*"), ec2("network-interface/*")}
	case ScopeAutoScalingGroups:
		// An Auto Scaling group's ARN carries a UUID that the
		// configuration does not know; the name pins the group.
		asg := func(name string) string {
			return fmt.Sprintf("arn:%s:autoscaling:%s:%s:autoScalingGroup:*:autoScalingGroupName/%s", p, r, acct, name)
		}
		return []string{asg(a.Blue.ASG), asg(a.Green.ASG)}
	case ScopeListener:
		return []string{a.ListenerARN}
	case ScopePreviewRule:
		return []string{a.Preview.RuleARN}
	case ScopeInstanceRole:
		if a.InstanceRoleARN == "" {
			return nil
		}
		return []string{a.InstanceRoleARN}
	case ScopeTopic:
		return []string{a.TopicARN}
	case ScopeGuardAlarms:
		var out []string
		for _, al := range a.Alarms {
			if al.Role == config.RoleGuard {
				out = append(out, fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:%s", p, r, acct, al.Name))
			}
		}
		return out
	case ScopeTable:
		return []string{tableARN}
	case ScopeRebuildProject:
		if a.Rebuild.CodeBuildProject == "" {
			return nil
		}
		return []string{CodeBuildProjectARN(f, a)}
	case ScopeLatestAL2023:
		return []string{fmt.Sprintf("arn:%s:ssm:%s::parameter/aws/service/ami-amazon-linux-latest/*", p, r)}
	case ScopeRebuildPipeline:
		if a.Rebuild.Pipeline == "" {
			return nil
		}
		return []string{PipelineARN(f, a, a.Rebuild.Pipeline)}
	case ScopeDatadogSecret, ScopeDatadogKey:
		d := a.Analysis
		if d == nil || d.Provider != config.ProviderDatadog || d.Datadog == nil {
			return nil
		}
		if s == ScopeDatadogKey {
			if d.Datadog.KMSKeyARN == "" {
				return nil
			}
			return []string{d.Datadog.KMSKeyARN}
		}
		return []string{d.Datadog.SecretARN}
	case ScopeRDSDescribe, ScopeProductionSnapshots, ScopeStagingDatabases, ScopeScrubProject, ScopeStagingSecret, ScopeStagingKey, ScopeStagingKeyGrant, ScopeRefreshTopic:
		return dbRefreshResources(s, f, a)
	}
	panic(fmt.Sprintf("stacks: unknown scope %q", s))
}

// CodeBuildProjectARN is the ARN of the app's rebuild project, which the
// configuration may give as a name or an ARN.
func CodeBuildProjectARN(f *config.File, a *config.App) string {
	if strings.HasPrefix(a.Rebuild.CodeBuildProject, "arn:") {
		return a.Rebuild.CodeBuildProject
	}
	return fmt.Sprintf("arn:%s:codebuild:%s:%s:project/%s", partition(a), f.Region, f.Account, a.Rebuild.CodeBuildProject)
}

// PipelineARN is the ARN of a pipeline given by name or ARN.
func PipelineARN(f *config.File, a *config.App, pipeline string) string {
	if strings.HasPrefix(pipeline, "arn:") {
		return pipeline
	}
	return fmt.Sprintf("arn:%s:codepipeline:%s:%s:%s", partition(a), f.Region, f.Account, pipeline)
}

// partition comes from the app's listener ARN (validated, required), so the
// same configuration works in aws-cn and aws-us-gov.
func partition(a *config.App) string {
	if parts := strings.SplitN(a.ListenerARN, ":", 3); len(parts) == 3 && parts[1] != "" {
		return parts[1]
	}
	return "aws"
}

func uniq(xs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
