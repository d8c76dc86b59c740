package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/lab"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/steps"
)

// DemoStep is one line of the demo's timeline.
type DemoStep struct {
	At         time.Time         `json:"at"`
	Event      string            `json:"event"`
	Function   string            `json:"function"`
	Changes    []string          `json:"changes"`
	Release    string            `json:"release,omitempty"`
	Traffic    map[string]int    `json:"traffic"`
	Capacity   map[string]string `json:"capacity"`
	AMI        map[string]string `json:"ami"`
	Healthy    map[string]int    `json:"healthy"`
	Preview    string            `json:"preview"`
	Mutations  int               `json:"mutations"`
	Violations []string          `json:"violations,omitempty"`
	// Database is the staging database on the weekend's refresh steps.
	Database string `json:"database,omitempty"`
}

// DemoResult is what `kaizen demo --json` prints.
type DemoResult struct {
	App        string            `json:"app"`
	Steps      []DemoStep        `json:"steps"`
	Final      release.AppState  `json:"final"`
	Observed   release.Observed  `json:"observed"`
	History    []release.Release `json:"history"`
	Violations int               `json:"violations"`
	Calls      map[string]int    `json:"mutatingCalls"`
	// Weekend are the steps of the staging app's weekend before the day,
	// Refreshes its database refreshes (demo_staging.go).
	Weekend   []DemoStep          `json:"weekend,omitempty"`
	Refreshes []dbrefresh.Refresh `json:"refreshes,omitempty"`
	// Security is Monday's security loop (demo_security.go).
	Security *SecurityLoop `json:"security,omitempty"`
	Cost     DemoCost      `json:"cost"`
	WallTime string        `json:"wallTime"`

	// Samples are the day's public share, capacity and health per color,
	// at each minute they changed (html.go draws them).
	Samples []DaySample `json:"samples,omitempty"`
}

// DemoCost is what the simulated day's capacity cost, in the instance-hours
// EC2 bills, beside the same day at fixed peak capacity.
type DemoCost struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Hours float64   `json:"hours"`
	// InstanceHours per color: every instance from launch to termination,
	// previews and bakes included.
	InstanceHours map[string]float64 `json:"instanceHours"`
	Total         float64            `json:"total"`
	// PeakDesired is the live color's highest desired capacity of the
	// day; FixedPeak is the day at that capacity from start to end, for
	// the live color alone (releases not even counted): capacity
	// scheduled for the morning peak.
	PeakDesired int     `json:"peakDesired"`
	FixedPeak   float64 `json:"fixedPeak"`
}

type demo struct {
	ctx   context.Context
	lab   *lab.Lab
	app   *config.App
	steps []DemoStep
	bad   int
	peak  int // the live color's highest desired capacity so far
	// samples: the fleet at each minute it changed (html.go)
	samples []DaySample
}

var demoDay = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the steps and the final state as JSON")
	htmlPath := fs.String("html", "", "also write the day as one self-contained HTML page (charts, events, ledger) to `FILE`")
	svgPath := fs.String("svg", "", "also write the day's charts as SVG to `FILE` (the README's picture)")
	cfgPath := fs.String("config", "", "configuration file (default examples/kaizen.json)")
	if code, done := parseFlags(fs, "kaizen demo [--json] [--config FILE] [--html FILE] [--svg FILE]", args, stdout, stderr); done {
		return code
	}
	path := configPath(*cfgPath)
	if *cfgPath == "" && os.Getenv("KAIZEN_CONFIG") == "" {
		path = demoConfig
	}
	cfg, err := config.Load(path)
	if err != nil {
		return fail(stderr, 1, "%v", err)
	}
	start := time.Now()
	res, err := Demo(ctx, cfg)
	if err != nil {
		return fail(stderr, 1, "demo: %v", err)
	}
	res.WallTime = time.Since(start).Round(time.Millisecond).String()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fail(stderr, 1, "%v", err)
		}
	} else {
		printTimeline(stdout, cfg, res)
	}
	if err := writeDemoPictures(stderr, res, *htmlPath, *svgPath); err != nil {
		return fail(stderr, 1, "demo: %v", err)
	}
	if res.Violations > 0 {
		return fail(stderr, 1, "demo: %d invariant violation(s)", res.Violations)
	}
	return 0
}

