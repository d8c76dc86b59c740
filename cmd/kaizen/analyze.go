package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	cwanalysis "github.com/kaizen-sre/kaizen/shared/analysis/cloudwatch"
	"github.com/kaizen-sre/kaizen/shared/analysis/datadog"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/steps"
)

// Analysis is what `kaizen analyze --json` prints per app.
type Analysis struct {
	App string `json:"app"`
	// Verdict is nil when nothing is judged (see Why).
	Verdict *release.Verdict `json:"verdict,omitempty"`
	Why     string           `json:"why,omitempty"`
}

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var since time.Duration
	o, d, apps, code := opsSetup(ctx, "analyze", "kaizen analyze [--app A] [--since 30m] [--json] [flags]", args, stdout, stderr, false, func(fs *flag.FlagSet) {
		fs.DurationVar(&since, "since", 0, "compare both colors over the last `DURATION` (default: the interval the tick judges: the preview, the shift since its first step, the bake's window)")
	})
	if d == nil {
		return code
	}
	if since < 0 || since > 3*time.Hour {
		return fail(stderr, 2, "analyze: --since must be between 0 and 3h (one GetMetricData call of one-minute points), got %s", since)
	}
	d.Providers = cliProviders(ctx, o, d, apps, stderr)
	all, err := analyzeApps(ctx, d, apps, since)
	if err != nil {
		return fail(stderr, 1, "analyze: %v", hint(err))
	}
	if o.json {
		return printJSON(stdout, stderr, all)
	}
	for _, a := range all {
		printAnalysis(stdout, a)
	}
	return 0
}

// cliProviders are the providers the apps' analysis blocks name: the
// command's CloudWatch client (an app of another account or region is
// read through its own fleet's), and Datadog with the keys from the
// secret the configuration names, read with the operator's credentials.
func cliProviders(ctx context.Context, o *opsFlags, d *steps.Reconciler, apps []*config.App, stderr io.Writer) steps.Providers {
	out := steps.Providers{}
	for _, app := range apps {
		an := app.Analysis
		if an == nil || out[an.Provider] != nil {
			continue
		}
		switch an.Provider {
		case config.ProviderCloudWatch:
			if api, ok := d.FleetFor(app).CW.(cwanalysis.API); ok {
				out[an.Provider] = &cwanalysis.Provider{API: api}
			}
		case config.ProviderDatadog:
			awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(d.Config.Region))
			if err != nil {
				fmt.Fprintf(stderr, "analyze: %s: aws config: %v\n", app.Name, err)
				continue
			}
			sm := secretsmanager.NewFromConfig(awsCfg, func(op *secretsmanager.Options) {
				if o.endpoint != "" {
					op.BaseEndpoint = &o.endpoint
				}
			})
			p := &datadog.SecretProvider{Site: an.Datadog.Site, SecretARN: an.Datadog.SecretARN, API: sm}
			if err := p.Load(ctx); err != nil {
				fmt.Fprintf(stderr, "analyze: %s: %v\n", app.Name, err)
				continue
			}
			out[an.Provider] = p
		}
	}
	return out
}

// analyzeApps judges each app's release now, as the tick would.
func analyzeApps(ctx context.Context, d *steps.Reconciler, apps []*config.App, since time.Duration) ([]Analysis, error) {
	var out []Analysis
	for _, app := range apps {
		a := Analysis{App: app.Name}
		st, err := d.Store.Load(ctx, app.Name)
		if err != nil {
			return nil, err
		}
		switch v, ok := d.Analyze(ctx, app, st, since); {
		case app.Analysis == nil:
			a.Why = "no analysis block in the configuration"
		case !ok:
			a.Why = "no release on the preview, shifting or baking: nothing to compare"
		default:
			a.Verdict = v
		}
		out = append(out, a)
	}
	return out, nil
}

func printAnalysis(w io.Writer, a Analysis) {
	v := a.Verdict
	if v == nil {
		fmt.Fprintf(w, "%s: %s\n\n", a.App, a.Why)
		return
	}
	at := ""
	if v.Weight > 0 {
		at = fmt.Sprintf(" at %d%%", v.Weight)
	}
	fmt.Fprintf(w, "%s: %s of %s (%s)%s, %s new against %s, %s–%s\n", a.App, v.Phase, v.AMI, v.Color, at, v.Color, orDash(v.Baseline),
		v.From.Format("15:04"), v.To.Format("15:04 MST"))
	if v.Error != "" {
		fmt.Fprintf(w, "verdict: %s: %s\n\n", v.Outcome, v.Error)
		return
	}
	fmt.Fprintf(w, "verdict: %s, score %.0f (requests: %.0f new, %.0f old)\n", v.Outcome, v.Score, v.NewRequests, v.OldRequests)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tOLD\tNEW\tP\tVERDICT\tWHY")
	for _, r := range v.Metrics {
		old, nw := fmt.Sprintf("%.4g", r.Old), fmt.Sprintf("%.4g", r.New)
		if r.Kind == "ratio" {
			old, nw = fmt.Sprintf("%.2f%%", 100*r.Old), fmt.Sprintf("%.2f%%", 100*r.New)
		}
		if v.Phase == "preview" {
			old = "-"
		}
		p := "-"
		if r.P < 1 {
			p = fmt.Sprintf("%.2g", r.P)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Metric, old, nw, p, r.Outcome, r.Why)
	}
	tw.Flush()
	fmt.Fprintln(w)
}
