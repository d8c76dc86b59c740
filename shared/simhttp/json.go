package simhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	smithytime "github.com/aws/smithy-go/time"

	"github.com/kaizen-sre/kaizen/shared/alrelease"

	"github.com/kaizen-sre/kaizen/shared/cloud"
)

// CodeBuild and CodePipeline speak awsJson1_1: a POST with X-Amz-Target
// "Service_Version.Operation" and a JSON body with camelCase members. Their
// SDK modules have no schemas, and encoding/json on the SDK types would use
// the PascalCase Go names, so each operation maps its members by hand, after
// the SDK's serializers.go and deserializers.go. Timestamps are epoch
// seconds. Only what kaizen sends and the simulation answers is mapped.

// jsonOp decodes an operation's body, calls the service and returns the
// value to encode.
type jsonOp func(ctx context.Context, body []byte) (any, error)

// jsonOpOf decodes the body into W, the operation's wire form, for call.
func jsonOpOf[W any](call func(context.Context, *W) (any, error)) jsonOp {
	return func(ctx context.Context, body []byte) (any, error) {
		var in W
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &in); err != nil {
				return nil, badRequest("SerializationException", "%v", err)
			}
		}
		return call(ctx, &in)
	}
}

func jsonOps(cb cloud.CodeBuildAPI, cp cloud.CodePipelineAPI, sm alrelease.SSMAPI) map[string]jsonOp {
	return map[string]jsonOp{
		"CodeBuild_20161006.StartBuild":                jsonOpOf(codeBuildAPI{cb}.startBuild),
		"CodeBuild_20161006.ListBuildsForProject":      jsonOpOf(codeBuildAPI{cb}.listBuildsForProject),
		"CodeBuild_20161006.BatchGetBuilds":            jsonOpOf(codeBuildAPI{cb}.batchGetBuilds),
		"CodePipeline_20150709.StartPipelineExecution": jsonOpOf(codePipelineAPI{cp}.startPipelineExecution),
		"CodePipeline_20150709.ListPipelineExecutions": jsonOpOf(codePipelineAPI{cp}.listPipelineExecutions),
		"AmazonSSM.GetParameter":                       jsonOpOf(ssmAPI{sm}.getParameter),
	}
}

// ssmAPI maps Systems Manager's GetParameter (awsJson1_1 too).
type ssmAPI struct{ api alrelease.SSMAPI }

type wireGetParameterIn struct {
	Name           *string `json:"Name"`
	WithDecryption *bool   `json:"WithDecryption"`
}

func (s ssmAPI) getParameter(ctx context.Context, in *wireGetParameterIn) (any, error) {
	out, err := s.api.GetParameter(ctx, &ssm.GetParameterInput{Name: in.Name, WithDecryption: in.WithDecryption})
	if err != nil {
		return nil, err
	}
	p := map[string]any{}
	if out.Parameter != nil {
		p["Name"], p["Value"], p["Type"] = out.Parameter.Name, out.Parameter.Value, string(out.Parameter.Type)
	}
	return map[string]any{"Parameter": p}, nil
}

