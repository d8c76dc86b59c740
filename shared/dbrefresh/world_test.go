package dbrefresh_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/access"
	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh/awscloud"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/store"
)

const (
	account     = "111122223333"
	prodAccount = "444455556666"
	region      = "eu-west-1"
	target      = "shop-staging-db"
	source      = "shop-prod-db"
)

// sunday is 2026-11-22 01:00 UTC (02:00 in Berlin): the schedule's window,
// Sundays 02:00-06:00 Berlin, has just opened.
var sunday = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

// refreshJSON is a dbRefresh block; opts are JSON members that replace or
// extend the defaults.
func refreshJSON(opts map[string]string) string {
	m := map[string]string{
		"source":              fmt.Sprintf(`{"dbInstance": %q}`, source),
		"target":              fmt.Sprintf("%q", target),
		"subnetGroup":         `"shop-staging-db"`,
		"securityGroupIds":    `["sg-0123456789abcdef0"]`,
		"instanceClass":       `"db.t4g.medium"`,
		"schedule":            `{"days": ["sun"], "from": "02:00", "to": "06:00", "timeZone": "Europe/Berlin"}`,
		"onAutomatedSnapshot": "true",
		"scrub":               `{"codeBuildProject": "shop-staging-scrub", "timeoutMinutes": 60}`,
	}
	for k, v := range opts {
		if v == "" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%q: %s", k, m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// stagingConfig is a file with one staging app whose database refreshes
// from production's.
func stagingConfig(t testing.TB, opts map[string]string) *config.File {
	t.Helper()
	lb := "arn:aws:elasticloadbalancing:eu-west-1:111122223333:"
	raw := fmt.Sprintf(`{"account": %q, "region": %q, "apps": [{
		"name": "shop-staging",
		"blue":  {"asg": "shop-staging-blue",  "targetGroupArn": "%[3]stargetgroup/shop-staging-blue/0123456789abcdef",  "launchTemplateId": "lt-0b1e0000000000011"},
		"green": {"asg": "shop-staging-green", "targetGroupArn": "%[3]stargetgroup/shop-staging-green/fedcba9876543210", "launchTemplateId": "lt-06e0000000000012"},
		"listenerArn": "%[3]slistener/app/shop-staging/50dc6c495c0c9189/f2f7dc8efc522ab3",
		"preview": {"ruleArn": "%[3]slistener-rule/app/shop-staging/50dc6c495c0c9189/f2f7dc8efc522ab3/9683b2d02a6cabef", "officeCidrs": ["203.0.113.10/32"]},
		"previewSize": 1, "floor": 1, "bakeMinutes": 0, "autoPromote": true,
		"approval": {"pipeline": "shop-staging-release", "stage": "Approve", "action": "Staging"},
		"rebuild": {"codeBuildProject": "shop-staging-golden-ami"},
		"alas": {"amazonLinux": "2023"},
		"topicArn": "arn:aws:sns:eu-west-1:111122223333:kaizen-shop-staging",
		"dbRefresh": %[4]s
	}]}`, account, region, lb, refreshJSON(opts))
	f, err := config.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("test configuration: %v\n%s", err, raw)
	}
	return f
}

// world is a simulated account with the staging app's database and
// production's, the refresh handler and a memory store.
type world struct {
	t     testing.TB
	ctx   context.Context
	cfg   *config.File
	app   *config.App
	cloud *sim.Cloud
	store *store.Memory
	h     *dbrefresh.Handler
	mk    route.Maker
	seq   int
	// steps counts the handler calls, for messages.
	steps int
}

func newWorld(t testing.TB, opts map[string]string) *world {
	t.Helper()
	cfg := stagingConfig(t, opts)
	c := sim.New(sunday)
	app := &cfg.Apps[0]
	c.AddTopic(app.TopicARN)
	c.SeedDBRefresh(cfg, app)
	w := &world{t: t, ctx: context.Background(), cfg: cfg, app: app, cloud: c, store: store.NewMemory()}
	w.h = &dbrefresh.Handler{
		Config: cfg, Store: w.store, Now: c.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cloud: &awscloud.Cloud{RDS: c.RDS(), Scrub: c.CodeBuild(), Secrets: c.SecretsManager(), Notifier: awsapi.SNSNotifier{SNS: c.SNS()}},
	}
	w.mk = route.Maker{Account: account, Region: region, Next: func() string {
		w.seq++
		return fmt.Sprintf("ev-%04d", w.seq)
	}}
	return w
}

// send runs an event through the handler and checks the invariants.
func (w *world) send(raw []byte) []dbrefresh.Outcome {
	w.t.Helper()
	w.steps++
	outs, err := w.h.Handle(w.ctx, raw)
	if err != nil {
		w.t.Fatalf("step %d at %s: %v", w.steps, w.cloud.Now().Format("Mon 15:04"), err)
	}
	w.check()
	return outs
}

// tick sends the function's schedule.
func (w *world) tick() []dbrefresh.Outcome {
	w.t.Helper()
	return w.send(w.mk.Schedule("kaizen-dbrefresh-schedule", w.cloud.Now()))
}

// tickFor advances the clock in five-minute ticks (the function's rate)
// for d.
func (w *world) tickFor(d time.Duration) {
	w.t.Helper()
	end := w.cloud.Now().Add(d)
	for w.cloud.Now().Before(end) {
		w.cloud.Advance(5 * time.Minute)
		w.tick()
	}
}

// until ticks every five minutes until the app's refresh state satisfies
// done, for at most max.
func (w *world) until(max time.Duration, what string, done func(dbrefresh.AppState) bool) {
	w.t.Helper()
	end := w.cloud.Now().Add(max)
	for {
		if done(w.state()) {
			return
		}
		if !w.cloud.Now().Before(end) {
			w.t.Fatalf("not %s after %s: %+v", what, max, w.state().Active)
		}
		w.cloud.Advance(5 * time.Minute)
		w.tick()
	}
}

func (w *world) state() dbrefresh.AppState {
	w.t.Helper()
	st, err := w.store.LoadRefresh(w.ctx, w.app.Name)
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func inState(s dbrefresh.State) func(dbrefresh.AppState) bool {
	return func(st dbrefresh.AppState) bool { return st.Active != nil && st.Active.State == s }
}

func idle(st dbrefresh.AppState) bool { return st.Active == nil }

// snapshotEvent is RDS's event for production's automated snapshot.
func (w *world) snapshotEvent(id, eventID string, cluster bool) []byte {
	dt, kind, cat := route.TypeDBSnapshotEvent, "snapshot", "creation"
	if cluster {
		dt, kind, cat = route.TypeDBClusterSnapshotEvent, "cluster-snapshot", "backup"
	}
	arn := fmt.Sprintf("arn:aws:rds:%s:%s:%s:%s", region, account, kind, id)
	return w.mk.Make(route.SourceRDS, dt, w.cloud.Now(), []string{arn}, map[string]any{
		"EventCategories": []string{cat}, "SourceType": strings.ToUpper(strings.ReplaceAll(kind, "-", "_")), "SourceArn": arn,
		"Date": w.cloud.Now().Format("2006-01-02T15:04:05.000Z"), "SourceIdentifier": id, "Message": "Automated snapshot created", "EventID": eventID,
	})
}

// buildEvent is CodeBuild's state change of a build.
func (w *world) buildEvent(id, status string) []byte {
	project, _, _ := strings.Cut(id, ":")
	arn := fmt.Sprintf("arn:aws:codebuild:%s:%s:build/%s", region, account, id)
	return w.mk.Make(route.SourceCodeBuild, route.TypeCodeBuildState, w.cloud.Now(), []string{arn}, map[string]any{
		"build-status": status, "project-name": project, "build-id": arn, "current-phase": "COMPLETED",
		"additional-information": map[string]any{"build-complete": true},
	})
}

// scrubBuild is the refresh's scrub build.
func (w *world) scrubBuild() sim.Build {
	w.t.Helper()
	for _, b := range w.cloud.Builds() {
		if b.Project == w.app.DBRefresh.Scrub.CodeBuildProject {
			return b
		}
	}
	w.t.Fatal("no scrub build was started")
	return sim.Build{}
}

// finishScrub ends the scrub build and sends its event.
func (w *world) finishScrub(status string) {
	w.t.Helper()
	b := w.scrubBuild()
	w.cloud.FinishBuild(b.ID, status)
	w.send(w.buildEvent(b.ID, status))
}

func (w *world) db(id string) *sim.DBView {
	for _, d := range w.cloud.Databases() {
		if d.ID == id {
			return &d
		}
	}
	return nil
}

// check asserts what must hold after every step:
//   - nothing but Describe and Copy ever names production's database or
//     its snapshots;
//   - every mutating RDS call names the target or "<target>-...";
//   - staging has its database at the target (after a rename only
//     briefly: while one of the swap's renames runs);
//   - at most one refresh per app is in flight, and the record is in a
//     known state.
func (w *world) check() {
	w.t.Helper()
	d := w.app.DBRefresh
	for _, call := range w.cloud.Calls() {
		if call.Service != "rds" || !call.Mutating {
			continue
		}
		for _, id := range namesIn(call.Input) {
			isProd := id == d.Source.ID() || strings.Contains(id, ":"+d.Source.ID()+"-") || strings.HasPrefix(id, "rds:")
			if isProd && !strings.HasPrefix(call.Op, "Copy") {
				w.t.Fatalf("%s names production's %s", call.Op, id)
			}
			if !isProd && id != d.Target && !strings.HasPrefix(id, d.Target+"-") {
				w.t.Fatalf("%s names %s, which is not the target's", call.Op, id)
			}
		}
	}
	st := w.state()
	if st.Active != nil && !st.Active.State.Known() {
		w.t.Fatalf("refresh in unknown state %q", st.Active.State)
	}
	serving := d.Target // where staging finds its database
	if d.Endpoint == "secret" && st.Current != nil {
		serving = st.Current.ID
	}
	if t := w.db(serving); t == nil && (st.Active == nil || st.Active.State != dbrefresh.Swapping && st.Active.State != dbrefresh.Undoing) {
		w.t.Fatalf("staging has no database at %s (refresh %+v)", serving, st.Active)
	}
}

// callsAllowed checks every AWS call the world saw against what the
// function's role allows (shared/access, from which infra/stacks derives it).
func (w *world) callsAllowed() {
	w.t.Helper()
	allowed := access.Actions(route.DBRefresh)
	seen := map[string]bool{}
	for _, c := range w.cloud.Calls() {
		a := access.Action(c.Service, c.Op)
		if !seen[a] && !slices.Contains(allowed, a) {
			w.t.Errorf("dbrefresh called %s, which its role does not allow", a)
		}
		seen[a] = true
	}
}

// namesIn lists the identifiers an RDS input names.
func namesIn(in any) []string {
	v := reflect.ValueOf(in)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	var out []string
	for _, field := range []string{"DBInstanceIdentifier", "NewDBInstanceIdentifier", "DBClusterIdentifier", "NewDBClusterIdentifier",
		"DBSnapshotIdentifier", "DBClusterSnapshotIdentifier", "TargetDBSnapshotIdentifier", "TargetDBClusterSnapshotIdentifier",
		"SourceDBSnapshotIdentifier", "SourceDBClusterSnapshotIdentifier", "SnapshotIdentifier"} {
		f := v.FieldByName(field)
		if f.IsValid() && f.Kind() == reflect.Pointer && !f.IsNil() {
			out = append(out, f.Elem().String())
		}
	}
	return out
}
