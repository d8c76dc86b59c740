package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kaizen-sre/kaizen/shared/store"

	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/simhttp"
)

const simUsage = "usage: kaizen sim serve [--addr HOST:PORT] [--config FILE] [--start RFC3339] [--dynamodb-endpoint URL [--table NAME]] [--quiet]"

// runSim serves the simulated AWS (shared/simhttp over a seeded shared/sim)
// until SIGINT, SIGTERM or ctx ends: the packaged functions, the operator
// commands and the AWS CLI reach it through AWS_ENDPOINT_URL.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		printUsage(stdout, nil, strings.TrimPrefix(simUsage, "usage: "))
		return 0
	}
	if len(args) == 0 || args[0] != "serve" {
		return fail(stderr, 2, "sim: %s", simUsage)
	}
	fs := flag.NewFlagSet("sim serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:4566", "address to listen on (port 0 picks a free one)")
	cfgPath := fs.String("config", "", "configuration file whose apps are seeded (default examples/kaizen.json, or $KAIZEN_CONFIG)")
	startFlag := fs.String("start", "", "virtual clock start, RFC 3339 (default now: the functions compare the wall clock with what they record)")
	quiet := fs.Bool("quiet", false, "do not log each AWS call to stderr")
	dynamo := fs.String("dynamodb-endpoint", "", "a DynamoDB API (dynalite) in which to create --table, if it is missing")
	table := fs.String("table", "kaizen", "the table to create with --dynamodb-endpoint")
	if code, done := parseFlags(fs, strings.TrimPrefix(simUsage, "usage: "), args[1:], stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return fail(stderr, 2, "sim serve: unexpected argument %q\n%s", fs.Arg(0), simUsage)
	}
	start := time.Now().UTC()
	if *startFlag != "" {
		t, err := time.Parse(time.RFC3339, *startFlag)
		if err != nil {
			return fail(stderr, 2, "sim serve: --start: want an RFC 3339 time such as 2026-11-24T09:00:00Z, got %q", *startFlag)
		}
		start = t.UTC()
	}
	cfg, err := config.Load(configPath(*cfgPath))
	if err != nil {
		return fail(stderr, 1, "sim serve: %v", err)
	}

	log := slog.New(slog.DiscardHandler)
	if !*quiet {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	c := sim.New(start)
	c.Account, c.Region = cfg.Account, cfg.Region
	for i := range cfg.Apps {
		app := &cfg.Apps[i]
		ami := c.SeedApp(app)
		c.SeedDBRefresh(cfg, app) // production's and staging's databases, for dbRefresh
		log.Info("seeded app", "app", app.Name, "live", "blue", "ami", ami, "floor", app.Floor)
	}

	if *dynamo != "" {
		db := dynamodb.New(dynamodb.Options{Region: cfg.Region, BaseEndpoint: aws.String(*dynamo),
			Credentials: credentials.NewStaticCredentialsProvider("sim", "sim", "")})
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := store.CreateTable(tctx, db, *table)
		cancel()
		var inUse *ddbtypes.ResourceInUseException
		switch {
		case errors.As(err, &inUse):
			log.Info("table exists", "table", *table)
		case err != nil:
			return fail(stderr, 1, "sim serve: --dynamodb-endpoint %s: %v", *dynamo, err)
		default:
			log.Info("created table", "table", *table, "endpoint", *dynamo)
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(stderr, 1, "sim serve: --addr %s: %v", *addr, err)
	}
	srv := &http.Server{
		Handler:           simhttp.New(c, simhttp.WithConfig(cfg), simhttp.WithLogger(log)),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("virtual clock", "now", start.Format(time.RFC3339), "advance", "POST /_sim/advance?d=5m")
	fmt.Fprintf(stdout, "kaizen sim: serving the simulated AWS on http://%s (AWS_ENDPOINT_URL)\n", ln.Addr())

	select {
	case err := <-served:
		return fail(stderr, 1, "sim serve: %v", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fail(stderr, 1, "sim serve: shutdown: %v", err)
	}
	return 0
}
