package sim

import (
	"context"
	"encoding/json"
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

// Published is one SNS message. With MessageStructure "json", Message is
// the "default" entry (what a protocol without its own entry gets) and
// ByProtocol holds every entry; Raw is the message as published.
type Published struct {
	At         time.Time
	Topic      string
	Subject    string
	Message    string
	Structure  string
	ByProtocol map[string]string
	Raw        string
}

// For is the message a subscriber over protocol ("email", "https", ...)
// receives.
func (p Published) For(protocol string) string {
	if m, ok := p.ByProtocol[protocol]; ok {
		return m
	}
	return p.Message
}

// SNS is the simulated SNS API.
type SNS struct{ c *Cloud }

// SNS returns the SNS client of the cloud.
func (c *Cloud) SNS() *SNS { return &SNS{c} }

// AddTopic creates an SNS topic. Publishing to a topic that does not exist
// fails, as in AWS.
func (c *Cloud) AddTopic(arn string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.topics[arn] = true
}

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
	topic := aws.ToString(in.TopicArn)
	if topic == "" {
		return nil, APIError("InvalidParameter", "Invalid parameter: TopicArn", smithy.FaultClient)
	}
	if len(aws.ToString(in.Subject)) > 100 {
		return nil, APIError("InvalidParameter", "Invalid parameter: Subject", smithy.FaultClient)
	}
	if !c.topics[topic] {
		return nil, APIError("NotFound", "Topic does not exist", smithy.FaultClient)
	}
	if len(aws.ToString(in.Message)) > 262144 { // 256 KiB of UTF-8
		return nil, APIError("InvalidParameter", "Invalid parameter: Message too long", smithy.FaultClient)
	}
	pub := Published{At: c.now, Topic: topic, Subject: aws.ToString(in.Subject), Message: aws.ToString(in.Message), Raw: aws.ToString(in.Message)}
	if err := perProtocol(&pub, aws.ToString(in.MessageStructure)); err != nil {
		return nil, err
	}
	c.published = append(c.published, pub)
	return &sns.PublishOutput{MessageId: aws.String(c.id("msg"))}, nil
}

// perProtocol reads a message published with MessageStructure "json" as
// SNS does: a JSON object whose "default" entry is a string, and whose
// other entries are strings too (SNS refuses the publish otherwise, with
// these messages).
func perProtocol(p *Published, structure string) error {
	switch structure {
	case "":
		return nil
	case "json":
	default:
		return APIError("InvalidParameter", "Invalid parameter: MessageStructure", smithy.FaultClient)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(p.Raw), &m); err != nil {
		return APIError("InvalidParameter", "Invalid parameter: Message Structure - JSON message body failed to parse", smithy.FaultClient)
	}
	def, ok := m["default"].(string)
	if !ok {
		return APIError("InvalidParameter", "Invalid parameter: Message Structure - No default entry in JSON message body", smithy.FaultClient)
	}
	p.Structure, p.Message, p.ByProtocol = structure, def, map[string]string{}
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return APIError("InvalidParameter", fmt.Sprintf("Invalid parameter: Message Structure - the value of %q is not a string", k), smithy.FaultClient)
		}
		p.ByProtocol[k] = s
	}
	return nil
}

// project is a CodeBuild project; builds counts its builds (a build's
// number is its place in that count).
type project struct {
	name   string
	builds int64
}

type build struct {
	id, project, status string
	number              int64
	env                 map[string]string
	started, ended      time.Time
}

// CodeBuild is the simulated CodeBuild API.
type CodeBuild struct{ c *Cloud }

// CodeBuild returns the CodeBuild client of the cloud.
func (c *Cloud) CodeBuild() *CodeBuild { return &CodeBuild{c} }

// AddProject creates a CodeBuild project. Starting or listing the builds
// of a project that does not exist fails, as in AWS.
func (c *Cloud) AddProject(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.projects[name] == nil {
		c.projects[name] = &project{name: name}
	}
}

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

// FinishBuild sets a build's final status (SUCCEEDED, FAILED, ...), at
// the virtual time.
func (c *Cloud) FinishBuild(id, status string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.builds {
		if b.id == id {
			b.status, b.ended = status, c.now
		}
	}
}

func (c *Cloud) projectARN(name string) string {
	return fmt.Sprintf("arn:aws:codebuild:%s:%s:project/%s", c.Region, c.Account, name)
}

