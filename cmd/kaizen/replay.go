package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/lab"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/steps"
)

// Replay fixtures: the AMIs the files in events/ name.
const (
	FixtureAMI        = "ami-0a1b2c3d4e5f60718" // tagged for the first app
	FixtureForeignAMI = "ami-0f9e8d7c6b5a40312" // tagged for another app
)

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("event", "", "EventBridge event file")
	dry := fs.Bool("dry-run", false, "print the plan without applying it")
	cfgPath := fs.String("config", "", "configuration file (default examples/kaizen.json)")
	verbose := fs.Bool("v", false, "print the handler's log lines on stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" {
		return fail(stderr, 2, "replay: --event FILE is required")
	}
	cfg, err := config.Load(configPath(*cfgPath))
	if err != nil {
		return fail(stderr, 1, "%v", err)
	}
	raw, err := os.ReadFile(*file)
	if err != nil {
		return fail(stderr, 2, "%v", err)
	}
	e, err := route.Decode(raw)
	if err != nil {
		return fail(stderr, 2, "%s: %v", *file, err)
	}
	// The pattern alone picks the function, so a malformed detail reaches
	// its handler and gets the handler's error.
	fn, _ := route.Match(e)
	if fn == "" {
		return printJSON(stdout, stderr, map[string]any{"function": "", "reason": route.Route(e).Reason})
	}
	if fn != route.Stage && fn != route.Promote && fn != route.Guard && fn != route.Tick {
		return fail(stderr, 2, "replay: %s events are not release steps; replay runs stage, promote, guard and tick", fn)
	}
	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	if t, err := time.Parse(time.RFC3339, e.Time); err == nil {
		start = t
	}
	logw := io.Discard
	if *verbose {
		logw = stderr
	}
	l := lab.New(cfg, start, logw)
	app := &cfg.Apps[0]
	l.Cloud.AddImageID(FixtureAMI, app.Name+"-golden-fixture", start.Add(-time.Minute), map[string]string{app.ImageTag.Key: app.ImageTag.Value})
	l.Cloud.AddImageID(FixtureForeignAMI, "billing-golden-fixture", start.Add(-time.Minute), map[string]string{app.ImageTag.Key: "billing"})
	l.Deps.DryRun = *dry
	before := l.Cloud.Mutations()
	outs, herr := l.Send(ctx, fn, raw)
	var plan []string
	for _, o := range outs {
		for _, a := range o.Plan.Actions {
			plan = append(plan, a.String())
		}
	}
	report := map[string]any{"function": fn, "dryRun": *dry, "plan": plan, "outcomes": outs}
	if *dry {
		report["applied"] = "nothing (dry run)"
	} else {
		after := l.Cloud.Mutations()
		delta := map[string]int{}
		for k, v := range after {
			if v != before[k] {
				delta[k] = v - before[k]
			}
		}
		report["mutatingCalls"] = delta
	}
	if herr != nil {
		report["error"] = herr.Error()
	}
	if code := printJSON(stdout, stderr, report); code != 0 {
		return code
	}
	if herr != nil {
		if errors.Is(herr, steps.ErrMalformed) {
			return fail(stderr, 1, "replay: %v", herr)
		}
		return fail(stderr, 1, "replay: %s failed: %v", fn, herr)
	}
	return 0
}

func printJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(stderr, 1, "%v", fmt.Sprint(err))
	}
	return 0
}
