// Command kaizen is the operator and local-run CLI: the demo on the
// simulated AWS, event routing and replay, the env-file renderer for image
// builds, and ALAS feed checks.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `kaizen: event-driven blue/green releases and scaling for golden-AMI fleets

Usage:
  kaizen demo [--json] [--html FILE]        replay a whole release day on the simulated AWS
                                            (--html: the day's charts, events and ledger as one page)
  kaizen route FILE                         name the function that takes an EventBridge event
  kaizen replay --event FILE... [--json] [--dry-run]
                                            run events in order through their functions on one simulated
                                            account, ticking every virtual minute between their times
  kaizen sim serve [--addr HOST:PORT]       serve the simulated AWS over HTTP (for AWS_ENDPOINT_URL)
  kaizen status [--app A] [--json]          live color, weights, AMI, capacity and health per color, what the release waits for
  kaizen status --watch [--interval 2s]     the same, redrawn every interval until Ctrl-C
  kaizen analyze [--app A] [--since 30m] [--json]
                                            the release's metrics, new color against old: metric, old, new,
                                            verdict (the judgement the tick makes, shared/analysis)
  kaizen history [--app A] [--json]         the release ledger
  kaizen history --app A --html FILE        the ledger and the public per color it implies, as one page
  kaizen states [--dot|--mermaid]           a release's states and allowed transitions (README's diagram)
  kaizen promote|rollback|abort|resume --app A [--dry-run]
                                            a person's command, through the same checks as the events
  kaizen dbrefresh start|abort|status|history --app A [--dry-run]
                                            refresh staging's database from production's newest snapshot
                                            (or stop one before its swap); its state and ledger
  kaizen dbrefresh states                   a refresh's states and allowed transitions (README's diagram)
  kaizen images prune --app A --keep N [--dry-run]
                                            deregister old AMIs (and snapshots) nothing uses
  kaizen envfile render [flags]             render a Secrets Manager JSON secret as an env file
  kaizen image prepare [flags]              on the image build instance: apply and verify advisories,
                                            render the secret, write the manifest, print the AMI tags
  kaizen alas parse FILE                    one JSON line per advisory of an ALAS feed
  kaizen alas check --feed URL_OR_FILE      what a poll would do, without writing
  kaizen config check [--config FILE] [--json]
                                            validate the configuration: a line per app, or every error
  kaizen bench                              the benchmark table (make bench)
  kaizen help                               this text

Most commands take --config FILE (default examples/kaizen.json, or $KAIZEN_CONFIG).
Operator commands use the AWS SDK's usual credentials and --table (or $KAIZEN_TABLE);
--endpoint and --dynamodb-endpoint point them at "kaizen sim serve" and dynalite.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "route":
		return runRoute(rest, stdout, stderr)
	case "replay":
		return runReplay(ctx, rest, stdout, stderr)
	case "envfile":
		return runEnvfile(ctx, rest, stdin, stdout, stderr)
	case "alas":
		return runALAS(ctx, rest, stdout, stderr)
	case "status":
		return runStatus(ctx, rest, stdout, stderr)
	case "analyze":
		return runAnalyze(ctx, rest, stdout, stderr)
	case "history":
		return runHistory(ctx, rest, stdout, stderr)
	case "states":
		return runStates(rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "sim":
		return runSim(ctx, rest, stdout, stderr)
	case "images":
		return runImages(ctx, rest, stdout, stderr)
	case "dbrefresh":
		return runDBRefresh(ctx, rest, stdout, stderr)
	case "image":
		return runImage(ctx, rest, stdout, stderr)
	case "config":
		return runConfig(rest, stdout, stderr)
	case "promote", "rollback", "abort", "resume":
		return runOperator(ctx, cmd, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "kaizen: unknown command %q\n\n%s", cmd, usage)
	return 2
}

func configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := os.Getenv("KAIZEN_CONFIG"); p != "" {
		return p
	}
	return "examples/kaizen.json"
}

func fail(stderr io.Writer, code int, format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	fmt.Fprint(stderr, "kaizen: "+msg)
	return code
}
