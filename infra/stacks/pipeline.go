package stacks

import (
	"fmt"
	"slices"
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
	"github.com/kaizen-sre/kaizen/shared/rebuild"
)

// BuildspecPath is the golden-image buildspec, relative to the repository
// root (the pipeline's source).
const BuildspecPath = "infra/buildspec/golden-ami.yml"

// SourceObjectKey is the zip of the repository in the source bucket when the
// pipeline has no connection.
const SourceObjectKey = "source/kaizen.zip"

// BuilderTag is the tag Packer puts on everything it creates (instance,
// volumes, key pair, security group, images, snapshots), with the app's
// name as its value. The build role may stop, delete or deregister only
// what carries it.
const BuilderTag = "kaizen:builder"

// BaselineParameter is the SSM parameter where `kaizen image prepare` keeps
// the app's advisory baseline: every advisory an earlier image applied that
// its base image did not have, and the newest AL2023 release it upgraded
// to. Every build reads it and writes it back, so no image drops a fix.
func BaselineParameter(app *config.App) string { return "/kaizen/" + app.Name + "/image-baseline" }

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
	// ImageKey encrypts the AMIs and their snapshots.
	ImageKey awskms.Key
	// BuilderRole is the build instance's role (through BuilderProfile):
	// it reads the app's secret and reads and writes the baseline.
	BuilderRole    awsiam.Role
	BuilderProfile awsiam.InstanceProfile
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
	account := *props.Env.Account
	s.ImageKey = newImageKey(stack, app, account)
	s.BuilderRole, s.BuilderProfile = newBuilder(stack, app, region, account)
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
	// rebuild.BuildVariables and PIPELINE_EXECUTION_ID default in the
	// buildspec; kaizen (StartBuild) and the pipeline override them.
	env := map[string]*awscodebuild.BuildEnvironmentVariable{
		"APP":                      {Value: app.Name},
		"IMAGE_TAG_KEY":            {Value: app.ImageTag.Key},
		"IMAGE_TAG_VALUE":          {Value: app.ImageTag.Value},
		"PIPELINE_TAG_KEY":         {Value: app.PipelineTag},
		"BASELINE_PARAMETER":       {Value: BaselineParameter(app)},
		"AMI_KMS_KEY_ID":           {Value: s.ImageKey.KeyArn()},
		"BUILDER_INSTANCE_PROFILE": {Value: s.BuilderProfile.InstanceProfileName()},
	}
	if app.Secret != "" {
		// The build instance reads it (BuilderRole); the project never does.
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
	grantPacker(s, app, region, account)
	suppress(s.Project.Role(), "AwsSolutions-IAM5", "CDK grants the project its default log streams (/aws/codebuild/<project>:*), "+
		"whose names are per build; the builds log to the log group of this stack.",
		fmt.Sprintf("Resource::arn:<AWS::Partition>:logs:%s:%s:log-group:/aws/codebuild/<%s>:*", region, account, logicalID(s.Project)))

	// Every variable kaizen may set on an execution (rebuild.PipelineVariables)
	// is declared, and reaches the build under the name the buildspec reads.
	// CodePipeline wants non-empty defaults; kaizen image prepare reads
	// "none" as none.
	var variables []awscodepipeline.Variable
	actionEnv := map[string]*awscodebuild.BuildEnvironmentVariable{
		// The image carries the execution id as a tag, so promote
		// approves only the AMI people previewed.
		"PIPELINE_EXECUTION_ID": {Value: awscodepipeline.GlobalVariables_ExecutionId()},
	}
	for i, name := range rebuild.PipelineVariables(app) {
		description, envName := "AL2023 release to upgrade to (set by kaizen's alaspoll)", name
		if i == 0 {
			description, envName = "ALAS advisory ids to apply, comma separated (set by kaizen's alaspoll)", rebuild.EnvAdvisories
		}
		v := awscodepipeline.NewVariable(&awscodepipeline.VariableProps{
			VariableName: jsii.String(name), DefaultValue: jsii.String("none"), Description: jsii.String(description),
		})
		variables = append(variables, v)
		actionEnv[envName] = &awscodebuild.BuildEnvironmentVariable{Value: v.Reference()}
	}
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
		Variables:     &variables,
		Stages: &[]*awscodepipeline.StageProps{
			{StageName: jsii.String("Source"), Actions: &[]awscodepipeline.IAction{sourceAction}},
			{StageName: jsii.String("Bake"), Actions: &[]awscodepipeline.IAction{
				awscodepipelineactions.NewCodeBuildAction(&awscodepipelineactions.CodeBuildActionProps{
					ActionName:           jsii.String("GoldenImage"),
					Project:              s.Project,
					Input:                source,
					EnvironmentVariables: &actionEnv,
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

// newImageKey is the KMS key of the app's AMIs and their snapshots
// (Packer's encrypt_boot). It outlives the stack: deleting it would make
// every image unlaunchable. Auto Scaling launches the fleet's instances
// with its service-linked role, which must be able to use the key.
func newImageKey(stack awscdk.Stack, app *config.App, account string) awskms.Key {
	key := awskms.NewKey(stack, jsii.String("ImageKey"), &awskms.KeyProps{
		Description:       jsii.String(app.Name + " golden AMIs and their EBS snapshots"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	asg := awsiam.NewArnPrincipal(jsii.String(fmt.Sprintf(
		"arn:%s:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling", partition(app), account)))
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AutoScalingLaunchesEncryptedImages"),
		Principals: &[]awsiam.IPrincipal{asg},
		Actions: jsii.Strings("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
			"kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"),
		Resources: jsii.Strings("*"),
	}), jsii.Bool(true))
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AutoScalingGrantsToEC2"),
		Principals: &[]awsiam.IPrincipal{asg},
		Actions:    jsii.Strings("kms:CreateGrant"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]interface{}{"Bool": map[string]interface{}{"kms:GrantIsForAWSResource": "true"}},
	}), jsii.Bool(true))
	return key
}

// newBuilder is the build instance's role and profile: Packer launches the
// instance with it, and `kaizen image prepare` on it reads the app's secret
// and reads and writes the baseline. The CodeBuild project itself never
// reads the secret.
func newBuilder(stack awscdk.Stack, app *config.App, region, account string) (awsiam.Role, awsiam.InstanceProfile) {
	role := awsiam.NewRole(stack, jsii.String("BuilderInstanceRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description: jsii.String(app.Name + " golden-image build instance: reads the app's secret and its advisory baseline"),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("AdvisoryBaseline"),
		Actions:   jsii.Strings("ssm:GetParameter", "ssm:PutParameter"),
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:ssm:%s:%s:parameter%s", partition(app), region, account, BaselineParameter(app))),
	}))
	if app.Secret != "" {
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ReadAppSecret"),
			Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
			Resources: jsii.Strings(secretARN(app, region, account)),
		}))
	}
	profile := awsiam.NewInstanceProfile(stack, jsii.String("BuilderInstanceProfile"), &awsiam.InstanceProfileProps{Role: role})
	return role, profile
}

