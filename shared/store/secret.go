package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kaizen-sre/kaizen/shared/release"
)

// The last secret change kaizen saw, one item per app, so that notices and
// `kaizen status` can name the images that still carry the previous
// version:
//
//	app#NAME  secret#last-change   at (unix ms), version, event

const secretChangeSK = "secret#last-change"

// RecordSecretChange records (or replaces) the app's last secret change.
func (d *Dynamo) RecordSecretChange(ctx context.Context, app string, c release.SecretChange) error {
	it := key("app#"+app, secretChangeSK)
	it["at"] = n(c.At.UnixMilli())
	if c.Version != "" {
		it["version"] = s(c.Version)
	}
	if c.Event != "" {
		it["event"] = s(c.Event)
	}
	if _, err := d.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.Table), Item: it}); err != nil {
		return fmt.Errorf("record the secret change of %s: %w", app, err)
	}
	return nil
}

// LastSecretChange returns the app's last recorded secret change, or nil.
func (d *Dynamo) LastSecretChange(ctx context.Context, app string) (*release.SecretChange, error) {
	out, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.Table), Key: key("app#"+app, secretChangeSK), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read the secret change of %s: %w", app, err)
	}
	if out.Item == nil {
		return nil, nil
	}
	return &release.SecretChange{At: time.UnixMilli(num(out.Item, "at")).UTC(), Version: str(out.Item, "version"), Event: str(out.Item, "event")}, nil
}

// RecordSecretChange implements the same as Dynamo's.
func (m *Memory) RecordSecretChange(_ context.Context, app string, c release.SecretChange) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.secrets == nil {
		m.secrets = map[string]release.SecretChange{}
	}
	m.secrets[app] = c
	return nil
}

// LastSecretChange implements the same as Dynamo's.
func (m *Memory) LastSecretChange(_ context.Context, app string) (*release.SecretChange, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.secrets[app]
	if !ok {
		return nil, nil
	}
	return &c, nil
}
