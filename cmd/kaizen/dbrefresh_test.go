package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/internal/testenv"
	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh/awscloud"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/simhttp"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// `kaizen route` with the staging example names dbrefresh for an automated
// snapshot of the configured source, and says why not for a deletion or
// another instance's snapshot.
func TestRouteDBRefresh(t *testing.T) {
	type result struct {
		Function string         `json:"function"`
		Fields   map[string]any `json:"fields"`
		Reason   string         `json:"reason"`
	}
	routeOf := func(args ...string) result {
		t.Helper()
		code, out, errs := kz(t, append([]string{"route"}, args...)...)
		var r result
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("route %v: exit %d %s\n%s", args, code, errs, out)
		}
		return r
	}
	for file, want := range map[string]struct{ fn, reason string }{
		"dbrefresh-snapshot-created.json":         {"dbrefresh", ""},
		"dbrefresh-snapshot-deleted.json":         {"", "RDS-EVENT-0041"},
		"dbrefresh-snapshot-other-instance.json":  {"", "of DB instance billing-db"},
		"dbrefresh-cluster-snapshot-created.json": {"", "of DB cluster reports-aurora"},
		"dbrefresh-scrub-succeeded.json":          {"dbrefresh", ""},
		"dbrefresh-scrub-failed.json":             {"dbrefresh", ""},
		"dbrefresh-schedule.json":                 {"dbrefresh", ""},
		"codebuild-failed.json":                   {"", "does not match"},
		"codebuild-succeeded.json":                {"stage", ""},
	} {
		r := routeOf("--config", demoConfig, "events/"+file)
		if r.Function != want.fn || !strings.Contains(r.Reason, want.reason) {
			t.Errorf("%s: %+v, want %q (%q)", file, r, want.fn, want.reason)
		}
	}
	if r := routeOf("--config", demoConfig, "events/dbrefresh-snapshot-created.json"); !reflect.DeepEqual(r.Fields["apps"], []any{"shop-staging"}) || r.Fields["source"] != "shop-prod-db" {
		t.Errorf("fields %v", r.Fields)
	}
	// The default example refreshes no database: nothing starts, and why.
	if r := routeOf("events/dbrefresh-snapshot-created.json"); r.Function != "" || !strings.Contains(r.Reason, "dbRefresh sources: none") {
		t.Errorf("with examples/kaizen.json: %+v", r)
	}
	if code, _, errs := kz(t, "route", "--config", "nope.json", "events/tick.json"); code != 2 || !strings.Contains(errs, "nope.json") {
		t.Errorf("a missing --config: exit %d %s", code, errs)
	}
}

// The staging example is the example plus its staging app: the first app
// must not drift from examples/kaizen.json's.
func TestStagingExampleExtendsTheExample(t *testing.T) {
	base, err := config.Load("examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	staging, err := config.Load(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(base.Apps[0], staging.Apps[0]) || base.Account != staging.Account || base.Region != staging.Region {
		t.Errorf("%s's first app differs from examples/kaizen.json's", demoConfig)
	}
	if len(staging.Apps) != 2 || staging.Apps[1].DBRefresh == nil || staging.Apps[1].DBRefresh.Source.ID() != "shop-prod-db" {
		t.Errorf("%s: want shop and its staging app with dbRefresh", demoConfig)
	}
}

