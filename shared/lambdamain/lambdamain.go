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

// Deps builds the release-step dependencies from the environment.
func Deps(ctx context.Context) (*steps.Deps, error) {
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
	return &steps.Deps{
		Config: cfg,
		Fleet: &cloud.Fleet{
			EC2: ec2.NewFromConfig(awsCfg), ASG: autoscaling.NewFromConfig(awsCfg),
			ELB: elbv2.NewFromConfig(awsCfg), SNS: sns.NewFromConfig(awsCfg),
			Attempts: 1, // the SDK's standard retryer already retries
		},
		Store: &store.Dynamo{DB: dynamodb.NewFromConfig(awsCfg), Table: env.Table},
		Log:   slog.Default(),
	}, nil
}

// Start runs a release-step function: stage, promote or tick.
func Start(function string) {
	slog.SetDefault(lambdacontext.NewLogger())
	d, err := Deps(context.Background())
	if err != nil {
		slog.Error("kaizen "+function+" cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, raw json.RawMessage) error {
		_, err := d.Handle(ctx, function, raw)
		return err
	})
}
