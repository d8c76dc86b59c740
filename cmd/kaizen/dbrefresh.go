package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh/awscloud"
)

const dbRefreshSynopsis = "kaizen dbrefresh start|abort|status|history --app A [--dry-run] [flags] | kaizen dbrefresh states"

// refresher builds the database refresh's handler from the operator flags:
// the SDK's usual credentials, the same endpoints and table as the release
// commands, and the store those use.
func refresher(ctx context.Context, o *opsFlags, cfg *config.File, st dbrefresh.Store, stderr io.Writer) (*dbrefresh.Handler, error) {
	loadOpts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(cfg.Region)}
	if o.endpoint != "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("kaizen-sim", "kaizen-sim", "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	var ep *string
	if o.endpoint != "" {
		ep = aws.String(o.endpoint)
	}
	return &dbrefresh.Handler{
		Config: cfg, Store: st, DryRun: o.dryRun,
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Cloud: &awscloud.Cloud{
			RDS:      rds.NewFromConfig(awsCfg, func(op *rds.Options) { op.BaseEndpoint = ep }),
			Scrub:    codebuild.NewFromConfig(awsCfg, func(op *codebuild.Options) { op.BaseEndpoint = ep }),
			Secrets:  secretsmanager.NewFromConfig(awsCfg, func(op *secretsmanager.Options) { op.BaseEndpoint = ep }),
			Notifier: awsapi.SNSNotifier{SNS: sns.NewFromConfig(awsCfg, func(op *sns.Options) { op.BaseEndpoint = ep })},
		},
	}, nil
}

// refreshStore is the operator commands' store, as the refresh's port.
func refreshStore(s any) (dbrefresh.Store, error) {
	st, ok := s.(dbrefresh.Store)
	if !ok {
		return nil, fmt.Errorf("the store keeps no database refreshes")
	}
	return st, nil
}

// runDBRefresh handles `kaizen dbrefresh start|abort|status|history`.
func runDBRefresh(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		printUsage(stdout, nil, dbRefreshSynopsis)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub := args[0]
	if sub == "states" {
		fs := flag.NewFlagSet("dbrefresh states", flag.ContinueOnError)
		if code, done := parseFlags(fs, "kaizen dbrefresh states", args[1:], stdout, stderr); done {
			return code
		}
		// A refresh's state table as a Mermaid diagram (README's).
		fmt.Fprint(stdout, dbrefresh.Mermaid())
		return 0
	}
	mutating := sub == "start" || sub == "abort"
	if !mutating && sub != "status" && sub != "history" {
		return fail(stderr, 2, "usage: %s", dbRefreshSynopsis)
	}
	o, d, apps, code := opsSetup(ctx, "dbrefresh "+sub, "kaizen dbrefresh "+sub+" --app A [flags]", args[1:], stdout, stderr, mutating, nil)
	if d == nil {
		return code
	}
	st, err := refreshStore(d.Store)
	if err != nil {
		return fail(stderr, 1, "dbrefresh: %v", err)
	}
	h, err := refresher(ctx, o, d.Config, st, stderr)
	if err != nil {
		return fail(stderr, 1, "dbrefresh: %v", err)
	}
	var refreshing []*config.App
	for _, a := range apps {
		if a.DBRefresh != nil {
			refreshing = append(refreshing, a)
		}
	}
	if len(refreshing) == 0 {
		return fail(stderr, 2, "dbrefresh: no app with a dbRefresh block among %s", appList(apps))
	}
	switch sub {
	case "status":
		var all []*DatabaseStatus
		for _, a := range refreshing {
			ds, err := databaseStatus(ctx, h, a, time.Now().UTC())
			if err != nil {
				return fail(stderr, 1, "dbrefresh status: %v", hint(err))
			}
			all = append(all, ds)
		}
		if o.json {
			return printJSON(stdout, stderr, all)
		}
		for _, ds := range all {
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "app\t%s\n", ds.App)
			printDatabase(tw, ds)
			tw.Flush()
		}
		return 0
	case "history":
		all := map[string][]dbrefresh.Refresh{}
		for _, a := range refreshing {
			hs, err := st.RefreshHistory(ctx, a.Name)
			if err != nil {
				return fail(stderr, 1, "dbrefresh history: %v", hint(err))
			}
			all[a.Name] = hs
		}
		if o.json {
			return printJSON(stdout, stderr, all)
		}
		printRefreshes(stdout, refreshing, all)
		return 0
	}
	if o.by == "" {
		o.by = "unknown"
	}
	ev := dbrefresh.Event{Kind: dbrefresh.EvOperator, ID: fmt.Sprintf("cli-dbrefresh-%s-%d", sub, time.Now().UnixNano()), Command: sub, By: o.by}
	out, err := h.Run(ctx, refreshing[0], ev)
	if o.json {
		if code := printJSON(stdout, stderr, out); code != 0 {
			return code
		}
	} else {
		printRefreshOutcome(stdout, "dbrefresh "+sub, o.dryRun, out)
	}
	switch {
	case err != nil:
		return fail(stderr, 1, "dbrefresh %s: %v", sub, hint(err))
	case out.Plan.Refused != "":
		return fail(stderr, 1, "dbrefresh %s refused: %s", sub, out.Plan.Refused)
	}
	return 0
}

