package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kaizen-sre/kaizen/internal/testenv"
	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// fixture is a fresh store and a way to make one of its writes fail.
type fixture struct {
	store.Store
	// failWrite makes the nth write from now fail (the state, then the
	// ledger entries: see Memory.FailWrite and failingDB).
	failWrite func(n int)
}

var errInjected = errors.New("injected write failure")

// contract is the one suite every Store passes: the memory store the
// simulation uses may only stand in for DynamoDB because both pass it.
func contract(t *testing.T, newFixture func(t *testing.T) fixture) {
	ctx := context.Background()
	newStore := func(t *testing.T) store.Store { return newFixture(t).Store }
	t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

	t.Run("new app loads at version 0", func(t *testing.T) {
		st, err := newStore(t).Load(ctx, "shop")
		if err != nil || st.Version != 0 || st.App != "shop" || st.Active != nil {
			t.Fatalf("Load = %+v, %v", st, err)
		}
	})

	t.Run("save round-trips and bumps the version", func(t *testing.T) {
		s := newStore(t)
		st := release.AppState{App: "shop", Newest: "ami-1", NewestCreated: t0, Active: &release.Release{
			App: "shop", ID: "r1", AMI: "ami-1", Color: "green", State: release.Staged, StagedAt: t0,
			History: []release.Transition{{At: t0, To: release.Staged, Cause: "test"}},
		}}
		if err := s.Save(ctx, &st); err != nil {
			t.Fatal(err)
		}
		if st.Version != 1 {
			t.Fatalf("version after first save = %d, want 1", st.Version)
		}
		got, err := s.Load(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 1 || got.Active == nil || got.Active.AMI != "ami-1" || !got.Active.StagedAt.Equal(t0) || len(got.Active.History) != 1 {
			t.Fatalf("loaded %+v", got)
		}
		if err := s.Save(ctx, &got); err != nil || got.Version != 2 {
			t.Fatalf("second save: version %d, %v", got.Version, err)
		}
	})

	t.Run("a stale version conflicts and changes nothing", func(t *testing.T) {
		s := newStore(t)
		a := release.AppState{App: "shop"}
		if err := s.Save(ctx, &a); err != nil {
			t.Fatal(err)
		}
		stale := release.AppState{App: "shop", Newest: "ami-stale"} // version 0 again
		if err := s.Save(ctx, &stale); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale save = %v, want ErrConflict", err)
		}
		got, _ := s.Load(ctx, "shop")
		if got.Newest == "ami-stale" || got.Version != 1 {
			t.Fatalf("stale save changed the state: %+v", got)
		}
	})

	t.Run("two concurrent writers: exactly one wins", func(t *testing.T) {
		s := newStore(t)
		base := release.AppState{App: "shop"}
		if err := s.Save(ctx, &base); err != nil {
			t.Fatal(err)
		}
		const writers = 8
		var wg sync.WaitGroup
		results := make([]error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := s.Load(ctx, "shop")
				if err != nil {
					results[i] = err
					return
				}
				st.Version = base.Version // all decided from the same read
				st.Newest = "ami-writer"
				results[i] = s.Save(ctx, &st)
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range results {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d writers won, want exactly 1", wins)
		}
	})

	t.Run("ledger lists releases newest first", func(t *testing.T) {
		s := newStore(t)
		st := release.AppState{App: "shop"}
		r1 := release.Release{App: "shop", ID: "20261124T090000Z-ami-1", AMI: "ami-1", State: release.Done}
		r2 := release.Release{App: "shop", ID: "20261124T100000Z-ami-2", AMI: "ami-2", State: release.Staged}
		if err := s.Save(ctx, &st, r1, r2); err != nil {
			t.Fatal(err)
		}
		r2.State = release.Abandoned
		if err := s.Save(ctx, &st, r2); err != nil {
			t.Fatal(err)
		}
		h, err := s.History(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 || h[0].AMI != "ami-2" || h[0].State != release.Abandoned || h[1].AMI != "ami-1" {
			t.Fatalf("history = %+v", h)
		}
		if other, _ := s.History(ctx, "other"); len(other) != 0 {
			t.Fatalf("another app's history leaked: %+v", other)
		}
	})

	// A release ends and another starts in one save: the state and both
	// ledger entries change together or not at all, whichever write fails.
	t.Run("a failed write leaves nothing half-written", func(t *testing.T) {
		ended := release.Release{App: "shop", ID: "20261124T090000Z-ami-1", AMI: "ami-1", Color: "green", State: release.Baking}
		started := release.Release{App: "shop", ID: "20261124T100000Z-ami-2", AMI: "ami-2", Color: "blue", State: release.Staged}
		for write := 1; write <= 3; write++ {
			t.Run(fmt.Sprintf("write %d fails", write), func(t *testing.T) {
				f := newFixture(t)
				before := release.AppState{App: "shop", Active: &ended}
				if err := f.Save(ctx, &before, ended); err != nil {
					t.Fatal(err)
				}
				st, err := f.Load(ctx, "shop")
				if err != nil {
					t.Fatal(err)
				}
				done := ended
				done.State = release.Done
				st.Active = &started
				f.failWrite(write)
				err = f.Save(ctx, &st, done, started)
				if err != nil && !errors.Is(err, errInjected) {
					t.Fatalf("save = %v, want nil or the injected failure", err)
				}
				old := func(st release.AppState, h []release.Release) bool {
					return st.Version == 1 && st.Active != nil && st.Active.ID == ended.ID &&
						len(h) == 1 && h[0].ID == ended.ID && h[0].State == release.Baking
				}
				saved := func(st release.AppState, h []release.Release) bool {
					return st.Version == 2 && st.Active != nil && st.Active.ID == started.ID &&
						len(h) == 2 && h[0].ID == started.ID && h[0].State == release.Staged && h[1].ID == ended.ID && h[1].State == release.Done
				}
				check := func(when string, want func(release.AppState, []release.Release) bool) {
					t.Helper()
					got, err := f.Load(ctx, "shop")
					if err != nil {
						t.Fatal(err)
					}
					h, err := f.History(ctx, "shop")
					if err != nil {
						t.Fatal(err)
					}
					if !want(got, h) {
						t.Fatalf("%s: half-written: state version %d active %+v, history %+v", when, got.Version, got.Active, h)
					}
				}
				if err != nil {
					check("after the failed save", old) // nothing written
					return
				}
				check("after the save", saved) // all written
				// The next save (which records nothing) keeps it all.
				next, _ := f.Load(ctx, "shop")
				if err := f.Save(ctx, &next); err != nil {
					t.Fatal(err)
				}
				check("after the next save", func(st release.AppState, h []release.Release) bool {
					st.Version--
					return saved(st, h)
				})
			})
		}
	})

	t.Run("of concurrent savers only the winner's ledger entries are recorded", func(t *testing.T) {
		s := newStore(t)
		base := release.AppState{App: "shop"}
		if err := s.Save(ctx, &base); err != nil {
			t.Fatal(err)
		}
		const writers = 6
		var wg sync.WaitGroup
		results := make([]error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := release.AppState{App: "shop", Version: base.Version}
				r := release.Release{App: "shop", ID: "r1", AMI: fmt.Sprintf("ami-writer-%d", i), State: release.Staged}
				results[i] = s.Save(ctx, &st, r)
			}()
		}
		wg.Wait()
		winner := -1
		for i, err := range results {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("writers %d and %d both won", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("unexpected error: %v", err)
			}
		}
		h, err := s.History(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("ami-writer-%d", winner); len(h) != 1 || h[0].AMI != want {
			t.Fatalf("history = %+v, want only the winner's entry (%s)", h, want)
		}
	})

	t.Run("a pending secret rebuild is cleared only by its own time", func(t *testing.T) {
		s := newStore(t).(interface {
			SetPending(context.Context, string, string, time.Time) error
			Pending(context.Context, string) (string, time.Time, error)
			ClearPending(context.Context, string, time.Time) error
		})
		if r, _, err := s.Pending(ctx, "shop"); err != nil || r != "" {
			t.Fatalf("fresh: %q %v", r, err)
		}
		if err := s.SetPending(ctx, "shop", "secret x changed", t0); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPending(ctx, "shop", "secret x changed again", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.ClearPending(ctx, "shop", t0); err != nil { // the older one: the newer stays
			t.Fatal(err)
		}
		r, at, err := s.Pending(ctx, "shop")
		if err != nil || r != "secret x changed again" || !at.Equal(t0.Add(time.Minute)) {
			t.Fatalf("after clearing the older: %q %s %v", r, at, err)
		}
		if err := s.ClearPending(ctx, "shop", at); err != nil {
			t.Fatal(err)
		}
		if r, _, _ := s.Pending(ctx, "shop"); r != "" {
			t.Fatalf("not cleared: %q", r)
		}
	})

	t.Run("event ids expire in code", func(t *testing.T) {
		s := newStore(t)
		if seen, err := s.Seen(ctx, "ev-1", t0); err != nil || seen {
			t.Fatalf("fresh id seen=%v err=%v", seen, err)
		}
		if err := s.MarkSeen(ctx, "ev-1", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if seen, _ := s.Seen(ctx, "ev-1", t0.Add(time.Minute)); !seen {
			t.Fatal("marked id not seen")
		}
		if seen, _ := s.Seen(ctx, "ev-1", t0.Add(2*time.Hour)); seen {
			t.Fatal("expired id still seen")
		}
	})
}

func TestMemoryContract(t *testing.T) {
	contract(t, func(*testing.T) fixture {
		m := store.NewMemory()
		return fixture{Store: m, failWrite: func(n int) { m.FailWrite = failNth(n) }}
	})
}

// failNth fails the nth write asked about from now, once.
func failNth(n int) func(int) error {
	var mu sync.Mutex
	count := 0
	return func(int) error {
		mu.Lock()
		defer mu.Unlock()
		count++
		if count == n {
			return errInjected
		}
		return nil
	}
}

func TestDynamoContract(t *testing.T) {
	db := testenv.DynamoDB(t)
	contract(t, func(t *testing.T) fixture {
		f := &failingDB{DynamoDBAPI: db}
		return fixture{Store: &store.Dynamo{DB: f, Table: testenv.NewTable(t, db)}, failWrite: f.failWrite}
	})
}

// failingDB is a DynamoDB API whose nth write (PutItem) from a call to
// failWrite fails before it reaches the server.
type failingDB struct {
	awsapi.DynamoDBAPI
	mu   sync.Mutex
	fail func(int) error
	// puts and gets count the calls that reached the server.
	puts, gets int
}

func (f *failingDB) failWrite(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = failNth(n)
}

func (f *failingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		if err := fail(0); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	f.puts++
	f.mu.Unlock()
	return f.DynamoDBAPI.PutItem(ctx, in, opts...)
}

func (f *failingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.mu.Lock()
	f.gets++
	f.mu.Unlock()
	return f.DynamoDBAPI.GetItem(ctx, in, opts...)
}

func (f *failingDB) counts() (puts, gets int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.puts, f.gets
}
