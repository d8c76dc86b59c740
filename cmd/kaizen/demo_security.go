package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/fake"
	"github.com/kaizen-sre/kaizen/shared/lab"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// securityStart is Monday afternoon before the release day: Amazon
// publishes two advisories at 13:30.
var securityStart = time.Date(2026, 11, 23, 13, 55, 0, 0, time.UTC)

// SecurityLoop is what the demo's security loop did, for the timeline and
// its test.
type SecurityLoop struct {
	App     string `json:"app"`
	Staging string `json:"staging"`
	// Setup says how the loop's configuration differs from the demo's.
	Setup []string   `json:"setup"`
	Steps []DemoStep `json:"steps"`
	// Execution is the release pipeline execution the poll started, with
	// the variables it was given.
	Execution string            `json:"execution"`
	Variables map[string]string `json:"variables"`
	AMI       string            `json:"ami"`
	// Evidence is the approval request's message.
	Evidence string `json:"evidence"`
	// Refused is why the first approval, before the staging soak, was
	// refused.
	Refused string `json:"refused"`
	// Live is the AMI production's public reaches at the end, and State
	// production's release then.
	Live       string        `json:"live"`
	State      release.State `json:"state"`
	Violations int           `json:"violations"`
}

// securityConfig is the demo's configuration set up for the security loop
// the way the README recommends: production (the first app) rebuilds
// through its release pipeline, whose approval action then asks for
// approval; its staging app shares its images and must have run the AMI
// for stagingSoakMinutes before production may approve it. Nil when the
// configuration has no staging app.
func securityConfig(cfg *config.File) (*config.File, []string, error) {
	prod := &cfg.Apps[0]
	var stg *config.App
	for i := range cfg.Apps {
		if a := &cfg.Apps[i]; a.Name != prod.Name && (a.Name == prod.StagingApp || (prod.StagingApp == "" && a.DBRefresh != nil)) {
			stg = a
		}
	}
	if stg == nil {
		return nil, nil, nil
	}
	var doc map[string]any
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, nil, err
	}
	apps := doc["apps"].([]any)
	var setup []string
	for _, a := range apps {
		app := a.(map[string]any)
		switch app["name"] {
		case prod.Name:
			app["rebuild"] = map[string]any{"pipeline": prod.Approval.Pipeline}
			app["stagingApp"] = stg.Name
			if prod.StagingSoakMinutes == 0 {
				app["stagingSoakMinutes"] = 15
			}
			if prod.PreviewURL == "" {
				app["previewUrl"] = "https://preview." + prod.Name + ".example.com/"
			}
			setup = append(setup, fmt.Sprintf("%s: rebuild.pipeline %s (its release pipeline), stagingApp %s, stagingSoakMinutes %v",
				prod.Name, prod.Approval.Pipeline, stg.Name, app["stagingSoakMinutes"]))
		case stg.Name:
			app["imageTag"] = map[string]any{"key": prod.ImageTag.Key, "value": prod.ImageTag.Value}
			setup = append(setup, fmt.Sprintf("%s: imageTag %s=%s (production's images)", stg.Name, prod.ImageTag.Key, prod.ImageTag.Value))
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	sc, err := config.Parse(out)
	if err != nil {
		return nil, nil, fmt.Errorf("the security loop's configuration: %w", err)
	}
	return sc, setup, nil
}

// feed serves an Amazon Linux 2023 advisory feed from memory: the two
// advisories Amazon publishes on Monday, and an old one the image's base
// already has.
type feed struct{ body string }

func (f feed) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Request: r, Header: http.Header{"Content-Type": {"application/rss+xml"}},
		Body: io.NopCloser(strings.NewReader(f.body))}, nil
}

