package stacks

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/kaizen-sre/kaizen/shared/emf"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// FunctionProps configures one kaizen function with everything around it.
type FunctionProps struct {
	Spec  FunctionSpec
	Asset Asset
	// Environment is set on the function as is.
	Environment map[string]string
	// Statements are the function's whole IAM policy besides its own log
	// group and dead-letter queue.
	Statements []Statement
	// Rules are the function's event rules (from route.RulesFor: narrowed
	// to the configured resources).
	Rules []route.Rule
	// ScheduleRuleName names the schedule rule when Spec.Schedule is set.
	ScheduleRuleName string
	// AlarmTopic receives the function's and its queue's alarms.
	AlarmTopic awssns.ITopic
	// NoTracing turns X-Ray active tracing off (it is on by default).
	NoTracing bool
}

// Function is one kaizen Lambda with its role, log group, event rules,
// dead-letter queue, retry policy and alarms: the unit every function is
// deployed as.
type Function struct {
	constructs.Construct
	Lambda      awslambda.Function
	Role        awsiam.Role
	DeadLetters awssqs.Queue
	Rules       []awsevents.Rule
	Alarms      []awscloudwatch.Alarm
}

// NewFunction builds a Function.
func NewFunction(scope constructs.Construct, id string, props *FunctionProps) *Function {
	c := constructs.NewConstruct(scope, jsii.String(id))
	spec := props.Spec
	f := &Function{Construct: c}

	// One queue per function takes what could not be delivered or run:
	// EventBridge's undeliverable events and Lambda's failed asynchronous
	// invocations. Its alarm tells a person to look, then redrive by hand.
	f.DeadLetters = awssqs.NewQueue(c, jsii.String("DeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})

	logs := awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_THREE_MONTHS,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})

	// A role of its own, without the AWSLambdaBasicExecutionRole managed
	// policy: the function may write to its own log group only.
	f.Role = awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(fmt.Sprintf("kaizen %s function", spec.Name)),
	})
	logs.GrantWrite(f.Role)
	for _, st := range props.Statements {
		f.Role.AddToPrincipalPolicy(policyStatement(st))
	}

	env := map[string]*string{}
	for k, v := range props.Environment {
		env[k] = jsii.String(v)
	}
	var reserved *float64
	if spec.ReservedConcurrency > 0 {
		reserved = jsii.Number(float64(spec.ReservedConcurrency))
	}
	f.Lambda = awslambda.NewFunction(c, jsii.String("Function"), &awslambda.FunctionProps{
		Description:  jsii.String(spec.Description),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String(BootstrapFile),
		// The hash is computed from the staged bytes (see StageAssets), not
		// from file times or paths, so a rebuild with the same bytes keeps
		// the same asset and does not redeploy the function.
		Code: awslambda.Code_FromAsset(jsii.String(props.Asset.Dir), &awss3assets.AssetOptions{
			AssetHashType: awscdk.AssetHashType_CUSTOM,
			AssetHash:     jsii.String(props.Asset.Hash),
		}),
		MemorySize:            jsii.Number(float64(spec.MemoryMB)),
		Timeout:               awscdk.Duration_Seconds(jsii.Number(spec.Timeout.Seconds())),
		Environment:           &env,
		Role:                  f.Role,
		LogGroup:              logs,
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_WARN,
		RetryAttempts:         jsii.Number(float64(spec.Retries)),
		MaxEventAge:           awscdk.Duration_Seconds(jsii.Number(spec.MaxEventAge.Seconds())),
		// Reserved (see GuardReservedConcurrency), or nil: the shared pool.
		ReservedConcurrentExecutions: reserved,
		// A DLQ rather than an on-failure destination: both keep the failed
		// event, and a DLQ is what cdk-nag recognizes (AwsSolutions-SQS3).
		DeadLetterQueue: f.DeadLetters,
		// X-Ray: each invocation's segment, and its AWS calls as
		// subsegments (tracing.go, shared/xray).
		Tracing: tracing(props.NoTracing),
	})
	if !props.NoTracing {
		suppressTracing(f.Role)
	}

	target := func() awsevents.IRuleTarget {
		return awseventstargets.NewLambdaFunction(f.Lambda, &awseventstargets.LambdaFunctionProps{
			DeadLetterQueue: f.DeadLetters,
			RetryAttempts:   jsii.Number(float64(spec.TargetRetries)),
			MaxEventAge:     awscdk.Duration_Seconds(jsii.Number(spec.TargetMaxEventAge.Seconds())),
		})
	}
	for _, r := range props.Rules {
		pattern := EventPattern(r.Pattern)
		f.Rules = append(f.Rules, awsevents.NewRule(c, jsii.String("Rule-"+r.Name), &awsevents.RuleProps{
			Description:  jsii.String(fmt.Sprintf("kaizen: %s takes %s", spec.Name, r.Name)),
			EventPattern: pattern,
			Targets:      &[]awsevents.IRuleTarget{target()},
		}))
	}
	if spec.Schedule > 0 {
		f.Rules = append(f.Rules, awsevents.NewRule(c, jsii.String("Schedule"), &awsevents.RuleProps{
			// The name carries the function's name: route.Route tells the
			// alaspoll schedule from tick's by the rule ARN in the event.
			RuleName:    jsii.String(props.ScheduleRuleName),
			Description: jsii.String(fmt.Sprintf("kaizen: runs %s every %s", spec.Name, every(spec.Schedule))),
			Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(spec.Schedule.Minutes()))),
			Targets:     &[]awsevents.IRuleTarget{target()},
		}))
	}

	alarm := func(id, what string, metric awscloudwatch.Metric) {
		a := awscloudwatch.NewAlarm(c, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(fmt.Sprintf("kaizen %s: %s", spec.Name, what)),
			Metric:             metric,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(awscloudwatchactions.NewSnsAction(props.AlarmTopic))
		f.Alarms = append(f.Alarms, a)
	}
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))
	alarm("Errors", "the function returned errors (Lambda retries, then the dead-letter queue)",
		f.Lambda.MetricErrors(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}))
	alarm("Throttles", "invocations were throttled (account concurrency exhausted?)",
		f.Lambda.MetricThrottles(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}))
	alarm("DeadLettersVisible", "events are waiting in the dead-letter queue: inspect them, fix the cause, redrive",
		f.DeadLetters.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Maximum")}))
	// A malformed event is logged and dropped at the edge (lambdamain.Edge):
	// retrying it cannot help, so it never reaches the dead-letter queue.
	// Its log line carries "malformed": true, which this filter counts.
	malformed := awslogs.NewMetricFilter(c, jsii.String("MalformedEvents"), &awslogs.MetricFilterProps{
		LogGroup:        logs,
		FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(MalformedFilterPattern)),
		MetricNamespace: jsii.String(MetricNamespace),
		MetricName:      jsii.String("MalformedEvents-" + spec.Name),
		MetricValue:     jsii.String("1"),
	})
	alarm("Malformed", "malformed events were dropped: find the \"malformed event dropped\" log lines and fix their sender",
		malformed.Metric(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}))
	return f
}

