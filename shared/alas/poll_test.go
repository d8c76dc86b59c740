package alas_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/config"
)

func TestPollRecordsOnceThenCostsNothing(t *testing.T) {
	for _, mode := range []validatorMode{withETag, withLastModified, withNothing} {
		t.Run(mode.String(), func(t *testing.T) {
			srv := newFeedServer(t, mode, testdata(t, "al2.rss"))
			r := newRig(srv.URL)

			rep, err := r.poll(t)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Fetched != 1 || rep.Unchanged != 0 || rep.RebuildID != "build-1" {
				t.Fatalf("first poll: %+v", rep)
			}
			if got := ids(rep.New); !slices.Equal(sorted(got), al2Rebuild) {
				t.Errorf("new = %v, want %v", got, al2Rebuild)
			}
			if got := ids(rep.Digest); !slices.Equal(got, al2Digest) {
				t.Errorf("digest = %v, want %v", got, al2Digest)
			}
			if got := r.rebuild.calls(); len(got) != 1 || !slices.Equal(got[0].IDs, al2Rebuild) || got[0].Release != "" {
				t.Fatalf("starts = %+v, want one with %v and no release version", got, al2Rebuild)
			}
			if n := len(r.notifier.sent()); n != 1 {
				t.Fatalf("%d notifications, want 1", n)
			}
			if len(r.store.Recorded("web")) != 12 {
				t.Errorf("recorded %d advisories, want 12", len(r.store.Recorded("web")))
			}

			writes := r.store.Writes()
			rep, err = r.poll(t)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Unchanged != 1 || rep.Fetched != 0 || len(rep.New)+len(rep.Digest) != 0 || rep.RebuildID != "" {
				t.Fatalf("second poll: %+v", rep)
			}
			if got := r.store.Writes() - writes; got != 0 {
				t.Errorf("unchanged feed cost %d store writes, want 0", got)
			}
			if n := len(srv.reqs()); n != 2 {
				t.Errorf("%d requests in two polls, want 2", n)
			}
			if len(r.rebuild.calls()) != 1 || len(r.notifier.sent()) != 1 {
				t.Errorf("unchanged feed started a build or notified: %+v %+v", r.rebuild.calls(), r.notifier.sent())
			}
			h := srv.reqs()[1]
			switch mode {
			case withETag:
				if h.Get("If-None-Match") == "" {
					t.Error("second poll sent no If-None-Match")
				}
			case withLastModified:
				if h.Get("If-Modified-Since") == "" {
					t.Error("second poll sent no If-Modified-Since")
				}
			}
		})
	}
}

func TestPollNewItemRebuildsOnlyIt(t *testing.T) {
	feed := testdata(t, "al2.rss")
	srv := newFeedServer(t, withETag, feed)
	r := newRig(srv.URL)
	if _, err := r.poll(t); err != nil {
		t.Fatal(err)
	}
	srv.set(withItem(feed, "ALAS2-2025-3030 (critical): glibc, glibc-common", "CVE-2025-0395, CVE-2025-0396", "Mon, 20 Jan 2025 08:00:00 GMT"))
	rep, err := r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	starts := r.rebuild.calls()
	if len(starts) != 2 || !slices.Equal(starts[1].IDs, []string{"ALAS2-2025-3030"}) {
		t.Fatalf("starts = %+v, want a second one with only ALAS2-2025-3030", starts)
	}
	if got := ids(rep.New); !slices.Equal(got, []string{"ALAS2-2025-3030"}) || len(rep.Digest) != 0 {
		t.Fatalf("new = %v, digest = %v", got, ids(rep.Digest))
	}
	notes := r.notifier.sent()
	if len(notes) != 2 {
		t.Fatalf("%d notifications, want 2", len(notes))
	}
	n := notes[1]
	for _, want := range []string{"ALAS2-2025-3030", "critical", "glibc, glibc-common", "CVE-2025-0395, CVE-2025-0396",
		"https://alas.aws.amazon.com/AL2/ALAS2-2025-3030.html", "started build build-2"} {
		if !strings.Contains(n.Message, want) {
			t.Errorf("message lacks %q:\n%s", want, n.Message)
		}
	}
	if strings.Contains(n.Message, "ALAS2-2025-3025") {
		t.Errorf("message repeats an old advisory:\n%s", n.Message)
	}
	if want := "kaizen web: 1 new security advisory (highest critical), rebuild started"; n.Subject != want {
		t.Errorf("subject = %q, want %q", n.Subject, want)
	}
}

