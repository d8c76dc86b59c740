package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// parseFlags parses a subcommand's flags. -h, -help and --help print the
// usage (synopsis, then the flags) on stdout: done with code 0. A bad flag
// prints the error and the usage on stderr: done with code 2.
func parseFlags(fs *flag.FlagSet, synopsis string, args []string, stdout, stderr io.Writer) (code int, done bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below, on the right stream
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout, fs, synopsis)
		return 0, true
	case err != nil:
		printUsage(stderr, fs, synopsis)
		return 2, true
	}
	return 0, false
}

// printUsage writes "Usage: synopsis" and fs's flags (fs may be nil).
func printUsage(w io.Writer, fs *flag.FlagSet, synopsis string) {
	fmt.Fprintf(w, "Usage: %s\n", synopsis)
	if fs == nil {
		return
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

// isHelp reports whether arg asks for help (for commands with subcommands,
// before one is named).
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}
