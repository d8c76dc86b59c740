package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// X-Ray active tracing: Lambda samples invocations and records their
// segments (initialization, invocation, overhead), and every AWS call a
// function makes is a subsegment of them (shared/xray, a few KiB: the
// X-Ray SDK or OpenTelemetry would not fit the 12 MiB bound on a
// bootstrap). The context key kaizen:tracing=false turns tracing off.

// TracingActions are what active tracing adds to each function's role.
var TracingActions = []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}

func tracing(off bool) awslambda.Tracing {
	if off {
		return awslambda.Tracing_DISABLED
	}
	return awslambda.Tracing_ACTIVE
}

// suppressTracing acknowledges the wildcard resource of the X-Ray grant
// CDK adds with active tracing.
func suppressTracing(role constructs.IConstruct) {
	applies := []interface{}{"Resource::*"}
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords have no resource-level permissions, " +
			"so '*' is the only resource they accept; they only write the function's own trace data."),
		AppliesTo: &applies,
	}}, jsii.Bool(true))
}