func TestPollBrokenFeedRecordsNothing(t *testing.T) {
	al2 := testdata(t, "al2.rss")
	for _, tc := range []struct {
		name    string
		body    []byte
		status  int
		ctype   string
		wantErr string
	}{
		{name: "500", body: al2, status: 500, wantErr: "status 500"},
		{name: "truncated XML", body: testdata(t, "truncated.rss"), wantErr: "ends early"},
		{name: "HTML served as text/html", body: testdata(t, "html-200.html"), ctype: "text/html", wantErr: "got an HTML page"},
		{name: "HTML served as XML", body: testdata(t, "html-200.html"), ctype: "application/xml", wantErr: "got an HTML page"},
		{name: "entity bomb", body: testdata(t, "bomb.rss"), wantErr: "<!DOCTYPE"},
		{name: "empty channel", body: testdata(t, "empty.rss"), wantErr: "no channel title and no items"},
		{name: "not XML", body: []byte("Service Unavailable"), ctype: "text/plain", wantErr: "not a valid RSS feed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFeedServer(t, withETag, tc.body)
			srv.status, srv.ctype = tc.status, tc.ctype
			r := newRig(srv.URL)
			rep, err := r.poll(t)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), srv.URL) {
				t.Fatalf("err = %v, want one naming %s and containing %q", err, srv.URL, tc.wantErr)
			}
			if rep.Failed != 1 || r.store.Writes() != 0 || len(r.rebuild.calls()) != 0 || len(r.notifier.sent()) != 0 {
				t.Fatalf("broken feed left traces: report %+v, %d writes, starts %v, notes %v",
					rep, r.store.Writes(), r.rebuild.calls(), r.notifier.sent())
			}

			// Once the feed is fixed the next poll works from scratch.
			srv.mu.Lock()
			srv.status, srv.ctype = 0, ""
			srv.mu.Unlock()
			srv.set(al2)
			if _, err := r.poll(t); err != nil {
				t.Fatal(err)
			}
			if got := r.rebuild.calls(); len(got) != 1 || !slices.Equal(got[0].IDs, al2Rebuild) {
				t.Fatalf("after recovery: starts = %+v", got)
			}
			if h := srv.reqs()[1]; h.Get("If-None-Match") != "" {
				t.Errorf("the failed poll saved validators: retry sent If-None-Match %q", h.Get("If-None-Match"))
			}
		})
	}
}

func TestPoll100MBFeed(t *testing.T) {
	srv := httptest.NewServer(hugeBody(100<<20, false, nil))
	defer srv.Close()
	r := newRig(srv.URL)
	_, err := r.poll(t)
	want := fmt.Sprintf("larger than the %d-byte limit", alas.DefaultMaxBytes)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("err = %v, want it to name %s and %q", err, srv.URL, want)
	}
	if r.store.Writes() != 0 {
		t.Errorf("%d writes for a refused feed", r.store.Writes())
	}
}

func TestPollSkipsMalformedItems(t *testing.T) {
	srv := newFeedServer(t, withETag, testdata(t, "baddates.rss"))
	r := newRig(srv.URL)
	rep, err := r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 3 || !slices.Equal(ids(rep.New), []string{"ALAS2-2025-3025"}) || !slices.Equal(ids(rep.Digest), []string{"ALAS2-2025-3029"}) {
		t.Fatalf("report: new %v digest %v skipped %v", ids(rep.New), ids(rep.Digest), rep.Skipped)
	}
	for _, r := range r.store.Recorded("web") {
		if r.Advisory.ID == "ALAS2-2025-3026" || r.Advisory.ID == "ALAS2-2025-3027" || r.Advisory.ID == "ALAS2-2025-3028" {
			t.Errorf("malformed item %s was recorded", r.Advisory.ID)
		}
	}
	if msg := r.notifier.sent()[0].Message; !strings.Contains(msg, "3 malformed feed items were skipped") {
		t.Errorf("message does not mention the skipped items:\n%s", msg)
	}
}

