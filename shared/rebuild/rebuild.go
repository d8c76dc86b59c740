// Package rebuild starts golden-image builds: the CodeBuild project or the
// CodePipeline pipeline that an app's config.Rebuild names.
//
// The package owns the two ports builds are started through: Rebuilder,
// which the ALAS poller starts advisory builds with, and SecretRebuilder,
// which the secret-change function bakes a changed secret with. Builder is
// the adapter over the two services and implements both. Every start
// carries an idempotency token (CodeBuild idempotencyToken, CodePipeline
// clientRequestToken) derived from what the build is for, so a retried or
// duplicated call within the services' idempotency window returns the same
// build instead of a second one.
//
// Once wraps any Rebuilder so that overlapping polls of one app start
// at most one build: the first to claim the app's start slot (a conditional
// write, see Claims) starts the build, the others wait for it and report its
// id.
//
// # What a build receives
//
// CodeBuild gets plaintext environment variable overrides:
//
//	SECURITY_ADVISORIES     advisory ids, comma separated, sorted (advisory builds only)
//	AL2023_RELEASE_VERSION  the Amazon Linux 2023 release to upgrade to, when known
//	KAIZEN_REASON           why kaizen started the build, for people reading the build
//
// A pipeline gets the advisory ids in its variable config.Rebuild.PipelineVariable
// and the release version in a variable named AL2023_RELEASE_VERSION (the
// pipeline must declare it; only Amazon Linux 2023 apps send it). Pipeline
// variables must be declared by the pipeline, so the reason is not passed to
// a pipeline, and a secret rebuild starts the pipeline without variables.
package rebuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
)

// Names of the variables a build receives.
const (
	EnvAdvisories     = "SECURITY_ADVISORIES"
	EnvReleaseVersion = "AL2023_RELEASE_VERSION"
	EnvReason         = "KAIZEN_REASON"
)

// BuildVariables are every environment variable StartRequest may override
// on a CodeBuild build: the project must accept them, and nothing else.
var BuildVariables = []string{EnvAdvisories, EnvReleaseVersion, EnvReason}

// PipelineVariables are every pipeline variable StartRequest may set on an
// execution of app's pipeline, which must declare each of them.
func PipelineVariables(app *config.App) []string {
	name := app.Rebuild.PipelineVariable
	if name == "" {
		name = EnvAdvisories
	}
	return []string{name, EnvReleaseVersion}
}

const (
	// recentBuilds is how many of a project's newest builds Running looks
	// at: a golden-image project runs one build at a time, so an
	// in-progress build is always among the newest.
	recentBuilds = 5
	// recentExecutions is the same for pipeline executions.
	recentExecutions = 10
	// maxPipelineVariable is CodePipeline's limit on a variable's value.
	maxPipelineVariable = 1000
	// maxReason bounds KAIZEN_REASON.
	maxReason = 512
)

// Rebuilder starts golden-image builds that apply security advisories, and
// tells whether one runs: the port of the ALAS poller (alas.Poller).
type Rebuilder interface {
	// Running reports whether a golden-image build for the app is in progress.
	Running(ctx context.Context, app *config.App) (bool, error)
	// Start starts a build that applies advisories (for example with
	// `yum update -y --advisory=<ID>` per ID). releaseVersion is set for
	// Amazon Linux 2023 only; see alas.Poller.ReleaseVersion.
	Start(ctx context.Context, app *config.App, advisories []string, releaseVersion string) (buildID string, err error)
}

// SecretRebuilder starts the golden-image build that bakes an app's changed
// secret into a new image, and tells whether one runs: the port of the
// secret-change function (secretchange.Handler).
type SecretRebuilder interface {
	Running(ctx context.Context, app *config.App) (bool, error)
	// StartForSecret starts a build; token (the event id) makes a
	// repeated start within the service's window return the same build.
	StartForSecret(ctx context.Context, app *config.App, reason, token string) (buildID string, err error)
}

// Builder starts and observes golden-image builds. Only the client the
// app's config.Rebuild needs must be set.
type Builder struct {
	CodeBuild    awsapi.CodeBuildAPI
	CodePipeline awsapi.CodePipelineAPI
}

