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
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// opsFlags are the flags every operator command shares.
type opsFlags struct {
	config, app, table, endpoint, dynamoEndpoint, by string
	json, dryRun                                     bool
}

func (o *opsFlags) register(fs *flag.FlagSet, mutating bool) {
	fs.StringVar(&o.config, "config", "", "configuration file (default examples/kaizen.json, or $KAIZEN_CONFIG)")
	fs.StringVar(&o.app, "app", "", "the app (default: every app; required for commands that change things)")
	fs.StringVar(&o.table, "table", os.Getenv("KAIZEN_TABLE"), "kaizen's DynamoDB table ($KAIZEN_TABLE)")
	fs.StringVar(&o.endpoint, "endpoint", "", "AWS endpoint for EC2, Auto Scaling, ELB and SNS (e.g. `kaizen sim serve`'s URL)")
	fs.StringVar(&o.dynamoEndpoint, "dynamodb-endpoint", "", "DynamoDB endpoint (e.g. dynalite's URL)")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
	if mutating {
		fs.BoolVar(&o.dryRun, "dry-run", false, "print the plan and change nothing")
		fs.StringVar(&o.by, "by", os.Getenv("USER"), "who asks (recorded in the release's history)")
	}
}

// opsDeps builds the release-step dependencies from the SDK's usual
// credential chain, with optional endpoints.
func opsDeps(ctx context.Context, o *opsFlags, stderr io.Writer) (*steps.Reconciler, []*config.App, error) {
	cfg, err := config.Load(configPath(o.config))
	if err != nil {
		return nil, nil, err
	}
	var apps []*config.App
	for i := range cfg.Apps {
		if o.app == "" || cfg.Apps[i].Name == o.app {
			apps = append(apps, &cfg.Apps[i])
		}
	}
	if len(apps) == 0 {
		return nil, nil, fmt.Errorf("no app %q in %s", o.app, configPath(o.config))
	}
	if o.table == "" {
		return nil, nil, fmt.Errorf("--table (or $KAIZEN_TABLE) is required: the DynamoDB table of the kaizen stack")
	}
	loadOpts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(cfg.Region)}
	if (o.endpoint != "" || o.dynamoEndpoint != "") && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		// The simulated AWS and dynalite check no signatures: do not make
		// a laptop user invent credentials.
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("kaizen-sim", "kaizen-sim", "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("aws config: %w (set credentials as for the AWS CLI)", err)
	}
	ep := func(u string) *string {
		if u == "" {
			return nil
		}
		return aws.String(u)
	}
	d := &steps.Reconciler{
		Config: cfg,
		Fleet: &cloud.Fleet{
			EC2:      ec2.NewFromConfig(awsCfg, func(op *ec2.Options) { op.BaseEndpoint = ep(o.endpoint) }),
			ASG:      autoscaling.NewFromConfig(awsCfg, func(op *autoscaling.Options) { op.BaseEndpoint = ep(o.endpoint) }),
			ELB:      elbv2.NewFromConfig(awsCfg, func(op *elbv2.Options) { op.BaseEndpoint = ep(o.endpoint) }),
			SNS:      sns.NewFromConfig(awsCfg, func(op *sns.Options) { op.BaseEndpoint = ep(o.endpoint) }),
			CW:       cloudwatch.NewFromConfig(awsCfg, func(op *cloudwatch.Options) { op.BaseEndpoint = ep(o.endpoint) }),
			Attempts: 1,
		},
		Store:  &store.Dynamo{DB: dynamodb.NewFromConfig(awsCfg, func(op *dynamodb.Options) { op.BaseEndpoint = ep(o.dynamoEndpoint) }), Table: o.table},
		DryRun: o.dryRun,
		// Decisions are printed by the command; the log says only what
		// went wrong.
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	d.Fleets = opsFleets(cfg, awsCfg, d.Fleet, o.endpoint) // apps in other accounts and regions (accounts.go)
	return d, apps, nil
}

