package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh/dbrefreshtest"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/store"
)

func TestMemoryRefreshStoreContract(t *testing.T) {
	dbrefreshtest.TestStore(t, func(t *testing.T) dbrefresh.Store { return store.NewMemory() })
}

func TestDynamoRefreshStoreContract(t *testing.T) {
	dbrefreshtest.TestStore(t, func(t *testing.T) dbrefresh.Store {
		d, _ := newDynamo(t)
		return d
	})
}

// The refresh's items keep out of the release store's way, and its ledger
// entries end up in items of their own, out of the state item.
func TestDynamoRefreshItems(t *testing.T) {
	ctx := context.Background()
	d, db := newDynamo(t)
	rel := release.AppState{App: "shop-staging"}
	if err := d.Save(ctx, &rel); err != nil {
		t.Fatal(err)
	}
	r := dbrefresh.Refresh{App: "shop-staging", ID: "20261122-0205", State: dbrefresh.Done, StartedAt: time.Date(2026, 11, 22, 2, 5, 0, 0, time.UTC)}
	st := dbrefresh.AppState{App: "shop-staging"}
	if err := d.SaveRefresh(ctx, &st, r); err != nil {
		t.Fatal(err)
	}
	get := func(sk string) map[string]ddbtypes.AttributeValue {
		t.Helper()
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.Table), ConsistentRead: aws.Bool(true), Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "app#shop-staging"}, "sk": &ddbtypes.AttributeValueMemberS{Value: sk}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	if it := get("dbrefresh"); it == nil || it["ledger"] != nil {
		t.Errorf("state item %v: want it without its copied ledger entries", it)
	}
	if it := get("dbrefresh#20261122-0205"); it == nil || it["state"].(*ddbtypes.AttributeValueMemberS).Value != "done" {
		t.Errorf("ledger item %v", it)
	}
	if h, err := d.History(ctx, "shop-staging"); err != nil || len(h) != 0 {
		t.Errorf("release history = %v, %v: refreshes are not releases", h, err)
	}
	if got, err := d.Load(ctx, "shop-staging"); err != nil || got.Version != 1 {
		t.Errorf("release state = %+v, %v", got, err)
	}
}