var (
	_ Rebuilder       = (*Builder)(nil)
	_ SecretRebuilder = (*Builder)(nil)
)

// Request is one build start.
type Request struct {
	// Advisories are the ALAS ids the build applies; empty for a build
	// that only re-bakes (a secret change).
	Advisories []string
	// ReleaseVersion is the Amazon Linux 2023 release, if any.
	ReleaseVersion string
	// Reason says why, for people reading the build.
	Reason string
	// Token makes the start idempotent: the same app and Token give the
	// same service token. Empty: derived from Advisories and
	// ReleaseVersion.
	Token string
}

// Running reports whether a golden-image build of app is in progress: one
// of the project's newest builds is IN_PROGRESS, or one of the pipeline's
// newest executions is InProgress.
func (b *Builder) Running(ctx context.Context, app *config.App) (bool, error) {
	switch {
	case app.Rebuild.CodeBuildProject != "":
		if b.CodeBuild == nil {
			return false, errNoClient("CodeBuild")
		}
		project := app.Rebuild.CodeBuildProject
		// No sortOrder: the default is newest first, and setting it fails
		// for projects with more than 100 builds.
		list, err := b.CodeBuild.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String(project)})
		if err != nil {
			return false, fmt.Errorf("list builds of project %s: %w", project, err)
		}
		ids := list.Ids
		if len(ids) == 0 {
			return false, nil
		}
		if len(ids) > recentBuilds {
			ids = ids[:recentBuilds]
		}
		got, err := b.CodeBuild.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: ids})
		if err != nil {
			return false, fmt.Errorf("get builds of project %s: %w", project, err)
		}
		for _, bd := range got.Builds {
			if bd.BuildStatus == cbtypes.StatusTypeInProgress {
				return true, nil
			}
		}
		return false, nil
	case app.Rebuild.Pipeline != "":
		if b.CodePipeline == nil {
			return false, errNoClient("CodePipeline")
		}
		p := app.Rebuild.Pipeline
		out, err := b.CodePipeline.ListPipelineExecutions(ctx, &codepipeline.ListPipelineExecutionsInput{
			PipelineName: aws.String(p), MaxResults: aws.Int32(recentExecutions),
		})
		if err != nil {
			return false, fmt.Errorf("list executions of pipeline %s: %w", p, err)
		}
		for _, e := range out.PipelineExecutionSummaries {
			if e.Status == cptypes.PipelineExecutionStatusInProgress {
				return true, nil
			}
		}
		return false, nil
	}
	return false, errNoTarget
}

// Start implements Rebuilder: a build that applies advisories.
func (b *Builder) Start(ctx context.Context, app *config.App, advisories []string, releaseVersion string) (string, error) {
	ids := slices.Clone(advisories)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return "", errors.New("rebuild: no advisories to build")
	}
	noun := "advisories"
	if len(ids) == 1 {
		noun = "advisory"
	}
	return b.StartRequest(ctx, app, Request{
		Advisories:     ids,
		ReleaseVersion: releaseVersion,
		Reason:         fmt.Sprintf("kaizen alaspoll: %d Amazon Linux security %s", len(ids), noun),
	})
}

// StartForSecret implements SecretRebuilder: a build that bakes the app's
// changed secret into a new image. token (for example the event id) makes
// the start idempotent.
func (b *Builder) StartForSecret(ctx context.Context, app *config.App, reason, token string) (string, error) {
	if token == "" {
		return "", errors.New("rebuild: a secret rebuild needs an idempotency token")
	}
	return b.StartRequest(ctx, app, Request{Reason: reason, Token: token})
}