// sdk is the build as BatchGetBuilds and StartBuild describe it. The
// phases are abridged: the submission, the build (the phase a golden
// image spends its time in) and, once over, the completion.
func (b *build) sdk(c *Cloud) cbtypes.Build {
	out := cbtypes.Build{
		Id: aws.String(b.id), Arn: aws.String(fmt.Sprintf("arn:aws:codebuild:%s:%s:build/%s", c.Region, c.Account, b.id)),
		BuildNumber: aws.Int64(b.number), ProjectName: aws.String(b.project), BuildStatus: cbtypes.StatusType(b.status),
		StartTime: aws.Time(b.started),
		Phases: []cbtypes.BuildPhase{{PhaseType: cbtypes.BuildPhaseTypeSubmitted, PhaseStatus: cbtypes.StatusTypeSucceeded,
			StartTime: aws.Time(b.started), EndTime: aws.Time(b.started), DurationInSeconds: aws.Int64(0)}},
	}
	if b.status == string(cbtypes.StatusTypeInProgress) {
		out.CurrentPhase = aws.String(string(cbtypes.BuildPhaseTypeBuild))
		out.Phases = append(out.Phases, cbtypes.BuildPhase{PhaseType: cbtypes.BuildPhaseTypeBuild, StartTime: aws.Time(b.started)})
		return out
	}
	out.CurrentPhase = aws.String(string(cbtypes.BuildPhaseTypeCompleted))
	out.BuildComplete = true
	out.EndTime = aws.Time(b.ended)
	out.Phases = append(out.Phases,
		cbtypes.BuildPhase{PhaseType: cbtypes.BuildPhaseTypeBuild, PhaseStatus: cbtypes.StatusType(b.status), StartTime: aws.Time(b.started),
			EndTime: aws.Time(b.ended), DurationInSeconds: aws.Int64(int64(b.ended.Sub(b.started) / time.Second))},
		cbtypes.BuildPhase{PhaseType: cbtypes.BuildPhaseTypeCompleted, StartTime: aws.Time(b.ended)})
	return out
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
	proj := c.projects[p]
	if proj == nil {
		return nil, APIError("ResourceNotFoundException", "Project cannot be found: "+c.projectARN(p), smithy.FaultClient)
	}
	env := map[string]string{}
	for _, v := range in.EnvironmentVariablesOverride {
		env[aws.ToString(v.Name)] = aws.ToString(v.Value)
	}
	proj.builds++
	bd := &build{id: fmt.Sprintf("%s:%s", p, c.id("build")), project: p, status: string(cbtypes.StatusTypeInProgress), number: proj.builds, env: env, started: c.now}
	c.builds = append(c.builds, bd)
	sb := bd.sdk(c)
	return &codebuild.StartBuildOutput{Build: &sb}, nil
}

func (b *CodeBuild) ListBuildsForProject(ctx context.Context, in *codebuild.ListBuildsForProjectInput, _ ...func(*codebuild.Options)) (*codebuild.ListBuildsForProjectOutput, error) {
	return serve(b.c, ctx, OpListBuildsForProject, in, b.listBuilds)
}