func appList(apps []*config.App) string {
	var names []string
	for _, a := range apps {
		names = append(names, a.Name)
	}
	return strings.Join(names, ", ")
}

func printRefreshOutcome(w io.Writer, command string, dry bool, out dbrefresh.Outcome) {
	fmt.Fprintf(w, "%s %s: %s\n", command, out.App, out.Observed.Summary())
	for _, t := range out.Plan.Transitions {
		fmt.Fprintf(w, "  refresh %s\n", t)
	}
	verb, list := "applied", out.Applied
	if dry {
		verb, list = "would apply", out.Plan.Actions
	}
	for _, a := range list {
		fmt.Fprintf(w, "  %s: %s (%s)\n", verb, a, a.Why)
	}
	for _, n := range out.Plan.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if len(list) == 0 && len(out.Plan.Transitions) == 0 {
		fmt.Fprintln(w, "  nothing to do")
	}
}

// DatabaseStatus is what `kaizen status` shows of an app's database.
type DatabaseStatus struct {
	App    string        `json:"app"`
	Target string        `json:"target"`
	DB     *dbrefresh.DB `json:"db,omitempty"`
	// Current is the database as kaizen last refreshed it; Age how old its
	// data is (since production's snapshot was taken).
	Current *dbrefresh.Database `json:"current,omitempty"`
	Age     string              `json:"age,omitempty"`
	// Refreshing is the refresh in flight, and what it waits for.
	Refreshing *dbrefresh.Refresh `json:"refreshing,omitempty"`
	Waiting    []string           `json:"waiting,omitempty"`
	LastError  string             `json:"lastError,omitempty"`
}

// databaseStatus observes the app's database and plans the next step
// without taking it: what a refresh waits for.
func databaseStatus(ctx context.Context, h *dbrefresh.Handler, app *config.App, now time.Time) (*DatabaseStatus, error) {
	st, err := h.Store.LoadRefresh(ctx, app.Name)
	if err != nil {
		return nil, err
	}
	d := app.DBRefresh
	at := d.Target
	if d.Endpoint == config.EndpointSecret && st.Current != nil {
		at = st.Current.ID
	}
	obs, err := h.Cloud.Observe(ctx, h.Config, app, dbrefresh.Needs{DBs: []string{at}})
	if err != nil {
		return nil, err
	}
	ds := &DatabaseStatus{App: app.Name, Target: at, DB: obs.DB(at), Current: st.Current, Refreshing: st.Active, LastError: st.LastError}
	if c := st.Current; c != nil && !c.SnapshotCreated.IsZero() {
		ds.Age = age(now.Sub(c.SnapshotCreated))
	}
	ev := dbrefresh.Event{Kind: dbrefresh.EvTick}
	needs := dbrefresh.Wants(app, st, ev, now)
	full, err := h.Cloud.Observe(ctx, h.Config, app, needs)
	if err != nil {
		return nil, err
	}
	ds.Waiting = dbrefresh.Decide(h.Config, app, st, full, now, ev).Notes
	return ds, nil
}

