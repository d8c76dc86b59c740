// Command dbrefresh refreshes staging databases from production's RDS
// snapshots, one step per event: its schedule (start in the configured
// window, and advance what waits), production's automated snapshot, and the
// scrub build's end (see shared/dbrefresh).
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh/awscloud"
	"github.com/kaizen-sre/kaizen/shared/lambdamain"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/store"
)

func main() {
	lambdamain.Serve("dbrefresh", func(_ context.Context, env lambdamain.Env, cfg *config.File, awsCfg aws.Config) (lambdamain.Handler, error) {
		h := &dbrefresh.Handler{
			Config: cfg,
			Cloud: &awscloud.Cloud{
				RDS: rds.NewFromConfig(awsCfg), Scrub: codebuild.NewFromConfig(awsCfg),
				Secrets:  secretsmanager.NewFromConfig(awsCfg),
				Notifier: awsapi.SNSNotifier{SNS: sns.NewFromConfig(awsCfg)}, // the SDK retries on its own
			},
			Store: &store.Dynamo{DB: dynamodb.NewFromConfig(awsCfg), Table: env.Table},
		}
		return func(ctx context.Context, e route.Event) error {
			_, err := h.HandleEvent(ctx, e)
			return err
		}, nil
	})
}
