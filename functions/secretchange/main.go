// Command secretchange starts a golden-image rebuild when the app's
// Secrets Manager secret is written or rotated, so no fleet keeps a stale
// secret baked into its image (see shared/secretchange).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/emf"
	"github.com/kaizen-sre/kaizen/shared/lambdamain"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/secretchange"
	"github.com/kaizen-sre/kaizen/shared/store"
)

func main() {
	lambdamain.Serve("secretchange", func(_ context.Context, env lambdamain.Env, cfg *config.File, awsCfg aws.Config) (lambdamain.Handler, error) {
		db := &store.Dynamo{DB: dynamodb.NewFromConfig(awsCfg), Table: env.Table}
		home := &cloud.Fleet{EC2: ec2.NewFromConfig(awsCfg), ASG: autoscaling.NewFromConfig(awsCfg), ELB: elbv2.NewFromConfig(awsCfg), Attempts: 1}
		h := &secretchange.Handler{
			Config:    cfg,
			Rebuilder: &rebuild.Builder{CodeBuild: codebuild.NewFromConfig(awsCfg), CodePipeline: codepipeline.NewFromConfig(awsCfg)},
			Notifier:  awsapi.SNSNotifier{SNS: sns.NewFromConfig(awsCfg)}, // the SDK retries on its own
			Store:     db,
			Pending:   db, // a change during a running build is rebuilt by alaspoll after it
			Metrics:   emf.New(os.Stdout, route.SecretChange),
			Changes:   db, // kaizen status names the images built before the change
			// The notice names the images that still carry the previous
			// version (read-only calls).
			Images: home,
		}
		if f := fleets(cfg, awsCfg, home); f != nil {
			// Apps in other accounts and regions (accounts.go): their
			// images and topics are read and published in their own
			// account; the rebuild stays in kaizen's.
			h.Images, h.Notifier = cloud.Placed{Fleets: f}, cloud.Placed{Fleets: f}
		}
		return func(ctx context.Context, e route.Event) error {
			_, err := h.HandleEvent(ctx, e)
			return err
		}, nil
	})
}
