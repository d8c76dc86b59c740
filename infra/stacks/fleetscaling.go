package stacks

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Scaling is the one definition of the reference fleet's scaling policies,
// which both colors get alike (the simulator seeds the same ones:
// sim.ReferencePolicies). The groups' DefaultInstanceWarmup (7 minutes,
// a golden image's time to healthy) is every policy's warm-up.
type Scaling struct {
	// RequestsPerTarget is the target of the target tracking policy on
	// ALBRequestCountPerTarget (requests per target per minute) and of
	// predictive scaling's ALBRequestCount pair.
	RequestsPerTarget float64
	// CPUPercent is the target of the target tracking policy on the
	// group's average CPU: the second signal, for requests that cost more
	// than usual.
	CPUPercent float64
	// ForecastBuffer launches predictive scaling's capacity this long
	// before the forecast needs it: longer than the time to healthy.
	ForecastBufferSeconds float64
}

// DefaultScaling is the reference fleet's scaling.
var DefaultScaling = Scaling{RequestsPerTarget: 1000, CPUPercent: 50, ForecastBufferSeconds: 600}

// addScaling gives one color's group the reference policies: target
// tracking on the requests per target of the color's own target group
// (ResourceLabel "app/<alb>/<id>/targetgroup/<tg>/<id>") and on CPU, and
// predictive scaling (forecast and scale) on the same request count, for
// the morning peak. A request-count policy needs the target group to
// receive traffic from the load balancer, so the policies wait for the
// listener and the preview rule (after holds them).
func addScaling(scope constructs.Construct, c config.Color, def Scaling, asg awsautoscaling.AutoScalingGroup,
	alb awselasticloadbalancingv2.ApplicationLoadBalancer, tg awselasticloadbalancingv2.ApplicationTargetGroup, after ...constructs.IDependable) []awsautoscaling.CfnScalingPolicy {
	title := strings.ToUpper(string(c[:1])) + string(c[1:])
	label := awscdk.Fn_Join(jsii.String("/"), jsii.Strings(*alb.LoadBalancerFullName(), *tg.TargetGroupFullName()))
	group := asg.AutoScalingGroupName()
	policies := []awsautoscaling.CfnScalingPolicy{
		awsautoscaling.NewCfnScalingPolicy(scope, jsii.String(title+"ScaleOnRequests"), &awsautoscaling.CfnScalingPolicyProps{
			AutoScalingGroupName: group,
			PolicyType:           jsii.String("TargetTrackingScaling"),
			TargetTrackingConfiguration: &awsautoscaling.CfnScalingPolicy_TargetTrackingConfigurationProperty{
				TargetValue: jsii.Number(def.RequestsPerTarget),
				PredefinedMetricSpecification: &awsautoscaling.CfnScalingPolicy_PredefinedMetricSpecificationProperty{
					PredefinedMetricType: jsii.String("ALBRequestCountPerTarget"), ResourceLabel: label,
				},
			},
		}),
		awsautoscaling.NewCfnScalingPolicy(scope, jsii.String(title+"ScaleOnCpu"), &awsautoscaling.CfnScalingPolicyProps{
			AutoScalingGroupName: group,
			PolicyType:           jsii.String("TargetTrackingScaling"),
			TargetTrackingConfiguration: &awsautoscaling.CfnScalingPolicy_TargetTrackingConfigurationProperty{
				TargetValue: jsii.Number(def.CPUPercent),
				PredefinedMetricSpecification: &awsautoscaling.CfnScalingPolicy_PredefinedMetricSpecificationProperty{
					PredefinedMetricType: jsii.String("ASGAverageCPUUtilization"),
				},
			},
		}),
		awsautoscaling.NewCfnScalingPolicy(scope, jsii.String(title+"ScalePredictive"), &awsautoscaling.CfnScalingPolicyProps{
			AutoScalingGroupName: group,
			PolicyType:           jsii.String("PredictiveScaling"),
			PredictiveScalingConfiguration: &awsautoscaling.CfnScalingPolicy_PredictiveScalingConfigurationProperty{
				Mode:                      jsii.String("ForecastAndScale"),
				SchedulingBufferTime:      jsii.Number(def.ForecastBufferSeconds),
				MaxCapacityBreachBehavior: jsii.String("HonorMaxCapacity"), // kaizen never raises MaxSize; nor does the forecast
				MetricSpecifications: []interface{}{&awsautoscaling.CfnScalingPolicy_PredictiveScalingMetricSpecificationProperty{
					TargetValue: jsii.Number(def.RequestsPerTarget),
					PredefinedMetricPairSpecification: &awsautoscaling.CfnScalingPolicy_PredictiveScalingPredefinedMetricPairProperty{
						PredefinedMetricType: jsii.String("ALBRequestCount"), ResourceLabel: label,
					},
				}},
			},
		}),
	}
	for _, p := range policies {
		p.Node().AddDependency(asg)
		for _, a := range after {
			p.Node().AddDependency(a)
		}
	}
	return policies
}