// MetricNamespace is where kaizen's own metrics go (the functions' EMF
// lines write there too).
const MetricNamespace = emf.Namespace

// MalformedFilterPattern finds the log line lambdamain.Edge writes for a
// malformed event it drops.
const MalformedFilterPattern = "{ $.malformed IS TRUE }"

// EventPattern converts a route.Pattern into the CDK's EventPattern, keeping
// every value, so the deployed rule is exactly the pattern the functions
// match against.
func EventPattern(p route.Pattern) *awsevents.EventPattern {
	ep := &awsevents.EventPattern{
		Source:     jsii.Strings(p.Source...),
		DetailType: jsii.Strings(p.DetailType...),
	}
	if len(p.Detail) > 0 {
		d := detail(p.Detail)
		ep.Detail = &d
	}
	return ep
}

func detail(m map[string]any) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case []string:
			xs := make([]interface{}, len(v))
			for i, s := range v {
				xs[i] = s
			}
			out[k] = xs
		case []route.Value:
			xs := make([]interface{}, len(v))
			for i, x := range v {
				if x.Prefix {
					xs[i] = map[string]interface{}{"prefix": x.S}
				} else {
					xs[i] = x.S
				}
			}
			out[k] = xs
		case []map[string]any: // route.Or's alternatives
			xs := make([]interface{}, len(v))
			for i, alt := range v {
				xs[i] = detail(alt)
			}
			out[k] = xs
		case map[string]any:
			out[k] = detail(v)
		default:
			panic(fmt.Sprintf("stacks: event pattern field %q has unsupported type %T", k, v))
		}
	}
	return out
}

// policyStatement turns a Statement into a CDK policy statement with its
// conditions in a stable order.
func policyStatement(st Statement) awsiam.PolicyStatement {
	props := &awsiam.PolicyStatementProps{
		Sid:       jsii.String(st.Sid),
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings(st.Actions...),
		Resources: jsii.Strings(st.Resources...),
	}
	if st.Deny {
		props.Effect = awsiam.Effect_DENY
	}
	if len(st.Conditions) > 0 {
		cond := map[string]interface{}{}
		for op, kv := range st.Conditions {
			m := map[string]interface{}{}
			for k, vs := range kv {
				vals := append([]string(nil), vs...)
				sort.Strings(vals)
				xs := make([]interface{}, len(vals))
				for i, s := range vals {
					xs[i] = s
				}
				m[k] = xs
			}
			cond[op] = m
		}
		props.Conditions = &cond
	}
	return awsiam.NewPolicyStatement(props)
}

// scheduleRuleName is "<stack>-<function>-schedule", shortened to the
// 64 characters EventBridge allows by cutting the stack name, never the
// function's.
func scheduleRuleName(stackName, fn string) string {
	suffix := "-" + fn + "-schedule"
	if max := 64 - len(suffix); len(stackName) > max {
		stackName = strings.TrimRight(stackName[:max], "-")
	}
	return stackName + suffix
}

// every says a schedule's period in words ("minute", "30 minutes").
func every(d time.Duration) string {
	if d == time.Minute {
		return "minute"
	}
	return fmt.Sprintf("%g minutes", d.Minutes())
}
