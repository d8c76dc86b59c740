// Command alaspoll checks every app's Amazon Linux security advisory feeds
// on a schedule, records new advisories once and starts golden-image
// rebuilds for them (see shared/alas and shared/alaspoll).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/alaspoll"
	"github.com/kaizen-sre/kaizen/shared/alrelease"
	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/emf"
	"github.com/kaizen-sre/kaizen/shared/lambdamain"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/secretchange"
	"github.com/kaizen-sre/kaizen/shared/store"
)

func main() {
	lambdamain.Serve("alaspoll", func(_ context.Context, env lambdamain.Env, cfg *config.File, awsCfg aws.Config) (lambdamain.Handler, error) {
		db := &store.Dynamo{DB: dynamodb.NewFromConfig(awsCfg), Table: env.Table}
		builder := &rebuild.Builder{CodeBuild: codebuild.NewFromConfig(awsCfg), CodePipeline: codepipeline.NewFromConfig(awsCfg)}
		// The Poller asks for the release version only for apps with
		// alas.amazonLinux "2023", and only when it starts a build: AL2023
		// repositories are pinned per release, so the build must upgrade
		// with dnf --releasever (see package alrelease).
		release := &alrelease.Latest{SSM: ssm.NewFromConfig(awsCfg), EC2: ec2.NewFromConfig(awsCfg)}
		homeSNS := sns.NewFromConfig(awsCfg)
		var notifier awsapi.Notifier = awsapi.SNSNotifier{SNS: homeSNS} // the SDK retries on its own
		if placed := placedNotifier(cfg, awsCfg, homeSNS); placed != nil {
			// Apps in other accounts and regions (accounts.go): each app's
			// notices go to its topic from its own account; the rebuilds
			// still start in kaizen's.
			notifier = placed
		}
		// Secret changes that arrived while a build ran are rebuilt here,
		// once that build has ended.
		secrets := &secretchange.Handler{Config: cfg, Rebuilder: builder, Notifier: notifier, Store: db, Pending: db}
		h := &alaspoll.Handler{Config: cfg, Poller: &alas.Poller{
			Store:          db,
			Rebuilder:      &rebuild.Once{Rebuilder: builder, Claims: db},
			Notifier:       notifier,
			ReleaseVersion: release.ReleaseVersion,
		}, Pending: secrets, Metrics: emf.New(os.Stdout, route.ALASPoll)}
		return func(ctx context.Context, e route.Event) error {
			_, err := h.HandleEvent(ctx, e)
			return err
		}, nil
	})
}
