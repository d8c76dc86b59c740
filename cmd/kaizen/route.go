package main

import (
	"encoding/json"
	"flag"
	"io"
	"os"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// runRoute prints the function whose generic pattern takes the event; with
// a configuration (--config, $KAIZEN_CONFIG or the example) the database
// refresh's events are checked against it as dbrefresh checks them.
func runRoute(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("route", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (default examples/kaizen.json, or $KAIZEN_CONFIG; without one, only the generic patterns)")
	if code, done := parseFlags(fs, "kaizen route [--config FILE] FILE", args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		return fail(stderr, 2, "usage: kaizen route FILE")
	}
	file := fs.Arg(0)
	b, err := os.ReadFile(file)
	if err != nil {
		return fail(stderr, 2, "%v", err)
	}
	e, err := route.DecodeEnvelope(b)
	if err != nil {
		return fail(stderr, 2, "%s: %v", file, err)
	}
	res := route.Route(e)
	if cfg, err := config.Load(configPath(*cfgPath)); err == nil {
		res = route.RouteFor(cfg, e)
	} else if *cfgPath != "" {
		return fail(stderr, 2, "%v", err)
	}
	out := map[string]any{"function": res.Function}
	if res.Function != "" {
		out["fields"] = res.Fields
	} else {
		out["reason"] = res.Reason
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fail(stderr, 1, "%v", err)
	}
	return 0
}
