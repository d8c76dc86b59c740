package alas_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/config"
)

func TestFirstPollTakesOldHistoryAsKnown(t *testing.T) {
	feed := testdata(t, "al2.rss")
	srv := newFeedServer(t, withETag, feed)
	r := newRig(srv.URL)
	r.poller.FirstPollWindow = 0 // the default: 30 days, since 2024-12-21

	rep, err := r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(rep.New), []string{"ALAS2-2025-3025"}) || len(rep.Digest) != 0 || rep.Known != 11 {
		t.Fatalf("new %v, digest %v, known %d; want only the January advisory new and 11 known", ids(rep.New), ids(rep.Digest), rep.Known)
	}
	if got := r.rebuild.calls(); len(got) != 1 || !slices.Equal(got[0].IDs, []string{"ALAS2-2025-3025"}) {
		t.Fatalf("starts = %+v", got)
	}
	recs := r.store.Recorded("web")
	if len(recs) != 12 {
		t.Fatalf("recorded %d, want all 12 (known ones too, so they never count as new)", len(recs))
	}
	for _, rec := range recs {
		if want := alas.ActionKnown; rec.Advisory.ID != "ALAS2-2025-3025" && rec.Action != want {
			t.Errorf("%s recorded as %s, want %s", rec.Advisory.ID, rec.Action, want)
		}
	}
	notes := r.notifier.sent()
	if len(notes) != 1 || !strings.Contains(notes[0].Message, "First poll: 11 older advisories") || strings.Contains(notes[0].Message, "ALAS-2019-1234") {
		t.Fatalf("notes = %+v", notes)
	}
	if len(r.notifier.digests()) != 0 {
		t.Fatalf("known advisories were digested: %+v", r.notifier.digests())
	}

	// Later polls judge every advisory that was not in the feed at the
	// first poll, even one dated before the window (published late).
	srv.set(withItem(feed, "ALAS2-2024-2999 (important): sudo", "CVE-2024-0001", "Mon, 01 Jul 2024 10:00:00 GMT"))
	r.now = r.now.Add(time.Hour)
	rep, err = r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(rep.New), []string{"ALAS2-2024-2999"}) || rep.Known != 0 {
		t.Fatalf("second poll: new %v, known %d", ids(rep.New), rep.Known)
	}
	if got := r.rebuild.calls(); len(got) != 2 || !slices.Equal(got[1].IDs, []string{"ALAS2-2024-2999"}) {
		t.Fatalf("starts = %+v", got)
	}
}

func TestFirstPollWindow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		window  time.Duration
		rebuild []string
		digest  int
		known   int
	}{
		{name: "90 days", window: 90 * 24 * time.Hour, known: 8, // since 2024-10-22
			rebuild: []string{"ALAS2-2024-2680", "ALAS2-2025-3025", "ALAS2KERNEL-5.10-2024-071", "ALAS2LIVEPATCH-2024-200"}},
		{name: "off", window: -1, rebuild: al2Rebuild, digest: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(newFeedServer(t, withETag, testdata(t, "al2.rss")).URL)
			r.poller.FirstPollWindow = tc.window
			rep, err := r.poll(t)
			if err != nil {
				t.Fatal(err)
			}
			if got := sorted(ids(rep.New)); !slices.Equal(got, tc.rebuild) || len(rep.Digest) != tc.digest || rep.Known != tc.known {
				t.Fatalf("new %v, digest %d, known %d; want %v, %d, %d", got, len(rep.Digest), rep.Known, tc.rebuild, tc.digest, tc.known)
			}
		})
	}
}

// A first poll that fails after recording is retried as a first poll
// (validators are saved only after success): what it took as known stays
// known, what it found new is still rebuilt.
func TestFirstPollRetried(t *testing.T) {
	srv := newFeedServer(t, withETag, testdata(t, "al2.rss"))
	r := newRig(srv.URL)
	r.poller.FirstPollWindow = 0
	r.rebuild.startErr = errors.New("codebuild: throttled")
	if _, err := r.poll(t); err == nil {
		t.Fatal("want the start error")
	}
	r.rebuild.mu.Lock()
	r.rebuild.startErr = nil
	r.rebuild.mu.Unlock()
	r.now = r.now.Add(30 * time.Minute)
	rep, err := r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fetched != 1 || len(rep.New) != 0 || rep.Known != 0 {
		t.Fatalf("retry: %+v", rep)
	}
	if got := r.rebuild.calls(); len(got) != 1 || !slices.Equal(got[0].IDs, []string{"ALAS2-2025-3025"}) {
		t.Fatalf("starts = %+v", got)
	}
}

