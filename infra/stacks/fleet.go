package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/kaizen-sre/kaizen/shared/config"
)

// FleetStackProps configures the reference fleet of one app.
type FleetStackProps struct {
	awscdk.StackProps
	// App is the app the fleet serves; the fleet takes the names it can
	// (Auto Scaling groups, instance role, topic) from its configuration.
	App *config.App
	// AMI is the image the launch templates start with (kaizen puts
	// newer ones on). A fixed id keeps synth free of AWS lookups.
	AMI string
	// InstanceType must match the AMI's architecture (default t4g.small,
	// arm64).
	InstanceType string
	// CertificateARN, if set, gives the ALB an HTTPS listener (and an HTTP
	// listener that redirects to it); otherwise it listens on HTTP only.
	CertificateARN string
	// AvailabilityZones are the two zones of the VPC, given so that synth
	// needs no AWS credentials (default: the region's "a" and "b").
	AvailabilityZones []string
	// MaxCapacity of each color (default 10).
	MaxCapacity int
	// Scaling is both colors' scaling policies (default DefaultScaling).
	Scaling *Scaling
}

// FleetStack is a blue/green fleet as kaizen expects one: a VPC, an ALB
// whose listener sends the public to blue, an office-only preview rule to
// green, and per color a target group, a launch template, an Auto Scaling
// group and its alarms.
type FleetStack struct {
	awscdk.Stack
	Listener     awselasticloadbalancingv2.ApplicationListener
	PreviewRule  awselasticloadbalancingv2.ApplicationListenerRule
	TargetGroups map[config.Color]awselasticloadbalancingv2.ApplicationTargetGroup
	Groups       map[config.Color]awsautoscaling.AutoScalingGroup
	Templates    map[config.Color]awsec2.LaunchTemplate
	Topic        awssns.Topic
	// Alarms by role ("guard" or "capacity"), by color.
	Alarms map[config.AlarmRole][]awscloudwatch.Alarm
	// Policies are each color's scaling policies, from one definition.
	Policies map[config.Color][]awsautoscaling.CfnScalingPolicy
}

