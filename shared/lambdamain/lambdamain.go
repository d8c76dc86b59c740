// Package lambdamain is the start-up every function shares: read the
// environment and the configuration once (failing at init with the field
// named), load the SDK configuration, set the logger, and hand events to
// the handler the function builds. Only here may the process exit.
//
// It imports no AWS service and no kaizen use case: what a function links
// is what its main builds (the release steps' wiring is package stepmain),
// so a function that only rebuilds images carries no release steps and no
// Auto Scaling or ELBv2 client.
package lambdamain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/xray"
)

// DefaultConfigPath is where the CDK app bundles the configuration.
const DefaultConfigPath = "/var/task/kaizen.json"

// Env is what a function reads from its environment.
type Env struct {
	ConfigPath string
	Table      string
}

// ReadEnv reads KAIZEN_CONFIG and KAIZEN_TABLE.
func ReadEnv() (Env, error) {
	e := Env{ConfigPath: os.Getenv("KAIZEN_CONFIG"), Table: os.Getenv("KAIZEN_TABLE")}
	if e.ConfigPath == "" {
		e.ConfigPath = DefaultConfigPath
	}
	if e.Table == "" {
		return e, fmt.Errorf("KAIZEN_TABLE: required (the DynamoDB table name)")
	}
	return e, nil
}

// Setup is what a function builds once at init from its environment, the
// validated configuration and the SDK configuration: its clients, adapters
// and handler. It returns an error rather than exiting.
type Setup func(ctx context.Context, env Env, cfg *config.File, aws aws.Config) (Handler, error)

// Handler handles one event, decoded once at the edge (route.Decode).
type Handler func(ctx context.Context, e route.Event) error

// Edge decodes each raw event once and hands it to h. A malformed event
// (route.ErrMalformed, from decoding or from the handler) is logged at
// error level with "malformed": true and dropped: Lambda would retry it
// twice to no avail, and the CDK app counts these log lines with a metric
// filter and alarms on them, so a person still sees every one. Any other
// error is returned, so Lambda retries and, past that, the event lands in
// the dead-letter queue.
func Edge(name string, h Handler, log *slog.Logger) func(ctx context.Context, raw json.RawMessage) error {
	return func(ctx context.Context, raw json.RawMessage) error {
		e, err := route.Decode(raw)
		if err == nil {
			err = h(ctx, e)
		}
		if errors.Is(err, route.ErrMalformed) {
			// The envelope's fields only: a detail may carry request
			// parameters, and no value goes into a log line.
			log.Error("malformed event dropped", "malformed", true, "function", name,
				"event", e.ID, "source", e.Source, "detailType", e.DetailType, "error", err.Error())
			return nil
		}
		return err
	}
}

// Serve starts a function: it reads the environment and configuration,
// builds the SDK configuration from Lambda's environment (honouring
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>), runs setup
// once, and hands every event to the handler. A broken configuration stops
// the function at init with the field named.
func Serve(name string, setup Setup) {
	slog.SetDefault(lambdacontext.NewLogger())
	h, err := build(context.Background(), setup)
	if err != nil {
		slog.Error("kaizen "+name+" cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(Edge(name, h, slog.Default()))
}

func build(ctx context.Context, setup Setup) (Handler, error) {
	env, err := ReadEnv()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(env.ConfigPath)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsConfig()
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	// Each AWS call a subsegment of the invocation's X-Ray trace, when
	// Lambda runs the X-Ray daemon (active tracing).
	awsCfg.APIOptions = append(awsCfg.APIOptions, xray.FromEnv().APIOptions()...)
	return setup(ctx, env, cfg, awsCfg)
}