// The demo's weekend: production's automated snapshot refreshes staging's
// database on Sunday, Monday's image is tried on staging after it.
func TestDemoWeekend(t *testing.T) {
	code, out, errs := kz(t, "demo", "--json")
	var res DemoResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("demo --json: exit %d %s", code, errs)
	}
	var all []string
	for _, s := range res.Weekend {
		all = append(all, s.At.Format("Mon 15:04")+" "+s.Function+" "+strings.Join(s.Changes, "; "))
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{"Sun 01:40 dbrefresh refresh", "→ copying", "→ scrubbing", "rename shop-staging-db to shop-staging-db-old-", "→ keeping_old",
		"Mon 02:41 dbrefresh refresh", "→ done", "Mon 09:00 stage release", "release ami-"} {
		if !strings.Contains(text, want) {
			t.Errorf("the weekend lacks %q:\n%s", want, text)
		}
	}
	if len(res.Refreshes) != 1 || res.Refreshes[0].State != dbrefresh.Done || res.Violations != 0 {
		t.Fatalf("refreshes %+v, %d violations", res.Refreshes, res.Violations)
	}
	// The refresh is done before staging's release starts.
	if last := res.Refreshes[0].EndedAt; !last.Before(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("the refresh ended %s, after Monday's release began", last)
	}
	code, out, _ = kz(t, "demo")
	if code != 0 || !strings.Contains(out, "Sun 01:40") || !strings.Contains(out, "shop-staging database refresh") || !strings.Contains(out, "staging db shop-staging-db: data of rds:shop-prod-db-") {
		t.Errorf("the timeline lacks the weekend:\n%s", out)
	}
}

