package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/kaizen-sre/kaizen/shared/config"
)

// BuildspecPath is the golden-image buildspec, relative to the repository
// root (the pipeline's source).
const BuildspecPath = "infra/buildspec/golden-ami.yml"

// SourceObjectKey is the zip of the repository in the source bucket when the
// pipeline has no connection.
const SourceObjectKey = "source/kaizen.zip"

// PipelineStackProps configures the reference golden-image pipeline of one
// app.
type PipelineStackProps struct {
	awscdk.StackProps
	App *config.App
	// ConnectionARN, Repository ("owner/name") and Branch take the source
	// from a CodeStar (CodeConnections) connection. Without ConnectionARN
	// the source is SourceObjectKey in a bucket this stack creates.
	ConnectionARN string
	Repository    string
	Branch        string
}

// Validate checks what the configuration must say for this pipeline.
func (p *PipelineStackProps) Validate() error {
	a := p.App
	if a.Rebuild.Pipeline != "" && arnResourceName(a.Rebuild.Pipeline) != a.Approval.Pipeline {
		return fmt.Errorf("pipeline stack: apps[%s].rebuild.pipeline (%q) must be the approval pipeline %q: the reference stack builds one pipeline", a.Name, a.Rebuild.Pipeline, a.Approval.Pipeline)
	}
	if p.ConnectionARN != "" {
		if !strings.Contains(p.Repository, "/") {
			return fmt.Errorf("pipeline stack: kaizen:sourceRepository must be owner/name with kaizen:sourceConnectionArn, got %q", p.Repository)
		}
		if a.Rebuild.CodeBuildProject != "" {
			return fmt.Errorf("pipeline stack: apps[%s].rebuild.codeBuildProject starts the build outside the pipeline, which needs the S3 source; "+
				"with kaizen:sourceConnectionArn set rebuild.pipeline instead", a.Name)
		}
	}
	return nil
}

// PipelineStack builds golden AMIs with Packer and Ansible in CodeBuild and
// holds them at a manual approval: kaizen stages the AMI when it is
// available, people preview it, and the approval (an EventBridge event)
// reaches promote through the kaizen stack's rule.
type PipelineStack struct {
	awscdk.Stack
	Project  awscodebuild.Project
	Pipeline awscodepipeline.Pipeline
	// SourceBucket is nil when the source is a connection.
	SourceBucket awss3.Bucket
}

