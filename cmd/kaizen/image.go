package main

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kaizen-sre/kaizen/shared/envfile"
	"github.com/kaizen-sre/kaizen/shared/imageprep"
)

// runImage is "kaizen image prepare": the golden-image build's own step.
func runImage(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		printUsage(stdout, nil, imageprep.Synopsis)
		return 0
	}
	if len(args) == 0 || args[0] != "prepare" {
		return fail(stderr, 2, "usage: %s", imageprep.Synopsis)
	}
	// The SDK clients are built only when a run reads Secrets Manager or
	// SSM, so a dry run or a run from files needs no credentials. They
	// honour AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_SSM, ..._SECRETS_MANAGER).
	load := func(ctx context.Context) (aws.Config, error) {
		c, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return c, fmt.Errorf("aws config: %w", err)
		}
		return c, nil
	}
	clients := imageprep.Clients{
		SSM: func(ctx context.Context) (imageprep.SSMAPI, error) {
			c, err := load(ctx)
			if err != nil {
				return nil, err
			}
			return ssm.NewFromConfig(c), nil
		},
		Secrets: func(ctx context.Context) (envfile.GetSecretValueAPI, error) {
			c, err := load(ctx)
			if err != nil {
				return nil, err
			}
			return secretsmanager.NewFromConfig(c), nil
		},
	}
	return imageprep.RunCLI(ctx, args[1:], stdout, stderr, clients)
}
