// Package stepmain is the wiring of the release-step functions (stage,
// promote, guard and tick): the EC2, Auto Scaling, ELBv2 and SNS clients
// behind cloud.Fleet, the state table, and steps.Reconciler, started through
// lambdamain. It is apart from lambdamain so that the functions that do
// not run release steps (secretchange, alaspoll) do not link the planner
// or these clients.
package stepmain

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/emf"
	"github.com/kaizen-sre/kaizen/shared/lambdamain"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// Start runs a release-step function: stage, promote, guard or tick.
func Start(function string) {
	lambdamain.Serve(function, func(_ context.Context, env lambdamain.Env, cfg *config.File, awsCfg aws.Config) (lambdamain.Handler, error) {
		d := &steps.Reconciler{
			Config: cfg,
			Fleet: (&cloud.Fleet{
				EC2: ec2.NewFromConfig(awsCfg), ASG: autoscaling.NewFromConfig(awsCfg),
				ELB: elbv2.NewFromConfig(awsCfg), SNS: sns.NewFromConfig(awsCfg),
				CW:       cloudwatch.NewFromConfig(awsCfg), // approval evidence: guard alarms' states
				Attempts: 1,                                // the SDK's standard retryer already retries
				// Numbered template versions never change: read once per
				// container, not once per step.
				Versions: &cloud.VersionCache{},
			}).Paced(cloud.NewPacer()), // reads stay under AWS's request rates
			Store: &store.Dynamo{DB: dynamodb.NewFromConfig(awsCfg), Table: env.Table},
			Log:   slog.Default(),
			// kaizen's own metrics, as EMF lines on the function's log.
			Metrics: emf.New(os.Stdout, function),
		}
		d.Fleets = fleets(function, cfg, awsCfg, d.Fleet) // apps in other accounts and regions (accounts.go)
		d.Providers = providers(function, cfg, awsCfg)    // metric analysis (analysis.go)
		return func(ctx context.Context, e route.Event) error {
			_, err := d.HandleEvent(ctx, function, e)
			return err
		}, nil
	})
}
