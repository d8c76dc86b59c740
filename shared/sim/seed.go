package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kaizen-sre/kaizen/shared/alrelease"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
)

// SeedApp builds an app's blue/green fleet as its configuration describes
// it: blue live at the floor with a first golden AMI, green empty, the
// preview rule on green; and the services around it (SeedServices). It
// returns the AMI blue runs.
func (c *Cloud) SeedApp(app *config.App) string {
	c.SeedServices(app)
	ami := c.AddImage(app.Name+"-golden-0", c.Now().Add(-24*time.Hour), map[string]string{app.ImageTag.Key: app.ImageTag.Value})
	mx := max(app.Floor*3, app.Floor+app.PreviewSize+2)
	for _, col := range config.Colors {
		cc := app.Color(col)
		c.AddLaunchTemplate(cc.LaunchTemplateID, app.Name+"-"+string(col), ami)
		c.AddTargetGroup(cc.TargetGroupARN)
	}
	c.AddGroup(app.Blue.ASG, app.Blue.LaunchTemplateID, "1", app.Blue.TargetGroupARN, app.Floor, app.Floor, mx)
	c.AddGroup(app.Green.ASG, app.Green.LaunchTemplateID, "1", app.Green.TargetGroupARN, 0, 0, mx)
	for _, col := range config.Colors {
		for _, p := range ReferencePolicies(app, col) {
			if err := c.AddScalingPolicy(p); err != nil {
				panic(fmt.Sprintf("sim: seeding %s: %v", aws.ToString(p.PolicyName), err))
			}
		}
	}
	c.AddListener(app.ListenerARN, app.Blue.TargetGroupARN)
	h, v := "", ""
	if app.Preview.Header != nil {
		h, v = app.Preview.Header.Name, app.Preview.Header.Value
	}
	c.AddRule(app.Preview.RuleARN, app.ListenerARN, app.Green.TargetGroupARN, app.Preview.OfficeCIDRs, h, v)
	if app.ALAS.AmazonLinux == "2023" {
		c.seedLatestAL2023()
	}
	return ami
}

// SeedServices creates what an app's configuration names besides its
// fleet: the SNS topic it notifies, the CodeBuild project or the pipeline
// that rebuilds its image, and its approval pipeline. A rebuild pipeline
// declares the variables kaizen may set on an execution,
// rebuild.PipelineVariables, as the reference pipeline stack
// (infra/stacks/pipeline.go) declares them; the approval pipeline, when it
// is another one, declares none.
func (c *Cloud) SeedServices(app *config.App) {
	if app.TopicARN != "" {
		c.AddTopic(app.TopicARN)
	}
	if p := app.Rebuild.CodeBuildProject; p != "" {
		c.AddProject(p)
	}
	if p := app.Rebuild.Pipeline; p != "" {
		c.AddPipeline(p, rebuild.PipelineVariables(app)...)
	}
	if p := app.Approval.Pipeline; p != "" {
		c.AddPipeline(p)
	}
	for _, al := range app.Alarms {
		c.mu.Lock()
		_, ok := c.alarms[al.Name]
		c.mu.Unlock()
		if !ok {
			c.SetAlarm(al.Name, "OK", "Threshold Crossed: no datapoints above the threshold", false)
		}
	}
}

// seedLatestAL2023 publishes the newest Amazon Linux 2023 AMI, as AWS does
// in its public parameter, once.
func (c *Cloud) seedLatestAL2023() {
	c.mu.Lock()
	_, done := c.params[alrelease.DefaultParameter]
	c.mu.Unlock()
	if done {
		return
	}
	const id = "ami-0a12023f00d5eed01" // Amazon's, so outside the account's id sequence
	c.AddPublicImage(id, "al2023-ami-2023.6.20241121.0-kernel-6.1-x86_64", c.Now().Add(-96*time.Hour))
	c.SetParameter(alrelease.DefaultParameter, id)
}

// NewAMI registers a new golden AMI for the app, as the image build would,
// optionally tagged with the pipeline execution that built it.
func (c *Cloud) NewAMI(app *config.App, name, pipelineExecution string) string {
	tags := map[string]string{app.ImageTag.Key: app.ImageTag.Value}
	if pipelineExecution != "" {
		tags[app.PipelineTag] = pipelineExecution
	}
	return c.AddImage(name, c.Now(), tags)
}

// ReferencePolicies are the scaling policies the reference fleet stack
// (infra/stacks/fleet.go) gives each color from one definition: target
// tracking on the requests per target of the color's own target group and
// on CPU, and predictive scaling (forecast and scale) on the request
// count, each named after its group as CloudFormation names them.
func ReferencePolicies(app *config.App, c config.Color) []*autoscaling.PutScalingPolicyInput {
	group := app.Color(c).ASG
	label := ResourceLabel(app, c)
	return []*autoscaling.PutScalingPolicyInput{
		{AutoScalingGroupName: aws.String(group), PolicyName: aws.String(group + "-RequestsPerTarget"), PolicyType: aws.String("TargetTrackingScaling"),
			TargetTrackingConfiguration: &astypes.TargetTrackingConfiguration{TargetValue: aws.Float64(1000),
				PredefinedMetricSpecification: &astypes.PredefinedMetricSpecification{PredefinedMetricType: astypes.MetricTypeALBRequestCountPerTarget, ResourceLabel: aws.String(label)}}},
		{AutoScalingGroupName: aws.String(group), PolicyName: aws.String(group + "-Cpu"), PolicyType: aws.String("TargetTrackingScaling"),
			TargetTrackingConfiguration: &astypes.TargetTrackingConfiguration{TargetValue: aws.Float64(50),
				PredefinedMetricSpecification: &astypes.PredefinedMetricSpecification{PredefinedMetricType: astypes.MetricTypeASGAverageCPUUtilization}}},
		{AutoScalingGroupName: aws.String(group), PolicyName: aws.String(group + "-Predictive"), PolicyType: aws.String("PredictiveScaling"),
			PredictiveScalingConfiguration: &astypes.PredictiveScalingConfiguration{
				Mode: astypes.PredictiveScalingModeForecastAndScale, SchedulingBufferTime: aws.Int32(600),
				MaxCapacityBreachBehavior: astypes.PredictiveScalingMaxCapacityBreachBehaviorHonorMaxCapacity,
				MetricSpecifications: []astypes.PredictiveScalingMetricSpecification{{TargetValue: aws.Float64(1000),
					PredefinedMetricPairSpecification: &astypes.PredictiveScalingPredefinedMetricPair{PredefinedMetricType: astypes.PredefinedMetricPairTypeALBRequestCount, ResourceLabel: aws.String(label)}}},
			}},
	}
}

// ResourceLabel is the ALB request-count metrics' label of a color's
// target group: "app/<alb>/<id>/targetgroup/<tg>/<id>", from the listener
// and target group ARNs.
func ResourceLabel(app *config.App, c config.Color) string {
	lb := app.ListenerARN[strings.Index(app.ListenerARN, ":listener/")+len(":listener/"):]
	lb = lb[:strings.LastIndex(lb, "/")]
	tg := app.Color(c).TargetGroupARN
	return lb + "/" + tg[strings.Index(tg, ":targetgroup/")+1:]
}