// Demo replays a release day for the first app on a fresh simulated AWS
// and checks every invariant after every step.
func Demo(ctx context.Context, cfg *config.File) (*DemoResult, error) {
	// The weekend before: staging's database refreshed, Monday's image
	// tried on staging.
	var early []DemoStep
	var earlyBad int
	var refreshes []dbrefresh.Refresh
	if s := stagingOf(cfg); s != nil {
		var err error
		if early, earlyBad, refreshes, err = weekend(ctx, cfg, s); err != nil {
			return nil, err
		}
	}
	// Monday afternoon: an advisory goes from the feed to production
	// through staging (demo_security.go).
	sec, err := securityLoop(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if sec != nil {
		earlyBad += sec.Violations
	}
	l := lab.New(cfg, demoDay, io.Discard)
	d := &demo{ctx: ctx, lab: l, app: &cfg.Apps[0]}
	app := d.app
	mk := l.Maker
	// Both colors carry the reference scaling policies, but last week
	// someone tightened blue's CPU target by hand: staging copies it to
	// green.
	if err := l.Cloud.AddScalingPolicy(&autoscaling.PutScalingPolicyInput{
		AutoScalingGroupName: aws.String(app.Blue.ASG), PolicyName: aws.String(app.Blue.ASG + "-Cpu"), PolicyType: aws.String("TargetTrackingScaling"),
		TargetTrackingConfiguration: &astypes.TargetTrackingConfiguration{TargetValue: aws.Float64(40),
			PredefinedMetricSpecification: &astypes.PredefinedMetricSpecification{PredefinedMetricType: astypes.MetricTypeASGAverageCPUUtilization}},
	}); err != nil {
		return nil, err
	}
	d.record("start", "", nil)

	approval := func(exec, state string) []byte {
		return mk.Approval(app.Approval.Pipeline, app.Approval.Stage, app.Approval.Action, exec, state, l.Cloud.Now())
	}
	capacity, guard := firstAlarm(app, config.RoleCapacity), firstAlarm(app, config.RoleGuard)

	// Morning: the image build bakes AMI 1; its pipeline waits for approval.
	d.until(9, 5)
	ami1 := l.Cloud.NewAMI(app, app.Name+"-golden-2026-11-24-1", "exec-1001")
	d.send("AMI "+ami1+" available", route.Stage, mk.AMI(ami1, "available", l.Cloud.Now()))
	d.send("approval action started (exec-1001)", route.Promote, approval("exec-1001", "STARTED"))
	// The morning peak: the live color steps up while load is high, and
	// again after the cooldown while it stays in ALARM.
	if capacity != "" {
		d.until(9, 30)
		d.send("alarm "+capacity+" ALARM (morning peak)", route.Guard, mk.Alarm(capacity, "ALARM", "OK", "Threshold Crossed: CPU 81% > 70%", l.Cloud.Now()))
	}
	// The approval during the peak: green gets blue's current need.
	d.until(10, 30)
	d.send("approved in the pipeline (exec-1001)", route.Promote, approval("exec-1001", "SUCCEEDED"))
	// Lunchtime: the load falls, the alarm is OK, and after its cooldown
	// the live color steps back down to what it had before the peak.
	if capacity != "" {
		d.until(12, 30)
		d.send("alarm "+capacity+" OK (load falls)", route.Guard, mk.Alarm(capacity, "OK", "ALARM", "Threshold Crossed: CPU 38% < 70%", l.Cloud.Now()))
	}

	// Afternoon: AMI 2 is previewed and rejected.
	d.until(13, 0)
	ami2 := l.Cloud.NewAMI(app, app.Name+"-golden-2026-11-24-2", "exec-1002")
	d.send("AMI "+ami2+" available", route.Stage, mk.AMI(ami2, "available", l.Cloud.Now()))
	d.send("approval action started (exec-1002)", route.Promote, approval("exec-1002", "STARTED"))
	d.until(13, 30)
	d.send("rejected in the pipeline (exec-1002)", route.Promote, approval("exec-1002", "FAILED"))

	// Late afternoon: AMI 3 goes live, then its 5xx rate climbs during the
	// bake and the public goes back in one listener call.
	d.until(14, 0)
	ami3 := l.Cloud.NewAMI(app, app.Name+"-golden-2026-11-24-3", "exec-1003")
	d.send("AMI "+ami3+" available", route.Stage, mk.AMI(ami3, "available", l.Cloud.Now()))
	d.send("approval action started (exec-1003)", route.Promote, approval("exec-1003", "STARTED"))
	d.until(14, 30)
	d.send("approved in the pipeline (exec-1003)", route.Promote, approval("exec-1003", "SUCCEEDED"))
	if guard != "" {
		d.until(14, 50)
		d.send("alarm "+guard+" ALARM", route.Guard, mk.Alarm(guard, "ALARM", "OK", "Threshold Crossed: 1 datapoint [57.0] was greater than the threshold (10.0)", l.Cloud.Now()))
	}
	// 16:00: a bad AMI stopped by metric analysis at the first weighted step.
	if err := d.analysisSegment(approval); err != nil { // demo_analysis.go
		return nil, err
	}
	d.until(18, 0)

	res := &DemoResult{App: app.Name, Steps: d.steps, Weekend: early, Violations: d.bad + earlyBad, Refreshes: refreshes, Calls: l.Cloud.Mutations(), Cost: d.cost(), Samples: d.samples, Security: sec}
	if res.Final, err = l.Store.Load(ctx, app.Name); err != nil {
		return nil, err
	}
	if res.Observed, err = l.Observe(ctx, app); err != nil {
		return nil, err
	}
	if res.History, err = l.Store.History(ctx, app.Name); err != nil {
		return nil, err
	}
	return res, nil
}

// cost sums the day's instance-hours per color.
func (d *demo) cost() DemoCost {
	c := DemoCost{From: demoDay, To: d.lab.Cloud.Now(), InstanceHours: map[string]float64{}, PeakDesired: d.peak}
	c.Hours = c.To.Sub(c.From).Hours()
	hours := d.lab.Cloud.InstanceHours()
	for _, col := range config.Colors {
		h := hours[d.app.Color(col).ASG]
		c.InstanceHours[string(col)] = h
		c.Total += h
	}
	c.FixedPeak = float64(c.PeakDesired) * c.Hours
	return c
}

// String renders the cost for people.
func (c DemoCost) String() string {
	var parts []string
	for _, col := range config.Colors {
		parts = append(parts, fmt.Sprintf("%s %.1f", col, c.InstanceHours[string(col)]))
	}
	saving := ""
	if c.FixedPeak > 0 {
		saving = fmt.Sprintf(" (%.0f%% less)", 100*(1-c.Total/c.FixedPeak))
		if c.Total > c.FixedPeak {
			saving = fmt.Sprintf(" (%.0f%% MORE)", 100*(c.Total/c.FixedPeak-1))
		}
	}
	return fmt.Sprintf("instance-hours %s–%s (%.0f h): %s, total %.1f; at fixed peak capacity (%d all day, releases not counted) %.1f%s",
		c.From.Format("15:04"), c.To.Format("15:04"), c.Hours, strings.Join(parts, ", "), c.Total, c.PeakDesired, c.FixedPeak, saving)
}

// until ticks every minute up to hh:mm of the demo day.
func (d *demo) until(hh, mm int) {
	end := time.Date(demoDay.Year(), demoDay.Month(), demoDay.Day(), hh, mm, 0, 0, time.UTC)
	for d.lab.Cloud.Now().Before(end) {
		d.lab.Cloud.Advance(time.Minute)
		d.send("tick", route.Tick, d.lab.Maker.Schedule("kaizen-tick", d.lab.Cloud.Now()))
		d.sampleNow()
	}
}

func (d *demo) send(label, function string, raw []byte) {
	before := d.lab.Cloud.MutationCount()
	outs, err := d.lab.Send(d.ctx, function, raw)
	var changes []string
	for _, o := range outs {
		changes = append(changes, describe(o)...)
	}
	if err != nil {
		changes = append(changes, "error: "+err.Error())
	}
	if label == "tick" && len(changes) == 0 {
		return
	}
	d.record(label, function, changes)
	d.steps[len(d.steps)-1].Mutations = d.lab.Cloud.MutationCount() - before
}

// describe lists what a step changed: release transitions, AWS changes
// and notifications.
func describe(o steps.Outcome) []string {
	var out []string
	for _, t := range o.Plan.Transitions {
		out = append(out, "release "+t)
	}
	for _, a := range o.Applied {
		if a.Kind != release.Notify {
			out = append(out, a.String())
		}
	}
	for _, a := range o.Applied {
		if a.Kind == release.Notify {
			out = append(out, "notify «"+strings.TrimPrefix(a.Subject, "[kaizen] "+o.App+": ")+"»")
		}
	}
	if o.Plan.Refused != "" {
		out = append(out, "refused: "+o.Plan.Refused)
	}
	if len(out) == 0 && o.Event.Kind != release.EvTick {
		for _, n := range o.Plan.Notes {
			if strings.Contains(n, "bound") || strings.Contains(n, "capacity alarm") {
				out = append(out, n)
			}
		}
	}
	return out
}

func (d *demo) record(label, function string, changes []string) {
	ctx := d.ctx
	obs, err := d.lab.Observe(ctx, d.app)
	step := DemoStep{At: d.lab.Cloud.Now(), Event: label, Function: function, Changes: changes,
		Traffic: map[string]int{}, Capacity: map[string]string{}, AMI: map[string]string{}, Healthy: map[string]int{}}
	if err == nil {
		for _, c := range config.Colors {
			v := obs.Color(c)
			step.Traffic[string(c)] = obs.Weights[c]
			step.Capacity[string(c)] = v.Capacity.String()
			step.AMI[string(c)] = v.AMI
			step.Healthy[string(c)] = v.Healthy
		}
		step.Preview = string(obs.Preview)
		d.sample(step.At, obs)
	}
	if err == nil {
		d.peak = max(d.peak, obs.Color(obs.Live()).Desired)
	}
	if st, err := d.lab.Store.Load(ctx, d.app.Name); err == nil && st.Active != nil {
		step.Release = fmt.Sprintf("%s %s on %s", short(st.Active.AMI), st.Active.State, st.Active.Color)
	}
	for _, v := range d.lab.Violations(ctx) {
		step.Violations = append(step.Violations, v.Error())
		d.bad++
	}
	for i, c := range step.Changes {
		step.Changes[i] = shortAMIs(c)
	}
	d.steps = append(d.steps, step)
}

// shortAMIs trims every AMI id in s.
func shortAMIs(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "ami-")
		if i < 0 || len(s) < i+12 {
			b.WriteString(s)
			return b.String()
		}
		j := i + 4
		for j < len(s) && strings.IndexByte("0123456789abcdef", s[j]) >= 0 {
			j++
		}
		b.WriteString(s[:i])
		b.WriteString(short(s[i:j]))
		s = s[j:]
	}
}

