package stepmain

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
)

// fleets gives each app the clients of the account and region it lives
// in: home's serve the apps at home; a member account's sign with the
// role the app names (assumed once per role, cached until near expiry),
// another region's are home's credentials in that region. nil when every
// app lives at home: home's fleet serves them all.
func fleets(function string, cfg *config.File, awsCfg aws.Config, home *cloud.Fleet) cloud.Fleets {
	remote := false
	for i := range cfg.Apps {
		remote = remote || cfg.Apps[i].Remote() || cfg.Apps[i].Place() != cfg.Home()
	}
	if !remote {
		return nil
	}
	a := &cloud.Accounts{
		Home:    cfg.Home(),
		Local:   home,
		STS:     sts.NewFromConfig(awsCfg),
		Session: cloud.SessionName(function),
		New: func(p config.Place, creds aws.CredentialsProvider) *cloud.Fleet {
			c := awsCfg.Copy()
			c.Region = p.Region
			if creds != nil {
				c.Credentials = creds
			}
			return newFleet(c)
		},
	}
	// Assume the roles at start-up: a rollback then waits for no STS call.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := a.Warm(ctx, cfg.Apps); err != nil {
		slog.Warn("could not assume a member role at start-up; the step that needs it will try again", "error", err.Error())
	}
	return a
}

// newFleet is a fleet's clients over c, as Start builds home's.
func newFleet(c aws.Config) *cloud.Fleet {
	return (&cloud.Fleet{
		EC2: ec2.NewFromConfig(c), ASG: autoscaling.NewFromConfig(c),
		ELB: elbv2.NewFromConfig(c), SNS: sns.NewFromConfig(c),
		CW:       cloudwatch.NewFromConfig(c),
		Attempts: 1, // the SDK's standard retryer already retries
		Versions: &cloud.VersionCache{},
	}).Paced(cloud.NewPacer()) // each account and region has its own request rates
}