// age says a duration the way people read an age: "3d 4h", "5h 20m".
func age(d time.Duration) string {
	d = d.Round(time.Minute)
	switch days := int(d.Hours()) / 24; {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dm", int(d.Minutes()))
}

func printDatabase(tw io.Writer, ds *DatabaseStatus) {
	if ds == nil {
		return
	}
	db := "not found"
	if ds.DB != nil {
		db = fmt.Sprintf("%s (%s) %s", ds.DB.ID, ds.DB.Status, orDash(ds.DB.Endpoint))
	}
	fmt.Fprintf(tw, "database\t%s\n", db)
	if c := ds.Current; c != nil {
		fmt.Fprintf(tw, "data\tfrom production snapshot %s taken %s: %s old (refreshed %s by refresh %s)\n",
			c.Snapshot, c.SnapshotCreated.Format(time.RFC3339), ds.Age, c.RefreshedAt.Format(time.RFC3339), c.Refresh)
	} else {
		fmt.Fprintf(tw, "data\tnot refreshed by kaizen yet\n")
	}
	if r := ds.Refreshing; r != nil {
		fmt.Fprintf(tw, "refresh\t%s %s since %s, from %s\n", r.ID, r.State, r.History[len(r.History)-1].At.Format(time.RFC3339), r.Source.ID)
	} else {
		fmt.Fprintf(tw, "refresh\tnone in flight\n")
	}
	if ds.LastError != "" {
		fmt.Fprintf(tw, "last error\t%s\n", ds.LastError)
	}
	for i, n := range ds.Waiting {
		label := ""
		if i == 0 {
			label = "db next"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, n)
	}
}

// printRefreshes prints the refresh ledger.
func printRefreshes(w io.Writer, apps []*config.App, all map[string][]dbrefresh.Refresh) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tREFRESH\tSNAPSHOT\tTAKEN\tSTARTED\tSWAPPED\tENDED\tSTATE\tWHY")
	for _, a := range apps {
		for _, r := range all[a.Name] {
			why := ""
			if n := len(r.History); n > 0 {
				why = r.History[n-1].Cause
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, r.ID, r.Source.ID, ts(r.Source.Created), ts(r.StartedAt),
				ts(r.SwappedAt), ts(r.EndedAt), r.State, why)
		}
	}
	tw.Flush()
}

// refreshLedger adds the database refreshes to `kaizen history`.
func refreshLedger(ctx context.Context, s any, apps []*config.App, w io.Writer) error {
	var refreshing []*config.App
	for _, a := range apps {
		if a.DBRefresh != nil {
			refreshing = append(refreshing, a)
		}
	}
	if len(refreshing) == 0 {
		return nil
	}
	st, err := refreshStore(s)
	if err != nil {
		return err
	}
	all := map[string][]dbrefresh.Refresh{}
	for _, a := range refreshing {
		if all[a.Name], err = st.RefreshHistory(ctx, a.Name); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	printRefreshes(w, refreshing, all)
	return nil
}

// statusDatabase adds the app's database to `kaizen status` (nil for an
// app without dbRefresh).
func statusDatabase(ctx context.Context, o *opsFlags, cfg *config.File, s any, app *config.App, stderr io.Writer) (*DatabaseStatus, error) {
	if app.DBRefresh == nil {
		return nil, nil
	}
	st, err := refreshStore(s)
	if err != nil {
		return nil, err
	}
	h, err := refresher(ctx, o, cfg, st, stderr)
	if err != nil {
		return nil, err
	}
	return databaseStatus(ctx, h, app, time.Now().UTC())
}

// describeDBRefresh is `kaizen config check`'s line for an app's dbRefresh
// ("" without one).
func describeDBRefresh(f *config.File, a config.App) string {
	d := a.DBRefresh
	if d == nil {
		return ""
	}
	kind := "instance"
	if d.Source.Cluster() {
		kind = "cluster"
	}
	var when []string
	if d.Schedule != nil {
		when = append(when, "schedule "+d.Schedule.String())
	}
	if d.OnAutomatedSnapshot {
		when = append(when, "on production's automated snapshot")
	}
	return fmt.Sprintf("%s refreshed from %s %s (account %s, %s snapshots), scrubbed by %s, swapped by %s; %s; old kept %dh",
		d.Target, kind, d.Source.ID(), d.SourceAccount(f), d.SnapshotType, d.Scrub.CodeBuildProject, d.Endpoint, strings.Join(when, " and "), d.KeepOldHours)
}
