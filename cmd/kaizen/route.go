package main

import (
	"encoding/json"
	"io"
	"os"

	"github.com/kaizen-sre/kaizen/shared/route"
)

// runRoute prints the function whose generic pattern takes the event.
func runRoute(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		return fail(stderr, 2, "usage: kaizen route FILE")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return fail(stderr, 2, "%v", err)
	}
	e, err := route.Decode(b)
	if err != nil {
		return fail(stderr, 2, "%s: %v", args[0], err)
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