// StartRequest starts one build of app and returns its id (CodeBuild build
// id or pipeline execution id).
func (b *Builder) StartRequest(ctx context.Context, app *config.App, r Request) (string, error) {
	ids := slices.Clone(r.Advisories)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	tok := Token(app.Name, r.Token, ids, r.ReleaseVersion)
	reason := r.Reason
	if len(reason) > maxReason {
		reason = reason[:maxReason-3] + "..."
	}
	switch {
	case app.Rebuild.CodeBuildProject != "":
		if b.CodeBuild == nil {
			return "", errNoClient("CodeBuild")
		}
		project := app.Rebuild.CodeBuildProject
		var env []cbtypes.EnvironmentVariable
		add := func(name, value string) {
			env = append(env, cbtypes.EnvironmentVariable{Name: aws.String(name), Value: aws.String(value), Type: cbtypes.EnvironmentVariableTypePlaintext})
		}
		if len(ids) > 0 {
			add(EnvAdvisories, strings.Join(ids, ","))
		}
		if r.ReleaseVersion != "" {
			add(EnvReleaseVersion, r.ReleaseVersion)
		}
		if reason != "" {
			add(EnvReason, reason)
		}
		out, err := b.CodeBuild.StartBuild(ctx, &codebuild.StartBuildInput{
			ProjectName:                  aws.String(project),
			IdempotencyToken:             aws.String(tok),
			EnvironmentVariablesOverride: env,
		})
		if err != nil {
			return "", fmt.Errorf("start build of project %s: %w", project, err)
		}
		if out.Build == nil || aws.ToString(out.Build.Id) == "" {
			return "", fmt.Errorf("start build of project %s: CodeBuild returned no build id", project)
		}
		return aws.ToString(out.Build.Id), nil
	case app.Rebuild.Pipeline != "":
		if b.CodePipeline == nil {
			return "", errNoClient("CodePipeline")
		}
		p := app.Rebuild.Pipeline
		in := &codepipeline.StartPipelineExecutionInput{Name: aws.String(p), ClientRequestToken: aws.String(tok)}
		if len(ids) > 0 {
			v := strings.Join(ids, ",")
			if len(v) > maxPipelineVariable {
				// Cutting the list would mark advisories rebuilt that the
				// build never saw; failing keeps them pending and says why.
				return "", fmt.Errorf("start pipeline %s: %d advisory ids need %d characters, over CodePipeline's %d-character variable limit; set the poller's MaxAge or build with CodeBuild",
					p, len(ids), len(v), maxPipelineVariable)
			}
			name := app.Rebuild.PipelineVariable
			if name == "" {
				name = EnvAdvisories
			}
			in.Variables = append(in.Variables, cptypes.PipelineVariable{Name: aws.String(name), Value: aws.String(v)})
		}
		if r.ReleaseVersion != "" {
			in.Variables = append(in.Variables, cptypes.PipelineVariable{Name: aws.String(EnvReleaseVersion), Value: aws.String(r.ReleaseVersion)})
		}
		out, err := b.CodePipeline.StartPipelineExecution(ctx, in)
		if err != nil {
			return "", fmt.Errorf("start pipeline %s: %w", p, err)
		}
		if aws.ToString(out.PipelineExecutionId) == "" {
			return "", fmt.Errorf("start pipeline %s: CodePipeline returned no execution id", p)
		}
		return aws.ToString(out.PipelineExecutionId), nil
	}
	return "", errNoTarget
}

// Token is the idempotency token of a start: 40 hex characters (CodeBuild
// takes any string; CodePipeline wants [A-Za-z0-9-]{1,128}). With a caller
// token it depends on app and token only; without, on app, the sorted
// advisory ids and the release version.
func Token(app, token string, advisories []string, releaseVersion string) string {
	h := sha256.New()
	part := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	part("kaizen-rebuild-v1")
	part(app)
	if token != "" {
		part("token")
		part(token)
	} else {
		ids := slices.Clone(advisories)
		slices.Sort(ids)
		part("advisories")
		for _, id := range slices.Compact(ids) {
			part(id)
		}
		part("release")
		part(releaseVersion)
	}
	return hex.EncodeToString(h.Sum(nil))[:40]
}

// Builder's errors say what failed, on which project or pipeline, but not
// for which app: the caller knows that, and says it once.

var errNoTarget = errors.New("rebuild: no target: set codeBuildProject or pipeline")

func errNoClient(service string) error {
	return errors.New("rebuild: no " + service + " client wired")
}
