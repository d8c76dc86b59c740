package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/internal/testenv"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// contract is the one suite every Store passes: the memory store the
// simulation uses may only stand in for DynamoDB because both pass it.
func contract(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := context.Background()
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
	contract(t, func(*testing.T) store.Store { return store.NewMemory() })
}

func TestDynamoContract(t *testing.T) {
	db := testenv.DynamoDB(t)
	contract(t, func(t *testing.T) store.Store {
		return &store.Dynamo{DB: db, Table: testenv.NewTable(t, db)}
	})
}
