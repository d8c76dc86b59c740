package main

import (
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

// opsFleets gives the operator commands each app's fleet: the home's for
// the apps at home, the member role's (assumed with the operator's
// credentials, which the role must trust) for an app in another account,
// the operator's credentials in the app's region for one elsewhere. nil
// when every app lives at home.
func opsFleets(cfg *config.File, awsCfg aws.Config, home *cloud.Fleet, endpoint string) cloud.Fleets {
	if len(cfg.Places()) == 1 && len(cfg.Members()) == 0 {
		return nil
	}
	var base *string
	if endpoint != "" {
		base = aws.String(endpoint)
	}
	return &cloud.Accounts{
		Home:    cfg.Home(),
		Local:   home,
		STS:     sts.NewFromConfig(awsCfg, func(o *sts.Options) { o.BaseEndpoint = base }),
		Session: cloud.SessionName("cli"),
		New: func(p config.Place, creds aws.CredentialsProvider) *cloud.Fleet {
			c := awsCfg.Copy()
			c.Region = p.Region
			if creds != nil {
				c.Credentials = creds
			}
			return &cloud.Fleet{
				EC2:      ec2.NewFromConfig(c, func(o *ec2.Options) { o.BaseEndpoint = base }),
				ASG:      autoscaling.NewFromConfig(c, func(o *autoscaling.Options) { o.BaseEndpoint = base }),
				ELB:      elbv2.NewFromConfig(c, func(o *elbv2.Options) { o.BaseEndpoint = base }),
				SNS:      sns.NewFromConfig(c, func(o *sns.Options) { o.BaseEndpoint = base }),
				CW:       cloudwatch.NewFromConfig(c, func(o *cloudwatch.Options) { o.BaseEndpoint = base }),
				Attempts: 1,
			}
		},
	}
}

// where is an app's account and region for `kaizen status`, when the
// configuration has apps in more than one ("" otherwise).
func where(cfg *config.File, app *config.App) string {
	if len(cfg.Places()) == 1 {
		return ""
	}
	s := app.Account + " " + app.Region
	if app.RoleARN != "" {
		s += " (role " + app.RoleARN + ")"
	}
	return s
}
