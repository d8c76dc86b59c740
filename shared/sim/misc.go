package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// Published is one SNS message.
type Published struct {
	At      time.Time
	Topic   string
	Subject string
	Message string
}

// SNS is the simulated SNS API.
type SNS struct{ c *Cloud }

// SNS returns the SNS client of the cloud.
func (c *Cloud) SNS() *SNS { return &SNS{c} }

// Published returns every message published so far.
func (c *Cloud) Published() []Published {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Published(nil), c.published...)
}

func (s *SNS) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return serve(s.c, ctx, OpPublish, in, s.publish)
}

func (s *SNS) publish(in *sns.PublishInput) (*sns.PublishOutput, error) {
	c := s.c
	if aws.ToString(in.TopicArn) == "" {
		return nil, APIError("InvalidParameter", "Invalid parameter: TopicArn", smithy.FaultClient)
	}
	if len(aws.ToString(in.Subject)) > 100 {
		return nil, APIError("InvalidParameter", "Invalid parameter: Subject", smithy.FaultClient)
	}
	c.published = append(c.published, Published{At: c.now, Topic: aws.ToString(in.TopicArn), Subject: aws.ToString(in.Subject), Message: aws.ToString(in.Message)})
	return &sns.PublishOutput{MessageId: aws.String(c.id("msg"))}, nil
}

type build struct {
	id, project, status string
	env                 map[string]string
	started             time.Time
}

// CodeBuild is the simulated CodeBuild API.
type CodeBuild struct{ c *Cloud }

// CodeBuild returns the CodeBuild client of the cloud.
func (c *Cloud) CodeBuild() *CodeBuild { return &CodeBuild{c} }

// Build is a started build as tests see it.
type Build struct {
	ID, Project, Status string
	Env                 map[string]string
}

// Builds lists the started builds, oldest first.
func (c *Cloud) Builds() []Build {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Build
	for _, b := range c.builds {
		out = append(out, Build{ID: b.id, Project: b.project, Status: b.status, Env: b.env})
	}
	return out
}

// FinishBuild sets a build's final status (SUCCEEDED, FAILED, ...).
func (c *Cloud) FinishBuild(id, status string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.builds {
		if b.id == id {
			b.status = status
		}
	}
}

func (b *CodeBuild) StartBuild(ctx context.Context, in *codebuild.StartBuildInput, _ ...func(*codebuild.Options)) (*codebuild.StartBuildOutput, error) {
	return serve(b.c, ctx, OpStartBuild, in, b.startBuild)
}

func (b *CodeBuild) startBuild(in *codebuild.StartBuildInput) (*codebuild.StartBuildOutput, error) {
	c := b.c
	p := aws.ToString(in.ProjectName)
	if p == "" {
		return nil, APIError("InvalidInputException", "projectName is required", smithy.FaultClient)
	}
	env := map[string]string{}
	for _, v := range in.EnvironmentVariablesOverride {
		env[aws.ToString(v.Name)] = aws.ToString(v.Value)
	}
	bd := &build{id: fmt.Sprintf("%s:%s", p, c.id("build")), project: p, status: "IN_PROGRESS", env: env, started: c.now}
	c.builds = append(c.builds, bd)
	return &codebuild.StartBuildOutput{Build: &cbtypes.Build{Id: aws.String(bd.id), BuildStatus: cbtypes.StatusTypeInProgress, ProjectName: aws.String(p)}}, nil
}

func (b *CodeBuild) ListBuildsForProject(ctx context.Context, in *codebuild.ListBuildsForProjectInput, _ ...func(*codebuild.Options)) (*codebuild.ListBuildsForProjectOutput, error) {
	return serve(b.c, ctx, OpListBuildsForProject, in, b.listBuilds)
}

func (b *CodeBuild) listBuilds(in *codebuild.ListBuildsForProjectInput) (*codebuild.ListBuildsForProjectOutput, error) {
	c := b.c
	var ids []string
	for i := len(c.builds) - 1; i >= 0; i-- { // newest first, as the default sort
		if c.builds[i].project == aws.ToString(in.ProjectName) {
			ids = append(ids, c.builds[i].id)
		}
	}
	return &codebuild.ListBuildsForProjectOutput{Ids: ids}, nil
}

