// Package lambdamain is the start-up every function shares: read the
// configuration once (failing at init with the field named), build the SDK
// clients and adapters, and hand events to the step. Only here may the
// process exit.
package lambdamain

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
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
// validated configuration and the SDK configuration.
type Setup func(ctx context.Context, env Env, cfg *config.File, aws aws.Config) (Handler, error)

// Handler handles one event.
type Handler func(ctx context.Context, raw json.RawMessage) error

// Serve starts a function: it reads the environment and configuration,
// builds the SDK configuration (honouring AWS_ENDPOINT_URL), runs setup
// once, and hands every event to the handler. A broken configuration stops
// the function at init with the field named.
func Serve(name string, setup Setup) {
	slog.SetDefault(lambdacontext.NewLogger())
	h, err := build(context.Background(), setup)
	if err != nil {
		slog.Error("kaizen "+name+" cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
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
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return setup(ctx, env, cfg, awsCfg)
}

// Start runs a release-step function: stage, promote, guard or tick.
func Start(function string) {
	Serve(function, func(_ context.Context, env Env, cfg *config.File, awsCfg aws.Config) (Handler, error) {
		d := &steps.Deps{
			Config: cfg,
			Fleet: &cloud.Fleet{
				EC2: ec2.NewFromConfig(awsCfg), ASG: autoscaling.NewFromConfig(awsCfg),
				ELB: elbv2.NewFromConfig(awsCfg), SNS: sns.NewFromConfig(awsCfg),
				Attempts: 1, // the SDK's standard retryer already retries
			},
			Store: &store.Dynamo{DB: dynamodb.NewFromConfig(awsCfg), Table: env.Table},
			Log:   slog.Default(),
		}
		return func(ctx context.Context, raw json.RawMessage) error {
			_, err := d.Handle(ctx, function, raw)
			return err
		}, nil
	})
}