func (b *CodeBuild) listBuilds(in *codebuild.ListBuildsForProjectInput) (*codebuild.ListBuildsForProjectOutput, error) {
	c := b.c
	p := aws.ToString(in.ProjectName)
	if c.projects[p] == nil {
		return nil, APIError("ResourceNotFoundException", "The provided project "+c.projectARN(p)+" does not exist", smithy.FaultClient)
	}
	var ids []string
	for i := len(c.builds) - 1; i >= 0; i-- { // newest first, as the default sort
		if c.builds[i].project == p {
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
	out := &codebuild.BatchGetBuildsOutput{}
next:
	for _, id := range in.Ids {
		for _, bd := range c.builds {
			if bd.id == id {
				out.Builds = append(out.Builds, bd.sdk(c))
				continue next
			}
		}
		out.BuildsNotFound = append(out.BuildsNotFound, id)
	}
	return out, nil
}

// pipeline is a CodePipeline pipeline and the variables it declares.
type pipeline struct {
	name      string
	variables map[string]bool
}

type execution struct {
	id, pipeline, status string
	vars                 map[string]string
	started              time.Time
}

// CodePipeline is the simulated CodePipeline API.
type CodePipeline struct{ c *Cloud }

// CodePipeline returns the CodePipeline client of the cloud.
func (c *Cloud) CodePipeline() *CodePipeline { return &CodePipeline{c} }

// AddPipeline creates a pipeline declaring the given pipeline-level
// variables, or declares them on the pipeline if it exists. Starting or
// listing the executions of a pipeline that does not exist fails, and so
// does starting one with a variable it does not declare, as in AWS.
func (c *Cloud) AddPipeline(name string, variables ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pipelines[name]
	if p == nil {
		p = &pipeline{name: name, variables: map[string]bool{}}
		c.pipelines[name] = p
	}
	for _, v := range variables {
		p.variables[v] = true
	}
}

func (c *Cloud) pipelineNotFound(name string) error {
	return APIError("PipelineNotFoundException", fmt.Sprintf("Account '%s' does not have a pipeline with name '%s'", c.Account, name), smithy.FaultClient)
}

// maxPipelineVariable is CodePipeline's limit on a variable's value.
const maxPipelineVariable = 1000

func (p *CodePipeline) StartPipelineExecution(ctx context.Context, in *codepipeline.StartPipelineExecutionInput, _ ...func(*codepipeline.Options)) (*codepipeline.StartPipelineExecutionOutput, error) {
	return serve(p.c, ctx, OpStartPipelineExecution, in, p.startExecution)
}

func (p *CodePipeline) startExecution(in *codepipeline.StartPipelineExecutionInput) (*codepipeline.StartPipelineExecutionOutput, error) {
	c := p.c
	name := aws.ToString(in.Name)
	pl := c.pipelines[name]
	if pl == nil {
		return nil, c.pipelineNotFound(name)
	}
	vars := map[string]string{}
	for _, v := range in.Variables {
		n, val := aws.ToString(v.Name), aws.ToString(v.Value)
		// An execution may only override the variables its pipeline
		// declares. The API reference lists ValidationException as the
		// error for a request it refuses (besides PipelineNotFound,
		// Conflict and ConcurrentPipelineExecutionsLimitExceeded), and
		// it is the one that fits; the message is ours, as AWS documents
		// none.
		if !pl.variables[n] {
			return nil, APIError("ValidationException", fmt.Sprintf("Variable '%s' is not declared in pipeline '%s'", n, name), smithy.FaultClient)
		}
		// Documented: a value is 1 to 1000 characters.
		if val == "" || len(val) > maxPipelineVariable {
			return nil, APIError("ValidationException", fmt.Sprintf("The value of variable '%s' must be 1 to %d characters long", n, maxPipelineVariable), smithy.FaultClient)
		}
		vars[n] = val
	}
	e := &execution{id: c.id("exec"), pipeline: name, status: string(cptypes.PipelineExecutionStatusInProgress), vars: vars, started: c.now}
	c.execs = append(c.execs, e)
	return &codepipeline.StartPipelineExecutionOutput{PipelineExecutionId: aws.String(e.id)}, nil
}

func (p *CodePipeline) ListPipelineExecutions(ctx context.Context, in *codepipeline.ListPipelineExecutionsInput, _ ...func(*codepipeline.Options)) (*codepipeline.ListPipelineExecutionsOutput, error) {
	return serve(p.c, ctx, OpListPipelineExecutions, in, p.listExecutions)
}

func (p *CodePipeline) listExecutions(in *codepipeline.ListPipelineExecutionsInput) (*codepipeline.ListPipelineExecutionsOutput, error) {
	c := p.c
	name := aws.ToString(in.PipelineName)
	if c.pipelines[name] == nil {
		return nil, c.pipelineNotFound(name)
	}
	var out []cptypes.PipelineExecutionSummary
	for i := len(c.execs) - 1; i >= 0; i-- {
		e := c.execs[i]
		if e.pipeline == name {
			out = append(out, cptypes.PipelineExecutionSummary{PipelineExecutionId: aws.String(e.id), Status: cptypes.PipelineExecutionStatus(e.status),
				StartTime: aws.Time(e.started), LastUpdateTime: aws.Time(e.started)})
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

// Execution is a started pipeline execution as tests see it.
type Execution struct {
	ID, Pipeline, Status string
	Variables            map[string]string
}

// Executions lists the started pipeline executions, oldest first.
func (c *Cloud) Executions() []Execution {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Execution
	for _, e := range c.execs {
		vars := make(map[string]string, len(e.vars))
		for k, v := range e.vars {
			vars[k] = v
		}
		out = append(out, Execution{ID: e.id, Pipeline: e.pipeline, Status: e.status, Variables: vars})
	}
	return out
}