func (b *CodeBuild) BatchGetBuilds(ctx context.Context, in *codebuild.BatchGetBuildsInput, _ ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error) {
	return serve(b.c, ctx, OpBatchGetBuilds, in, b.batchGetBuilds)
}

func (b *CodeBuild) batchGetBuilds(in *codebuild.BatchGetBuildsInput) (*codebuild.BatchGetBuildsOutput, error) {
	c := b.c
	var out []cbtypes.Build
	for _, id := range in.Ids {
		for _, bd := range c.builds {
			if bd.id == id {
				out = append(out, cbtypes.Build{Id: aws.String(bd.id), ProjectName: aws.String(bd.project), BuildStatus: cbtypes.StatusType(bd.status)})
			}
		}
	}
	return &codebuild.BatchGetBuildsOutput{Builds: out}, nil
}

type execution struct {
	id, pipeline, status string
	vars                 map[string]string
}

// CodePipeline is the simulated CodePipeline API.
type CodePipeline struct{ c *Cloud }

// CodePipeline returns the CodePipeline client of the cloud.
func (c *Cloud) CodePipeline() *CodePipeline { return &CodePipeline{c} }

func (p *CodePipeline) StartPipelineExecution(ctx context.Context, in *codepipeline.StartPipelineExecutionInput, _ ...func(*codepipeline.Options)) (*codepipeline.StartPipelineExecutionOutput, error) {
	return serve(p.c, ctx, OpStartPipelineExecution, in, p.startExecution)
}

func (p *CodePipeline) startExecution(in *codepipeline.StartPipelineExecutionInput) (*codepipeline.StartPipelineExecutionOutput, error) {
	c := p.c
	vars := map[string]string{}
	for _, v := range in.Variables {
		vars[aws.ToString(v.Name)] = aws.ToString(v.Value)
	}
	e := &execution{id: c.id("exec"), pipeline: aws.ToString(in.Name), status: "InProgress", vars: vars}
	c.execs = append(c.execs, e)
	return &codepipeline.StartPipelineExecutionOutput{PipelineExecutionId: aws.String(e.id)}, nil
}

func (p *CodePipeline) ListPipelineExecutions(ctx context.Context, in *codepipeline.ListPipelineExecutionsInput, _ ...func(*codepipeline.Options)) (*codepipeline.ListPipelineExecutionsOutput, error) {
	return serve(p.c, ctx, OpListPipelineExecutions, in, p.listExecutions)
}

func (p *CodePipeline) listExecutions(in *codepipeline.ListPipelineExecutionsInput) (*codepipeline.ListPipelineExecutionsOutput, error) {
	c := p.c
	var out []cptypes.PipelineExecutionSummary
	for i := len(c.execs) - 1; i >= 0; i-- {
		e := c.execs[i]
		if e.pipeline == aws.ToString(in.PipelineName) {
			out = append(out, cptypes.PipelineExecutionSummary{PipelineExecutionId: aws.String(e.id), Status: cptypes.PipelineExecutionStatus(e.status)})
		}
	}
	return &codepipeline.ListPipelineExecutionsOutput{PipelineExecutionSummaries: out}, nil
}

// SSM is the simulated Systems Manager Parameter Store (GetParameter only).
type SSM struct{ c *Cloud }

// SSM returns the Systems Manager client of the cloud.
func (c *Cloud) SSM() *SSM { return &SSM{c} }

// SetParameter stores a parameter, as AWS publishes its public ones.
func (c *Cloud) SetParameter(name, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.params[name] = value
}

func (s *SSM) GetParameter(ctx context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	return serve(s.c, ctx, OpGetParameter, in, s.getParameter)
}

func (s *SSM) getParameter(in *ssm.GetParameterInput) (*ssm.GetParameterOutput, error) {
	c := s.c
	name := aws.ToString(in.Name)
	v, ok := c.params[name]
	if !ok {
		return nil, APIError("ParameterNotFound", "Parameter "+name+" not found.", smithy.FaultClient)
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: aws.String(name), Value: aws.String(v), Type: ssmtypes.ParameterTypeString}}, nil
}