// packerObserve are the read-only calls of Packer's amazon-ebs builder; IAM
// has no resource-level permissions for them.
var packerObserve = []string{
	"ec2:DescribeImages", "ec2:DescribeImageAttribute", "ec2:DescribeInstances", "ec2:DescribeInstanceStatus",
	"ec2:DescribeInstanceTypeOfferings", "ec2:DescribeAvailabilityZones", "ec2:DescribeRegions",
	"ec2:DescribeSecurityGroups", "ec2:DescribeSnapshots", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
	"ec2:DescribeVolumes", "ec2:DescribeTags", "ec2:DescribeKeyPairs",
}

// grantPacker gives the build what Packer's amazon-ebs builder calls, and
// no more: it may create only resources tagged kaizen:builder=<app> in the
// request (aws:RequestTag), and stop, terminate, delete, deregister or
// open only resources that carry that tag (ec2:ResourceTag). No mutating
// action has the resource "*"; where an ARN ends in "*" it is because the
// id does not exist before the build, and the statement's condition pins
// the tag. The AMI is encrypted with the stack's image key.
func grantPacker(s *PipelineStack, app *config.App, region, account string) {
	project, p := s.Project, partition(app)
	ec2 := func(res string) string { return fmt.Sprintf("arn:%s:ec2:%s:%s:%s", p, region, account, res) }
	images, snapshots := fmt.Sprintf("arn:%s:ec2:%s::image/*", p, region), fmt.Sprintf("arn:%s:ec2:%s::snapshot/*", p, region)
	requestTag := map[string]interface{}{"StringEquals": map[string]interface{}{"aws:RequestTag/" + BuilderTag: app.Name}}
	resourceTag := map[string]interface{}{"StringEquals": map[string]interface{}{"ec2:ResourceTag/" + BuilderTag: app.Name}}
	var wildcards []string
	add := func(sid string, actions, resources []string, cond map[string]interface{}) {
		props := &awsiam.PolicyStatementProps{Sid: jsii.String(sid), Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...)}
		if cond != nil {
			props.Conditions = &cond
		}
		project.AddToRolePolicy(awsiam.NewPolicyStatement(props))
		for _, r := range resources {
			if strings.Contains(r, "*") && !slices.Contains(wildcards, r) {
				wildcards = append(wildcards, r)
			}
		}
	}
	add("PackerObserve", packerObserve, []string{"*"}, nil)
	// The source AMI is Amazon's own Amazon Linux.
	add("PackerLaunchAmazonLinux", []string{"ec2:RunInstances"}, []string{images},
		map[string]interface{}{"StringEquals": map[string]interface{}{"ec2:Owner": "amazon"}})
	// The launch must tag its instance and volumes (run_tags,
	// run_volume_tags); the request's tag is checked for each resource.
	add("PackerLaunchTagged", []string{"ec2:RunInstances"},
		[]string{ec2("instance/*"), ec2("volume/*"), ec2("network-interface/*"), ec2("subnet/*")}, requestTag)
	add("PackerLaunchWithItsKeyAndGroup", []string{"ec2:RunInstances"}, []string{ec2("security-group/*"), ec2("key-pair/*")}, resourceTag)
	add("PackerCreateTemporary", []string{"ec2:CreateKeyPair", "ec2:CreateSecurityGroup"},
		[]string{ec2("key-pair/*"), ec2("security-group/*"), ec2("vpc/*")}, requestTag)
	add("PackerImageItsInstance", []string{"ec2:CreateImage"}, []string{ec2("instance/*")}, resourceTag)
	add("PackerCreateTaggedImage", []string{"ec2:CreateImage"}, []string{images, snapshots}, requestTag)
	// encrypt_boot copies the intermediate image into the encrypted one
	// (CopyImageTags carries kaizen:builder over). CopyImage has no tag
	// condition for the new image; it creates, it does not change.
	add("PackerEncryptedCopy", []string{"ec2:CopyImage"}, []string{images}, nil)
	add("PackerTagOnCreate", []string{"ec2:CreateTags"},
		[]string{ec2("instance/*"), ec2("volume/*"), ec2("key-pair/*"), ec2("security-group/*"), images, snapshots},
		map[string]interface{}{"StringEquals": map[string]interface{}{"ec2:CreateAction": []interface{}{
			"RunInstances", "CreateKeyPair", "CreateSecurityGroup", "CreateImage", "CopyImage"}}})
	add("PackerCleanUp", []string{"ec2:StopInstances", "ec2:TerminateInstances", "ec2:DeleteKeyPair",
		"ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:DeregisterImage", "ec2:DeleteSnapshot"},
		[]string{ec2("instance/*"), ec2("key-pair/*"), ec2("security-group/*"), images, snapshots}, resourceTag)
	// Packer's image tags and the ones kaizen image prepare printed go on
	// the final AMI and its snapshots, which CopyImage leaves without tags
	// of their own: only kaizen's keys, and never on another app's.
	tagKeys := []string{"kaizen:*", "Name", app.ImageTag.Key, app.PipelineTag}
	add("TagTheImage", []string{"ec2:CreateTags"}, []string{images, snapshots}, map[string]interface{}{
		"ForAllValues:StringLike": map[string]interface{}{"aws:TagKeys": uniq(tagKeys)},
		"StringEqualsIfExists":    map[string]interface{}{"ec2:ResourceTag/" + BuilderTag: app.Name},
		"StringEquals":            map[string]interface{}{"aws:RequestedRegion": region},
	})
	add("LaunchAsBuilder", []string{"iam:PassRole"}, []string{*s.BuilderRole.RoleArn()},
		map[string]interface{}{"StringEquals": map[string]interface{}{"iam:PassedToService": "ec2.amazonaws.com"}})
	add("CheckBuilderProfile", []string{"iam:GetInstanceProfile"}, []string{*s.BuilderProfile.InstanceProfileArn()}, nil)
	// EBS encrypts the copied snapshots with the image key on the build's
	// behalf (grants for the volumes); nothing else may use the key.
	viaEC2 := map[string]interface{}{"StringEquals": map[string]interface{}{"kms:ViaService": "ec2." + region + ".amazonaws.com"}}
	add("EncryptImage", []string{"kms:DescribeKey", "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
		"kms:GenerateDataKeyWithoutPlaintext"}, []string{*s.ImageKey.KeyArn()}, viaEC2)
	add("EncryptImageGrant", []string{"kms:CreateGrant"}, []string{*s.ImageKey.KeyArn()}, map[string]interface{}{
		"StringEquals": map[string]interface{}{"kms:ViaService": "ec2." + region + ".amazonaws.com"},
		"Bool":         map[string]interface{}{"kms:GrantIsForAWSResource": "true"},
	})

	for _, w := range wildcards {
		reason := "Packer's amazon-ebs builder creates a temporary instance, volumes, key pair, security group, an intermediate and a final " +
			"image and their snapshots, whose ids do not exist before the build: every statement on these ARNs requires the " +
			BuilderTag + "=" + app.Name + " tag in the request (create) or on the resource (stop, terminate, delete, deregister, authorize, tag), " +
			"or is tagging on create (ec2:CreateAction), launching Amazon's own image (ec2:Owner), or CopyImage, which only creates."
		if w == "*" {
			reason = "The Describe actions of Packer's amazon-ebs builder have no resource-level permissions; they are read-only."
		}
		suppress(project.Role(), "AwsSolutions-IAM5", reason, "Resource::"+w)
	}
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