// opsSetup parses an operator command's flags (extra adds its own) and
// builds its dependencies; nil Deps means stop with code (0 after --help).
func opsSetup(ctx context.Context, name, synopsis string, args []string, stdout, stderr io.Writer, mutating bool, extra func(*flag.FlagSet)) (*opsFlags, *steps.Reconciler, []*config.App, int) {
	o := &opsFlags{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	o.register(fs, mutating)
	if extra != nil {
		extra(fs)
	}
	if code, done := parseFlags(fs, synopsis, args, stdout, stderr); done {
		return nil, nil, nil, code
	}
	if mutating && o.app == "" {
		return nil, nil, nil, fail(stderr, 2, "%s: --app is required", name)
	}
	d, apps, err := opsDeps(ctx, o, stderr)
	if err != nil {
		return nil, nil, nil, fail(stderr, 2, "%s: %v", name, err)
	}
	return o, d, apps, 0
}

// AppStatus is what `kaizen status --json` prints per app.
type AppStatus struct {
	App string `json:"app"`
	// Where is the app's account and region, when apps live in more than one.
	Where    string           `json:"where,omitempty"`
	Live     string           `json:"live"`
	Observed release.Observed `json:"observed"`
	State    release.AppState `json:"state"`
	Waiting  []string         `json:"waiting"`
	// Database is the app's database, for an app whose dbRefresh refreshes it.
	Database *DatabaseStatus `json:"database,omitempty"`
	// Secret lists the images the colors run that carry a superseded
	// secret version (status_security.go).
	Secret *SecretStatus `json:"secret,omitempty"`
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	wf := &watchFlags{}
	o, d, apps, code := opsSetup(ctx, "status", "kaizen status [--app A] [--json] [--watch [--interval 2s]] [flags]", args, stdout, stderr, false, wf.register)
	if d == nil {
		return code
	}
	if wf.on {
		return watchStatus(ctx, args, wf, o.json, stdout, stderr)
	}
	var all []AppStatus
	for _, app := range apps {
		st, err := d.Store.Load(ctx, app.Name)
		if err != nil {
			return fail(stderr, 1, "status: %v", hint(err))
		}
		obs, err := d.FleetFor(app).Observe(ctx, app)
		if err != nil {
			return fail(stderr, 1, "status: %v", hint(err))
		}
		// What the next tick would do, without doing it: that is what the
		// release waits for.
		plan := release.Decide(app, st, obs, time.Now().UTC(), release.Event{Kind: release.EvTick})
		db, err := statusDatabase(ctx, o, d.Config, d.Store, app, stderr)
		if err != nil {
			return fail(stderr, 1, "status: %v", hint(err))
		}
		sec, err := statusSecret(ctx, d, app)
		if err != nil {
			return fail(stderr, 1, "status: %v", hint(err))
		}
		all = append(all, AppStatus{App: app.Name, Where: where(d.Config, app), Live: string(obs.Live()), Observed: obs, State: st, Waiting: plan.Notes, Database: db, Secret: sec})
	}
	if o.json {
		return printJSON(stdout, stderr, all)
	}
	for _, s := range all {
		printStatus(stdout, s)
	}
	return 0
}

func printStatus(w io.Writer, s AppStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "app\t%s\n", s.App)
	if s.Where != "" {
		fmt.Fprintf(tw, "account\t%s\n", s.Where)
	}
	fmt.Fprintf(tw, "public\t%s (live: %s)\n", s.Observed.Traffic(), orDash(s.Live))
	fmt.Fprintf(tw, "preview\t%s\n", orDash(string(s.Observed.Preview)))
	for _, c := range config.Colors {
		v := s.Observed.Color(c)
		extra := ""
		if len(v.Suspended) > 0 {
			extra = "  scaling suspended: " + strings.Join(v.Suspended, ",")
		}
		fmt.Fprintf(tw, "%s\t%s (template v%s)  capacity %s  healthy %d of %d%s\n", c, v.AMI, v.Version, v.Capacity, v.Healthy, v.Instances, extra)
	}
	if r := s.State.Active; r != nil {
		state := string(r.State.Phase()) + " on " + string(r.Color)
		if r.State.Phase() != r.State {
			state += " (" + string(r.State) + ")"
		}
		fmt.Fprintf(tw, "release\t%s (%s) %s since %s\n", r.AMI, r.AMIName, state, r.History[len(r.History)-1].At.Format(time.RFC3339))
		if m := r.Analysis; m != nil { // the latest verdict recorded (kaizen analyze for now)
			fmt.Fprintf(tw, "analysis\t%s (%s)\n", m.Latest.Summary(), m.At.Format(time.RFC3339))
		}
	} else {
		fmt.Fprintf(tw, "release\tnone in flight\n")
	}
	if q := s.State.Queued; q != nil {
		fmt.Fprintf(tw, "queued\t%s (%s) since %s\n", q.Image.ID, q.Image.Name, q.Since.Format(time.RFC3339))
	}
	if h := s.State.Hold; h != nil {
		fmt.Fprintf(tw, "hold\t%s kept up for investigation until %s\n", h.Color, h.Until.Format(time.RFC3339))
	}
	if s.State.Stuck != "" {
		fmt.Fprintf(tw, "STOPPED\t%s; run: kaizen resume --app %s\n", s.State.Stuck, s.State.App)
	}
	if len(s.State.Pending) > 0 {
		fmt.Fprintf(tw, "pending\t%s (%s)\n", strings.Join(s.State.Pending, "; "), s.State.LastError)
	}
	if len(s.Waiting) == 0 {
		fmt.Fprintf(tw, "next\tnothing waits\n")
	}
	for i, n := range s.Waiting {
		label := ""
		if i == 0 {
			label = "next"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, n)
	}
	printDatabase(tw, s.Database)
	printSecurity(tw, s)
	tw.Flush()
	fmt.Fprintln(w)
}