const mondayFeed = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Amazon Linux 2023 Security Center RSS Feed</title>
<link>https://alas.aws.amazon.com/alas2023.html</link><description>demo</description>
<item><title>ALAS2023-2026-1101 (critical): openssh, openssh-clients, openssh-server</title>
<description> CVE-2026-21401, CVE-2026-21402</description><pubDate>Mon, 23 Nov 2026 13:30:00 GMT</pubDate>
<link>https://alas.aws.amazon.com/AL2023/ALAS2023-2026-1101.html</link></item>
<item><title>ALAS2023-2026-1102 (important): libxml2</title>
<description> CVE-2026-30177</description><pubDate>Mon, 23 Nov 2026 13:30:00 GMT</pubDate>
<link>https://alas.aws.amazon.com/AL2023/ALAS2023-2026-1102.html</link></item>
<item><title>ALAS2023-2025-800 (critical): openssh</title>
<description> CVE-2024-6387</description><pubDate>Thu, 09 Jan 2025 01:22:00 GMT</pubDate>
<link>https://alas.aws.amazon.com/AL2023/ALAS2023-2025-800.html</link></item>
</channel></rss>`

// securityLoop is Monday afternoon on a lab of its own: two advisories in
// the feed → production's release pipeline started with the full list →
// the AMI it builds is staged on staging and production, goes live on
// staging → production's approval action starts and posts its evidence →
// an approval before the staging soak is refused → approved after it →
// live on production.
func securityLoop(ctx context.Context, cfg *config.File) (*SecurityLoop, error) {
	scfg, setup, err := securityConfig(cfg)
	if err != nil || scfg == nil {
		return nil, err
	}
	prod := &scfg.Apps[0]
	stg, _ := scfg.App(prod.StagingApp)
	l := lab.New(scfg, securityStart, io.Discard)
	c, mk := l.Cloud, l.Maker
	book := &fake.ALASStore{}
	l.Deps.Advisories = book
	d := &demo{ctx: ctx, lab: l, app: prod}
	res := &SecurityLoop{App: prod.Name, Staging: stg.Name, Setup: setup}
	d.record("security loop: "+prod.Name+" and "+stg.Name+" on Monday", "", nil)

	// The feed the lab's clock has reached: two new advisories. The first
	// poll records the old one as already in the base image.
	quiet := slog.New(slog.DiscardHandler)
	poller := &alas.Poller{
		Store:     book,
		Rebuilder: &rebuild.Once{Rebuilder: &rebuild.Builder{CodeBuild: c.CodeBuild(), CodePipeline: c.CodePipeline()}, Claims: &fake.Claims{}, Log: quiet},
		Notifier:  l.Deps.Fleet,
		Fetcher:   &alas.Fetcher{Client: &http.Client{Transport: feed{mondayFeed}}},
		Now:       c.Now,
		Log:       quiet,
		ReleaseVersion: func(context.Context) (string, error) {
			return "2023.9.20261120", nil
		},
	}
	c.Advance(5 * time.Minute)
	rep, err := poller.Poll(ctx, prod)
	if err != nil {
		return nil, fmt.Errorf("security loop: poll: %w", err)
	}
	execs := c.Executions()
	if len(execs) != 1 {
		return nil, fmt.Errorf("security loop: the poll started %d pipeline executions, want 1 (report %+v)", len(execs), rep)
	}
	res.Execution, res.Variables = execs[0].ID, execs[0].Variables
	d.record("ALAS poll: "+strings.Join(rep.Rebuild, ", ")+" new", route.ALASPoll,
		[]string{fmt.Sprintf("started pipeline %s execution %s with %s=%s, %s=%s", execs[0].Pipeline, res.Execution,
			prod.Rebuild.PipelineVariable, res.Variables[prod.Rebuild.PipelineVariable], rebuild.EnvReleaseVersion, res.Variables[rebuild.EnvReleaseVersion])})

	// 25 minutes later the pipeline's build stage has baked the AMI with
	// what `kaizen image prepare` verified and the source revision.
	c.Advance(25 * time.Minute)
	advisories := strings.ReplaceAll(res.Variables[prod.Rebuild.PipelineVariable], ",", " ")
	res.AMI = c.AddImage(prod.Name+"-golden-2026-11-23-sec", c.Now(), map[string]string{
		prod.ImageTag.Key:         prod.ImageTag.Value,
		prod.PipelineTag:          res.Execution,
		release.TagAdvisories:     advisories,
		release.TagReleaseVersion: res.Variables[rebuild.EnvReleaseVersion],
		release.TagSecretVersion:  "v7",
		release.TagCodeRevision:   "4f2c9e1",
	})
	d.sendApps("AMI "+res.AMI+" available (pipeline "+res.Execution+")", route.Stage, mk.AMI(res.AMI, "available", c.Now()))

	// The pipeline's staging stage waits for staging to run the AMI; its
	// approval action starts then.
	stagingLive := func() bool {
		o, err := l.Observe(ctx, stg)
		return err == nil && o.Color(o.Live()).AMI == res.AMI
	}
	for i := 0; i < 60 && !stagingLive(); i++ {
		c.Advance(time.Minute)
		d.sendApps("tick", route.Tick, mk.Schedule("kaizen-tick", c.Now()))
	}
	if !stagingLive() {
		return nil, fmt.Errorf("security loop: AMI %s never went live on staging", res.AMI)
	}
	c.Advance(2 * time.Minute)
	d.sendApps("tick", route.Tick, mk.Schedule("kaizen-tick", c.Now()))
	approval := func(state string) []byte {
		return mk.Approval(prod.Approval.Pipeline, prod.Approval.Stage, prod.Approval.Action, res.Execution, state, c.Now())
	}
	d.sendApps("approval action started ("+res.Execution+")", route.Promote, approval("STARTED"))
	for _, p := range c.Published() {
		if p.Topic == prod.TopicARN && strings.Contains(p.Subject, "approval requested") {
			res.Evidence = p.Message
		}
	}
	// Too early: the soak has not passed.
	outs, err := l.Send(ctx, route.Promote, approval("SUCCEEDED"))
	if err != nil {
		return nil, err
	}
	for _, o := range outs {
		res.Refused = o.Plan.Refused
	}
	d.record("approved in the pipeline too early ("+res.Execution+")", route.Promote, []string{"refused: " + res.Refused})
	// After the soak, approved again (kaizen promote: the pipeline's
	// action already succeeded).
	for i := 0; i < prod.StagingSoakMinutes; i++ {
		c.Advance(time.Minute)
		d.sendApps("tick", route.Tick, mk.Schedule("kaizen-tick", c.Now()))
	}
	d.sendApps("kaizen promote --app "+prod.Name+" after the soak", route.Promote, approval("SUCCEEDED"))
	for i := 0; i < 30; i++ {
		c.Advance(time.Minute)
		d.sendApps("tick", route.Tick, mk.Schedule("kaizen-tick", c.Now()))
		if st, _ := l.Store.Load(ctx, prod.Name); st.Active != nil && st.Active.State == release.Baking {
			break
		}
	}
	o, err := l.Observe(ctx, prod)
	if err != nil {
		return nil, err
	}
	res.Live = o.Color(o.Live()).AMI
	if st, err := l.Store.Load(ctx, prod.Name); err == nil && st.Active != nil {
		res.State = st.Active.State
	}
	res.Steps, res.Violations = d.steps, d.bad
	return res, nil
}

// printSecurityLoop prints the loop's timeline and its evidence.
func printSecurityLoop(w io.Writer, s *SecurityLoop) {
	if s == nil {
		return
	}
	fmt.Fprintf(w, "\nsecurity loop (Monday; %s)\n", strings.Join(s.Setup, "; "))
	for _, st := range s.Steps[1:] {
		fmt.Fprintf(w, "  %s  %-52s %s\n", demoTime(st.At), st.Event, shortAMIs(strings.Join(st.Changes, "; ")))
	}
	fmt.Fprintf(w, "  approval request posted to %s's topic:\n", s.App)
	for _, line := range strings.Split(s.Evidence, "\n") {
		fmt.Fprintf(w, "    | %s\n", line)
	}
}

// sendApps is send for steps that may act on both apps: each change names
// its app.
func (d *demo) sendApps(label, function string, raw []byte) {
	before := d.lab.Cloud.MutationCount()
	outs, err := d.lab.Send(d.ctx, function, raw)
	var changes []string
	for _, o := range outs {
		for _, c := range describe(o) {
			changes = append(changes, o.App+": "+c)
		}
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
