// Package alastest holds the contract every alas.Store must pass, so that
// the in-memory store used by tests and the demo and the DynamoDB store
// used in production cannot drift apart.
package alastest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/alas"
)

// TestStore runs the Store contract. newStore must return an empty store
// each time it is called.
func TestStore(t *testing.T, newStore func(t *testing.T) alas.Store) {
	ctx := context.Background()
	adv := func(id, sev string) alas.Advisory {
		return alas.Advisory{
			ID: id, Severity: sev, Packages: []string{"kernel"}, CVEs: []string{"CVE-2024-1234"},
			Published: time.Date(2024, 11, 7, 21, 33, 0, 0, time.UTC), URL: "https://alas.aws.amazon.com/AL2/" + id + ".html",
		}
	}
	ids := func(as []alas.Advisory) []string {
		out := []string{}
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}

	t.Run("validators round trip per app and feed", func(t *testing.T) {
		s := newStore(t)
		const u = "https://alas.aws.amazon.com/AL2/alas.rss"
		v, err := s.FeedValidators(ctx, "web", u)
		if err != nil || v != (alas.Validators{}) {
			t.Fatalf("unknown feed: got %+v, %v; want zero validators, nil", v, err)
		}
		want := alas.Validators{ETag: `"abc"`, LastModified: "Thu, 07 Nov 2024 21:33:00 GMT", Hash: "00ff"}
		if err := s.PutFeedValidators(ctx, "web", u, want); err != nil {
			t.Fatal(err)
		}
		if got, err := s.FeedValidators(ctx, "web", u); err != nil || got != want {
			t.Fatalf("got %+v, %v; want %+v", got, err, want)
		}
		if got, _ := s.FeedValidators(ctx, "api", u); got != (alas.Validators{}) {
			t.Fatalf("validators leaked to another app: %+v", got)
		}
		next := alas.Validators{ETag: `"def"`}
		if err := s.PutFeedValidators(ctx, "web", u, next); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.FeedValidators(ctx, "web", u); got != next {
			t.Fatalf("overwrite: got %+v, want %+v", got, next)
		}
	})

	t.Run("record once, pending until rebuilt", func(t *testing.T) {
		s := newStore(t)
		for _, tc := range []struct {
			a      alas.Advisory
			digest bool
			first  bool
		}{
			{adv("ALAS2-2024-0002", "critical"), false, true},
			{adv("ALAS2-2024-0001", "important"), false, true},
			{adv("ALAS2-2024-0003", "low"), true, true},
			{adv("ALAS2-2024-0002", "critical"), false, false},
			{adv("ALAS2-2024-0003", "low"), true, false},
		} {
			first, err := s.RecordAdvisory(ctx, "web", tc.a, tc.digest)
			if err != nil || first != tc.first {
				t.Fatalf("RecordAdvisory(%s) = %v, %v; want %v", tc.a.ID, first, err, tc.first)
			}
		}
		pending, err := s.PendingAdvisories(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(pending), []string{"ALAS2-2024-0001", "ALAS2-2024-0002"}; !slices.Equal(got, want) {
			t.Fatalf("pending = %v, want %v (sorted, digest excluded)", got, want)
		}
		if got := pending[1]; got.Severity != "critical" || !slices.Equal(got.CVEs, []string{"CVE-2024-1234"}) || !got.Published.Equal(adv("x", "").Published) {
			t.Fatalf("pending advisory lost fields: %+v", got)
		}
		if p, _ := s.PendingAdvisories(ctx, "api"); len(p) != 0 {
			t.Fatalf("pending leaked to another app: %v", ids(p))
		}
		if first, _ := s.RecordAdvisory(ctx, "api", adv("ALAS2-2024-0001", "important"), false); !first {
			t.Fatal("the same advisory for another app must be first too")
		}
		if err := s.MarkRebuilt(ctx, "web", []string{"ALAS2-2024-0001", "ALAS2-9999-0000"}, "build-1"); err != nil {
			t.Fatalf("MarkRebuilt with an unknown id: %v", err)
		}
		pending, _ = s.PendingAdvisories(ctx, "web")
		if got, want := ids(pending), []string{"ALAS2-2024-0002"}; !slices.Equal(got, want) {
			t.Fatalf("after MarkRebuilt pending = %v, want %v", got, want)
		}
		if first, _ := s.RecordAdvisory(ctx, "web", adv("ALAS2-2024-0001", "important"), false); first {
			t.Fatal("a rebuilt advisory must not be recorded again")
		}
	})

	t.Run("concurrent records: exactly one first", func(t *testing.T) {
		s := newStore(t)
		const n = 16
		var wg sync.WaitGroup
		firsts := make(chan bool, n)
		for range n {
			wg.Go(func() {
				first, err := s.RecordAdvisory(ctx, "web", adv("ALAS2-2025-3025", "critical"), false)
				if err != nil {
					t.Error(err)
				}
				firsts <- first
			})
		}
		wg.Wait()
		close(firsts)
		count := 0
		for f := range firsts {
			if f {
				count++
			}
		}
		if count != 1 {
			t.Fatalf("%d callers saw first=true, want exactly 1", count)
		}
	})
}
