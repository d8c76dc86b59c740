package store_test

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kaizen-sre/kaizen/internal/testenv"
	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// batchContract: LoadAll answers what Load answers for every app, new
// ones at version 0, across more apps than one BatchGetItem takes, and a
// save after a batch load is locked on the version the batch read.
func batchContract(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	var names []string
	for i := range store.BatchGetKeys + 30 {
		name := fmt.Sprintf("app-%03d", i)
		names = append(names, name)
		if i%3 == 0 {
			continue // never saved: a new app
		}
		st := release.AppState{App: name, Newest: "ami-" + name, NewestCreated: t0}
		if err := s.Save(ctx, &st, release.Release{App: name, ID: "r-" + name, AMI: "ami-" + name, State: release.Done}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := store.LoadMany(ctx, s, append(names, names[1])) // a repeated name is read once
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(names) {
		t.Fatalf("LoadMany returned %d states, want %d", len(got), len(names))
	}
	for _, name := range names {
		one, err := s.Load(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[name], one) {
			t.Fatalf("%s: batch %+v, Load %+v", name, got[name], one)
		}
	}
	// The batch's version locks a save as Load's does.
	st := got[names[1]]
	st.Newest = "ami-newer"
	if err := s.Save(ctx, &st); err != nil {
		t.Fatalf("save after a batch load: %v", err)
	}
	stale := got[names[1]]
	if err := s.Save(ctx, &stale); err != store.ErrConflict {
		t.Fatalf("a save from a stale batch load: %v, want ErrConflict", err)
	}
}

func TestMemoryLoadAll(t *testing.T) { batchContract(t, store.NewMemory()) }

func TestDynamoLoadAll(t *testing.T) {
	db := testenv.DynamoDB(t)
	counted := &countingDB{DynamoDBAPI: db}
	s := &store.Dynamo{DB: counted, Table: testenv.NewTable(t, db)}
	batchContract(t, s)
	// 130 apps: two BatchGetItem calls in the batch load above.
	if n := counted.batches.Load(); n != 2 {
		t.Fatalf("%d BatchGetItem calls for %d apps, want 2", n, store.BatchGetKeys+30)
	}
}

type countingDB struct {
	awsapi.DynamoDBAPI
	batches atomic.Int64
}

func (c *countingDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.batches.Add(1)
	return c.DynamoDBAPI.BatchGetItem(ctx, in, opts...)
}