// NewPipelineStack builds the reference pipeline.
func NewPipelineStack(scope constructs.Construct, id string, props *PipelineStackProps) *PipelineStack {
	if props == nil || props.App == nil {
		panic("stacks: PipelineStackProps.App is required")
	}
	if err := props.Validate(); err != nil {
		panic(err.Error())
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	app := props.App
	region := *props.Env.Region
	s := &PipelineStack{Stack: stack}

	key := awskms.NewKey(stack, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String(app.Name + " golden-image pipeline artifacts and build output"),
		EnableKeyRotation: jsii.Bool(true),
	})
	logs := awss3.NewBucket(stack, jsii.String("AccessLogs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		LifecycleRules:    &[]*awss3.LifecycleRule{{Expiration: awscdk.Duration_Days(jsii.Number(365))}},
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	suppress(logs, "AwsSolutions-S1", "This bucket receives the server access logs of the source and artifact buckets; "+
		"logging access to the log bucket into itself would loop.")
	bucket := func(id, prefix string, versioned bool) awss3.Bucket {
		return awss3.NewBucket(stack, jsii.String(id), &awss3.BucketProps{
			Encryption:             awss3.BucketEncryption_KMS,
			EncryptionKey:          key,
			BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
			EnforceSSL:             jsii.Bool(true),
			Versioned:              jsii.Bool(versioned),
			ServerAccessLogsBucket: logs,
			ServerAccessLogsPrefix: jsii.String(prefix),
			RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		})
	}
	artifacts := bucket("Artifacts", "artifacts/", false)

	projectName := app.Name + "-golden-ami"
	if p := app.Rebuild.CodeBuildProject; p != "" {
		projectName = arnResourceName(p)
	}
	buildLogs := awslogs.NewLogGroup(stack, jsii.String("BuildLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_SIX_MONTHS,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	// SECURITY_ADVISORIES and PIPELINE_EXECUTION_ID default in the
	// buildspec; kaizen (StartBuild) and the pipeline override them.
	env := map[string]*awscodebuild.BuildEnvironmentVariable{
		"APP":              {Value: app.Name},
		"IMAGE_TAG_KEY":    {Value: app.ImageTag.Key},
		"IMAGE_TAG_VALUE":  {Value: app.ImageTag.Value},
		"PIPELINE_TAG_KEY": {Value: app.PipelineTag},
	}
	if app.Secret != "" {
		env["SECRET_ID"] = &awscodebuild.BuildEnvironmentVariable{Value: app.Secret}
	}
	projectProps := &awscodebuild.ProjectProps{
		ProjectName: jsii.String(projectName),
		Description: jsii.String(fmt.Sprintf("Bakes the %s golden AMI with Packer and Ansible", app.Name)),
		BuildSpec:   awscodebuild.BuildSpec_FromSourceFilename(jsii.String(BuildspecPath)),
		Environment: &awscodebuild.BuildEnvironment{
			BuildImage:  awscodebuild.LinuxBuildImage_AMAZON_LINUX_2023_5(),
			ComputeType: awscodebuild.ComputeType_SMALL,
		},
		EnvironmentVariables:        &env,
		EncryptionKey:               key,
		Timeout:                     awscdk.Duration_Minutes(jsii.Number(90)),
		ConcurrentBuildLimit:        jsii.Number(1),
		GrantReportGroupPermissions: jsii.Bool(false),
		Logging:                     &awscodebuild.LoggingOptions{CloudWatch: &awscodebuild.CloudWatchLoggingOptions{LogGroup: buildLogs}},
	}
	if props.ConnectionARN == "" {
		s.SourceBucket = bucket("Source", "source/", true)
		// A source of its own lets kaizen start the project directly
		// (rebuild.codeBuildProject); in the pipeline CodePipeline
		// replaces it with the pipeline's source artifact.
		projectProps.Source = awscodebuild.Source_S3(&awscodebuild.S3SourceProps{
			Bucket: s.SourceBucket, Path: jsii.String(SourceObjectKey),
		})
		s.Project = awscodebuild.NewProject(stack, jsii.String("GoldenImage"), projectProps)
	} else {
		s.Project = awscodebuild.NewPipelineProject(stack, jsii.String("GoldenImage"), &awscodebuild.PipelineProjectProps{
			ProjectName: projectProps.ProjectName, Description: projectProps.Description, BuildSpec: projectProps.BuildSpec,
			Environment: projectProps.Environment, EnvironmentVariables: projectProps.EnvironmentVariables,
			EncryptionKey: key, Timeout: projectProps.Timeout, ConcurrentBuildLimit: projectProps.ConcurrentBuildLimit,
			GrantReportGroupPermissions: projectProps.GrantReportGroupPermissions, Logging: projectProps.Logging,
		}).(awscodebuild.Project)
	}
	grantPacker(s.Project, app, region)
	suppress(s.Project.Role(), "AwsSolutions-IAM5", "CDK grants the project its default log streams (/aws/codebuild/<project>:*), "+
		"whose names are per build; the builds log to the log group of this stack.",
		fmt.Sprintf("Resource::arn:<AWS::Partition>:logs:%s:%s:log-group:/aws/codebuild/<%s>:*", region, *props.Env.Account, logicalID(s.Project)))
	if app.Secret != "" {
		// The image build renders the app's secret into /etc/profile.d.
		s.Project.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ReadAppSecret"),
			Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
			Resources: jsii.Strings(secretARN(app, region, *props.Env.Account)),
		}))
	}

	variableName := app.Rebuild.PipelineVariable
	if variableName == "" {
		variableName = "SECURITY_ADVISORIES"
	}
	advisories := awscodepipeline.NewVariable(&awscodepipeline.VariableProps{
		VariableName: jsii.String(variableName),
		// CodePipeline wants a non-empty default; the buildspec reads
		// "none" as no advisories.
		DefaultValue: jsii.String("none"),
		Description:  jsii.String("Space-separated ALAS advisory ids to apply (set by kaizen's alaspoll)"),
	})
	source := awscodepipeline.NewArtifact(jsii.String("Source"), nil)
	var sourceAction awscodepipeline.IAction
	if props.ConnectionARN == "" {
		sourceAction = awscodepipelineactions.NewS3SourceAction(&awscodepipelineactions.S3SourceActionProps{
			ActionName: jsii.String("Source"),
			Bucket:     s.SourceBucket,
			BucketKey:  jsii.String(SourceObjectKey),
			Output:     source,
			// Runs start on demand (kaizen, or a person after an upload),
			// not on every object write.
			Trigger: awscodepipelineactions.S3Trigger_NONE,
		})
	} else {
		owner, repo, _ := strings.Cut(props.Repository, "/")
		branch := props.Branch
		if branch == "" {
			branch = "main"
		}
		sourceAction = awscodepipelineactions.NewCodeStarConnectionsSourceAction(&awscodepipelineactions.CodeStarConnectionsSourceActionProps{
			ActionName:    jsii.String("Source"),
			ConnectionArn: jsii.String(props.ConnectionARN),
			Owner:         jsii.String(owner),
			Repo:          jsii.String(repo),
			Branch:        jsii.String(branch),
			Output:        source,
		})
	}
	s.Pipeline = awscodepipeline.NewPipeline(stack, jsii.String("Pipeline"), &awscodepipeline.PipelineProps{
		PipelineName:   jsii.String(app.Approval.Pipeline),
		PipelineType:   awscodepipeline.PipelineType_V2,
		ArtifactBucket: artifacts,
		// A newer run overtakes one waiting at the approval, as a newer
		// AMI supersedes a staged one in kaizen.
		ExecutionMode: awscodepipeline.ExecutionMode_SUPERSEDED,
		Variables:     &[]awscodepipeline.Variable{advisories},
		Stages: &[]*awscodepipeline.StageProps{
			{StageName: jsii.String("Source"), Actions: &[]awscodepipeline.IAction{sourceAction}},
			{StageName: jsii.String("Bake"), Actions: &[]awscodepipeline.IAction{
				awscodepipelineactions.NewCodeBuildAction(&awscodepipelineactions.CodeBuildActionProps{
					ActionName: jsii.String("GoldenImage"),
					Project:    s.Project,
					Input:      source,
					EnvironmentVariables: &map[string]*awscodebuild.BuildEnvironmentVariable{
						"SECURITY_ADVISORIES": {Value: advisories.Reference()},
						// The image carries the execution id as a tag, so
						// promote approves only the AMI people previewed.
						"PIPELINE_EXECUTION_ID": {Value: awscodepipeline.GlobalVariables_ExecutionId()},
					},
				}),
			}},
			{StageName: jsii.String(app.Approval.Stage), Actions: &[]awscodepipeline.IAction{
				awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{
					ActionName: jsii.String(app.Approval.Action),
					AdditionalInformation: jsii.String("kaizen has put the new AMI on the idle color; preview it from the office. " +
						"Approve to switch the public to it, Reject to abandon it."),
				}),
			}},
		},
	})

	// CDK's grants to the pipeline and project roles use the wildcards S3
	// and KMS grants need.
	// The pipeline's action roles are its children.
	for _, role := range []constructs.IConstruct{s.Pipeline, s.Project.Role()} {
		suppress(role, "AwsSolutions-IAM5", "CDK-generated grants on this stack's own artifact/source buckets and key: object keys "+
			"are per execution (bucket/*), and S3/KMS read-write grants need the Get*/List*/ReEncrypt*/GenerateDataKey* action groups.",
			"Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:DeleteObject*", "Action::s3:Abort*",
			"Action::kms:ReEncrypt*", "Action::kms:GenerateDataKey*",
			"Resource::<"+logicalID(artifacts)+".Arn>/*")
	}

	out := func(id, description string, value *string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
	}
	out("ProjectName", "apps[].rebuild.codeBuildProject (or use rebuild.pipeline)", s.Project.ProjectName())
	out("PipelineName", "apps[].approval.pipeline and rebuild.pipeline", s.Pipeline.PipelineName())
	if s.SourceBucket != nil {
		out("SourceUrl", "upload the repository as a zip here, then start the pipeline",
			jsii.String(fmt.Sprintf("s3://%s/%s", *s.SourceBucket.BucketName(), SourceObjectKey)))
	}
	return s
}

