package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// Dynamo is the DynamoDB Store. One table, keys pk/sk:
//
//	app#NAME  state            the current item: version, body (JSON)
//	app#NAME  release#ID       a ledger entry
//	event#ID  event            a processed event id, with TTL attribute expires
//
// DynamoDB deletes expired items lazily (within days), so expiry is also
// checked in code.
type Dynamo struct {
	DB    cloud.DynamoDBAPI
	Table string
}

var _ Store = (*Dynamo)(nil)

func s(v string) *ddbtypes.AttributeValueMemberS { return &ddbtypes.AttributeValueMemberS{Value: v} }
func n(v int64) *ddbtypes.AttributeValueMemberN {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func key(pk, sk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": s(pk), "sk": s(sk)}
}

func str(item map[string]ddbtypes.AttributeValue, k string) string {
	if v, ok := item[k].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func num(item map[string]ddbtypes.AttributeValue, k string) int64 {
	if v, ok := item[k].(*ddbtypes.AttributeValueMemberN); ok {
		x, _ := strconv.ParseInt(v.Value, 10, 64)
		return x
	}
	return 0
}

func (d *Dynamo) Load(ctx context.Context, app string) (release.AppState, error) {
	st := release.AppState{App: app}
	out, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.Table), Key: key("app#"+app, "state"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return st, fmt.Errorf("load state of %s: %w", app, err)
	}
	if out.Item == nil {
		return st, nil
	}
	if err := json.Unmarshal([]byte(str(out.Item, "body")), &st); err != nil {
		return st, fmt.Errorf("load state of %s: corrupt body: %w", app, err)
	}
	st.Version = num(out.Item, "version")
	return st, nil
}

func (d *Dynamo) Save(ctx context.Context, st *release.AppState, ledger ...release.Release) error {
	next := *st
	next.Version++
	body, err := json.Marshal(next)
	if err != nil {
		return err
	}
	item := key("app#"+st.App, "state")
	item["version"] = n(next.Version)
	item["body"] = s(string(body))
	in := &dynamodb.PutItemInput{TableName: aws.String(d.Table), Item: item}
	if st.Version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		in.ConditionExpression = aws.String("version = :v")
		in.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":v": n(st.Version)}
	}
	if _, err := d.DB.PutItem(ctx, in); err != nil {
		if cloud.IsConditionalCheckFailed(err) {
			return ErrConflict
		}
		return fmt.Errorf("save state of %s: %w", st.App, err)
	}
	st.Version = next.Version
	for _, r := range ledger {
		rb, err := json.Marshal(r)
		if err != nil {
			return err
		}
		it := key("app#"+r.App, "release#"+r.ID)
		it["body"] = s(string(rb))
		it["state"] = s(string(r.State))
		it["ami"] = s(r.AMI)
		if _, err := d.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.Table), Item: it}); err != nil {
			return fmt.Errorf("write ledger entry %s: %w", r.ID, err)
		}
	}
	return nil
}

func (d *Dynamo) History(ctx context.Context, app string) ([]release.Release, error) {
	var out []release.Release
	var start map[string]ddbtypes.AttributeValue
	for {
		q, err := d.DB.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(d.Table),
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
				":pk": s("app#" + app), ":p": s("release#"),
			},
			ScanIndexForward:  aws.Bool(false),
			ExclusiveStartKey: start,
		})
		if err != nil {
			return nil, fmt.Errorf("query history of %s: %w", app, err)
		}
		for _, it := range q.Items {
			var r release.Release
			if err := json.Unmarshal([]byte(str(it, "body")), &r); err != nil {
				return nil, fmt.Errorf("history of %s: corrupt entry %s: %w", app, str(it, "sk"), err)
			}
			out = append(out, r)
		}
		if len(q.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = q.LastEvaluatedKey
	}
}

func (d *Dynamo) Seen(ctx context.Context, id string, now time.Time) (bool, error) {
	out, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.Table), Key: key("event#"+id, "event")})
	if err != nil {
		return false, fmt.Errorf("check event %s: %w", id, err)
	}
	return out.Item != nil && num(out.Item, "expires") > now.Unix(), nil
}

func (d *Dynamo) MarkSeen(ctx context.Context, id string, expires time.Time) error {
	it := key("event#"+id, "event")
	it["expires"] = n(expires.Unix())
	if _, err := d.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.Table), Item: it}); err != nil {
		return fmt.Errorf("mark event %s: %w", id, err)
	}
	return nil
}

// CreateTable creates kaizen's table (as the CDK stack does) and waits for
// it; tests, `kaizen sim serve` and the emulator tests use it.
func CreateTable(ctx context.Context, db *dynamodb.Client, name string) error {
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange},
		},
		BillingMode: ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 500 * time.Millisecond
	})
	return w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second)
}
