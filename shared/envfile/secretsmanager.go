package envfile

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// GetSecretValueAPI is the part of the Secrets Manager client that
// SecretsManagerGetter uses.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ GetSecretValueAPI = (*secretsmanager.Client)(nil)

// SecretsManagerGetter returns a function that fetches the current version
// (AWSCURRENT) of a secret by name or ARN and returns its SecretString, or its
// SecretBinary when it has no SecretString. Errors name the secret id, never
// its value.
func SecretsManagerGetter(client GetSecretValueAPI) func(ctx context.Context, id string) ([]byte, error) {
	return func(ctx context.Context, id string) ([]byte, error) {
		if client == nil {
			return nil, errors.New("no Secrets Manager client")
		}
		if id == "" {
			return nil, errors.New("get secret: empty secret id")
		}
		out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			return nil, fmt.Errorf("get secret %q: %w", id, err)
		}
		switch {
		case out == nil:
			return nil, fmt.Errorf("get secret %q: empty response", id)
		case out.SecretString != nil:
			return []byte(*out.SecretString), nil
		case out.SecretBinary != nil:
			return append([]byte(nil), out.SecretBinary...), nil
		}
		return nil, fmt.Errorf("get secret %q: the response has neither SecretString nor SecretBinary", id)
	}
}
