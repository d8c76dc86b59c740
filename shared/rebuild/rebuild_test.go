package rebuild_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func codeBuildApp() *config.App {
	return &config.App{Name: "web", Rebuild: config.Rebuild{CodeBuildProject: "web-image"}}
}

func pipelineApp() *config.App {
	return &config.App{Name: "web", Rebuild: config.Rebuild{Pipeline: "web-image", PipelineVariable: "ADVISORIES"}}
}

// seeded is a simulated account with the apps' projects and pipelines,
// which CodeBuild and CodePipeline need to exist.
func seeded(apps ...*config.App) *sim.Cloud {
	c := sim.New(t0)
	for _, app := range apps {
		c.SeedServices(app)
	}
	return c
}

func env(kv ...string) []cbtypes.EnvironmentVariable {
	var out []cbtypes.EnvironmentVariable
	for i := 0; i < len(kv); i += 2 {
		out = append(out, cbtypes.EnvironmentVariable{Name: aws.String(kv[i]), Value: aws.String(kv[i+1]), Type: cbtypes.EnvironmentVariableTypePlaintext})
	}
	return out
}

// calls returns the recorded inputs of op.
func calls[T any](c *sim.Cloud, op string) []T {
	var out []T
	for _, call := range c.Calls() {
		if call.Op == op {
			out = append(out, call.Input.(T))
		}
	}
	return out
}

func TestCodeBuildStart(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		start   func(b *rebuild.Builder, app *config.App) (string, error)
		wantEnv []cbtypes.EnvironmentVariable
		token   string
	}{
		{
			name: "advisories",
			start: func(b *rebuild.Builder, app *config.App) (string, error) {
				return b.Start(ctx, app, []string{"ALAS2-2025-3025", "ALAS2-2024-2680", "ALAS2-2025-3025"}, "")
			},
			wantEnv: env(rebuild.EnvAdvisories, "ALAS2-2024-2680,ALAS2-2025-3025", rebuild.EnvReason, "kaizen alaspoll: 2 Amazon Linux security advisories"),
			token:   rebuild.Token("web", "", []string{"ALAS2-2024-2680", "ALAS2-2025-3025"}, ""),
		},
		{
			name: "one advisory with an AL2023 release",
			start: func(b *rebuild.Builder, app *config.App) (string, error) {
				return b.Start(ctx, app, []string{"ALAS2023-2024-771"}, "2023.6.20241111")
			},
			wantEnv: env(rebuild.EnvAdvisories, "ALAS2023-2024-771", rebuild.EnvReleaseVersion, "2023.6.20241111",
				rebuild.EnvReason, "kaizen alaspoll: 1 Amazon Linux security advisory"),
			token: rebuild.Token("web", "", []string{"ALAS2023-2024-771"}, "2023.6.20241111"),
		},
		{
			name: "secret",
			start: func(b *rebuild.Builder, app *config.App) (string, error) {
				return b.StartForSecret(ctx, app, "secret shop/production changed by PutSecretValue", "3c4d5e6f-7081-4293-a4b5-c6d7e8f9a001")
			},
			wantEnv: env(rebuild.EnvReason, "secret shop/production changed by PutSecretValue"),
			token:   rebuild.Token("web", "3c4d5e6f-7081-4293-a4b5-c6d7e8f9a001", nil, ""),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := seeded(codeBuildApp())
			b := &rebuild.Builder{CodeBuild: c.CodeBuild()}
			id, err := tc.start(b, codeBuildApp())
			if err != nil {
				t.Fatal(err)
			}
			in := calls[*codebuild.StartBuildInput](c, "StartBuild")
			if len(in) != 1 {
				t.Fatalf("%d StartBuild calls, want 1", len(in))
			}
			want := &codebuild.StartBuildInput{ProjectName: aws.String("web-image"), IdempotencyToken: aws.String(tc.token), EnvironmentVariablesOverride: tc.wantEnv}
			if !reflect.DeepEqual(in[0], want) {
				t.Fatalf("StartBuild input:\n got %s\nwant %s", show(in[0]), show(want))
			}
			if bs := c.Builds(); len(bs) != 1 || bs[0].ID != id || bs[0].Status != "IN_PROGRESS" {
				t.Fatalf("builds = %+v, started %q", bs, id)
			}
		})
	}
}

