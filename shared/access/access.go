// Package access is the one list of what each kaizen function may do in
// AWS: which plan actions (release.Kind) a function may apply, which AWS API
// calls each Kind makes, and which other calls a function makes (observing
// the fleet, the state table, rebuilds). The release steps ask Allowed
// before they apply an action, and the CDK app derives each function's IAM
// policy from Actions, so what the code does and what its role allows come
// from this one table. Where a narrow client interface already lists what an
// adapter may call (the state store's DynamoDB, the rebuilds' CodeBuild and
// CodePipeline), the actions are that interface's methods, spelled out: a
// test checks they agree. (Reading them off the interface with reflection
// at init would make the linker keep every exported method of every type in
// every function's binary: 20 to 48 MB bootstraps instead of 11 to 14.)
//
// IAM action names are "<service prefix>:<operation>", as in a policy.
// Which resources each action is scoped to is the CDK app's business
// (infra/stacks), since it follows the configuration.
package access

import (
	"slices"

	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// AllKinds lists every action Kind a plan may hold, in a stable order.
var AllKinds = []release.Kind{
	release.PutAMI, release.SetCapacity, release.Shift, release.PointPreview,
	release.Suspend, release.Resume, release.Notify,
	release.PutScaling, release.DeleteScaling,
}

// calls are the IAM actions each Kind needs (see cloud.Fleet.Apply).
var calls = map[release.Kind][]string{
	// A new launch template version with the AMI, then the color's group
	// pinned to it. UpdateAutoScalingGroup with a launch template makes IAM
	// check that the caller could launch from it: ec2:RunInstances,
	// ec2:CreateTags for tags applied at launch and iam:PassRole for the
	// template's instance profile role. kaizen never calls RunInstances
	// itself.
	release.PutAMI: {
		"ec2:CreateLaunchTemplateVersion", "autoscaling:UpdateAutoScalingGroup",
		"ec2:RunInstances", "ec2:CreateTags", "iam:PassRole",
	},
	// Sizes only: no launch template in the request, so no launch checks.
	release.SetCapacity:  {"autoscaling:UpdateAutoScalingGroup"},
	release.Shift:        {"elasticloadbalancing:ModifyListener"},
	release.PointPreview: {"elasticloadbalancing:ModifyRule"},
	release.Suspend:      {"autoscaling:SuspendProcesses"},
	release.Resume:       {"autoscaling:ResumeProcesses"},
	release.Notify:       {"sns:Publish"},
	// A scaling policy or a scheduled action, as the live color has it.
	release.PutScaling:    {"autoscaling:PutScalingPolicy", "autoscaling:PutScheduledUpdateGroupAction"},
	release.DeleteScaling: {"autoscaling:DeletePolicy", "autoscaling:DeleteScheduledAction"},
}

// Reads and other calls besides applying Kinds.
var (
	// observe is cloud.Fleet.Observe: both colors' groups, their pinned
	// template versions and target health, the listener and the preview
	// rule; and cloud.Fleet.ObserveScaling: both colors' scaling policies
	// and scheduled actions, while a release is on its way to the public.
	observe = []string{
		"autoscaling:DescribeAutoScalingGroups",
		"autoscaling:DescribePolicies",
		"autoscaling:DescribeScheduledActions",
		"ec2:DescribeLaunchTemplateVersions",
		"elasticloadbalancing:DescribeListeners",
		"elasticloadbalancing:DescribeRules",
		"elasticloadbalancing:DescribeTargetHealth",
	}
	// images is cloud.Fleet.Image, NewestImage and Images: the AMI an event
	// names, or the app's newest tagged AMI (the sweep).
	images = []string{"ec2:DescribeImages"}
	// evidence is what an approval request reads besides the fleet: the
	// AMIs' tags (images) and the guard alarms' states.
	evidence = []string{"cloudwatch:DescribeAlarms"}
	// metrics is metric analysis' CloudWatch provider
	// (shared/analysis/cloudwatch): every in-flight app's series in one
	// call. Only the tick judges releases by their metrics.
	metrics = []string{"cloudwatch:GetMetricData"}
	// datadogKeys is metric analysis' Datadog provider reading its keys
	// (datadog.Keys): the one secret the configuration names, and its
	// customer managed key if it has one (granted only when configured).
	datadogKeys = []string{"secretsmanager:GetSecretValue", "kms:Decrypt"}
	// store is the state table, through store.Dynamo: the methods of
	// cloud.DynamoDBAPI.
	store = []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteItem"}
	// rebuild starts and watches golden-image builds (rebuild.Builder): the
	// methods of cloud.CodeBuildAPI and cloud.CodePipelineAPI.
	rebuild = []string{
		"codebuild:StartBuild", "codebuild:ListBuildsForProject", "codebuild:BatchGetBuilds",
		"codepipeline:StartPipelineExecution", "codepipeline:ListPipelineExecutions",
	}
	// latestAL2023 is alrelease.Latest: AWS's public parameter naming the
	// newest Amazon Linux 2023 AMI, and that AMI's name. Spelled out rather
	// than read off alrelease's interfaces, which would link the SSM client
	// into every function that imports this package; a test checks they
	// agree.
	latestAL2023 = []string{"ssm:GetParameter", "ec2:DescribeImages"}
	// The database refresh (shared/dbrefresh): rdsapi.API's methods
	// (spelled out: importing rdsapi would link RDS into every function;
	// a test checks they agree), the scrub build, the staging secret, and
	// the KMS calls RDS makes with the caller's permissions when it copies
	// or restores an encrypted snapshot with staging's key.
	dbRefresh = []string{
		"rds:DescribeDBInstances", "rds:DescribeDBClusters", "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots",
		"rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot", "rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBClusterFromSnapshot",
		"rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:ModifyDBCluster", "rds:DeleteDBInstance", "rds:DeleteDBCluster",
		"rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot",
		// Restoring and copying with tags tag the new resource.
		"rds:AddTagsToResource",
		"codebuild:StartBuild", "codebuild:BatchGetBuilds",
		"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
		"kms:CreateGrant", "kms:DescribeKey",
	}
)

// profile is what one function does.
type profile struct {
	kinds []release.Kind
	other [][]string
}

var profiles = map[string]profile{
	route.Stage:   {kinds: AllKinds, other: [][]string{observe, images, store}},
	route.Promote: {kinds: AllKinds, other: [][]string{observe, images, evidence, store}},
	// Guard reacts to alarms: it moves the public back, points the preview,
	// and sizes, suspends or resumes colors. It never creates launch
	// template versions (so it never passes a role): an AMI to put on a
	// color waits for tick.
	route.Guard: {kinds: []release.Kind{
		release.Shift, release.PointPreview, release.SetCapacity,
		release.Suspend, release.Resume, release.Notify,
	}, other: [][]string{observe, store}},
	// Tick finishes what every other step waits for, and sweeps for AMIs
	// no event announced.
	route.Tick: {kinds: AllKinds, other: [][]string{observe, images, metrics, datadogKeys, store}},
	// Neither applies plans; both notify.
	route.ALASPoll:     {kinds: []release.Kind{release.Notify}, other: [][]string{rebuild, latestAL2023, store}},
	route.SecretChange: {kinds: []release.Kind{release.Notify}, other: [][]string{rebuild, store, observe, images}},
	// It applies no release plan; it refreshes staging's database and notifies.
	route.DBRefresh: {kinds: []release.Kind{release.Notify}, other: [][]string{dbRefresh, store}},
}

// Kinds returns the action Kinds the function may apply (nil for an unknown
// function).
func Kinds(function string) []release.Kind {
	return slices.Clone(profiles[function].kinds)
}

// Allowed reports whether the function may apply actions of Kind k.
func Allowed(function string, k release.Kind) bool {
	return slices.Contains(profiles[function].kinds, k)
}

// Calls returns the IAM actions that applying an action of Kind k needs.
func Calls(k release.Kind) []string {
	return slices.Clone(calls[k])
}

// Actions returns every IAM action the function needs, sorted: the calls of
// the Kinds it may apply and its other calls. The function's role allows
// exactly these (besides writing its own logs and dead letters).
func Actions(function string) []string {
	p, ok := profiles[function]
	if !ok {
		return nil
	}
	var out []string
	for _, k := range p.kinds {
		out = append(out, calls[k]...)
	}
	for _, o := range p.other {
		out = append(out, o...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Functions lists the functions this package describes (route.Functions).
func Functions() []string {
	var out []string
	for _, fn := range route.Functions {
		if _, ok := profiles[fn]; ok {
			out = append(out, fn)
		}
	}
	return out
}

// servicePrefixes maps service names, where they differ, to IAM's service
// prefixes: the SDK's package (and the simulator) say elbv2.
var servicePrefixes = map[string]string{
	"elbv2": "elasticloadbalancing",
}

// Action is the IAM action of an API call, from its service (as the SDK
// package or the simulator names it) and operation: Action("elbv2",
// "ModifyListener") is "elasticloadbalancing:ModifyListener".
func Action(service, operation string) string {
	if p, ok := servicePrefixes[service]; ok {
		service = p
	}
	return service + ":" + operation
}