func TestPollRebuildAlreadyRunning(t *testing.T) {
	srv := newFeedServer(t, withETag, testdata(t, "al2.rss"))
	r := newRig(srv.URL)
	r.rebuild.running = true

	rep, err := r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.rebuild.calls()) != 0 || rep.RebuildID != "" {
		t.Fatalf("started a build while one runs: %+v", r.rebuild.calls())
	}
	if !slices.Equal(rep.Waiting, al2Rebuild) || !strings.Contains(rep.WaitReason, "already running") {
		t.Fatalf("waiting %v (%q)", rep.Waiting, rep.WaitReason)
	}
	if msg := r.notifier.sent()[0].Message; !strings.Contains(msg, "not started") || !strings.Contains(msg, "already running") {
		t.Errorf("message does not say why no build started:\n%s", msg)
	}

	// Still running: the unchanged feed costs no writes and starts nothing.
	writes := r.store.Writes()
	if _, err := r.poll(t); err != nil {
		t.Fatal(err)
	}
	if len(r.rebuild.calls()) != 0 || r.store.Writes() != writes {
		t.Fatalf("second poll while running: starts %v, %d writes", r.rebuild.calls(), r.store.Writes()-writes)
	}

	// The build ended: the next poll starts one for what waited, although
	// the feed did not change, and says so once.
	r.rebuild.mu.Lock()
	r.rebuild.running = false
	r.rebuild.mu.Unlock()
	rep, err = r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.rebuild.calls(); len(got) != 1 || !slices.Equal(got[0].IDs, al2Rebuild) || rep.Unchanged != 1 {
		t.Fatalf("after the build ended: starts %+v, report %+v", got, rep)
	}
	notes := r.notifier.sent()
	if len(notes) != 2 || !strings.Contains(notes[1].Message, "started build build-1") {
		t.Fatalf("notes = %+v", notes)
	}
	if _, err := r.poll(t); err != nil || len(r.rebuild.calls()) != 1 || len(r.notifier.sent()) != 2 {
		t.Fatalf("quiet poll afterwards: %v, starts %v, %d notes", err, r.rebuild.calls(), len(r.notifier.sent()))
	}
}

func TestPollStartFailsThenRetries(t *testing.T) {
	srv := newFeedServer(t, withETag, testdata(t, "al2.rss"))
	r := newRig(srv.URL)
	r.rebuild.startErr = errors.New("AccessDeniedException: not authorized to perform codebuild:StartBuild")

	rep, err := r.poll(t)
	if err == nil || !strings.Contains(err.Error(), "alas: rebuild ALAS-2019-1234, ") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("err = %v", err)
	}
	if v, _ := r.store.FeedValidators(context.Background(), "web", srv.URL); v != (alas.Validators{}) {
		t.Fatalf("validators saved although the rebuild failed: %+v", v)
	}
	if !slices.Equal(rep.Waiting, al2Rebuild) {
		t.Fatalf("waiting %v", rep.Waiting)
	}
	notes := r.notifier.sent()
	if len(notes) != 1 || !strings.Contains(notes[0].Message, "failed to start") || !strings.Contains(notes[0].Subject, "rebuild not started") {
		t.Fatalf("notes = %+v", notes)
	}

	r.rebuild.mu.Lock()
	r.rebuild.startErr = nil
	r.rebuild.mu.Unlock()
	rep, err = r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.rebuild.calls(); len(got) != 1 || !slices.Equal(got[0].IDs, al2Rebuild) {
		t.Fatalf("retry: starts %+v, want the advisories recorded by the failed poll", got)
	}
	if rep.Fetched != 1 || len(rep.New) != 0 {
		t.Fatalf("retry must refetch (no validators) and find nothing new: %+v", rep)
	}
	if v, _ := r.store.FeedValidators(context.Background(), "web", srv.URL); v.ETag == "" {
		t.Fatal("validators not saved after a successful poll")
	}
}