func show(in *codebuild.StartBuildInput) string {
	var b strings.Builder
	fmt.Fprintf(&b, "project=%s token=%s", aws.ToString(in.ProjectName), aws.ToString(in.IdempotencyToken))
	for _, v := range in.EnvironmentVariablesOverride {
		fmt.Fprintf(&b, " %s=%q(%s)", aws.ToString(v.Name), aws.ToString(v.Value), v.Type)
	}
	return b.String()
}

func TestToken(t *testing.T) {
	a := rebuild.Token("web", "", []string{"B", "A", "A"}, "")
	if a != rebuild.Token("web", "", []string{"A", "B"}, "") {
		t.Error("token depends on the order or duplicates of ids")
	}
	for name, other := range map[string]string{
		"other app":     rebuild.Token("api", "", []string{"A", "B"}, ""),
		"other ids":     rebuild.Token("web", "", []string{"A"}, ""),
		"other release": rebuild.Token("web", "", []string{"A", "B"}, "2023.6.20241111"),
		"caller token":  rebuild.Token("web", "A,B", nil, ""),
	} {
		if other == a {
			t.Errorf("%s gives the same token", name)
		}
	}
	if len(a) != 40 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("token %q: want 40 lower-case hex characters (CodePipeline allows [A-Za-z0-9-]{1,128})", a)
	}
}

