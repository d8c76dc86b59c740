package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/internal/testenv"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// How the DynamoDB store keeps a save whole, seen in the table itself (the
// contract suite sees it through the Store's methods only).

var (
	baking = release.Release{App: "shop", ID: "20261124T090000Z-ami-1", AMI: "ami-1", Color: "green", State: release.Baking}
	ended  = func() release.Release { r := baking; r.State = release.Done; return r }()
)

// ledgerItem reads the raw ledger item of a release: its state attribute
// and version ("" and 0 if there is none).
func ledgerItem(t *testing.T, db *dynamodb.Client, table string, r release.Release) (string, string) {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "app#" + r.App},
			"sk": &ddbtypes.AttributeValueMemberS{Value: "release#" + r.ID},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := out.Item["state"].(*ddbtypes.AttributeValueMemberS)
	v, _ := out.Item["version"].(*ddbtypes.AttributeValueMemberN)
	if st == nil || v == nil {
		return "", ""
	}
	return st.Value, v.Value
}

// baked saves the app with the baking release and returns the state.
func baked(t *testing.T, s store.Store) release.AppState {
	t.Helper()
	ctx := context.Background()
	st := release.AppState{App: "shop", Active: &baking}
	if err := s.Save(ctx, &st, baking); err != nil {
		t.Fatal(err)
	}
	st, err := s.Load(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A save DynamoDB refuses (here: the state item with its ledger entries
// would exceed DynamoDB's 400 KB item limit) writes nothing at all: the
// state and its ledger entries are one item write.
func TestDynamoRefusedSaveWritesNothing(t *testing.T) {
	ctx := context.Background()
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	s := &store.Dynamo{DB: db, Table: table}
	st := baked(t, s)
	huge := ended
	huge.History = []release.Transition{{To: release.Done, Cause: strings.Repeat("x", 450<<10)}}
	st.Active = nil
	err := s.Save(ctx, &st, huge)
	var invalid smithy.APIError
	if !errors.As(err, &invalid) || invalid.ErrorCode() != "ValidationException" {
		t.Fatalf("save = %v, want DynamoDB's ValidationException", err)
	}
	got, _ := s.Load(ctx, "shop")
	h, _ := s.History(ctx, "shop")
	if got.Version != 1 || got.Active == nil || len(h) != 1 || h[0].State != release.Baking {
		t.Fatalf("refused save changed something: version %d, active %v, history %+v", got.Version, got.Active, h)
	}
	if state, v := ledgerItem(t, db, table, baking); state != string(release.Baking) || v != "1" {
		t.Fatalf("ledger item = %q at version %q, want baking at 1", state, v)
	}
}

// A ledger copy that failed after the save was committed shows through
// History from any process. A next save that records no entry (a
// write-ahead record) carries it forward in the new state item, still
// shown; the next save that records entries, from any process, copies it
// before it replaces the state item.
func TestDynamoFailedLedgerCopyIsMadeByTheNextSave(t *testing.T) {
	ctx := context.Background()
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	f := &failingDB{DynamoDBAPI: db}
	a := &store.Dynamo{DB: f, Table: table}
	st := baked(t, a)
	st.Active = nil
	f.failWrite(2) // the state commits, its ledger entry's copy fails
	if err := a.Save(ctx, &st, ended); err != nil {
		t.Fatalf("save = %v: the state was committed, with its ledger entry", err)
	}
	if state, _ := ledgerItem(t, db, table, ended); state != string(release.Baking) {
		t.Fatalf("ledger item = %q: the copy was meant to fail", state)
	}
	b := &store.Dynamo{DB: db, Table: table} // another Lambda
	if h, err := b.History(ctx, "shop"); err != nil || len(h) != 1 || h[0].State != release.Done {
		t.Fatalf("history = %+v, %v: want the ended release done", h, err)
	}
	next, err := b.Load(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Save(ctx, &next); err != nil {
		t.Fatal(err)
	}
	if state, _ := ledgerItem(t, db, table, ended); state != string(release.Baking) {
		t.Fatalf("a write-ahead save copied the entry (%q): it carries it forward", state)
	}
	if h, err := (&store.Dynamo{DB: db, Table: table}).History(ctx, "shop"); err != nil || len(h) != 1 || h[0].State != release.Done {
		t.Fatalf("history after the write-ahead = %+v, %v: want the ended release done", h, err)
	}
	next.Active = nil
	other := release.Release{App: "shop", ID: "20261124T110000Z-ami-3", AMI: "ami-3", State: release.Abandoned}
	if err := b.Save(ctx, &next, other); err != nil {
		t.Fatal(err)
	}
	if state, v := ledgerItem(t, db, table, ended); state != string(release.Done) || v != "2" {
		t.Fatalf("after the next save with entries the ledger item = %q at version %q, want done at 2, the version that recorded it", state, v)
	}
	if h, err := b.History(ctx, "shop"); err != nil || len(h) != 2 || h[1].ID != ended.ID || h[1].State != release.Done {
		t.Fatalf("history = %+v, %v: want the ended release done, and the new entry", h, err)
	}
}

// A saver that decided from an old state neither commits nor copies the old
// state's ledger entries over newer ones.
func TestDynamoStaleSaverChangesNothing(t *testing.T) {
	ctx := context.Background()
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	a := &store.Dynamo{DB: db, Table: table}
	baked(t, a)
	stale := &store.Dynamo{DB: db, Table: table}
	old, err := stale.Load(ctx, "shop") // version 1, carrying the baking entry
	if err != nil {
		t.Fatal(err)
	}
	st, _ := a.Load(ctx, "shop")
	st.Active = nil
	if err := a.Save(ctx, &st, ended); err != nil {
		t.Fatal(err)
	}
	if err := stale.Save(ctx, &old, baking); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale save = %v, want ErrConflict", err)
	}
	if state, v := ledgerItem(t, db, table, ended); state != string(release.Done) || v != "2" {
		t.Fatalf("ledger item = %q at version %q, want done at 2", state, v)
	}
}

// What a save costs: one write for the state (with its ledger entries) and
// one per ledger entry, as before saves were made whole; reads only when
// this process did not see the previous save's copies made.
func TestDynamoSaveCalls(t *testing.T) {
	ctx := context.Background()
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	f := &failingDB{DynamoDBAPI: db}
	s := &store.Dynamo{DB: f, Table: table}
	st := baked(t, s)
	measure := func(what string, save func() error, wantPuts, wantGets int) {
		t.Helper()
		p0, g0 := f.counts()
		if err := save(); err != nil {
			t.Fatal(err)
		}
		p1, g1 := f.counts()
		t.Logf("%s: %d writes, %d reads", what, p1-p0, g1-g0)
		if p1-p0 != wantPuts || g1-g0 != wantGets {
			t.Errorf("%s: %d writes and %d reads, want %d and %d", what, p1-p0, g1-g0, wantPuts, wantGets)
		}
	}
	// A step's write-ahead record: no ledger entries.
	measure("write-ahead save", func() error { return s.Save(ctx, &st) }, 1, 0)
	// Its outcome: the state with two ledger entries.
	st.Active = nil
	queued := release.Release{App: "shop", ID: "20261124T100000Z-ami-2", AMI: "ami-2", State: release.Staged}
	measure("outcome save with 2 ledger entries", func() error { return s.Save(ctx, &st, ended, queued) }, 3, 0)
	// Another process's next step: it checks the two entries are copied.
	other := &store.Dynamo{DB: f, Table: table}
	next, err := other.Load(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	// A write-ahead record carries the two entries forward: one write.
	measure("another process's write-ahead save", func() error { return other.Save(ctx, &next) }, 1, 0)
	// Its outcome, with one entry, checks the two carried ones are copied
	// (they are, at the version that recorded them) before it writes.
	third := release.Release{App: "shop", ID: "20261124T110000Z-ami-3", AMI: "ami-3", State: release.Abandoned}
	measure("its outcome save with 1 ledger entry", func() error { return other.Save(ctx, &next, third) }, 2, 2)
}
