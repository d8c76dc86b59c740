package datadog

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kaizen-sre/kaizen/shared/analysis"
)

// The keys live in a Secrets Manager secret, never in an environment
// variable (anyone who may read a Lambda function's configuration sees
// those): one secret whose string is a JSON object,
//
//	{"apiKey": "...", "appKey": "..."}
//
// read once per container. Errors name the secret and the key that is
// missing or malformed, never a value.

// SecretsAPI is the one Secrets Manager method the keys are read with.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ SecretsAPI = (*secretsmanager.Client)(nil)

// The secret's keys.
const (
	SecretAPIKey = "apiKey"
	SecretAppKey = "appKey"
)

// Keys reads the API and application keys from the secret arn.
func Keys(ctx context.Context, api SecretsAPI, arn string) (apiKey, appKey string, err error) {
	out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", "", fmt.Errorf("datadog keys: get secret value %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return "", "", fmt.Errorf("datadog keys: secret %s holds binary data, want a JSON object with %s and %s", arn, SecretAPIKey, SecretAppKey)
	}
	var m map[string]any
	// The decoder's message may quote the text: it is not passed on.
	if json.Unmarshal([]byte(*out.SecretString), &m) != nil || m == nil {
		return "", "", fmt.Errorf("datadog keys: secret %s is not a JSON object, want one with %s and %s", arn, SecretAPIKey, SecretAppKey)
	}
	get := func(k string) (string, error) {
		v, ok := m[k]
		if !ok {
			return "", fmt.Errorf("datadog keys: secret %s has no %s", arn, k)
		}
		s, ok := v.(string)
		if !ok || s == "" {
			return "", fmt.Errorf("datadog keys: secret %s: %s must be a non-empty string", arn, k)
		}
		return s, nil
	}
	if apiKey, err = get(SecretAPIKey); err != nil {
		return "", "", err
	}
	if appKey, err = get(SecretAppKey); err != nil {
		return "", "", err
	}
	return apiKey, appKey, nil
}

// SecretProvider is the Datadog provider whose keys come from a secret:
// read by Load (at start-up), and again by a Fetch only while no read has
// succeeded, so a secret fixed after a bad start-up is picked up at the
// next tick, and a good one is read once per container.
type SecretProvider struct {
	Site      string
	SecretARN string
	API       SecretsAPI
	// Timeout bounds each read of the secret (default 5 s).
	Timeout time.Duration

	mu sync.Mutex
	p  *Provider
}

var _ analysis.Provider = (*SecretProvider)(nil)

// Name is "datadog".
func (s *SecretProvider) Name() string { return "datadog" }

// Load reads the keys, unless an earlier read succeeded.
func (s *SecretProvider) Load(ctx context.Context) error {
	_, err := s.provider(ctx)
	return err
}

func (s *SecretProvider) provider(ctx context.Context) (*Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		return s.p, nil
	}
	t := s.Timeout
	if t <= 0 {
		t = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	api, app, err := Keys(ctx, s.API, s.SecretARN)
	if err != nil {
		return nil, err
	}
	s.p = New(s.Site, api, app)
	return s.p, nil
}

// Fetch is Provider.Fetch with the secret's keys.
func (s *SecretProvider) Fetch(ctx context.Context, start, end time.Time, qs []analysis.Query) (map[string]analysis.Series, error) {
	p, err := s.provider(ctx)
	if err != nil {
		return nil, err
	}
	return p.Fetch(ctx, start, end, qs)
}

// Provider is the provider the keys were loaded into (nil before).
func (s *SecretProvider) Provider() *Provider {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}