// short trims an AMI id for the timeline.
func short(ami string) string {
	if len(ami) > 8 {
		return "ami-…" + ami[len(ami)-4:]
	}
	return ami
}

func printTimeline(w io.Writer, cfg *config.File, res *DemoResult) {
	fmt.Fprintf(w, "kaizen demo: app %s on the simulated AWS (%s, account %s), virtual day %s\n\n",
		res.App, cfg.Region, cfg.Account, demoDay.Format("Mon 2006-01-02"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tFUNCTION\tWHAT CHANGED\tPUBLIC b/g\tBLUE min/des/max healthy AMI\tGREEN min/des/max healthy AMI\tPREVIEW\tRELEASE")
	for _, s := range append(slices.Clone(res.Weekend), res.Steps...) {
		changes := strings.Join(s.Changes, "; ")
		if changes == "" {
			changes = "-"
		}
		fn := s.Function
		if fn == "" {
			fn = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s %d %s\t%s %d %s\t%s\t%s\n",
			demoTime(s.At), s.Event, fn, changes,
			s.Traffic["blue"], s.Traffic["green"],
			s.Capacity["blue"], s.Healthy["blue"], short(s.AMI["blue"]),
			s.Capacity["green"], s.Healthy["green"], short(s.AMI["green"]),
			s.Preview, orDash(s.Release))
		if s.Database != "" {
			fmt.Fprintf(tw, "\tstaging db %s\n", s.Database)
		}
		for _, v := range s.Violations {
			fmt.Fprintf(tw, "\t!! %s\n", v)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nledger:\n")
	for i := len(res.History) - 1; i >= 0; i-- {
		r := res.History[i]
		var path []string
		for _, t := range r.History {
			path = append(path, fmt.Sprintf("%s %s", t.At.Format("15:04"), t.To))
		}
		fmt.Fprintf(w, "  %s (%s) on %s: %s\n", r.AMI, r.AMIName, r.Color, strings.Join(path, " → "))
	}
	printRefreshLedger(w, res.Refreshes)
	printSecurityLoop(w, res.Security)
	fmt.Fprintf(w, "\nmutating AWS calls: %s\n", joinCounts(res.Calls))
	fmt.Fprintf(w, "%s\n", res.Cost)
	if res.Violations == 0 {
		fmt.Fprintf(w, "invariants: all held after every one of %d steps (wall time %s)\n", len(res.Steps), res.WallTime)
	} else {
		fmt.Fprintf(w, "invariants: %d violation(s)\n", res.Violations)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func firstAlarm(app *config.App, role config.AlarmRole) string {
	for _, a := range app.Alarms {
		if a.Role == role {
			return a.Name
		}
	}
	return ""
}
