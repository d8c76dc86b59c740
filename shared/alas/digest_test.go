package alas_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// al2DigestSorted is al2Digest as the digest lists it: by severity, then id.
var al2DigestSorted = []string{"ALAS2-2024-2650", "ALAS2NGINX1-2024-005", "ALAS2NITRO-ENCLAVES-2024-010", "ALAS2-2024-2601"}

func TestPollDigest(t *testing.T) {
	feed := testdata(t, "al2.rss")
	srv := newFeedServer(t, withETag, feed)
	r := newRig(srv.URL)
	t0 := r.now
	at := func(d time.Duration) { r.now = t0.Add(d) }

	// First poll: no digest was ever sent, so the advisories below the
	// minimum go out at once, in one message of their own.
	rep, err := r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(rep.Digest), al2Digest) || !slices.Equal(rep.DigestSent, al2DigestSorted) {
		t.Fatalf("digest recorded %v, sent %v; want %v sent as %v", ids(rep.Digest), rep.DigestSent, al2Digest, al2DigestSorted)
	}
	digests := r.notifier.digests()
	if len(digests) != 1 {
		t.Fatalf("%d digests, want 1", len(digests))
	}
	d := digests[0]
	if want := "kaizen web: security digest, 4 advisories below important (highest medium)"; d.Subject != want {
		t.Errorf("subject = %q, want %q", d.Subject, want)
	}
	for _, want := range []string{
		"ALAS2-2024-2650  medium  curl, libcurl", "CVE-2024-7264", "https://alas.aws.amazon.com/AL2/ALAS2-2024-2650.html",
		"ALAS2-2024-2601  low  vim-common, vim-enhanced, vim-minimal",
		"ALAS2NGINX1-2024-005", "ALAS2NITRO-ENCLAVES-2024-010", "start no rebuild",
	} {
		if !strings.Contains(d.Message, want) {
			t.Errorf("digest lacks %q:\n%s", want, d.Message)
		}
	}
	if i, j := strings.Index(d.Message, "ALAS2NITRO-ENCLAVES-2024-010"), strings.Index(d.Message, "ALAS2-2024-2601"); i > j {
		t.Errorf("the low advisory is listed before a medium one:\n%s", d.Message)
	}
	// The poll's own message is about the rebuild and lists none of them.
	n := r.notifier.sent()
	if len(n) != 1 || strings.Contains(n[0].Message, "ALAS2-2024-2650") || !strings.Contains(n[0].Message, "4 new advisories below important") {
		t.Fatalf("poll message:\n%+v", n)
	}

	// An hour later a low advisory appears: recorded for the digest, but
	// neither a message of its own nor a digest yet.
	at(time.Hour)
	srv.set(withItem(feed, "ALAS2-2025-3031 (low): less", "CVE-2024-32487", "Mon, 20 Jan 2025 08:00:00 GMT"))
	rep, err = r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(rep.Digest), []string{"ALAS2-2025-3031"}) || rep.Notified || len(rep.DigestSent) != 0 || rep.RebuildID != "" {
		t.Fatalf("report %+v", rep)
	}
	if len(r.notifier.sent()) != 1 || len(r.notifier.digests()) != 1 {
		t.Fatalf("a digest-only poll sent a message: %+v", r.notifier.notes)
	}

	// Not before the digest period is over...
	at(24*time.Hour - time.Minute)
	if rep, err := r.poll(t); err != nil || len(rep.DigestSent) != 0 || len(r.notifier.digests()) != 1 {
		t.Fatalf("before 24h: %v, sent %v, %d digests", err, rep.DigestSent, len(r.notifier.digests()))
	}
	// ...and then with the new advisory only: the first four went out already.
	at(24 * time.Hour)
	writes := r.store.Writes()
	rep, err = r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	digests = r.notifier.digests()
	if len(digests) != 2 || !slices.Equal(rep.DigestSent, []string{"ALAS2-2025-3031"}) || rep.Unchanged != 1 {
		t.Fatalf("after 24h: sent %v, report %+v, %d digests", rep.DigestSent, rep, len(digests))
	}
	d = digests[1]
	for _, want := range []string{"ALAS2-2025-3031  low  less", "CVE-2024-32487", "https://alas.aws.amazon.com/AL2/ALAS2-2025-3031.html",
		"since the last digest (2025-01-20T09:00:00Z)"} {
		if !strings.Contains(d.Message, want) {
			t.Errorf("second digest lacks %q:\n%s", want, d.Message)
		}
	}
	if strings.Contains(d.Message, "ALAS2-2024-2650") || d.Subject != "kaizen web: security digest, 1 advisory below important (highest low)" {
		t.Errorf("second digest repeats the first or has the wrong subject: %q\n%s", d.Subject, d.Message)
	}
	if got := r.store.Writes() - writes; got != 1 {
		t.Errorf("sending the digest cost %d store writes, want 1 (MarkDigested)", got)
	}

	// Nothing left to digest: no message on later polls, however late.
	for _, after := range []time.Duration{25 * time.Hour, 48 * time.Hour, 72 * time.Hour} {
		at(after)
		writes := r.store.Writes()
		if rep, err := r.poll(t); err != nil || len(rep.DigestSent) != 0 || rep.Notified {
			t.Fatalf("at +%v: %v, %+v", after, err, rep)
		}
		if len(r.notifier.digests()) != 2 || r.store.Writes() != writes {
			t.Fatalf("at +%v: %d digests, %d writes; want no message and no write", after, len(r.notifier.digests()), r.store.Writes()-writes)
		}
	}

	// After a quiet spell longer than the period, the next advisory below
	// the minimum goes out with the poll that records it: a digest is sent
	// at most once a period, not at a fixed hour.
	at(80 * time.Hour)
	srv.set(withItem(withItem(feed, "ALAS2-2025-3031 (low): less", "CVE-2024-32487", "Mon, 20 Jan 2025 08:00:00 GMT"),
		"ALAS2-2025-3040 (medium): sudo", "CVE-2025-0001", "Thu, 23 Jan 2025 12:00:00 GMT"))
	if rep, err := r.poll(t); err != nil || !slices.Equal(rep.DigestSent, []string{"ALAS2-2025-3040"}) {
		t.Fatalf("after a quiet spell: %v, sent %v", err, rep.DigestSent)
	}
}

