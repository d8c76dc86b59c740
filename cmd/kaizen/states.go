package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kaizen-sre/kaizen/shared/release"
)

const statesSynopsis = "kaizen states [--dot|--mermaid]"

// runStates prints the planner's state table: every transition a release
// may make and the kinds of cause that may make it, as a table, a Mermaid
// state diagram (the README's, kept equal by a test) or a Graphviz digraph.
func runStates(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("states", flag.ContinueOnError)
	dot := fs.Bool("dot", false, "print a Graphviz digraph (dot -Tsvg)")
	mermaid := fs.Bool("mermaid", false, "print a Mermaid state diagram, as in README.md")
	if code, done := parseFlags(fs, statesSynopsis, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 || *dot && *mermaid {
		printUsage(stderr, fs, statesSynopsis)
		return 2
	}
	switch {
	case *mermaid:
		fmt.Fprint(stdout, release.Mermaid())
	case *dot:
		fmt.Fprint(stdout, release.Dot())
	default:
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FROM\tTO\tBY")
		for _, e := range release.Table {
			from := string(e.From)
			if e.From == release.None {
				from = "(new AMI)"
			}
			by := ""
			for i, t := range e.By {
				if i > 0 {
					by += ", "
				}
				by += string(t)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", from, e.To, by)
		}
		tw.Flush()
	}
	return 0
}
