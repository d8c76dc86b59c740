// Command secretchange starts a golden-image rebuild when an app's Secrets
// Manager secret gets a new value (CloudTrail PutSecretValue, UpdateSecret,
// RotationSucceeded), so the next image bakes it in; see
// shared/secretchange.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/lambdamain"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/secretchange"
	"github.com/kaizen-sre/kaizen/shared/store"
)

func main() {
	slog.SetDefault(lambdacontext.NewLogger())
	h, err := setup(context.Background())
	if err != nil {
		slog.Error("kaizen secretchange cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, raw json.RawMessage) error { return h.Handle(ctx, raw) })
}

func setup(ctx context.Context) (*secretchange.Handler, error) {
	env, err := lambdamain.ReadEnv()
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
	return &secretchange.Handler{
		Config:    cfg,
		Rebuilder: &rebuild.Builder{CodeBuild: codebuild.NewFromConfig(awsCfg), CodePipeline: codepipeline.NewFromConfig(awsCfg)},
		Notifier:  &cloud.Fleet{SNS: sns.NewFromConfig(awsCfg), Attempts: 1}, // the SDK retries on its own
		Store:     &store.Dynamo{DB: dynamodb.NewFromConfig(awsCfg), Table: env.Table},
	}, nil
}
