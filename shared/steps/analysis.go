package steps

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/kaizen-sre/kaizen/shared/analysis"
	cwanalysis "github.com/kaizen-sre/kaizen/shared/analysis/cloudwatch"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// Metric analysis in a step: the tick fetches the series of every app
// with a release in a judged phase (preview, shift, bake) and an analysis
// block, in one Fetch per provider and, for CloudWatch, per account and
// region (one GetMetricData call for up to 500 queries, 50 apps of the
// default metrics; a member account's apps through its role); each app's
// verdict joins its observation (release.Observed.Analysis) and the
// planner decides. Idle apps cost nothing: only apps that run a step
// alone are looked at. Events other than the tick judge nothing: the
// rollback path stays three round trips.

// Providers are the analysis providers by name (config.ProviderCloudWatch,
// config.ProviderDatadog).
type Providers map[string]analysis.Provider

// maxAnalysisMinutes bounds a fetch's window: 500 queries of one-minute
// points over three hours stay under GetMetricData's 100,800 points a call.
const maxAnalysisMinutes = 180

// job is one app's analysis: which color is judged against which, over
// which intervals.
type job struct {
	app            *config.App
	phase          analysis.Phase
	color, base    config.Color
	ami            string
	weight         int
	newFrom, newTo time.Time
	oldFrom, oldTo time.Time
}

// jobFor is the analysis an app's state calls for now; since > 0 (kaizen
// analyze --since) replaces the intervals with the last since on both
// colors.
func jobFor(app *config.App, st release.AppState, now time.Time, since time.Duration) (job, bool) {
	an, rel := app.Analysis, st.Active
	if an == nil || rel == nil {
		return job{}, false
	}
	end := now.Truncate(time.Minute)
	window := time.Duration(an.WindowMinutes) * time.Minute
	j := job{app: app, color: rel.Color, base: rel.Color.Other(), ami: rel.AMI, newTo: end, oldTo: end}
	switch rel.State {
	case release.Staged, release.PreviewReady:
		j.phase = analysis.Preview
		j.newFrom = rel.StagedAt
		if !rel.PreviewReadyAt.IsZero() {
			j.newFrom = rel.PreviewReadyAt
		}
		j.oldFrom = j.newFrom
	case release.Shifting:
		// Cumulative since the public first reached the new color: both
		// colors under the same traffic, every step's data kept.
		j.phase, j.weight = analysis.Shift, rel.Weight
		j.newFrom, j.oldFrom = rel.PublicAt, rel.PublicAt
	case release.Baking:
		// The old color has no public traffic now: it is judged by the
		// same length of time before the cutover.
		j.phase, j.weight = analysis.Bake, 100
		j.newFrom = rel.CutoverAt
		if j.newFrom.Before(end.Add(-window)) {
			j.newFrom = end.Add(-window)
		}
		length := max(end.Sub(j.newFrom), 5*time.Minute)
		j.oldTo = rel.CutoverAt.Truncate(time.Minute)
		j.oldFrom = j.oldTo.Add(-length)
	default:
		return job{}, false
	}
	if since > 0 {
		j.newFrom, j.oldFrom, j.oldTo = end.Add(-since), end.Add(-since), end
	}
	limit := end.Add(-maxAnalysisMinutes * time.Minute)
	for _, t := range []*time.Time{&j.newFrom, &j.oldFrom} {
		*t = t.Truncate(time.Minute)
		if t.Before(limit) {
			*t = limit
		}
	}
	return j, true
}

// series names one query of a job: a metric's values or counts of one
// color.
type series struct {
	job    int
	color  config.Color
	metric string // "" for the requests
	counts bool   // a ratio's denominator
}

// fetchGroup is the jobs one Fetch serves: one provider's and, for
// CloudWatch, one account's and region's (with the role that reaches it):
// a member app's metrics live in the member account, and are read there
// through the role's cached credentials. Datadog is one place for all.
type fetchGroup struct {
	provider string
	place    config.Place
	role     string
}

// groupOf is the fetch group of a job.
func groupOf(j job) fetchGroup {
	g := fetchGroup{provider: j.app.Analysis.Provider}
	if g.provider == config.ProviderCloudWatch {
		g.place, g.role = j.app.Place(), j.app.RoleARN
	}
	return g
}

