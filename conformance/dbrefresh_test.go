package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/kaizen-sre/kaizen/internal/rie"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
)

// Where moto 5.2.1's RDS departs from AWS's documentation, and why no
// patch is needed for the refresh:
//
//   - Every DB instance gets the same DbiResourceId, so resource ids cannot
//     tell the old database from the new: the planner follows the names
//     (the record's Old and Renamed) and uses resource ids only as an extra
//     check where they differ.
//   - Copies, restores, renames and deletions finish at once (AWS: minutes
//     to hours, in creating, renaming, deleting): no wait is exercised here
//     (shared/sim's RDS has the delays), and a deleted instance is gone on
//     the next describe.
//   - moto creates an automated snapshot ("rds:<id>-<date>") when an
//     instance with BackupRetentionPeriod is created, as AWS does in the
//     next backup window; CopyDBSnapshot checks that the KMS key exists, as
//     AWS does.

// The whole refresh against moto's RDS through the packaged dbrefresh
// function and the CLI: `kaizen dbrefresh start --dry-run` changes nothing,
// `start` copies production's automated snapshot with staging's key, the
// schedule restores the copy, starts the scrub build, renames the old
// database away and the new one to the target, deletes the old one
// (keepOldHours 0); production is only described and copied from, and
// `kaizen status` and `kaizen history` tell the story.
func TestDBRefreshOnMoto(t *testing.T) {
	t.Parallel()
	rie.Bootstrap(t, "dbrefresh")
	w := newWorld(t, spec{name: "stagedb", region: "ap-south-1", floor: 1, previewSize: 1, bakeMinutes: 0})
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	api := rds.New(rds.Options{Region: w.spec.region, Credentials: creds, BaseEndpoint: aws.String(w.moto)})
	const (
		source = "stagedb-prod-db"
		target = "stagedb-db"
		subnet = "stagedb-db"
		scrub  = "stagedb-db-scrub"
	)
	key := createKey(t, w.moto, w.spec.region)
	_, err := api.CreateDBSubnetGroup(ctx, &rds.CreateDBSubnetGroupInput{DBSubnetGroupName: aws.String(subnet), DBSubnetGroupDescription: aws.String("staging database"), SubnetIds: w.subnets})
	w.must(err, "create the DB subnet group")
	for _, id := range []string{source, target} {
		_, err := api.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"), DBInstanceClass: aws.String("db.t4g.medium"),
			AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("app"), MasterUserPassword: aws.String("not-a-secret-1"),
			DBSubnetGroupName: aws.String(subnet), BackupRetentionPeriod: aws.Int32(1),
		})
		w.must(err, "create DB instance "+id)
	}
	describe := func(id string) *rdstypes.DBInstance {
		t.Helper()
		out, err := api.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
		if err != nil || len(out.DBInstances) == 0 {
			return nil
		}
		return &out.DBInstances[0]
	}
	snaps, err := api.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBInstanceIdentifier: aws.String(source), SnapshotType: aws.String("automated")})
	w.must(err, "describe production's snapshots")
	if len(snaps.DBSnapshots) != 1 {
		t.Fatalf("moto made %d automated snapshots of %s, want 1", len(snaps.DBSnapshots), source)
	}
	prodSnapshot := aws.ToString(snaps.DBSnapshots[0].DBSnapshotIdentifier)
	w.createProject(scrub)
	w.writeConfig(func(app map[string]any) {
		app["dbRefresh"] = map[string]any{
			"source": map[string]any{"dbInstance": source}, "target": target, "subnetGroup": subnet,
			"securityGroupIds": []string{"sg-0123456789abcdef0"}, "instanceClass": "db.t4g.medium",
			"kmsKeyId": key, "onAutomatedSnapshot": true,
			"scrub": map[string]any{"codeBuildProject": scrub}, "keepOldHours": 0,
		}
	})
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		w.patchMoto()
		flags := []string{"--config", w.configPath(), "--endpoint", w.rec.URL(), "--dynamodb-endpoint", w.rec.URL(), "--table", w.table, "--app", w.app.Name}
		return runCLI(t, w.cliEnv(), append(append(append([]string(nil), args[:2]...), flags...), args[2:]...)...)
	}
	state := func() dbrefresh.AppState {
		t.Helper()
		st, err := w.store.LoadRefresh(ctx, w.app.Name)
		w.must(err, "load the refresh state")
		return st
	}
	original := describe(target)

	// A dry run plans the copy and changes nothing.
	mark := w.rec.mark()
	code, out, errs := cli("dbrefresh", "start", "--dry-run", "--by", "conformance")
	if code != 0 || !strings.Contains(out, "would apply: copy snapshot "+prodSnapshot) {
		t.Fatalf("dbrefresh start --dry-run: exit %d\n%s%s", code, out, errs)
	}
	if m := mutations(w.rec.since(mark)); countOp(w.rec.since(mark), "CopyDBSnapshot") != 0 || state().Version != 0 {
		t.Fatalf("the dry run changed something: %s", summary(m))
	}
	code, out, errs = cli("dbrefresh", "start", "--by", "conformance")
	if code != 0 || state().Active == nil || state().Active.State != dbrefresh.Copying {
		t.Fatalf("dbrefresh start: exit %d\n%s%s", code, out, errs)
	}
	r := state().Active
	if r.Source.ID != prodSnapshot {
		t.Fatalf("the refresh restores %s, want production's automated snapshot %s", r.Source.ID, prodSnapshot)
	}

	fn := w.start("dbrefresh")
	schedule := func() []byte {
		return w.event("dbrefresh-schedule.json", time.Now(), []string{"arn:aws:events:" + w.spec.region + ":" + account + ":rule/kaizen-dbrefresh-schedule"}, nil)
	}
	invoke := func(what string, event []byte) {
		t.Helper()
		w.patchMoto()
		mark := w.rec.mark()
		if err := fn.MustInvoke(t, event).Err(); err != nil {
			t.Fatalf("dbrefresh: %s: %v\nmoto errors: %v\nlog:\n%s", what, err, failed(w.rec.since(mark)), fn.Log())
		}
		if bad := failed(w.rec.since(mark)); len(bad) > 0 {
			t.Errorf("dbrefresh: %s: moto answered errors %v\nlog:\n%s", what, bad, fn.Log())
		}
	}
	until := func(what string, done func(dbrefresh.AppState) bool) {
		t.Helper()
		for i := 0; i < 8; i++ {
			if done(state()) {
				return
			}
			invoke("schedule", schedule())
		}
		b, _ := json.Marshal(state())
		t.Fatalf("not %s after 8 ticks: %s\nlog:\n%s", what, b, fn.Log())
	}
	in := func(s dbrefresh.State) func(dbrefresh.AppState) bool {
		return func(st dbrefresh.AppState) bool { return st.Active != nil && st.Active.State == s }
	}
	until("scrubbing", in(dbrefresh.Scrubbing))
	r = state().Active
	builds, err := w.codebuild().ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String(scrub)})
	w.must(err, "list scrub builds")
	if len(builds.Ids) != 1 || builds.Ids[0] != r.Build {
		t.Fatalf("scrub builds %v, want the refresh's %s", builds.Ids, r.Build)
	}
	if d := describe(r.New); d == nil || aws.ToString(d.Endpoint.Address) != r.Endpoint {
		t.Fatalf("restored %s: %+v, want its endpoint %s", r.New, d, r.Endpoint)
	}
	// The scrub build ends: its state change, from the sample event.
	w.finishBuild(r.Build, "SUCCEEDED")
	arn := fmt.Sprintf("arn:aws:codebuild:%s:%s:build/%s", w.spec.region, account, r.Build)
	invoke("scrub succeeded", w.event("dbrefresh-scrub-succeeded.json", time.Now(), []string{arn},
		map[string]any{"project-name": scrub, "build-id": arn, "build-status": "SUCCEEDED"}))
	until("done", func(st dbrefresh.AppState) bool { return st.Active == nil && st.Current != nil })

	now := describe(target)
	if now == nil || !slices.ContainsFunc(now.TagList, func(tg rdstypes.Tag) bool {
		return aws.ToString(tg.Key) == "kaizen:dbrefresh" && aws.ToString(tg.Value) == r.ID
	}) {
		t.Fatalf("the target after the swap is not the restored copy: %+v", now)
	}
	if aws.ToString(now.Endpoint.Address) != aws.ToString(original.Endpoint.Address) {
		t.Errorf("the endpoint changed: %s, was %s", aws.ToString(now.Endpoint.Address), aws.ToString(original.Endpoint.Address))
	}
	if d := describe(target + "-old-" + r.ID); d != nil && aws.ToString(d.DBInstanceStatus) != "deleting" {
		t.Errorf("the old database is %s, want deleted (keepOldHours 0)", aws.ToString(d.DBInstanceStatus))
	}
	if d := describe(r.New); d != nil {
		t.Errorf("%s is still there under its own name", r.New)
	}
	// Production: untouched, its snapshot still there.
	if p := describe(source); p == nil || aws.ToString(p.DBInstanceStatus) != "available" {
		t.Errorf("production's database: %+v", p)
	}
	if out, err := api.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(prodSnapshot)}); err != nil || len(out.DBSnapshots) != 1 {
		t.Errorf("production's snapshot: %v", err)
	}
	if out, err := api.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(r.Copy)}); err == nil && len(out.DBSnapshots) > 0 {
		t.Errorf("the copy %s is left", r.Copy)
	}

	code, status, errs := runCLI(t, w.cliEnv(), "status", "--config", w.configPath(), "--endpoint", w.rec.URL(), "--dynamodb-endpoint", w.rec.URL(), "--table", w.table, "--app", w.app.Name)
	if code != 0 || !strings.Contains(status, "from production snapshot "+prodSnapshot) || !strings.Contains(status, target+" (available)") {
		t.Errorf("kaizen status: exit %d\n%s%s", code, status, errs)
	}
	code, history, errs := runCLI(t, w.cliEnv(), "history", "--config", w.configPath(), "--endpoint", w.rec.URL(), "--dynamodb-endpoint", w.rec.URL(), "--table", w.table, "--app", w.app.Name)
	if code != 0 || !strings.Contains(history, r.ID) || !strings.Contains(history, prodSnapshot) || !strings.Contains(history, " done ") {
		t.Errorf("kaizen history: exit %d\n%s%s", code, history, errs)
	}
	got := strings.Join(w.inbox.subjects(), "\n")
	for _, want := range []string{"database refresh started", "database restored, scrubbing", "staging runs on the refreshed database", "database refresh done"} {
		if !strings.Contains(got, want) {
			t.Errorf("no notification %q reached the subscriber:\n%s", want, got)
		}
	}
	t.Logf("kaizen status:\n%s\nkaizen history:\n%s", status, history)
}

// createKey creates a KMS key in moto (whose CopyDBSnapshot checks that the
// key exists) with one awsJson1_1 call: kaizen itself never calls KMS, so
// the module has no KMS client.
func createKey(t *testing.T, moto, region string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, moto, bytes.NewReader([]byte(`{"Description":"staging database snapshots"}`)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService.CreateKey")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/"+region+"/kms/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("moto KMS CreateKey: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		KeyMetadata struct{ Arn string } `json:"KeyMetadata"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.KeyMetadata.Arn == "" {
		t.Fatalf("moto KMS CreateKey: HTTP %d, %v", resp.StatusCode, err)
	}
	return out.KeyMetadata.Arn
}
