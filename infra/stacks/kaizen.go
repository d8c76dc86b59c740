package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Environment variables the functions read.
const (
	EnvConfig = "KAIZEN_CONFIG"
	EnvTable  = "KAIZEN_TABLE"
)

// KaizenStackProps configures the kaizen stack.
type KaizenStackProps struct {
	awscdk.StackProps
	// Config is the validated configuration; it scopes IAM.
	Config *Config
	// Assets are the staged function directories by function name (see
	// StageAssets); each holds the bootstrap and Config.Raw.
	Assets map[string]Asset
	// NoTracing turns the functions' X-Ray active tracing off.
	NoTracing bool
}

// KaizenStack is what kaizen needs in an account: the functions with their
// rules, schedules, dead-letter queues and alarms, the state table and the
// ops topic for kaizen's own alarms.
type KaizenStack struct {
	awscdk.Stack
	Table     awsdynamodb.Table
	OpsTopic  awssns.Topic
	Functions map[string]*Function
	// Bus is the central event bus the member accounts forward to; nil
	// when every app lives in kaizen's account and region (member.go).
	Bus awsevents.EventBus
	// Health is kaizen's dashboard and health alarms (dashboard.go).
	Health *Health
}

// NewKaizenStack builds the kaizen stack. It panics, as CDK constructs do, if
// props are incomplete (main validates them first).
func NewKaizenStack(scope constructs.Construct, id string, props *KaizenStackProps) *KaizenStack {
	if props == nil || props.Config == nil || props.Config.File == nil {
		panic("stacks: KaizenStackProps.Config is required")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := &KaizenStack{Stack: stack, Functions: map[string]*Function{}}
	cfg := props.Config

	// One table for release records, the per-app current item, processed
	// event ids and ALAS state. Items that expire carry `expires` (epoch
	// seconds). RETAIN: the release history outlives the stack.
	s.Table = awsdynamodb.NewTable(stack, jsii.String("State"), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:      &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		TimeToLiveAttribute: jsii.String("expires"),
		Encryption:          awsdynamodb.TableEncryption_AWS_MANAGED,
		DeletionProtection:  jsii.Bool(true),
		RemovalPolicy:       awscdk.RemovalPolicy_RETAIN,
	})

	// The ops topic carries kaizen's own alarms (function errors, throttles,
	// dead letters). CloudWatch cannot publish to a topic encrypted with the
	// AWS managed SNS key, hence a customer managed key that allows it.
	key := awskms.NewKey(stack, jsii.String("OpsTopicKey"), &awskms.KeyProps{
		Description:       jsii.String("kaizen ops topic"),
		EnableKeyRotation: jsii.Bool(true),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
	}), nil)
	s.OpsTopic = awssns.NewTopic(stack, jsii.String("OpsTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("kaizen operations"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})

	// Each function's rules take only the configured resources' events
	// (alarms, approvals, projects, secrets), not every such event of the
	// account.
	rules := map[string][]route.Rule{}
	for _, r := range route.RulesFor(cfg.File) {
		rules[r.Function] = append(rules[r.Function], r)
	}
	stackName := *stack.StackName()
	for _, fn := range route.Functions {
		spec, ok := Spec(fn)
		if !ok {
			panic(fmt.Sprintf("stacks: no spec for function %q", fn))
		}
		asset, ok := props.Assets[fn]
		if !ok {
			panic(fmt.Sprintf("stacks: no staged asset for function %q", fn))
		}
		statements := Statements(spec, cfg.File, *s.Table.TableArn())
		f := NewFunction(stack, fn, &FunctionProps{
			Spec:  spec,
			Asset: asset,
			Environment: map[string]string{
				EnvConfig: TaskRoot + "/" + ConfigFile,
				EnvTable:  *s.Table.TableName(),
			},
			Statements:       statements,
			Rules:            rules[fn],
			ScheduleRuleName: scheduleRuleName(stackName, fn),
			AlarmTopic:       s.OpsTopic,
			NoTracing:        props.NoTracing,
		})
		suppressWildcards(f.Role, spec, statements)
		s.Functions[fn] = f
	}
	for fn := range rules {
		if s.Functions[fn] == nil {
			panic(fmt.Sprintf("stacks: route rule for unknown function %q", fn))
		}
	}

	s.Health = addHealth(s)
	s.addBus(cfg.File) // apps in other accounts and regions (member.go)

	awscdk.NewCfnOutput(stack, jsii.String("TableName"), &awscdk.CfnOutputProps{Value: s.Table.TableName()})
	awscdk.NewCfnOutput(stack, jsii.String("OpsTopicArn"), &awscdk.CfnOutputProps{
		Value:       s.OpsTopic.TopicArn(),
		Description: jsii.String("Subscribe the on-call channel: kaizen's own alarms go here."),
	})
	return s
}

// wildcardReasons says, per scope, why a resource with a wildcard is as
// narrow as IAM allows. Scopes not listed here must not produce wildcards.
var wildcardReasons = map[Scope]string{
	ScopeNoResourceLevel: "IAM has no resource-level permissions for these read-only Describe actions; '*' is the only resource they accept and they change nothing.",
	ScopeMetricData: "cloudwatch:GetMetricData does not support resource-level permissions (the Service Authorization Reference lists no resource type " +
		"for it): '*' is the only resource it accepts. It only reads metric data, which metric analysis compares.",
	ScopeAutoScalingGroups: "An Auto Scaling group ARN contains a UUID the configuration cannot know; the ARN pins the configured group names, " +
		"so only the apps' blue and green groups match.",
	ScopeLaunchedResources: "UpdateAutoScalingGroup checks ec2:RunInstances on the instances, volumes and interfaces a launch would create, whose ids do not exist yet; " +
		"the ec2:LaunchTemplate condition limits the grant to launches from the apps' launch templates.",
	ScopeTagOnLaunch: "Tags on launch apply to instances, volumes and interfaces whose ids do not exist yet; " +
		"the ec2:CreateAction=RunInstances condition allows tagging only as part of a launch.",
	ScopeLatestAL2023: "Read-only access to AWS's public parameters under /aws/service/ami-amazon-linux-latest/, which name the newest Amazon Linux AMIs; " +
		"the release version of AL2023 is read from there.",
}

// suppressWildcards acknowledges AwsSolutions-IAM5 for exactly the wildcard
// resources the function's grants produce, each with its scope's reason.
func suppressWildcards(role constructs.IConstruct, spec FunctionSpec, statements []Statement) {
	scopes := map[string]Scope{}
	for _, g := range spec.Grants {
		scopes[g.Sid] = g.Scope
	}
	var sups []*cdknag.NagPackSuppression
	for _, st := range statements {
		if st.Deny {
			continue // a Deny on "*" narrows; it grants nothing
		}
		var applies []interface{}
		for _, r := range st.Resources {
			if strings.Contains(r, "*") {
				applies = append(applies, "Resource::"+r)
			}
		}
		if len(applies) == 0 {
			continue
		}
		reason, ok := wildcardReasons[scopes[st.Sid]]
		if !ok {
			panic(fmt.Sprintf("stacks: %s statement %s has a wildcard resource without a reason", spec.Name, st.Sid))
		}
		sups = append(sups, &cdknag.NagPackSuppression{
			Id:        jsii.String("AwsSolutions-IAM5"),
			Reason:    jsii.String(st.Sid + ": " + reason),
			AppliesTo: &applies,
		})
	}
	if len(sups) > 0 {
		cdknag.NagSuppressions_AddResourceSuppressions(role, &sups, jsii.Bool(true))
	}
}