// providerFor is the provider that fetches g's series (app is one of its
// apps). CloudWatch's at home is the configured one; elsewhere it reads
// through the CloudWatch client of the app's fleet, whose credentials
// are the assumed role's, cached by cloud.Accounts (no second
// AssumeRole).
func (d *Reconciler) providerFor(g fetchGroup, app *config.App) (analysis.Provider, error) {
	p := d.Providers[g.provider]
	if p == nil {
		return nil, fmt.Errorf("no %s provider is configured for this function", g.provider)
	}
	if g.provider != config.ProviderCloudWatch || d.Fleets == nil || (g.place == d.Config.Home() && g.role == "") {
		return p, nil
	}
	api, ok := d.fleetFor(app).CW.(cwanalysis.API)
	if !ok {
		return nil, fmt.Errorf("the clients of %s cannot read CloudWatch metrics (no GetMetricData)", g.place)
	}
	return &cwanalysis.Provider{API: api}, nil
}

// judge fetches every job's series, one Fetch per provider and place (the
// groups in parallel), and judges each job. A provider that is missing
// or fails makes its jobs' verdicts inconclusive, with the reason.
func (d *Reconciler) judge(ctx context.Context, jobs []job) map[string]*release.Verdict {
	var order []fetchGroup
	groups := map[fetchGroup][]int{}
	for i, j := range jobs {
		g := groupOf(j)
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], i)
	}
	res := make([]map[string]*release.Verdict, len(order))
	var wg sync.WaitGroup
	for n, g := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[n] = d.judgeGroup(ctx, g, jobs, groups[g])
		}()
	}
	wg.Wait()
	out := map[string]*release.Verdict{}
	for _, m := range res {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// judgeGroup fetches the series of one group's jobs (idx) in one Fetch
// and judges each.
func (d *Reconciler) judgeGroup(ctx context.Context, g fetchGroup, jobs []job, idx []int) map[string]*release.Verdict {
	out := map[string]*release.Verdict{}
	name := g.provider
	var (
		queries []analysis.Query
		meaning = map[string]series{}
		start   time.Time
		end     time.Time
	)
	add := func(i int, c config.Color, metric string, counts bool, q config.MetricQuery) {
		id := fmt.Sprintf("q%d", len(queries))
		queries = append(queries, toQuery(id, q.Expand(jobs[i].app, c)))
		meaning[id] = series{job: i, color: c, metric: metric, counts: counts}
	}
	for _, i := range idx {
		j := jobs[i]
		an := j.app.Analysis
		for _, c := range []config.Color{j.color, j.base} {
			if c == j.base && j.phase == analysis.Preview {
				continue
			}
			add(i, c, "", false, an.RequestsQuery())
			for _, m := range an.Effective() {
				if !m.Applies(string(j.phase)) {
					continue
				}
				add(i, c, m.Name, false, m.Query)
				if m.Kind == "ratio" && m.Requests != nil {
					add(i, c, m.Name, true, *m.Requests)
				}
			}
		}
		for _, t := range []time.Time{j.newFrom, j.oldFrom} {
			if start.IsZero() || t.Before(start) {
				start = t
			}
		}
		for _, t := range []time.Time{j.newTo, j.oldTo} {
			if t.After(end) {
				end = t
			}
		}
	}
	var got map[string]analysis.Series
	p, err := d.providerFor(g, jobs[idx[0]].app)
	if p != nil && len(queries) > 0 {
		if !start.Before(end) {
			start = end.Add(-time.Minute)
		}
		got, err = p.Fetch(ctx, start, end, queries)
	}
	if err != nil {
		attrs := []any{"provider", name, "queries", len(queries), "error", err}
		if g.place != (config.Place{}) {
			attrs = append(attrs, "place", g.place.String())
		}
		d.log().Warn("metric analysis: fetch failed", attrs...)
		for _, i := range idx {
			v := verdictShell(jobs[i], name)
			v.Outcome, v.Error = analysis.Inconclusive, "metrics not fetched: "+err.Error()
			out[jobs[i].app.Name] = &v
		}
		return out
	}
	// Sort each job's series into the judge's input.
	type colorData struct {
		requests float64
		samples  map[string]*analysis.Sample
		reqByMin map[time.Time]float64
	}
	data := map[int]map[config.Color]*colorData{}
	get := func(i int, c config.Color) *colorData {
		if data[i] == nil {
			data[i] = map[config.Color]*colorData{}
		}
		if data[i][c] == nil {
			data[i][c] = &colorData{samples: map[string]*analysis.Sample{}, reqByMin: map[time.Time]float64{}}
		}
		return data[i][c]
	}
	ids := make([]string, 0, len(meaning))
	for id := range meaning {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := meaning[id]
		j := jobs[s.job]
		from, to := j.newFrom, j.newTo
		if s.color == j.base {
			from, to = j.oldFrom, j.oldTo
		}
		pts := got[id].Within(from, to)
		cd := get(s.job, s.color)
		if s.metric == "" {
			for _, p := range pts {
				cd.requests += p.Value
				cd.reqByMin[p.At] += p.Value
			}
			continue
		}
		smp := cd.samples[s.metric]
		if smp == nil {
			smp = &analysis.Sample{}
			cd.samples[s.metric] = smp
		}
		if s.counts {
			smp.Counts = append(smp.Counts, pts.Values()...)
		} else {
			smp.Values = append(smp.Values, pts.Values()...)
		}
	}
	for _, i := range idx {
		j := jobs[i]
		in := analysis.Input{Phase: j.phase, Specs: release.AnalysisSpecs(j.app.Analysis, j.phase), New: map[string]analysis.Sample{}, Old: map[string]analysis.Sample{}}
		for _, c := range []config.Color{j.color, j.base} {
			cd := get(i, c)
			target := in.New
			if c == j.base {
				target, in.OldRequests = in.Old, cd.requests
			} else {
				in.NewRequests = cd.requests
			}
			for _, m := range j.app.Analysis.Effective() {
				smp := cd.samples[m.Name]
				if smp == nil {
					smp = &analysis.Sample{}
				}
				if m.Kind == "ratio" && m.Requests == nil {
					// The analysis' requests are the denominator.
					smp.Counts = nil
					for _, v := range cd.reqByMin {
						smp.Counts = append(smp.Counts, v)
					}
				}
				target[m.Name] = *smp
			}
		}
		v := analysis.Judge(in)
		shell := verdictShell(j, name)
		v.Provider, v.Color, v.AMI, v.Baseline, v.Weight, v.From, v.To = shell.Provider, shell.Color, shell.AMI, shell.Baseline, shell.Weight, shell.From, shell.To
		out[j.app.Name] = &v
	}
	return out
}

func verdictShell(j job, provider string) release.Verdict {
	return release.Verdict{Phase: j.phase, Provider: provider, Color: string(j.color), AMI: j.ami, Baseline: string(j.base),
		Weight: j.weight, From: j.newFrom, To: j.newTo}
}

func toQuery(id string, q config.MetricQuery) analysis.Query {
	out := analysis.Query{ID: id, Namespace: q.Namespace, MetricName: q.MetricName, Stat: q.Stat, Expression: q.Expression, DatadogQuery: q.Datadog}
	keys := make([]string, 0, len(q.Dimensions))
	for k := range q.Dimensions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Dimensions = append(out.Dimensions, analysis.Dimension{Name: k, Value: q.Dimensions[k]})
	}
	return out
}

// tickVerdicts judges the apps a tick runs alone (never an idle one).
func (d *Reconciler) tickVerdicts(ctx context.Context, apps []*config.App, states map[string]release.AppState, now time.Time) map[string]*release.Verdict {
	if len(d.Providers) == 0 {
		return nil
	}
	var jobs []job
	for _, a := range apps {
		if j, ok := jobFor(a, states[a.Name], now, 0); ok {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	return d.judge(ctx, jobs)
}

// Analyze judges an app's release now, as the tick would (since > 0:
// over the last since on both colors). It is what kaizen analyze prints.
// ok is false when no analysis applies: no analysis block, or no release
// in a judged phase.
func (d *Reconciler) Analyze(ctx context.Context, app *config.App, st release.AppState, since time.Duration) (*release.Verdict, bool) {
	j, ok := jobFor(app, st, d.now(), since)
	if !ok {
		return nil, false
	}
	return d.judge(ctx, []job{j})[app.Name], true
}

func pick(apps []*config.App, idx []int) []*config.App {
	out := make([]*config.App, 0, len(idx))
	for _, i := range idx {
		out = append(out, apps[i])
	}
	return out
}
