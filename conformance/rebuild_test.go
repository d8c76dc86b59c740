package conformance

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kaizen-sre/kaizen/internal/rie"
)

// A new value of the app's secret, written through moto's Secrets Manager,
// starts one golden-image build in moto's CodeBuild through the packaged
// secretchange function; a second change while that build runs starts no
// second build but records a pending rebuild; a replayed event does
// nothing; once the build has ended, the next change starts a new one.
func TestSecretRebuildOnMoto(t *testing.T) {
	t.Parallel()
	rie.Bootstrap(t, "secretchange")
	w := newWorld(t, spec{name: "vault", region: "eu-central-1", floor: 1, previewSize: 1, bakeMinutes: 0})
	ctx := context.Background()
	sm := secretsmanager.New(secretsmanager.Options{Region: w.spec.region, Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(w.moto)})
	sec, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("vault/production"), SecretString: aws.String(`{"DB_PASSWORD":"one"}`)})
	w.must(err, "create secret")
	arn := aws.ToString(sec.ARN)
	w.writeConfig(func(app map[string]any) { app["secret"] = arn })
	w.createProject(w.app.Rebuild.CodeBuildProject)
	fn := w.start("secretchange")

	change := func(value string) []byte {
		t.Helper()
		put, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(value)})
		w.must(err, "put secret value")
		return w.event("secret-put-value.json", time.Now(), []string{}, map[string]any{
			"awsRegion":         w.spec.region,
			"requestParameters": map[string]any{"secretId": arn, "clientRequestToken": "conformance-" + aws.ToString(put.VersionId)},
			"responseElements":  map[string]any{"arn": arn, "versionId": aws.ToString(put.VersionId)},
		})
	}
	builds := func() []string {
		t.Helper()
		out, err := w.codebuild().ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String(w.app.Rebuild.CodeBuildProject)})
		w.must(err, "list builds")
		return out.Ids
	}

	first := change(`{"DB_PASSWORD":"two"}`)
	s := w.send(fn, "secret changed", first)
	if m := s.mutations(); len(builds()) != 1 || countOp(s.calls, "StartBuild") != 1 || m["Publish"] != 1 {
		t.Fatalf("a secret change must start one build and notify once; moto lists builds %v, calls %s", builds(), summary(m))
	}
	build := builds()[0]

	// While the build runs (fidelity patch 3), a second change waits.
	s = w.send(fn, "secret changed again while the build runs", change(`{"DB_PASSWORD":"three"}`))
	if n := countOp(s.calls, "StartBuild"); n != 0 || len(builds()) != 1 {
		t.Errorf("a change during a running build started %d build(s) (moto lists %v)", n, builds())
	}
	if countOp(s.calls, "BatchGetBuilds") == 0 {
		t.Errorf("secretchange did not ask CodeBuild whether a build runs: %v", s.calls)
	}
	if reason, _, err := w.store.Pending(ctx, w.app.Name); err != nil || !strings.Contains(reason, arn) {
		t.Errorf("no pending rebuild recorded for the change during the build: %q, %v", reason, err)
	}

	if s := w.send(fn, "the first event again", first); countOp(s.calls, "StartBuild") != 0 || s.mutations()["Publish"] != 0 {
		t.Errorf("a replayed event started a build or notified: %s", summary(s.mutations()))
	}

	w.finishBuild(build, "SUCCEEDED")
	s = w.send(fn, "secret changed after the build ended", change(`{"DB_PASSWORD":"four"}`))
	if n := countOp(s.calls, "StartBuild"); n != 1 || len(builds()) != 2 {
		t.Errorf("a change after the build ended started %d build(s) (moto lists %v), want 1", n, builds())
	}

	got := strings.Join(w.inbox.subjects(), "\n")
	for _, want := range []string{"kaizen vault: secret changed, image rebuild started", "kaizen vault: secret changed while a build runs, rebuild follows"} {
		if !strings.Contains(got, want) {
			t.Errorf("no notification %q reached the subscriber:\n%s", want, got)
		}
	}
}

func countOp(calls []apiCall, op string) int {
	n := 0
	for _, c := range calls {
		if c.Op == op && c.Status < 300 {
			n++
		}
	}
	return n
}

// codebuild is a CodeBuild client for moto behind the recorder, so the
// CodeBuild fidelity patches apply to the test's reads too.
func (w *world) codebuild() *codebuild.Client {
	return codebuild.New(codebuild.Options{Region: w.spec.region, Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(w.rec.URL())})
}

// createProject creates the golden-image CodeBuild project in moto.
func (w *world) createProject(name string) {
	w.t.Helper()
	_, err := w.codebuild().CreateProject(w.ctx, &codebuild.CreateProjectInput{
		Name:        aws.String(name),
		Source:      &cbtypes.ProjectSource{Type: cbtypes.SourceTypeS3, Location: aws.String("kaizen-golden-image/source.zip")},
		Artifacts:   &cbtypes.ProjectArtifacts{Type: cbtypes.ArtifactsTypeNoArtifacts},
		Environment: &cbtypes.ProjectEnvironment{Type: cbtypes.EnvironmentTypeLinuxContainer, Image: aws.String("aws/codebuild/amazonlinux2-x86_64-standard:5.0"), ComputeType: cbtypes.ComputeTypeBuildGeneral1Small},
		ServiceRole: aws.String("arn:aws:iam::" + account + ":role/codebuild"),
	})
	w.must(err, "create CodeBuild project "+name)
}