// The operator commands against the simulated AWS over HTTP and dynalite:
// a dry run plans, `start` starts, the function's steps refresh, and
// `kaizen status --app shop-staging` shows the database's age and source
// snapshot, `kaizen history` the refresh.
func TestDBRefreshCLI(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Load(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	app := &cfg.Apps[1]
	c := sim.New(time.Now().UTC().Add(-3 * time.Hour))
	for i := range cfg.Apps {
		c.SeedApp(&cfg.Apps[i])
		c.SeedDBRefresh(cfg, &cfg.Apps[i])
	}
	srv := httptest.NewServer(simhttp.New(c, simhttp.WithConfig(cfg)))
	defer srv.Close()
	ep, err := testenv.DynamoEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	db := testenv.DynamoClient(ep)
	table := testenv.NewTable(t, db)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "eu-west-1",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"} {
		t.Setenv(k, v)
	}
	st := &store.Dynamo{DB: db, Table: table}
	h := &dbrefresh.Handler{Config: cfg, Store: st, Now: func() time.Time { return time.Now().UTC() }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cloud: &awscloud.Cloud{RDS: c.RDS(), Scrub: c.CodeBuild(), Secrets: c.SecretsManager(), Notifier: awsapi.SNSNotifier{SNS: c.SNS()}}}
	ops := []string{"--config", demoConfig, "--endpoint", srv.URL, "--dynamodb-endpoint", ep, "--table", table, "--app", app.Name}

	code, out, errs := kz(t, append([]string{"dbrefresh", "start", "--dry-run", "--by", "alice"}, ops...)...)
	if code != 0 || !strings.Contains(out, "would apply: copy snapshot rds:shop-prod-db-") {
		t.Fatalf("dbrefresh start --dry-run: exit %d %s\n%s", code, errs, out)
	}
	if s, _ := st.LoadRefresh(ctx, app.Name); s.Version != 0 || c.Mutations()["CopyDBSnapshot"] != 0 {
		t.Fatal("the dry run changed something")
	}
	if code, out, errs = kz(t, append([]string{"dbrefresh", "start", "--by", "alice"}, ops...)...); code != 0 || !strings.Contains(out, "(new) → copying") {
		t.Fatalf("dbrefresh start: exit %d %s\n%s", code, errs, out)
	}
	if code, _, errs = kz(t, append([]string{"dbrefresh", "start", "--by", "bob"}, ops...)...); code != 1 || !strings.Contains(errs, "already in flight") {
		t.Fatalf("a second start: exit %d %s", code, errs)
	}
	mk := route.Maker{Account: cfg.Account, Region: cfg.Region, Next: func() string { return time.Now().Format("150405.000000000") }}
	for i := 0; i < 30; i++ {
		s, _ := st.LoadRefresh(ctx, app.Name)
		if s.Active == nil {
			break
		}
		if s.Active.State == dbrefresh.Scrubbing && s.Active.Build != "" {
			c.FinishBuild(s.Active.Build, "SUCCEEDED")
		}
		c.Advance(5 * time.Minute)
		if _, err := h.Handle(ctx, mk.Schedule("kaizen-dbrefresh-schedule", time.Now())); err != nil {
			t.Fatal(err)
		}
		if s, _ := st.LoadRefresh(ctx, app.Name); s.Active != nil && s.Active.State == dbrefresh.KeepingOld && s.Active.KeepOldUntil.After(time.Now()) {
			// The old database is kept a day: the test does not wait.
			s.Active.KeepOldUntil = time.Now().UTC()
			if err := st.SaveRefresh(ctx, &s); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, _ := st.LoadRefresh(ctx, app.Name)
	if s.Active != nil || s.Current == nil {
		t.Fatalf("the refresh did not finish: %+v", s.Active)
	}
	code, out, errs = kz(t, append([]string{"status"}, ops...)...)
	if code != 0 || !strings.Contains(out, "database  shop-staging-db (available)") || !strings.Contains(out, "from production snapshot "+s.Current.Snapshot) ||
		!strings.Contains(out, "old (refreshed") {
		t.Fatalf("status: exit %d %s\n%s", code, errs, out)
	}
	code, out, errs = kz(t, append([]string{"status", "--json"}, ops...)...)
	var statuses []AppStatus
	if code != 0 || json.Unmarshal([]byte(out), &statuses) != nil || statuses[0].Database == nil || statuses[0].Database.Age == "" ||
		statuses[0].Database.Current.Snapshot != s.Current.Snapshot {
		t.Fatalf("status --json: exit %d %s\n%s", code, errs, out)
	}
	code, out, errs = kz(t, append([]string{"history"}, ops...)...)
	if code != 0 || !strings.Contains(out, s.Current.Refresh) || !strings.Contains(out, s.Current.Snapshot) || !strings.Contains(out, "started by alice") && !strings.Contains(out, " done ") {
		t.Fatalf("history: exit %d %s\n%s", code, errs, out)
	}
	code, out, errs = kz(t, append([]string{"dbrefresh", "history", "--json"}, ops...)...)
	var hist map[string][]dbrefresh.Refresh
	if code != 0 || json.Unmarshal([]byte(out), &hist) != nil || len(hist[app.Name]) != 1 || hist[app.Name][0].State != dbrefresh.Done {
		t.Fatalf("dbrefresh history --json: exit %d %s\n%s", code, errs, out)
	}
	if code, _, errs = kz(t, append([]string{"dbrefresh", "abort", "--by", "alice"}, ops...)...); code != 1 || !strings.Contains(errs, "no refresh in flight") {
		t.Fatalf("abort with nothing in flight: exit %d %s", code, errs)
	}
}

// The README's refresh diagram is the planner's table.
func TestDBRefreshStatesInREADME(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- dbrefresh-states:begin -->\n", "<!-- dbrefresh-states:end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q block", strings.TrimSpace(begin), end)
	}
	code, out, errs := kz(t, "dbrefresh", "states")
	if code != 0 {
		t.Fatalf("kaizen dbrefresh states: exit %d, %s", code, errs)
	}
	if got, want := s[i+len(begin):j], "```mermaid\n"+out+"```\n"; got != want {
		t.Fatalf("README.md's refresh diagram differs from the table; replace it with `go run ./cmd/kaizen dbrefresh states`\nREADME:\n%s\ntable:\n%s", got, want)
	}
}

func TestConfigCheckShowsTheRefresh(t *testing.T) {
	code, out, errs := kz(t, "config", "check", "--config", demoConfig)
	if code != 0 || !strings.Contains(out, "shop-staging: database shop-staging-db refreshed from instance shop-prod-db (account 111122223333, automated snapshots), scrubbed by shop-staging-db-scrub, swapped by rename;") ||
		strings.Contains(out, "warning") {
		t.Fatalf("exit %d %s\n%s", code, errs, out)
	}
}
