// Package dbrefreshtest holds the contract every dbrefresh.Store passes, so
// the memory store of the simulation and the demo may stand in for the
// DynamoDB one only because both pass it.
package dbrefreshtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
)

// TestStore runs the contract. newStore must return an empty store each
// time it is called.
func TestStore(t *testing.T, newStore func(t *testing.T) dbrefresh.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 2, 5, 0, 0, time.UTC)
	refresh := func(id string, state dbrefresh.State) dbrefresh.Refresh {
		return dbrefresh.Refresh{App: "shop-staging", ID: id, State: state, New: "shop-staging-db-" + id, Copy: "shop-staging-db-" + id,
			Source:    dbrefresh.Snapshot{ID: "rds:shop-prod-db-2026-11-22-01-10", Created: t0.Add(-time.Hour)},
			StartedAt: t0, History: []dbrefresh.Transition{{At: t0, To: dbrefresh.Copying, By: dbrefresh.BySchedule, Cause: "test"}}}
	}

	t.Run("a new app loads at version 0", func(t *testing.T) {
		st, err := newStore(t).LoadRefresh(ctx, "shop-staging")
		if err != nil || st.Version != 0 || st.App != "shop-staging" || st.Active != nil || st.Current != nil {
			t.Fatalf("LoadRefresh = %+v, %v", st, err)
		}
	})

	t.Run("a save round-trips and bumps the version", func(t *testing.T) {
		s := newStore(t)
		r := refresh("20261122-0205", dbrefresh.Copying)
		st := dbrefresh.AppState{App: "shop-staging", Active: &r, LastStartedAt: t0,
			Current: &dbrefresh.Database{ID: "shop-staging-db", Snapshot: "rds:shop-prod-db-2026-11-15-01-10", SnapshotCreated: t0.Add(-7 * 24 * time.Hour)}}
		if err := s.SaveRefresh(ctx, &st); err != nil || st.Version != 1 {
			t.Fatalf("first save: version %d, %v", st.Version, err)
		}
		got, err := s.LoadRefresh(ctx, "shop-staging")
		if err != nil || got.Version != 1 || got.Active == nil || got.Active.ID != r.ID || !got.LastStartedAt.Equal(t0) ||
			got.Current == nil || got.Current.Snapshot != st.Current.Snapshot || len(got.Active.History) != 1 {
			t.Fatalf("loaded %+v, %v", got, err)
		}
		if err := s.SaveRefresh(ctx, &got); err != nil || got.Version != 2 {
			t.Fatalf("second save: version %d, %v", got.Version, err)
		}
	})

	t.Run("a stale version conflicts and changes nothing", func(t *testing.T) {
		s := newStore(t)
		a := dbrefresh.AppState{App: "shop-staging"}
		if err := s.SaveRefresh(ctx, &a); err != nil {
			t.Fatal(err)
		}
		stale := dbrefresh.AppState{App: "shop-staging", LastStartedAt: t0}
		if err := s.SaveRefresh(ctx, &stale); !errors.Is(err, dbrefresh.ErrConflict) {
			t.Fatalf("stale save = %v, want ErrConflict", err)
		}
		got, _ := s.LoadRefresh(ctx, "shop-staging")
		if got.Version != 1 || !got.LastStartedAt.IsZero() {
			t.Fatalf("the stale save changed the state: %+v", got)
		}
	})

	t.Run("the ledger holds ended refreshes and the one in flight, newest first", func(t *testing.T) {
		s := newStore(t)
		first := refresh("20261115-0205", dbrefresh.Done)
		st := dbrefresh.AppState{App: "shop-staging"}
		if err := s.SaveRefresh(ctx, &st, first); err != nil {
			t.Fatal(err)
		}
		active := refresh("20261122-0205", dbrefresh.Scrubbing)
		st.Active = &active
		if err := s.SaveRefresh(ctx, &st); err != nil {
			t.Fatal(err)
		}
		h, err := s.RefreshHistory(ctx, "shop-staging")
		if err != nil || len(h) != 2 || h[0].ID != active.ID || h[0].State != dbrefresh.Scrubbing || h[1].ID != first.ID || h[1].State != dbrefresh.Done {
			t.Fatalf("history = %+v, %v", h, err)
		}
		// The refresh ends: its ledger entry replaces the one in flight.
		ended := active
		ended.State = dbrefresh.Failed
		st.Active = nil
		if err := s.SaveRefresh(ctx, &st, ended); err != nil {
			t.Fatal(err)
		}
		h, err = s.RefreshHistory(ctx, "shop-staging")
		if err != nil || len(h) != 2 || h[0].State != dbrefresh.Failed {
			t.Fatalf("history after the end = %+v, %v", h, err)
		}
		// Saves after the one that recorded an entry keep it.
		for range 3 {
			if err := s.SaveRefresh(ctx, &st); err != nil {
				t.Fatal(err)
			}
		}
		if h, _ := s.RefreshHistory(ctx, "shop-staging"); len(h) != 2 || h[0].State != dbrefresh.Failed {
			t.Fatalf("history after more saves = %+v", h)
		}
		if h, _ := s.RefreshHistory(ctx, "other"); len(h) != 0 {
			t.Fatalf("another app's history = %+v", h)
		}
	})

	t.Run("of two saves from one version, exactly one wins", func(t *testing.T) {
		s := newStore(t)
		base := dbrefresh.AppState{App: "shop-staging"}
		if err := s.SaveRefresh(ctx, &base); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := refresh("20261122-020"+string(rune('0'+i)), dbrefresh.Copying)
				st := dbrefresh.AppState{App: "shop-staging", Version: base.Version, Active: &r}
				errs[i] = s.SaveRefresh(ctx, &st)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, dbrefresh.ErrConflict):
				t.Errorf("a losing save returned %v, want ErrConflict", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d saves won, want 1", won)
		}
	})

	t.Run("event ids are remembered until they expire", func(t *testing.T) {
		s := newStore(t)
		if seen, err := s.Seen(ctx, "dbrefresh#e1", t0); seen || err != nil {
			t.Fatalf("Seen before MarkSeen = %v, %v", seen, err)
		}
		if err := s.MarkSeen(ctx, "dbrefresh#e1", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if seen, _ := s.Seen(ctx, "dbrefresh#e1", t0.Add(time.Minute)); !seen {
			t.Fatal("not seen after MarkSeen")
		}
		if seen, _ := s.Seen(ctx, "dbrefresh#e1", t0.Add(2*time.Hour)); seen {
			t.Fatal("still seen after it expired")
		}
	})
}
