package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// placedNotifier publishes each app's notices from the account and region it
// lives in, with the only client alaspoll uses there, SNS (feeds, builds
// and records stay in kaizen's account): home's is the function's own; a
// member account's signs with the role the app names, assumed on the
// first notice that needs it and cached for the container's life (one
// AssumeRole per role until near expiry, not one per poll); another
// region's uses home's credentials there. nil when every app lives at
// home.
func placedNotifier(cfg *config.File, awsCfg aws.Config, home *sns.Client) awsapi.Notifier {
	remote := false
	for i := range cfg.Apps {
		remote = remote || cfg.Apps[i].Remote() || cfg.Apps[i].Place() != cfg.Home()
	}
	if !remote {
		return nil
	}
	return &awsapi.PlacedNotifier{
		Home:    cfg.Home(),
		Local:   home,
		STS:     sts.NewFromConfig(awsCfg),
		Session: awsapi.SessionName(route.ALASPoll),
		New: func(p config.Place, creds aws.CredentialsProvider) awsapi.SNSAPI {
			c := awsCfg.Copy()
			c.Region = p.Region
			if creds != nil {
				c.Credentials = creds
			}
			return sns.NewFromConfig(c) // the SDK retries on its own
		},
	}
}
