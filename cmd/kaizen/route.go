package main

import (
	"encoding/json"
	"flag"
	"io"
	"os"

	"github.com/kaizen-sre/kaizen/shared/route"
)

// runRoute prints the function whose generic pattern takes the event.
func runRoute(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("route", flag.ContinueOnError)
	if code, done := parseFlags(fs, "kaizen route FILE", args, stdout, stderr); done {
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
	e, err := route.Decode(b)
	if err != nil {
		return fail(stderr, 2, "%s: %v", file, err)
	}
	res := route.Route(e)
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