// The window is per feed: a feed added to an app later (here: the app moves
// to Amazon Linux 2023) gets its own first poll.
func TestFirstPollOfAFeedAddedLater(t *testing.T) {
	al2 := newFeedServer(t, withETag, testdata(t, "al2.rss"))
	al2023 := newFeedServer(t, withETag, testdata(t, "al2023.rss"))
	r := newRig(al2.URL)
	r.poller.FirstPollWindow = 0
	if _, err := r.poll(t); err != nil {
		t.Fatal(err)
	}
	r.app.ALAS.Feeds = append(r.app.ALAS.Feeds, al2023.URL)
	r.now = r.now.Add(time.Hour)
	rep, err := r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	// Since 2024-12-21: ALAS2023-2025-800 (January) is new; the three
	// autumn advisories are known.
	if !slices.Equal(ids(rep.New), []string{"ALAS2023-2025-800"}) || rep.Known != 3 || rep.Unchanged != 1 {
		t.Fatalf("new %v, known %d, report %+v", ids(rep.New), rep.Known, rep)
	}
	if got := r.rebuild.calls(); len(got) != 2 || !slices.Equal(got[1].IDs, []string{"ALAS2023-2025-800"}) {
		t.Fatalf("starts = %+v", got)
	}
}

// With nothing new in the window, the first poll still says once what it
// took as known, and starts nothing.
func TestFirstPollNothingRecent(t *testing.T) {
	r := newRig(newFeedServer(t, withETag, testdata(t, "al2.rss")).URL)
	r.poller.FirstPollWindow = 0
	r.now = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	rep, err := r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Known != 12 || len(rep.New)+len(rep.Digest) != 0 || len(r.rebuild.calls()) != 0 {
		t.Fatalf("report %+v, starts %v", rep, r.rebuild.calls())
	}
	notes := r.notifier.sent()
	if want := "kaizen web: first security advisory poll, 12 known, no rebuild needed"; len(notes) != 1 || notes[0].Subject != want {
		t.Fatalf("notes = %+v, want one with subject %q", notes, want)
	}
	if _, err := r.poll(t); err != nil || len(r.notifier.sent()) != 1 {
		t.Fatalf("second poll: %v, %d notes", err, len(r.notifier.sent()))
	}
}

// Old advisories are known even when the package filter would ignore them
// today, so that an image that gains the package later does not rebuild
// for them.
func TestFirstPollKnownBeatsPackageFilter(t *testing.T) {
	feed := testdata(t, "al2.rss")
	srv := newFeedServer(t, withETag, feed)
	r := newRig(srv.URL)
	r.poller.FirstPollWindow = 0
	r.app.ALAS.PackagesOnly = true
	manifest := []string{"389-ds-base"}
	r.poller.Manifest = func(context.Context, *config.App) ([]string, error) { return manifest, nil }
	rep, err := r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(rep.New), []string{"ALAS2-2025-3025"}) || rep.Known != 11 || rep.Ignored != 0 {
		t.Fatalf("new %v, known %d, ignored %d", ids(rep.New), rep.Known, rep.Ignored)
	}
	manifest = append(manifest, "openssl", "kernel")
	srv.set(withItem(feed, "ALAS2-2025-3030 (critical): glibc", "CVE-2025-0395", "Mon, 20 Jan 2025 08:00:00 GMT"))
	r.now = r.now.Add(time.Hour)
	rep, err = r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	// glibc is not in the image: ignored, not recorded; the old openssl
	// and kernel advisories stay known.
	if len(rep.New) != 0 || len(r.rebuild.calls()) != 1 {
		t.Fatalf("second poll: new %v, starts %v", ids(rep.New), r.rebuild.calls())
	}
	for _, rec := range r.store.Recorded("web") {
		if rec.Advisory.ID == "ALAS2-2025-3030" {
			t.Fatalf("an advisory for a package the image lacks was recorded: %+v", rec)
		}
	}
}
