package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
)

// A pending secret rebuild is a secret change that arrived while a
// golden-image build was running: that build may carry the old value, so
// another must start once it ends. One item per app:
//
//	app#NAME  rebuild#secret-pending   reason, at (unix ms)

const pendingSK = "rebuild#secret-pending"

// SetPending records (or replaces) the app's pending secret rebuild.
func (d *Dynamo) SetPending(ctx context.Context, app, reason string, at time.Time) error {
	it := key("app#"+app, pendingSK)
	it["reason"] = s(reason)
	it["at"] = n(at.UnixMilli())
	if _, err := d.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.Table), Item: it}); err != nil {
		return fmt.Errorf("record the pending secret rebuild of %s: %w", app, err)
	}
	return nil
}

// Pending returns the app's pending secret rebuild; reason is "" if none.
func (d *Dynamo) Pending(ctx context.Context, app string) (string, time.Time, error) {
	out, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.Table), Key: key("app#"+app, pendingSK), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("read the pending secret rebuild of %s: %w", app, err)
	}
	if out.Item == nil {
		return "", time.Time{}, nil
	}
	return str(out.Item, "reason"), time.UnixMilli(num(out.Item, "at")).UTC(), nil
}

// ClearPending removes the pending rebuild recorded at at; a newer one
// recorded meanwhile stays.
func (d *Dynamo) ClearPending(ctx context.Context, app string, at time.Time) error {
	_, err := d.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(d.Table), Key: key("app#"+app, pendingSK),
		ConditionExpression:       aws.String("#at = :at"),
		ExpressionAttributeNames:  map[string]string{"#at": "at"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":at": n(at.UnixMilli())},
	})
	if err != nil && !awsapi.IsConditionalCheckFailed(err) {
		return fmt.Errorf("clear the pending secret rebuild of %s: %w", app, err)
	}
	return nil
}

type pending struct {
	reason string
	at     time.Time
}

// SetPending implements the pending secret rebuild for the memory store.
func (m *Memory) SetPending(_ context.Context, app, reason string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil {
		m.pending = map[string]pending{}
	}
	m.pending[app] = pending{reason, at.Truncate(time.Millisecond).UTC()}
	m.Writes++
	return nil
}

// Pending implements the pending secret rebuild for the memory store.
func (m *Memory) Pending(_ context.Context, app string) (string, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pending[app]
	return p.reason, p.at, nil
}

// ClearPending implements the pending secret rebuild for the memory store.
func (m *Memory) ClearPending(_ context.Context, app string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.pending[app]; ok && p.at.Equal(at.Truncate(time.Millisecond)) {
		delete(m.pending, app)
		m.Writes++
	}
	return nil
}