// serveJSON serves an awsJson1_1 request.
func (s *server) serveJSON(w http.ResponseWriter, r *http.Request, svc string) {
	id := requestID()
	target := r.Header.Get("X-Amz-Target")
	_, op, _ := strings.Cut(target, ".")
	call := s.json[target]
	if call == nil {
		err := badRequest("UnknownOperationException", "simhttp does not serve operation %q of %s", target, svc)
		s.logCall(r.Context(), svc, op, err)
		writeJSONError(w, id, err)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeJSONError(w, id, badRequest("SerializationException", "%v", err))
		return
	}
	out, err := call(r.Context(), body)
	s.logCall(r.Context(), svc, op, err)
	if err != nil {
		writeJSONError(w, id, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeJSONError(w, id, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", id)
	_, _ = w.Write(b)
}

// writeJSONError writes an awsJson error: the code in X-Amzn-ErrorType and
// {"__type": code, "message": ...}.
func writeJSONError(w http.ResponseWriter, id string, err error) {
	we := toWire(err)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", id)
	w.Header().Set("X-Amzn-Errortype", we.code)
	w.WriteHeader(we.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": we.code, "message": we.message})
}

// epoch renders a timestamp as awsJson does: seconds since the epoch, with
// milliseconds.
func epoch(t *time.Time) *float64 {
	if t == nil {
		return nil
	}
	f := smithytime.FormatEpochSeconds(*t)
	return &f
}

type codeBuildAPI struct{ api cloud.CodeBuildAPI }

type envVarWire struct {
	Name  *string `json:"name"`
	Value *string `json:"value"`
	Type  string  `json:"type"`
}

type startBuildWire struct {
	ProjectName                  *string      `json:"projectName"`
	SourceVersion                *string      `json:"sourceVersion"`
	IdempotencyToken             *string      `json:"idempotencyToken"`
	EnvironmentVariablesOverride []envVarWire `json:"environmentVariablesOverride"`
}

type buildWire struct {
	ID            *string     `json:"id,omitempty"`
	Arn           *string     `json:"arn,omitempty"`
	BuildNumber   *int64      `json:"buildNumber,omitempty"`
	ProjectName   *string     `json:"projectName,omitempty"`
	BuildStatus   string      `json:"buildStatus,omitempty"`
	CurrentPhase  *string     `json:"currentPhase,omitempty"`
	BuildComplete bool        `json:"buildComplete"`
	SourceVersion *string     `json:"sourceVersion,omitempty"`
	Initiator     *string     `json:"initiator,omitempty"`
	StartTime     *float64    `json:"startTime,omitempty"`
	EndTime       *float64    `json:"endTime,omitempty"`
	Phases        []phaseWire `json:"phases,omitempty"`
}

type phaseWire struct {
	PhaseType         string   `json:"phaseType,omitempty"`
	PhaseStatus       string   `json:"phaseStatus,omitempty"`
	StartTime         *float64 `json:"startTime,omitempty"`
	EndTime           *float64 `json:"endTime,omitempty"`
	DurationInSeconds *int64   `json:"durationInSeconds,omitempty"`
}

func toBuildWire(b *cbtypes.Build) *buildWire {
	if b == nil {
		return nil
	}
	w := &buildWire{
		ID: b.Id, Arn: b.Arn, BuildNumber: b.BuildNumber, ProjectName: b.ProjectName,
		BuildStatus: string(b.BuildStatus), CurrentPhase: b.CurrentPhase, BuildComplete: b.BuildComplete,
		SourceVersion: b.SourceVersion, Initiator: b.Initiator, StartTime: epoch(b.StartTime), EndTime: epoch(b.EndTime),
	}
	for _, p := range b.Phases {
		w.Phases = append(w.Phases, phaseWire{PhaseType: string(p.PhaseType), PhaseStatus: string(p.PhaseStatus),
			StartTime: epoch(p.StartTime), EndTime: epoch(p.EndTime), DurationInSeconds: p.DurationInSeconds})
	}
	return w
}

func (c codeBuildAPI) startBuild(ctx context.Context, w *startBuildWire) (any, error) {
	in := &codebuild.StartBuildInput{ProjectName: w.ProjectName, SourceVersion: w.SourceVersion, IdempotencyToken: w.IdempotencyToken}
	if w.EnvironmentVariablesOverride != nil {
		in.EnvironmentVariablesOverride = make([]cbtypes.EnvironmentVariable, len(w.EnvironmentVariablesOverride))
		for i, e := range w.EnvironmentVariablesOverride {
			in.EnvironmentVariablesOverride[i] = cbtypes.EnvironmentVariable{Name: e.Name, Value: e.Value, Type: cbtypes.EnvironmentVariableType(e.Type)}
		}
	}
	out, err := c.api.StartBuild(ctx, in)
	if err != nil {
		return nil, err
	}
	return struct {
		Build *buildWire `json:"build,omitempty"`
	}{toBuildWire(out.Build)}, nil
}

type listBuildsForProjectWire struct {
	ProjectName *string `json:"projectName"`
	SortOrder   string  `json:"sortOrder"`
	NextToken   *string `json:"nextToken"`
}

func (c codeBuildAPI) listBuildsForProject(ctx context.Context, w *listBuildsForProjectWire) (any, error) {
	out, err := c.api.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{
		ProjectName: w.ProjectName, SortOrder: cbtypes.SortOrderType(w.SortOrder), NextToken: w.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return struct {
		IDs       []string `json:"ids,omitempty"`
		NextToken *string  `json:"nextToken,omitempty"`
	}{out.Ids, out.NextToken}, nil
}

type batchGetBuildsWire struct {
	IDs []string `json:"ids"`
}

func (c codeBuildAPI) batchGetBuilds(ctx context.Context, w *batchGetBuildsWire) (any, error) {
	out, err := c.api.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: w.IDs})
	if err != nil {
		return nil, err
	}
	var builds []*buildWire
	for i := range out.Builds {
		builds = append(builds, toBuildWire(&out.Builds[i]))
	}
	return struct {
		Builds         []*buildWire `json:"builds,omitempty"`
		BuildsNotFound []string     `json:"buildsNotFound,omitempty"`
	}{builds, out.BuildsNotFound}, nil
}

type codePipelineAPI struct{ api cloud.CodePipelineAPI }

type startPipelineExecutionWire struct {
	Name               *string `json:"name"`
	ClientRequestToken *string `json:"clientRequestToken"`
	Variables          []struct {
		Name  *string `json:"name"`
		Value *string `json:"value"`
	} `json:"variables"`
	SourceRevisions []struct {
		ActionName    *string `json:"actionName"`
		RevisionType  string  `json:"revisionType"`
		RevisionValue *string `json:"revisionValue"`
	} `json:"sourceRevisions"`
}

func (c codePipelineAPI) startPipelineExecution(ctx context.Context, w *startPipelineExecutionWire) (any, error) {
	in := &codepipeline.StartPipelineExecutionInput{Name: w.Name, ClientRequestToken: w.ClientRequestToken}
	if w.Variables != nil {
		in.Variables = make([]cptypes.PipelineVariable, len(w.Variables))
		for i, v := range w.Variables {
			in.Variables[i] = cptypes.PipelineVariable{Name: v.Name, Value: v.Value}
		}
	}
	if w.SourceRevisions != nil {
		in.SourceRevisions = make([]cptypes.SourceRevisionOverride, len(w.SourceRevisions))
		for i, r := range w.SourceRevisions {
			in.SourceRevisions[i] = cptypes.SourceRevisionOverride{
				ActionName: r.ActionName, RevisionType: cptypes.SourceRevisionType(r.RevisionType), RevisionValue: r.RevisionValue,
			}
		}
	}
	out, err := c.api.StartPipelineExecution(ctx, in)
	if err != nil {
		return nil, err
	}
	return struct {
		PipelineExecutionID *string `json:"pipelineExecutionId,omitempty"`
	}{out.PipelineExecutionId}, nil
}

type listPipelineExecutionsWire struct {
	PipelineName *string `json:"pipelineName"`
	MaxResults   *int32  `json:"maxResults"`
	NextToken    *string `json:"nextToken"`
}

type executionSummaryWire struct {
	PipelineExecutionID *string  `json:"pipelineExecutionId,omitempty"`
	Status              string   `json:"status,omitempty"`
	StatusSummary       *string  `json:"statusSummary,omitempty"`
	StartTime           *float64 `json:"startTime,omitempty"`
	LastUpdateTime      *float64 `json:"lastUpdateTime,omitempty"`
	ExecutionMode       string   `json:"executionMode,omitempty"`
	ExecutionType       string   `json:"executionType,omitempty"`
}

func (c codePipelineAPI) listPipelineExecutions(ctx context.Context, w *listPipelineExecutionsWire) (any, error) {
	out, err := c.api.ListPipelineExecutions(ctx, &codepipeline.ListPipelineExecutionsInput{
		PipelineName: w.PipelineName, MaxResults: w.MaxResults, NextToken: w.NextToken,
	})
	if err != nil {
		return nil, err
	}
	var sums []executionSummaryWire
	for _, e := range out.PipelineExecutionSummaries {
		sums = append(sums, executionSummaryWire{
			PipelineExecutionID: e.PipelineExecutionId, Status: string(e.Status), StatusSummary: e.StatusSummary,
			StartTime: epoch(e.StartTime), LastUpdateTime: epoch(e.LastUpdateTime),
			ExecutionMode: string(e.ExecutionMode), ExecutionType: string(e.ExecutionType),
		})
	}
	return struct {
		Summaries []executionSummaryWire `json:"pipelineExecutionSummaries,omitempty"`
		NextToken *string                `json:"nextToken,omitempty"`
	}{sums, out.NextToken}, nil
}
