package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/envfile"
)

func runEnvfile(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		return envfile.RunRender(ctx, []string{"--help"}, stdin, stdout, stderr, nil)
	}
	if len(args) == 0 || args[0] != "render" {
		return fail(stderr, 2, "usage: kaizen envfile render [--secret-id ID | --in FILE] [--out PATH] [--format shell|systemd] [--mode 0600] [--group G] [--prefix P] [--only K1,K2]")
	}
	// The SDK client is built only when a secret is fetched, so --in and
	// stdin work without AWS credentials. It honours AWS_ENDPOINT_URL.
	get := func(ctx context.Context, id string) ([]byte, error) {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("aws config: %w", err)
		}
		return envfile.SecretsManagerGetter(secretsmanager.NewFromConfig(cfg))(ctx, id)
	}
	return envfile.RunRender(ctx, args[1:], stdin, stdout, stderr, get)
}

func runALAS(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		printUsage(stdout, nil, "kaizen alas parse FILE | kaizen alas check --feed URL_OR_FILE [--since DATE] [--min-severity S]")
		return 0
	}
	if len(args) == 0 {
		return fail(stderr, 2, "usage: kaizen alas parse FILE | kaizen alas check --feed URL_OR_FILE [--since DATE] [--min-severity S]")
	}
	switch args[0] {
	case "parse":
		fs := flag.NewFlagSet("alas parse", flag.ContinueOnError)
		if code, done := parseFlags(fs, "kaizen alas parse FILE", args[1:], stdout, stderr); done {
			return code
		}
		if fs.NArg() != 1 {
			return fail(stderr, 2, "usage: kaizen alas parse FILE")
		}
		f, err := alas.ReadFile(fs.Arg(0))
		if err != nil {
			return fail(stderr, 1, "%v", err)
		}
		for _, e := range f.Skipped {
			fmt.Fprintf(stderr, "kaizen: skipped: %v\n", e)
		}
		if err := alas.WriteJSONLines(stdout, f); err != nil {
			return fail(stderr, 1, "%v", err)
		}
		return 0
	case "check":
		fs := flag.NewFlagSet("alas check", flag.ContinueOnError)
		feed := fs.String("feed", "", "feed URL or file")
		since := fs.String("since", "", "ignore advisories published before this date (YYYY-MM-DD or RFC 3339)")
		minSev := fs.String("min-severity", "important", "critical, important, medium or low")
		if code, done := parseFlags(fs, "kaizen alas check --feed URL_OR_FILE [--since DATE] [--min-severity S]", args[1:], stdout, stderr); done {
			return code
		}
		if *feed == "" {
			return fail(stderr, 2, "alas check: --feed is required")
		}
		if _, ok := alas.NormalizeSeverity(*minSev); !ok {
			return fail(stderr, 2, "alas check: --min-severity %q: want critical, important, medium or low", *minSev)
		}
		var t time.Time
		if *since != "" {
			var err error
			if t, err = time.Parse("2006-01-02", *since); err != nil {
				if t, err = time.Parse(time.RFC3339, *since); err != nil {
					return fail(stderr, 2, "alas check: --since %q: want YYYY-MM-DD or RFC 3339", *since)
				}
			}
		}
		var f alas.Feed
		var err error
		if strings.HasPrefix(*feed, "http://") || strings.HasPrefix(*feed, "https://") {
			var res alas.Result
			res, err = (&alas.Fetcher{}).Fetch(ctx, *feed, alas.Validators{})
			if err == nil {
				f, err = alas.Parse(strings.NewReader(string(res.Body)))
			}
		} else {
			f, err = alas.ReadFile(*feed)
		}
		if err != nil {
			return fail(stderr, 1, "%v", err)
		}
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for _, d := range alas.Check(f, t, *minSev) {
			if err := enc.Encode(d); err != nil {
				return fail(stderr, 1, "%v", err)
			}
		}
		return 0
	}
	return fail(stderr, 2, "alas: unknown subcommand %q", args[0])
}