func TestPollRecordFailureLosesNothing(t *testing.T) {
	srv := newFeedServer(t, withETag, testdata(t, "al2.rss"))
	r := newRig(srv.URL)
	flaky := &failingStore{Store: r.store, okRecords: 3}
	r.poller.Store = flaky

	rep, err := r.poll(t)
	if err == nil || !strings.Contains(err.Error(), "ProvisionedThroughputExceeded") || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("err = %v", err)
	}
	first := rep.New
	if v, _ := r.store.FeedValidators(context.Background(), "web", srv.URL); v != (alas.Validators{}) {
		t.Fatalf("validators saved for a half-processed feed: %+v", v)
	}

	flaky.mu.Lock()
	flaky.okRecords = 1000
	flaky.mu.Unlock()
	rep, err = r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	var started, notified []string
	for _, c := range r.rebuild.calls() {
		started = append(started, c.IDs...)
	}
	notified = append(ids(first), ids(rep.New)...)
	if !slices.Equal(sorted(started), al2Rebuild) || !slices.Equal(sorted(notified), al2Rebuild) {
		t.Fatalf("across both polls: started %v, notified %v; want each of %v exactly once", sorted(started), sorted(notified), al2Rebuild)
	}
}

func TestPollPolicy(t *testing.T) {
	al2 := testdata(t, "al2.rss")
	for _, tc := range []struct {
		name     string
		setup    func(r *rig)
		rebuild  []string
		digest   int
		ignored  int
		wantErr  string
		manifest bool
	}{
		{
			name:    "min critical",
			setup:   func(r *rig) { r.app.ALAS.MinSeverity = "critical" },
			rebuild: []string{"ALAS-2019-1234", "ALAS2-2025-3025"},
			digest:  10,
		},
		{
			name:    "min low rebuilds everything",
			setup:   func(r *rig) { r.app.ALAS.MinSeverity = "low" },
			rebuild: sorted(append(slices.Clone(al2Rebuild), al2Digest...)),
		},
		{
			name: "packages only",
			setup: func(r *rig) {
				r.app.ALAS.PackagesOnly = true
				r.poller.Manifest = func(context.Context, *config.App) ([]string, error) {
					return []string{"kernel-5.10.228-219.884.amzn2.x86_64", "kernel-tools", "openssl", "docker", "curl"}, nil
				}
			},
			rebuild: []string{"ALAS-2019-1234", "ALAS-2020-1375", "ALAS2-2024-2680", "ALAS2ECS-2024-041", "ALAS2KERNEL-5.10-2024-071"},
			digest:  1, // curl
			ignored: 6,
		},
		{
			name:    "packages only without a manifest source does not filter",
			setup:   func(r *rig) { r.app.ALAS.PackagesOnly = true },
			rebuild: al2Rebuild,
			digest:  4,
		},
		{
			name: "manifest is ignored unless packagesOnly",
			setup: func(r *rig) {
				r.poller.Manifest = func(context.Context, *config.App) ([]string, error) { return []string{"vim"}, nil }
			},
			rebuild: al2Rebuild,
			digest:  4,
		},
		{
			name: "manifest failure records nothing",
			setup: func(r *rig) {
				r.app.ALAS.PackagesOnly = true
				r.poller.Manifest = func(context.Context, *config.App) ([]string, error) {
					return nil, errors.New("ParameterNotFound")
				}
			},
			wantErr: "package manifest: ParameterNotFound",
		},
		{
			name:    "max age",
			setup:   func(r *rig) { r.poller.MaxAge = 90 * 24 * time.Hour }, // since 2024-10-22
			rebuild: []string{"ALAS2-2024-2680", "ALAS2-2025-3025", "ALAS2KERNEL-5.10-2024-071", "ALAS2LIVEPATCH-2024-200"},
			ignored: 8,
		},
		{
			name:    "bad min severity",
			setup:   func(r *rig) { r.app.ALAS.MinSeverity = "high" },
			wantErr: `alas.minSeverity "high"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFeedServer(t, withETag, al2)
			r := newRig(srv.URL)
			tc.setup(r)
			rep, err := r.poll(t)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if r.store.Writes() != 0 || len(r.rebuild.calls()) != 0 {
					t.Fatalf("%d writes, starts %v", r.store.Writes(), r.rebuild.calls())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := sorted(ids(rep.New)); !slices.Equal(got, tc.rebuild) {
				t.Errorf("new = %v\nwant  %v", got, tc.rebuild)
			}
			if got := r.rebuild.calls(); len(got) != 1 || !slices.Equal(got[0].IDs, tc.rebuild) {
				t.Errorf("starts = %+v", got)
			}
			if len(rep.Digest) != tc.digest || rep.Ignored != tc.ignored {
				t.Errorf("digest %d (%v), ignored %d; want %d, %d", len(rep.Digest), ids(rep.Digest), rep.Ignored, tc.digest, tc.ignored)
			}
			if got := len(r.store.Recorded("web")); got != len(tc.rebuild)+tc.digest {
				t.Errorf("recorded %d, want %d (ignored advisories are not recorded)", got, len(tc.rebuild)+tc.digest)
			}
		})
	}
}

func TestPollAmazonLinux2023ReleaseVersion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		al       string
		release  func(context.Context) (string, error)
		want     string
		wantErr  string
		starting bool
	}{
		{name: "AL2023 passes the release", al: "2023", release: func(context.Context) (string, error) { return "2023.6.20250107", nil }, want: "2023.6.20250107", starting: true},
		{name: "AL2023 without a source passes nothing", al: "2023", starting: true},
		{name: "AL2 never asks", al: "2", release: func(context.Context) (string, error) { return "", errors.New("must not be called") }, starting: true},
		{name: "AL2023 release lookup fails", al: "2023", release: func(context.Context) (string, error) { return "", errors.New("ssm: throttled") }, wantErr: "release version: ssm: throttled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFeedServer(t, withETag, testdata(t, "al2023.rss"))
			r := newRig(srv.URL)
			r.app.ALAS.AmazonLinux = tc.al
			r.poller.ReleaseVersion = tc.release
			rep, err := r.poll(t)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || len(r.rebuild.calls()) != 0 || len(rep.Waiting) != 2 {
					t.Fatalf("err = %v, starts %v, waiting %v", err, r.rebuild.calls(), rep.Waiting)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := r.rebuild.calls()
			if len(got) != 1 || got[0].Release != tc.want || !slices.Equal(got[0].IDs, []string{"ALAS2023-2024-700", "ALAS2023-2025-800"}) {
				t.Fatalf("starts = %+v, want release %q", got, tc.want)
			}
		})
	}
}

func TestPollSeveralFeedsOneBroken(t *testing.T) {
	good := newFeedServer(t, withETag, testdata(t, "al2.rss"))
	bad := newFeedServer(t, withETag, nil)
	bad.status = http.StatusBadGateway
	r := newRig(good.URL, bad.URL)
	rep, err := r.poll(t)
	if err == nil || !strings.Contains(err.Error(), bad.URL) || strings.Contains(err.Error(), good.URL) {
		t.Fatalf("err = %v, want it to name only %s", err, bad.URL)
	}
	if rep.Feeds != 2 || rep.Fetched != 1 || rep.Failed != 1 || rep.RebuildID == "" {
		t.Fatalf("report %+v", rep)
	}
	ctx := context.Background()
	if v, _ := r.store.FeedValidators(ctx, "web", good.URL); v.ETag == "" {
		t.Error("the good feed's validators were not saved")
	}
	if v, _ := r.store.FeedValidators(ctx, "web", bad.URL); v != (alas.Validators{}) {
		t.Errorf("the broken feed's validators were saved: %+v", v)
	}
	if !strings.Contains(r.notifier.sent()[0].Message, "1 of 2 feeds failed") {
		t.Errorf("message:\n%s", r.notifier.sent()[0].Message)
	}
}

func TestPollSameAdvisoryInTwoFeeds(t *testing.T) {
	al2 := testdata(t, "al2.rss")
	r := newRig(newFeedServer(t, withETag, al2).URL, newFeedServer(t, withLastModified, al2).URL)
	rep, err := r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sorted(ids(rep.New)), al2Rebuild) || len(r.rebuild.calls()) != 1 || len(r.notifier.sent()) != 1 {
		t.Fatalf("new %v, starts %v", ids(rep.New), r.rebuild.calls())
	}
}

func TestPollNotifyFailureIsReported(t *testing.T) {
	srv := newFeedServer(t, withETag, testdata(t, "al2.rss"))
	r := newRig(srv.URL)
	r.notifier.err = errors.New("sns: topic not found")
	rep, err := r.poll(t)
	if err == nil || !strings.Contains(err.Error(), "notify: sns: topic not found") || rep.Notified {
		t.Fatalf("err = %v, notified %v", err, rep.Notified)
	}
	if rep.RebuildID == "" {
		t.Fatal("a notification failure must not stop the rebuild")
	}
}

func TestPollNeedsFeedsAndPorts(t *testing.T) {
	r := newRig()
	r.app.ALAS.AmazonLinux = ""
	if _, err := r.poll(t); err == nil || !strings.Contains(err.Error(), "no ALAS feed") {
		t.Fatalf("err = %v", err)
	}
	if _, err := (&alas.Poller{}).Poll(context.Background(), r.app); err == nil || !strings.Contains(err.Error(), "needs a Store") {
		t.Fatalf("err = %v", err)
	}
}

func TestNotificationLimits(t *testing.T) {
	srv := newFeedServer(t, withETag, genFeed(300))
	r := newRig(srv.URL)
	r.app.Name = strings.Repeat("a", 63)
	if _, err := r.poll(t); err != nil {
		t.Fatal(err)
	}
	n := r.notifier.sent()[0]
	if len(n.Subject) > 100 {
		t.Errorf("subject has %d characters, SNS allows 100: %q", len(n.Subject), n.Subject)
	}
	if strings.Count(n.Message, "... and 200 more") != 2 || len(n.Message) > 64<<10 {
		t.Errorf("message of %d bytes not capped:\n%.500s", len(n.Message), n.Message)
	}
}

// genFeed builds a feed of n important advisories.
func genFeed(n int) []byte {
	var b strings.Builder
	b.WriteString(`<rss version="2.0"><channel><title>Amazon Linux 2 Security Center RSS Feed</title>`)
	for i := range n {
		fmt.Fprintf(&b, "<item><title>ALAS2-2024-%04d (important): kernel</title><description> CVE-2024-%05d</description><pubDate>Thu, 07 Nov 2024 21:33:00 GMT</pubDate><link>https://alas.aws.amazon.com/AL2/ALAS2-2024-%04d.html</link></item>\n", i, i, i)
	}
	b.WriteString("</channel></rss>")
	return []byte(b.String())
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// A changed feed of thousands of items that gains one costs one advisory
// write, not thousands: the ids the last poll recorded are kept with the
// feed's validators and skipped.
func TestPollChangedFeedWritesOnlyNewItems(t *testing.T) {
	feed := genFeed(2000)
	srv := newFeedServer(t, withETag, feed)
	r := newRig(srv.URL)
	if _, err := r.poll(t); err != nil {
		t.Fatal(err)
	}
	records := func() int { return len(r.store.Recorded("web")) }
	if n := records(); n != 2000 {
		t.Fatalf("first poll recorded %d advisories, want 2000", n)
	}
	before := r.store.Writes()
	srv.set(withItem(feed, "ALAS2-2025-3030 (critical): glibc", "CVE-2025-0395", "Mon, 20 Jan 2025 08:00:00 GMT"))
	rep, err := r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	// One record, one validators save, one MarkRebuilt.
	if w := r.store.Writes() - before; w > 3 {
		t.Fatalf("a changed feed with one new item made %d writes, want at most 3", w)
	}
	if rep.Cached != 2000 || !slices.Equal(ids(rep.New), []string{"ALAS2-2025-3030"}) {
		t.Fatalf("cached %d, new %v", rep.Cached, ids(rep.New))
	}
	// The cache is only a cache: without it, record-once still holds.
	r.store.ForgetRecordedIDs()
	srv.set(withItem(feed, "ALAS2-2025-3031 (critical): openssl", "CVE-2025-0400", "Mon, 20 Jan 2025 09:00:00 GMT"))
	rep, err = r.poll(t)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(rep.New), []string{"ALAS2-2025-3031"}) || len(r.rebuild.calls()) != 3 {
		t.Fatalf("without the cache: new %v, starts %d", ids(rep.New), len(r.rebuild.calls()))
	}
}