func TestCodeBuildRunning(t *testing.T) {
	ctx := context.Background()
	app := codeBuildApp()
	other := &config.App{Name: "api", Rebuild: config.Rebuild{CodeBuildProject: "api-image"}}
	c := seeded(app, other)
	b := &rebuild.Builder{CodeBuild: c.CodeBuild()}
	if running, err := b.Running(ctx, app); running || err != nil {
		t.Fatalf("no builds: Running = %v, %v", running, err)
	}
	if n := len(calls[*codebuild.BatchGetBuildsInput](c, "BatchGetBuilds")); n != 0 {
		t.Errorf("a project without builds cost %d BatchGetBuilds calls, want 0", n)
	}
	if _, err := b.StartForSecret(ctx, other, "x", "e1"); err != nil {
		t.Fatal(err)
	}
	if running, _ := b.Running(ctx, app); running {
		t.Fatal("another project's build counts as running")
	}
	first, err := b.Start(ctx, app, []string{"ALAS2-2025-3025"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if running, err := b.Running(ctx, app); !running || err != nil {
		t.Fatalf("build in progress: Running = %v, %v", running, err)
	}
	c.FinishBuild(first, "SUCCEEDED")
	if running, _ := b.Running(ctx, app); running {
		t.Fatal("finished build counts as running")
	}
	// Seven finished builds after the first: Running looks at the five newest.
	var ids []string
	for i := range 7 {
		id, err := b.StartForSecret(ctx, app, "x", fmt.Sprint("e", i))
		if err != nil {
			t.Fatal(err)
		}
		c.FinishBuild(id, "FAILED")
		ids = append(ids, id)
	}
	c.Reset()
	if running, _ := b.Running(ctx, app); running {
		t.Fatal("failed builds count as running")
	}
	got := calls[*codebuild.BatchGetBuildsInput](c, "BatchGetBuilds")
	want := []string{ids[6], ids[5], ids[4], ids[3], ids[2]}
	if len(got) != 1 || !reflect.DeepEqual(got[0].Ids, want) {
		t.Fatalf("BatchGetBuilds inputs = %+v, want the five newest ids %v", got, want)
	}
	lists := calls[*codebuild.ListBuildsForProjectInput](c, "ListBuildsForProject")
	if len(lists) != 1 || aws.ToString(lists[0].ProjectName) != "web-image" || lists[0].SortOrder != "" {
		t.Fatalf("ListBuildsForProject inputs = %+v; want project web-image and no sortOrder", lists)
	}
}

func TestPipelineStart(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		start func(b *rebuild.Builder, app *config.App) (string, error)
		vars  []cptypes.PipelineVariable
		token string
	}{
		{
			name: "advisories",
			start: func(b *rebuild.Builder, app *config.App) (string, error) {
				return b.Start(ctx, app, []string{"ALAS2-2025-3025", "ALAS2-2024-2680"}, "")
			},
			vars:  []cptypes.PipelineVariable{{Name: aws.String("ADVISORIES"), Value: aws.String("ALAS2-2024-2680,ALAS2-2025-3025")}},
			token: rebuild.Token("web", "", []string{"ALAS2-2024-2680", "ALAS2-2025-3025"}, ""),
		},
		{
			name: "AL2023 release",
			start: func(b *rebuild.Builder, app *config.App) (string, error) {
				return b.Start(ctx, app, []string{"ALAS2023-2024-771"}, "2023.6.20241111")
			},
			vars: []cptypes.PipelineVariable{
				{Name: aws.String("ADVISORIES"), Value: aws.String("ALAS2023-2024-771")},
				{Name: aws.String(rebuild.EnvReleaseVersion), Value: aws.String("2023.6.20241111")},
			},
			token: rebuild.Token("web", "", []string{"ALAS2023-2024-771"}, "2023.6.20241111"),
		},
		{
			name: "secret",
			start: func(b *rebuild.Builder, app *config.App) (string, error) {
				return b.StartForSecret(ctx, app, "secret changed", "evt-1")
			},
			token: rebuild.Token("web", "evt-1", nil, ""),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := pipelineApp()
			other := &config.App{Name: "api", Rebuild: config.Rebuild{Pipeline: "api-image"}}
			c := seeded(app, other)
			b := &rebuild.Builder{CodePipeline: c.CodePipeline()}
			id, err := tc.start(b, app)
			if err != nil || id == "" {
				t.Fatalf("start = %q, %v", id, err)
			}
			in := calls[*codepipeline.StartPipelineExecutionInput](c, "StartPipelineExecution")
			want := &codepipeline.StartPipelineExecutionInput{Name: aws.String("web-image"), ClientRequestToken: aws.String(tc.token), Variables: tc.vars}
			if len(in) != 1 || !reflect.DeepEqual(in[0], want) {
				t.Fatalf("StartPipelineExecution inputs = %+v, want %+v", in, want)
			}
			if running, err := b.Running(ctx, app); !running || err != nil {
				t.Fatalf("Running after start = %v, %v", running, err)
			}
			if running, err := b.Running(ctx, other); running || err != nil {
				t.Fatalf("another pipeline: Running = %v, %v; want its own, idle pipeline", running, err)
			}
			lists := calls[*codepipeline.ListPipelineExecutionsInput](c, "ListPipelineExecutions")
			if aws.ToString(lists[0].PipelineName) != "web-image" || aws.ToInt32(lists[0].MaxResults) != 10 {
				t.Fatalf("ListPipelineExecutions input = %+v", lists[0])
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	c := seeded(codeBuildApp(), pipelineApp())
	b := &rebuild.Builder{CodeBuild: c.CodeBuild(), CodePipeline: c.CodePipeline()}

	c.Fail(sim.OpStartBuild, sim.Throttle(), 1)
	if _, err := b.Start(ctx, codeBuildApp(), []string{"ALAS2-2025-3025"}, ""); err == nil || !strings.Contains(err.Error(), "start build of project web-image") || !strings.Contains(err.Error(), "Rate exceeded") {
		t.Errorf("StartBuild fault: %v", err)
	}
	c.Fail(sim.OpListBuildsForProject, sim.ServerError(), 1)
	if _, err := b.Running(ctx, codeBuildApp()); err == nil || !strings.Contains(err.Error(), "list builds of project web-image") {
		t.Errorf("ListBuildsForProject fault: %v", err)
	}

	// CodePipeline variables stop at 1000 characters: fail rather than
	// cut the list (cut ids would be marked rebuilt without being built).
	var many []string
	for i := range 70 {
		many = append(many, fmt.Sprintf("ALAS2-2024-%04d", i))
	}
	c.Reset()
	if _, err := b.Start(ctx, pipelineApp(), many, ""); err == nil || !strings.Contains(err.Error(), "1000-character") {
		t.Errorf("long variable: %v", err)
	}
	if n := len(c.Calls()); n != 0 {
		t.Errorf("a refused start made %d calls", n)
	}

	if _, err := b.Start(ctx, codeBuildApp(), nil, ""); err == nil {
		t.Error("Start without advisories succeeded")
	}
	if _, err := b.StartForSecret(ctx, codeBuildApp(), "x", ""); err == nil {
		t.Error("StartForSecret without a token succeeded")
	}
	if _, err := (&rebuild.Builder{}).Start(ctx, codeBuildApp(), []string{"A"}, ""); err == nil || !strings.Contains(err.Error(), "no CodeBuild client") {
		t.Errorf("no client: %v", err)
	}
	if _, err := b.Running(ctx, &config.App{Name: "x"}); err == nil || !strings.Contains(err.Error(), "codeBuildProject or pipeline") {
		t.Errorf("no rebuild target: %v", err)
	}
}
