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
		want := alas.Validators{ETag: `"abc"`, LastModified: "Thu, 07 Nov 2024 21:33:00 GMT", Hash: "00ff", Recorded: "ALAS-2020-1375,ALAS2-2025-3025"}
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
			action alas.Action
			first  bool
		}{
			{adv("ALAS2-2024-0002", "critical"), alas.ActionRebuild, true},
			{adv("ALAS2-2024-0001", "important"), alas.ActionRebuild, true},
			{adv("ALAS2-2024-0003", "low"), alas.ActionDigest, true},
			{adv("ALAS2-2019-0004", "critical"), alas.ActionKnown, true},
			{adv("ALAS2-2024-0002", "critical"), alas.ActionRebuild, false},
			{adv("ALAS2-2024-0003", "low"), alas.ActionDigest, false},
			// A later call never changes what was recorded.
			{adv("ALAS2-2019-0004", "critical"), alas.ActionRebuild, false},
			{adv("ALAS2-2024-0003", "low"), alas.ActionRebuild, false},
		} {
			first, err := s.RecordAdvisory(ctx, "web", tc.a, tc.action)
			if err != nil || first != tc.first {
				t.Fatalf("RecordAdvisory(%s, %s) = %v, %v; want %v", tc.a.ID, tc.action, first, err, tc.first)
			}
		}
		pending, err := s.PendingAdvisories(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(pending), []string{"ALAS2-2024-0001", "ALAS2-2024-0002"}; !slices.Equal(got, want) {
			t.Fatalf("pending = %v, want %v (sorted, digest and known excluded)", got, want)
		}
		if got := pending[1]; got.Severity != "critical" || !slices.Equal(got.CVEs, []string{"CVE-2024-1234"}) || !got.Published.Equal(adv("x", "").Published) {
			t.Fatalf("pending advisory lost fields: %+v", got)
		}
		if p, _ := s.PendingAdvisories(ctx, "api"); len(p) != 0 {
			t.Fatalf("pending leaked to another app: %v", ids(p))
		}
		if first, _ := s.RecordAdvisory(ctx, "api", adv("ALAS2-2024-0001", "important"), alas.ActionRebuild); !first {
			t.Fatal("the same advisory for another app must be first too")
		}
		if err := s.MarkRebuilt(ctx, "web", []string{"ALAS2-2024-0001", "ALAS2-9999-0000"}, "build-1"); err != nil {
			t.Fatalf("MarkRebuilt with an unknown id: %v", err)
		}
		pending, _ = s.PendingAdvisories(ctx, "web")
		if got, want := ids(pending), []string{"ALAS2-2024-0002"}; !slices.Equal(got, want) {
			t.Fatalf("after MarkRebuilt pending = %v, want %v", got, want)
		}
		if first, _ := s.RecordAdvisory(ctx, "web", adv("ALAS2-2024-0001", "important"), alas.ActionRebuild); first {
			t.Fatal("a rebuilt advisory must not be recorded again")
		}
		if d, err := s.DigestAdvisories(ctx, "web"); err != nil || !slices.Equal(ids(d), []string{"ALAS2-2024-0003"}) {
			t.Fatalf("digest = %v, %v; want only the digest advisory", ids(d), err)
		}
	})

	t.Run("only rebuild, digest and known are recorded", func(t *testing.T) {
		s := newStore(t)
		for _, action := range []alas.Action{alas.ActionIgnore, "", "pending"} {
			if first, err := s.RecordAdvisory(ctx, "web", adv("ALAS2-2024-0001", "low"), action); err == nil || first {
				t.Fatalf("RecordAdvisory with action %q = %v, %v; want an error", action, first, err)
			}
		}
		if first, err := s.RecordAdvisory(ctx, "web", adv("ALAS2-2024-0001", "low"), alas.ActionDigest); err != nil || !first {
			t.Fatalf("after refused actions the advisory must still be new: %v, %v", first, err)
		}
	})

	t.Run("digest until marked, last digest time", func(t *testing.T) {
		s := newStore(t)
		if last, err := s.LastDigest(ctx, "web"); err != nil || !last.IsZero() {
			t.Fatalf("LastDigest of a new app = %v, %v; want the zero time", last, err)
		}
		if d, err := s.DigestAdvisories(ctx, "web"); err != nil || len(d) != 0 {
			t.Fatalf("digest of a new app = %v, %v", ids(d), err)
		}
		for _, a := range []struct {
			a      alas.Advisory
			action alas.Action
		}{
			{adv("ALAS2-2024-0003", "low"), alas.ActionDigest},
			{adv("ALAS2-2024-0001", "medium"), alas.ActionDigest},
			{adv("ALAS2-2024-0002", "critical"), alas.ActionRebuild},
			{adv("ALAS2-2019-0001", "low"), alas.ActionKnown},
		} {
			if _, err := s.RecordAdvisory(ctx, "web", a.a, a.action); err != nil {
				t.Fatal(err)
			}
		}
		d, err := s.DigestAdvisories(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(d), []string{"ALAS2-2024-0001", "ALAS2-2024-0003"}; !slices.Equal(got, want) {
			t.Fatalf("digest = %v, want %v (sorted, rebuild and known excluded)", got, want)
		}
		if d[1].Severity != "low" || !slices.Equal(d[1].Packages, []string{"kernel"}) || d[1].URL == "" || !d[1].Published.Equal(adv("x", "").Published) {
			t.Fatalf("digest advisory lost fields: %+v", d[1])
		}

		at := time.Date(2025, 1, 21, 9, 0, 0, 123_000_000, time.UTC)
		// The rebuild advisory and the unknown id are ignored.
		if err := s.MarkDigested(ctx, "web", []string{"ALAS2-2024-0003", "ALAS2-2024-0002", "ALAS2-9999-0000"}, at); err != nil {
			t.Fatal(err)
		}
		if d, _ := s.DigestAdvisories(ctx, "web"); !slices.Equal(ids(d), []string{"ALAS2-2024-0001"}) {
			t.Fatalf("after MarkDigested digest = %v, want the unmarked one", ids(d))
		}
		if p, _ := s.PendingAdvisories(ctx, "web"); !slices.Equal(ids(p), []string{"ALAS2-2024-0002"}) {
			t.Fatalf("MarkDigested touched the pending advisory: pending = %v", ids(p))
		}
		if last, err := s.LastDigest(ctx, "web"); err != nil || !last.Equal(at) {
			t.Fatalf("LastDigest = %v, %v; want %v", last, err, at)
		}
		if last, _ := s.LastDigest(ctx, "api"); !last.IsZero() {
			t.Fatalf("last digest leaked to another app: %v", last)
		}
		if first, _ := s.RecordAdvisory(ctx, "web", adv("ALAS2-2024-0003", "low"), alas.ActionDigest); first {
			t.Fatal("a digested advisory must not be recorded again")
		}

		// An older time (a slow overlapping poll) never moves it back; an
		// empty digest still records a newer time.
		if err := s.MarkDigested(ctx, "web", nil, at.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if last, _ := s.LastDigest(ctx, "web"); !last.Equal(at) {
			t.Fatalf("LastDigest went back to %v, want %v", last, at)
		}
		later := at.Add(24 * time.Hour)
		if err := s.MarkDigested(ctx, "web", nil, later); err != nil {
			t.Fatal(err)
		}
		if last, _ := s.LastDigest(ctx, "web"); !last.Equal(later) {
			t.Fatalf("LastDigest = %v, want %v", last, later)
		}
		if d, _ := s.DigestAdvisories(ctx, "web"); !slices.Equal(ids(d), []string{"ALAS2-2024-0001"}) {
			t.Fatalf("an empty MarkDigested changed the digest: %v", ids(d))
		}
	})

	t.Run("concurrent records: exactly one first", func(t *testing.T) {
		s := newStore(t)
		const n = 16
		var wg sync.WaitGroup
		firsts := make(chan bool, n)
		for range n {
			wg.Go(func() {
				first, err := s.RecordAdvisory(ctx, "web", adv("ALAS2-2025-3025", "critical"), alas.ActionRebuild)
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