// grantPacker gives the build what Packer's amazon-ebs builder calls:
// launch a temporary instance with a temporary key pair and security group
// in this region, image it, tag the image, clean up.
func grantPacker(project awscodebuild.Project, app *config.App, region string) {
	// These Describe actions have no resource-level permissions in IAM.
	project.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("PackerObserve"),
		Actions: jsii.Strings("ec2:DescribeImages", "ec2:DescribeImageAttribute", "ec2:DescribeInstances",
			"ec2:DescribeInstanceStatus", "ec2:DescribeRegions", "ec2:DescribeSecurityGroups", "ec2:DescribeSnapshots",
			"ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeVolumes", "ec2:DescribeTags", "ec2:DescribeKeyPairs"),
		Resources: jsii.Strings("*"),
	}))
	inRegion := &map[string]interface{}{"StringEquals": map[string]interface{}{"aws:RequestedRegion": region}}
	project.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("PackerBake"),
		Actions: jsii.Strings("ec2:RunInstances", "ec2:CreateTags", "ec2:CreateKeyPair", "ec2:DeleteKeyPair",
			"ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
			"ec2:CreateImage", "ec2:CreateSnapshot"),
		Resources:  jsii.Strings("*"),
		Conditions: inRegion,
	}))
	// Packer tags its temporary instance at launch (run_tags); only such
	// instances may be stopped or terminated.
	project.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("PackerCleanUp"),
		Actions:   jsii.Strings("ec2:StopInstances", "ec2:TerminateInstances"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{
			"aws:RequestedRegion":            region,
			"ec2:ResourceTag/kaizen:builder": app.Name,
		}},
	}))
	suppress(project.Role(), "AwsSolutions-IAM5", "Packer's amazon-ebs builder creates a temporary instance, key pair, security group, "+
		"snapshot and AMI whose ids do not exist before the build; mutating actions are limited to this region, "+
		"stop/terminate to instances tagged kaizen:builder, and the Describe actions have no resource-level permissions.",
		"Resource::*")
}

// secretARN is the app's secret as an IAM resource: an ARN as given, or a
// name with the six random characters Secrets Manager appends.
func secretARN(app *config.App, region, account string) string {
	if strings.HasPrefix(app.Secret, "arn:") {
		return app.Secret
	}
	return fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-??????", partition(app), region, account, app.Secret)
}

// logicalID is how cdk-nag names a resource in a finding ("<LogicalId.Arn>").
func logicalID(c constructs.IConstruct) string {
	child := c.Node().DefaultChild()
	return *awscdk.Stack_Of(c).GetLogicalId(child.(awscdk.CfnElement))
}
