package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/secretchange"
)

// cloud.Placed reads a member app's images for the notice.
var _ secretchange.ColorImages = cloud.Placed{}

// fleets gives each app the clients of the account and region it lives
// in, as shared/stepmain does for the release steps: home's serve the
// apps at home (with the function's own SNS client for their notices); a
// member account's sign with the role the app names, assumed on the
// first event that needs it and cached for the container's life (one
// AssumeRole per role until near expiry, not one per event); another
// region's are home's credentials there. nil when every app lives at
// home.
func fleets(cfg *config.File, awsCfg aws.Config, home *cloud.Fleet) cloud.Fleets {
	remote := false
	for i := range cfg.Apps {
		remote = remote || cfg.Apps[i].Remote() || cfg.Apps[i].Place() != cfg.Home()
	}
	if !remote {
		return nil
	}
	local := *home
	local.SNS = sns.NewFromConfig(awsCfg)
	return &cloud.Accounts{
		Home:    cfg.Home(),
		Local:   &local,
		STS:     sts.NewFromConfig(awsCfg),
		Session: cloud.SessionName(route.SecretChange),
		New: func(p config.Place, creds aws.CredentialsProvider) *cloud.Fleet {
			c := awsCfg.Copy()
			c.Region = p.Region
			if creds != nil {
				c.Credentials = creds
			}
			// Read-only calls and one publish: no pacer, the SDK retries.
			return &cloud.Fleet{EC2: ec2.NewFromConfig(c), ASG: autoscaling.NewFromConfig(c), ELB: elbv2.NewFromConfig(c), SNS: sns.NewFromConfig(c), Attempts: 1}
		},
	}
}