func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	htmlPath := new(string)
	o, d, apps, code := opsSetup(ctx, "history", "kaizen history [--app A] [--json] [--html FILE] [flags]", args, stdout, stderr, false, func(fs *flag.FlagSet) {
		fs.StringVar(htmlPath, "html", "", "also write the app's releases as one self-contained HTML page (public share per color derived from the ledger, events, ledger) to `FILE`")
	})
	if d == nil {
		return code
	}
	all := map[string][]release.Release{}
	for _, app := range apps {
		h, err := d.Store.History(ctx, app.Name)
		if err != nil {
			return fail(stderr, 1, "history: %v", hint(err))
		}
		all[app.Name] = h
	}
	if code := historyHTML(stderr, apps, all, *htmlPath, time.Now().UTC()); code != 0 {
		return code
	}
	if o.json {
		return printJSON(stdout, stderr, all)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tAMI\tCOLOR\tSTAGED\tAPPROVED\tCUT OVER\tENDED\tSTATE\tWHY")
	for _, app := range apps {
		for _, r := range all[app.Name] {
			approved := ts(r.ApprovedAt)
			for _, tr := range r.History {
				if tr.To == release.Promoting && tr.From.BeforeApproval() {
					// "approved by X (event ...)" → "by X"
					approved += " " + strings.TrimPrefix(strings.SplitN(tr.Cause, " (", 2)[0], "approved ")
				}
			}
			why := ""
			if n := len(r.History); n > 0 {
				why = r.History[n-1].Cause
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", app.Name, r.AMI, r.Color, ts(r.StagedAt), approved, ts(r.CutoverAt), ts(r.EndedAt), r.State, why)
		}
	}
	tw.Flush()
	if err := refreshLedger(ctx, d.Store, apps, stdout); err != nil {
		return fail(stderr, 1, "history: %v", hint(err))
	}
	return 0
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// runOperator carries out promote, rollback or abort through the same
// reconcile step the functions use.
func runOperator(ctx context.Context, command string, args []string, stdout, stderr io.Writer) int {
	o, d, apps, code := opsSetup(ctx, command, "kaizen "+command+" --app A [--dry-run] [flags]", args, stdout, stderr, true, nil)
	if d == nil {
		return code
	}
	if o.by == "" {
		o.by = "unknown"
	}
	ev := release.Event{Kind: release.EvOperator, ID: fmt.Sprintf("cli-%s-%d", command, time.Now().UnixNano()), Operator: &release.Operator{Command: command, By: o.by}}
	out, err := d.Run(ctx, apps[0], ev)
	if o.json {
		if code := printJSON(stdout, stderr, out); code != 0 {
			return code
		}
	} else {
		printOutcome(stdout, command, o.dryRun, out)
	}
	switch {
	case err != nil:
		return fail(stderr, 1, "%s: %v", command, hint(err))
	case out.Plan.Refused != "":
		return fail(stderr, 1, "%s refused: %s", command, out.Plan.Refused)
	}
	return 0
}

func printOutcome(w io.Writer, command string, dry bool, out steps.Outcome) {
	fmt.Fprintf(w, "%s %s: %s\n", command, out.App, out.Observed.Summary())
	for _, t := range out.Plan.Transitions {
		fmt.Fprintf(w, "  release %s\n", t)
	}
	verb := "applied"
	list := out.Applied
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

// runImages handles `kaizen images prune`.
func runImages(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = "kaizen images prune --app A --keep N [--dry-run] [flags]"
	if len(args) > 0 && isHelp(args[0]) {
		printUsage(stdout, nil, synopsis)
		return 0
	}
	if len(args) == 0 || args[0] != "prune" {
		return fail(stderr, 2, "usage: kaizen images prune --app A --keep N [--dry-run]")
	}
	keep := new(int)
	o, d, apps, code := opsSetup(ctx, "images prune", synopsis, args[1:], stdout, stderr, true, func(fs *flag.FlagSet) {
		fs.IntVar(keep, "keep", -1, "how many of the newest AMIs to keep besides those in use")
	})
	if d == nil {
		return code
	}
	if *keep < 0 {
		return fail(stderr, 2, "images prune: --keep N (N >= 0) is required")
	}
	app := apps[0]
	st, err := d.Store.Load(ctx, app.Name)
	if err != nil {
		return fail(stderr, 1, "images prune: %v", hint(err))
	}
	obs, err := d.FleetFor(app).Observe(ctx, app)
	if err != nil {
		return fail(stderr, 1, "images prune: %v", hint(err))
	}
	imgs, err := d.FleetFor(app).Images(ctx, app)
	if err != nil {
		return fail(stderr, 1, "images prune: %v", hint(err))
	}
	decisions := release.PlanPrune(app, imgs, st, obs, *keep, time.Now().UTC())
	deleted := 0
	for _, dec := range decisions {
		if !dec.Delete || o.dryRun {
			continue
		}
		if err := d.FleetFor(app).DeleteImage(ctx, dec.Image); err != nil {
			return fail(stderr, 1, "images prune: %v (deleted %d before it)", err, deleted)
		}
		deleted++
	}
	if o.json {
		return printJSON(stdout, stderr, decisions)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AMI\tNAME\tCREATED\tACTION\tWHY")
	for _, dec := range decisions {
		action := "keep"
		if dec.Delete {
			action = "delete"
			if o.dryRun {
				action = "would delete"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", dec.Image.ID, dec.Image.Name, ts(dec.Image.Created), action, dec.Reason)
	}
	tw.Flush()
	return 0
}

// hint adds what to do to errors a person can fix.
func hint(err error) error {
	s := err.Error()
	switch {
	case strings.Contains(s, "get credentials") || strings.Contains(s, "no EC2 IMDS role"):
		return fmt.Errorf("%w\nno AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); for the simulated AWS pass --endpoint and --dynamodb-endpoint", err)
	case strings.Contains(s, "ResourceNotFoundException"):
		return fmt.Errorf("%w\nis --table the kaizen stack's table?", err)
	}
	return err
}