func TestPollDigestPeriodFromConfig(t *testing.T) {
	feed := testdata(t, "al2.rss")
	srv := newFeedServer(t, withETag, feed)
	r := newRig(srv.URL)
	r.app.ALAS.DigestHours = 6
	t0 := r.now
	if _, err := r.poll(t); err != nil {
		t.Fatal(err)
	}
	srv.set(withItem(feed, "ALAS2-2025-3031 (low): less", "CVE-2024-32487", "Mon, 20 Jan 2025 08:00:00 GMT"))
	r.now = t0.Add(5 * time.Hour)
	if rep, _ := r.poll(t); len(rep.DigestSent) != 0 {
		t.Fatalf("digest after 5h of 6: %v", rep.DigestSent)
	}
	r.now = t0.Add(6 * time.Hour)
	if rep, _ := r.poll(t); !slices.Equal(rep.DigestSent, []string{"ALAS2-2025-3031"}) {
		t.Fatalf("digest after 6h = %v", rep.DigestSent)
	}
}

func TestPollDigestNothingToSend(t *testing.T) {
	// Every advisory at or above the minimum: nothing ever goes to the
	// digest, and no empty digest is sent.
	srv := newFeedServer(t, withETag, testdata(t, "al2.rss"))
	r := newRig(srv.URL)
	r.app.ALAS.MinSeverity = "low"
	for _, after := range []time.Duration{0, 24 * time.Hour, 48 * time.Hour} {
		r.now = r.now.Add(after)
		if rep, err := r.poll(t); err != nil || len(rep.DigestSent) != 0 {
			t.Fatalf("%v, sent %v", err, rep.DigestSent)
		}
	}
	if d := r.notifier.digests(); len(d) != 0 {
		t.Fatalf("digests = %+v, want none", d)
	}
}

func TestPollDigestNotifyFailsThenRetries(t *testing.T) {
	srv := newFeedServer(t, withETag, testdata(t, "al2.rss"))
	r := newRig(srv.URL)
	r.notifier.err = errors.New("sns: throttled")
	rep, err := r.poll(t)
	if err == nil || !strings.Contains(err.Error(), "alas: digest: notify: sns: throttled") || len(rep.DigestSent) != 0 {
		t.Fatalf("err = %v, sent %v", err, rep.DigestSent)
	}
	if last, _ := r.store.LastDigest(t.Context(), "web"); !last.IsZero() {
		t.Fatalf("a digest that was not sent was recorded at %v", last)
	}
	r.notifier.mu.Lock()
	r.notifier.err = nil
	r.notifier.mu.Unlock()
	r.now = r.now.Add(30 * time.Minute)
	rep, err = r.poll(t)
	if err != nil || !slices.Equal(rep.DigestSent, al2DigestSorted) || len(r.notifier.digests()) != 1 {
		t.Fatalf("retry: %v, sent %v, %d digests", err, rep.DigestSent, len(r.notifier.digests()))
	}
}