// NewFleetStack builds the reference fleet.
func NewFleetStack(scope constructs.Construct, id string, props *FleetStackProps) *FleetStack {
	if props == nil || props.App == nil || props.AMI == "" {
		panic("stacks: FleetStackProps.App and AMI are required")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	app := props.App
	region := *props.Env.Region
	s := &FleetStack{
		Stack:        stack,
		TargetGroups: map[config.Color]awselasticloadbalancingv2.ApplicationTargetGroup{},
		Groups:       map[config.Color]awsautoscaling.AutoScalingGroup{},
		Templates:    map[config.Color]awsec2.LaunchTemplate{},
		Alarms:       map[config.AlarmRole][]awscloudwatch.Alarm{},
		Policies:     map[config.Color][]awsautoscaling.CfnScalingPolicy{},
	}
	azs := props.AvailabilityZones
	if len(azs) == 0 {
		azs = []string{region + "a", region + "b"}
	}
	instanceType := props.InstanceType
	if instanceType == "" {
		instanceType = "t4g.small"
	}
	// The VPC checks its zones against the stack's, which would be a
	// context lookup with AWS credentials; answering it from props keeps
	// synth offline (the key is the one cdk.context.json caches).
	stack.Node().SetContext(jsii.String(fmt.Sprintf("availability-zones:account=%s:region=%s", *props.Env.Account, region)), jsii.Strings(azs...))
	maxCapacity := props.MaxCapacity
	if maxCapacity == 0 {
		maxCapacity = 10
	}

	// Access logs of the ALB and the VPC's flow logs. ALB access logs
	// require SSE-S3.
	logs := awss3.NewBucket(stack, jsii.String("Logs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		LifecycleRules:    &[]*awss3.LifecycleRule{{Expiration: awscdk.Duration_Days(jsii.Number(365))}},
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	suppress(logs, "AwsSolutions-S1", "This bucket receives the ALB access logs and VPC flow logs; "+
		"logging access to the log bucket into itself would loop, and a second bucket would only move the finding.")

	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		AvailabilityZones: jsii.Strings(azs[:2]...),
		// One NAT gateway: instances reach RDS, S3 and the SaaS APIs
		// through it. An AZ outage stops egress, not serving; use two for
		// AZ-independent egress.
		NatGateways: jsii.Number(1),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("app"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(20)},
		},
		// Restricting the default security group takes a custom-resource
		// Lambda; nothing here uses the default group.
		RestrictDefaultSecurityGroup: jsii.Bool(false),
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"all": {Destination: awsec2.FlowLogDestination_ToS3(logs, jsii.String("vpc-flow-logs/"), nil)},
		},
	})

	// The app's notification topic, named as in the configuration so that
	// kaizen's functions and the Auto Scaling groups publish to the same
	// topic. Its key lets any principal of this account use it through SNS
	// (as the AWS managed key does, which Auto Scaling notifications cannot
	// use), and lets CloudWatch publish alarms.
	key := awskms.NewKey(stack, jsii.String("TopicKey"), &awskms.KeyProps{
		Description:       jsii.String(app.Name + " notifications"),
		EnableKeyRotation: jsii.Bool(true),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("PublishThroughSNS"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{
			"kms:CallerAccount": *props.Env.Account,
			"kms:ViaService":    "sns." + region + ".amazonaws.com",
		}},
	}), nil)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
	}), nil)
	s.Topic = awssns.NewTopic(stack, jsii.String("Topic"), &awssns.TopicProps{
		TopicName:  jsii.String(arnResourceName(app.TopicARN)),
		MasterKey:  key,
		EnforceSSL: jsii.Bool(true),
	})

	albSG := awsec2.NewSecurityGroup(stack, jsii.String("LoadBalancerSG"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String(app.Name + " public load balancer"),
		AllowAllOutbound: jsii.Bool(false),
	})
	suppress(albSG, "AwsSolutions-EC23", "The internet-facing ALB of a public web application: only its listener ports "+
		"(80, 443) are open to the internet; the instances accept traffic only from this security group.")
	alb := awselasticloadbalancingv2.NewApplicationLoadBalancer(stack, jsii.String("LoadBalancer"), &awselasticloadbalancingv2.ApplicationLoadBalancerProps{
		Vpc:                     vpc,
		InternetFacing:          jsii.Bool(true),
		SecurityGroup:           albSG,
		DropInvalidHeaderFields: jsii.Bool(true),
		VpcSubnets:              &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
	})
	alb.LogAccessLogs(logs, jsii.String("alb"))

	instanceSG := awsec2.NewSecurityGroup(stack, jsii.String("InstanceSG"), &awsec2.SecurityGroupProps{
		Vpc:         vpc,
		Description: jsii.String(app.Name + " web instances"),
		// Instances call RDS, S3 and external SaaS APIs.
		AllowAllOutbound: jsii.Bool(true),
	})
	instanceRole := awsiam.NewRole(stack, jsii.String("InstanceRole"), &awsiam.RoleProps{
		RoleName:  roleName(app.InstanceRoleARN),
		Path:      rolePath(app.InstanceRoleARN),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore")),
		},
	})
	suppress(instanceRole, "AwsSolutions-IAM4", "AmazonSSMManagedInstanceCore is the AWS-maintained minimum for Session Manager, "+
		"which replaces SSH to the web instances; AWS keeps it current with the SSM agent.",
		"Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore")

	for _, c := range config.Colors {
		cc := app.Color(c)
		title := strings.ToUpper(string(c[:1])) + string(c[1:])
		tg := awselasticloadbalancingv2.NewApplicationTargetGroup(stack, jsii.String(title+"TargetGroup"), &awselasticloadbalancingv2.ApplicationTargetGroupProps{
			Vpc:        vpc,
			Port:       jsii.Number(80),
			Protocol:   awselasticloadbalancingv2.ApplicationProtocol_HTTP,
			TargetType: awselasticloadbalancingv2.TargetType_INSTANCE,
			HealthCheck: &awselasticloadbalancingv2.HealthCheck{
				Path:                    jsii.String("/health"),
				Interval:                awscdk.Duration_Seconds(jsii.Number(15)),
				HealthyThresholdCount:   jsii.Number(2),
				UnhealthyThresholdCount: jsii.Number(3),
				HealthyHttpCodes:        jsii.String("200"),
			},
			DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(30)),
		})
		s.TargetGroups[c] = tg

		lt := awsec2.NewLaunchTemplate(stack, jsii.String(title+"LaunchTemplate"), &awsec2.LaunchTemplateProps{
			MachineImage:  awsec2.MachineImage_GenericLinux(&map[string]*string{region: jsii.String(props.AMI)}, nil),
			InstanceType:  awsec2.NewInstanceType(jsii.String(instanceType)),
			SecurityGroup: instanceSG,
			Role:          instanceRole,
			RequireImdsv2: jsii.Bool(true),
			// One-minute EC2 metrics: the capacity alarms react within
			// minutes, not five.
			DetailedMonitoring: jsii.Bool(true),
			BlockDevices: &[]*awsec2.BlockDevice{{
				DeviceName: jsii.String("/dev/xvda"),
				Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(30), &awsec2.EbsDeviceOptions{
					Encrypted:  jsii.Bool(true),
					VolumeType: awsec2.EbsDeviceVolumeType_GP3,
				}),
			}},
		})
		s.Templates[c] = lt

		groupProps := &awsautoscaling.AutoScalingGroupProps{
			Vpc:                  vpc,
			VpcSubnets:           &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
			LaunchTemplate:       lt,
			AutoScalingGroupName: jsii.String(cc.ASG),
			// Zero is allowed so kaizen can retire the idle color; kaizen
			// keeps the live color at or above the app's floor (blue's is
			// set below, from the first deploy).
			MinCapacity: jsii.Number(0),
			MaxCapacity: jsii.Number(float64(maxCapacity)),
			// A golden image is healthy in about 7 minutes.
			HealthChecks: awsautoscaling.HealthChecks_WithAdditionalChecks(&awsautoscaling.AdditionalHealthChecksOptions{
				AdditionalTypes: &[]awsautoscaling.AdditionalHealthCheckType{awsautoscaling.AdditionalHealthCheckType_ELB},
				GracePeriod:     awscdk.Duration_Minutes(jsii.Number(10)),
			}),
			DefaultInstanceWarmup: awscdk.Duration_Minutes(jsii.Number(7)),
			Cooldown:              awscdk.Duration_Minutes(jsii.Number(5)),
			GroupMetrics:          &[]awsautoscaling.GroupMetrics{awsautoscaling.GroupMetrics_All()},
			Notifications: &[]*awsautoscaling.NotificationConfiguration{{
				Topic: s.Topic, ScalingEvents: awsautoscaling.ScalingEvents_ALL(),
			}},
		}
		if c == config.Blue {
			// Blue starts live at the app's floor. The desired capacity is
			// written once: CloudFormation only sets it again when this
			// group's properties change in the template, and kaizen owns
			// it from the first release on.
			groupProps.DesiredCapacity = jsii.Number(float64(app.Floor))
			// Never zero, from the first deploy: the live group's MinSize
			// is the floor, so not even its own scaling policies take it
			// lower. Like the desired capacity, CloudFormation writes it
			// again only when this group changes in the template.
			groupProps.MinCapacity = jsii.Number(float64(min(app.Floor, maxCapacity)))
		}
		asg := awsautoscaling.NewAutoScalingGroup(stack, jsii.String(title+"Group"), groupProps)
		if groupProps.DesiredCapacity != nil {
			awscdk.Annotations_Of(asg).AcknowledgeWarning(jsii.String("@aws-cdk/aws-autoscaling:desiredCapacitySet"),
				jsii.String("blue's initial capacity is the app's floor; it is set again only when this group changes in the template"))
		}
		asg.AttachToApplicationTargetGroup(tg)
		s.Groups[c] = asg
	}

	// The public goes to blue; kaizen changes the default action from then on.
	var listener awselasticloadbalancingv2.ApplicationListener
	if props.CertificateARN != "" {
		listener = alb.AddListener(jsii.String("Https"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
			Port:          jsii.Number(443),
			Protocol:      awselasticloadbalancingv2.ApplicationProtocol_HTTPS,
			Certificates:  &[]awselasticloadbalancingv2.IListenerCertificate{awselasticloadbalancingv2.ListenerCertificate_FromArn(jsii.String(props.CertificateARN))},
			SslPolicy:     awselasticloadbalancingv2.SslPolicy_RECOMMENDED_TLS,
			DefaultAction: awselasticloadbalancingv2.ListenerAction_Forward(&[]awselasticloadbalancingv2.IApplicationTargetGroup{s.TargetGroups[config.Blue]}, nil),
			Open:          jsii.Bool(true),
		})
		alb.AddListener(jsii.String("Http"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
			Port:     jsii.Number(80),
			Protocol: awselasticloadbalancingv2.ApplicationProtocol_HTTP,
			DefaultAction: awselasticloadbalancingv2.ListenerAction_Redirect(&awselasticloadbalancingv2.RedirectOptions{
				Protocol: jsii.String("HTTPS"), Port: jsii.String("443"), Permanent: jsii.Bool(true),
			}),
			Open: jsii.Bool(true),
		})
	} else {
		listener = alb.AddListener(jsii.String("Http"), &awselasticloadbalancingv2.BaseApplicationListenerProps{
			Port:          jsii.Number(80),
			Protocol:      awselasticloadbalancingv2.ApplicationProtocol_HTTP,
			DefaultAction: awselasticloadbalancingv2.ListenerAction_Forward(&[]awselasticloadbalancingv2.IApplicationTargetGroup{s.TargetGroups[config.Blue]}, nil),
			Open:          jsii.Bool(true),
		})
	}
	s.Listener = listener

	// The office (and, if configured, a header) previews green; kaizen
	// points this rule at whichever color is idle.
	conditions := []awselasticloadbalancingv2.ListenerCondition{
		awselasticloadbalancingv2.ListenerCondition_SourceIps(jsii.Strings(app.Preview.OfficeCIDRs...)),
	}
	if h := app.Preview.Header; h != nil {
		conditions = append(conditions, awselasticloadbalancingv2.ListenerCondition_HttpHeader(jsii.String(h.Name), jsii.Strings(h.Value)))
	}
	s.PreviewRule = awselasticloadbalancingv2.NewApplicationListenerRule(stack, jsii.String("PreviewRule"), &awselasticloadbalancingv2.ApplicationListenerRuleProps{
		Listener:   listener,
		Priority:   jsii.Number(10),
		Conditions: &conditions,
		Action:     awselasticloadbalancingv2.ListenerAction_Forward(&[]awselasticloadbalancingv2.IApplicationTargetGroup{s.TargetGroups[config.Green]}, nil),
	})

	// Both colors scale alike, on the groups' own policies: one definition.
	scaling := DefaultScaling
	if props.Scaling != nil {
		scaling = *props.Scaling
	}
	for _, c := range config.Colors {
		s.Policies[c] = addScaling(stack, c, scaling, s.Groups[c], alb, s.TargetGroups[c], listener, s.PreviewRule)
	}

	minute := awscdk.Duration_Minutes(jsii.Number(1))
	alarm := func(role config.AlarmRole, id, name, description string, metric awscloudwatch.IMetric, threshold, periods, datapoints float64) {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(name),
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(periods),
			DatapointsToAlarm:  jsii.Number(datapoints),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		s.Alarms[role] = append(s.Alarms[role], a)
		awscdk.NewCfnOutput(stack, jsii.String(id+"Name"), &awscdk.CfnOutputProps{
			Value:       a.AlarmName(),
			Description: jsii.String(fmt.Sprintf("add to apps[].alarms with role %q", role)),
		})
	}
	for _, c := range config.Colors {
		title := strings.ToUpper(string(c[:1])) + string(c[1:])
		tg, asg := s.TargetGroups[c], s.Groups[c]
		prefix := fmt.Sprintf("%s-%s", app.Name, c)
		// Guard alarms: kaizen rolls the public back when one fires on the
		// new color during a shift or bake.
		alarm(config.RoleGuard, title+"5xx", prefix+"-5xx", "guard: "+string(c)+" targets answer with 5xx",
			tg.Metrics().HttpCodeTarget(awselasticloadbalancingv2.HttpCodeTarget_TARGET_5XX_COUNT,
				&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}),
			5, 2, 2)
		alarm(config.RoleGuard, title+"Latency", prefix+"-p99-latency", "guard: "+string(c)+" p99 response time is above 1.5 s",
			tg.Metrics().TargetResponseTime(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("p99")}),
			1.5, 3, 3)
		// Capacity alarm: kaizen steps the live color up. 60% and two of
		// three minutes: a threshold set too high reacted too late at the
		// morning peak.
		alarm(config.RoleCapacity, title+"Cpu", prefix+"-cpu-high", "capacity: "+string(c)+" average CPU is at or above 60%",
			awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:     jsii.String("AWS/EC2"),
				MetricName:    jsii.String("CPUUtilization"),
				DimensionsMap: &map[string]*string{"AutoScalingGroupName": asg.AutoScalingGroupName()},
				Period:        minute,
				Statistic:     jsii.String("Average"),
			}),
			60, 3, 2)
	}

	out := func(id, description string, value *string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
	}
	out("ListenerArn", "apps[].listenerArn", listener.ListenerArn())
	out("PreviewRuleArn", "apps[].preview.ruleArn", s.PreviewRule.ListenerRuleArn())
	for _, c := range config.Colors {
		title := strings.ToUpper(string(c[:1])) + string(c[1:])
		out(title+"TargetGroupArn", fmt.Sprintf("apps[].%s.targetGroupArn", c), s.TargetGroups[c].TargetGroupArn())
		out(title+"LaunchTemplateId", fmt.Sprintf("apps[].%s.launchTemplateId", c), s.Templates[c].LaunchTemplateId())
	}
	out("LoadBalancerDns", "point the site's DNS name here", alb.LoadBalancerDnsName())
	return s
}

// arnResourceName is the last path segment of an ARN's resource
// (the topic name of an SNS ARN, the role name of an IAM role ARN).
func arnResourceName(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	res := parts[len(parts)-1]
	return res[strings.LastIndex(res, "/")+1:]
}

// roleName is the name in an IAM role ARN, or nil (a generated name) when
// the configuration has no instance role.
func roleName(arn string) *string {
	if arn == "" {
		return nil
	}
	return jsii.String(arnResourceName(arn))
}

// rolePath is the path in an IAM role ARN ("/" when there is none).
func rolePath(arn string) *string {
	if arn == "" {
		return nil
	}
	parts := strings.SplitN(arn, ":", 6)
	res := strings.TrimPrefix(parts[len(parts)-1], "role")
	return jsii.String(res[:strings.LastIndex(res, "/")+1])
}

// suppress acknowledges one cdk-nag rule on a construct and its children,
// with the reason it does not apply, optionally only for some findings.
func suppress(c constructs.IConstruct, rule, reason string, appliesTo ...string) {
	sup := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		xs := make([]interface{}, len(appliesTo))
		for i, a := range appliesTo {
			xs[i] = a
		}
		sup.AppliesTo = &xs
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{sup}, jsii.Bool(true))
}
