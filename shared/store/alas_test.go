package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kaizen-sre/kaizen/internal/testenv"
	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/alas/alastest"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/rebuild/rebuildtest"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/store"
)

func newDynamo(t *testing.T) (*store.Dynamo, *dynamodb.Client) {
	t.Helper()
	db := testenv.DynamoDB(t)
	return &store.Dynamo{DB: db, Table: testenv.NewTable(t, db)}, db
}

func TestDynamoALASStoreContract(t *testing.T) {
	alastest.TestStore(t, func(t *testing.T) alas.Store {
		d, _ := newDynamo(t)
		return d
	})
}

func TestDynamoStartClaimsContract(t *testing.T) {
	rebuildtest.TestClaims(t, func(t *testing.T) rebuild.Claims {
		d, _ := newDynamo(t)
		return d
	})
}

// TestDynamoALASItems checks the item layout, so that operators reading the
// table (and the CDK's IAM scoping) can rely on it, and that the ALAS items
// stay out of the release store's way.
func TestDynamoALASItems(t *testing.T) {
	ctx := context.Background()
	d, db := newDynamo(t)
	get := func(pk, sk string) map[string]ddbtypes.AttributeValue {
		t.Helper()
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.Table), ConsistentRead: aws.Bool(true), Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: pk}, "sk": &ddbtypes.AttributeValueMemberS{Value: sk},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	attr := func(it map[string]ddbtypes.AttributeValue, k string) any {
		switch v := it[k].(type) {
		case *ddbtypes.AttributeValueMemberS:
			return v.Value
		case *ddbtypes.AttributeValueMemberBOOL:
			return v.Value
		case *ddbtypes.AttributeValueMemberN:
			return v.Value
		case nil:
			return nil
		default:
			return fmt.Sprintf("%T", v)
		}
	}

	const feed = "https://alas.aws.amazon.com/AL2/alas.rss"
	if err := d.PutFeedValidators(ctx, "web", feed, alas.Validators{ETag: `"e1"`}); err != nil {
		t.Fatal(err)
	}
	it := get("app#web", "feed#"+feed)
	if attr(it, "etag") != `"e1"` || it["lastModified"] != nil || it["hash"] != nil {
		t.Fatalf("feed item = %v; want etag only (empty validators left out)", it)
	}

	pub := time.Date(2025, 1, 14, 22, 47, 0, 0, time.UTC)
	crit := alas.Advisory{ID: "ALAS2-2025-3025", Severity: "critical", Packages: []string{"389-ds-base"}, CVEs: []string{"CVE-2024-8445"}, Published: pub}
	low := alas.Advisory{ID: "ALAS2-2025-3001", Severity: "low", Packages: []string{"vim"}, Published: pub}
	old := alas.Advisory{ID: "ALAS-2019-1234", Severity: "critical", Packages: []string{"openssl"}, Published: pub.AddDate(-5, 0, 0)}
	for _, c := range []struct {
		a      alas.Advisory
		action alas.Action
	}{{crit, alas.ActionRebuild}, {low, alas.ActionDigest}, {old, alas.ActionKnown}} {
		if first, err := d.RecordAdvisory(ctx, "web", c.a, c.action); !first || err != nil {
			t.Fatalf("RecordAdvisory(%s) = %v, %v", c.a.ID, first, err)
		}
	}
	it = get("app#web", "alas#ALAS2-2025-3025")
	if attr(it, "id") != crit.ID || attr(it, "severity") != "critical" || attr(it, "action") != "rebuild" || attr(it, "digest") != false || attr(it, "rebuilt") != false || it["buildId"] != nil ||
		!strings.Contains(attr(it, "body").(string), `"packages":["389-ds-base"]`) {
		t.Fatalf("advisory item = %v", it)
	}
	if it := get("app#web", "alas#ALAS2-2025-3001"); attr(it, "action") != "digest" || attr(it, "digest") != true || it["digestedAt"] != nil {
		t.Fatalf("digest item = %v; want action digest, digest=true, no digestedAt", it)
	}
	if it := get("app#web", "alas#ALAS-2019-1234"); attr(it, "action") != "known" || attr(it, "digest") != false || attr(it, "rebuilt") != false {
		t.Fatalf("known item = %v; want action known, digest=false, rebuilt=false", it)
	}

	// Items written before the action attribute existed read as what they
	// were: digest=false is pending, digest=true waits for the digest.
	for _, legacy := range []struct {
		id     string
		digest bool
	}{{"ALAS2-2024-0001", false}, {"ALAS2-2024-0002", true}} {
		item := map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "app#legacy"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "alas#" + legacy.id},
			"id": &ddbtypes.AttributeValueMemberS{Value: legacy.id}, "digest": &ddbtypes.AttributeValueMemberBOOL{Value: legacy.digest},
			"rebuilt": &ddbtypes.AttributeValueMemberBOOL{Value: false},
			"body":    &ddbtypes.AttributeValueMemberS{Value: `{"id":"` + legacy.id + `","severity":"low","packages":[],"cves":[],"published":"2024-11-07T21:33:00Z","url":""}`},
		}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.Table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := d.PendingAdvisories(ctx, "legacy"); err != nil || len(p) != 1 || p[0].ID != "ALAS2-2024-0001" {
		t.Fatalf("legacy pending = %+v, %v", p, err)
	}
	if dg, err := d.DigestAdvisories(ctx, "legacy"); err != nil || len(dg) != 1 || dg[0].ID != "ALAS2-2024-0002" {
		t.Fatalf("legacy digest = %+v, %v", dg, err)
	}

	at := time.Date(2025, 1, 21, 9, 0, 0, 250_000_000, time.UTC)
	if err := d.MarkDigested(ctx, "web", []string{low.ID, crit.ID}, at); err != nil {
		t.Fatal(err)
	}
	if it := get("app#web", "alas#ALAS2-2025-3001"); attr(it, "digestedAt") != fmt.Sprint(at.UnixMilli()) || attr(it, "severity") != "low" {
		t.Fatalf("digested item = %v", it)
	}
	if it := get("app#web", "alas#ALAS2-2025-3025"); it["digestedAt"] != nil {
		t.Fatalf("MarkDigested marked a rebuild advisory: %v", it)
	}
	if it := get("app#web", "digest#last"); attr(it, "at") != fmt.Sprint(at.UnixMilli()) || attr(it, "atText") != "2025-01-21T09:00:00.25Z" {
		t.Fatalf("last digest item = %v", it)
	}

	// A claim item shares the app's partition but is no advisory.
	if won, err := d.ClaimStart(ctx, "web", rebuild.Claim{Token: "t1", Advisories: []string{crit.ID}, Expires: pub.Add(5 * time.Minute)}, pub); !won || err != nil {
		t.Fatalf("ClaimStart = %v, %v", won, err)
	}
	it = get("app#web", "rebuild#claim")
	if attr(it, "token") != "t1" || attr(it, "untilMs") != fmt.Sprint(pub.Add(5*time.Minute).UnixMilli()) || attr(it, "expires") != fmt.Sprint(pub.Add(5*time.Minute+24*time.Hour).Unix()) {
		t.Fatalf("claim item = %v", it)
	}
	pending, err := d.PendingAdvisories(ctx, "web")
	if err != nil || len(pending) != 1 || pending[0].ID != crit.ID || !pending[0].Published.Equal(pub) {
		t.Fatalf("pending = %+v, %v; want only %s", pending, err, crit.ID)
	}

	if err := d.MarkRebuilt(ctx, "web", []string{crit.ID, crit.ID, "ALAS2-1999-0001"}, "web-image:b1"); err != nil {
		t.Fatal(err)
	}
	it = get("app#web", "alas#ALAS2-2025-3025")
	if attr(it, "rebuilt") != true || attr(it, "buildId") != "web-image:b1" || attr(it, "severity") != "critical" {
		t.Fatalf("rebuilt item = %v", it)
	}
	if it := get("app#web", "alas#ALAS2-1999-0001"); it != nil {
		t.Fatalf("MarkRebuilt created an item for an unknown id: %v", it)
	}

	// The release store's queries in the same partition see none of it.
	if h, err := d.History(ctx, "web"); err != nil || len(h) != 0 {
		t.Fatalf("History = %v, %v; want empty", h, err)
	}
	st := release.AppState{App: "web"}
	if err := d.Save(ctx, &st); err != nil {
		t.Fatalf("Save next to ALAS items: %v", err)
	}
}

// countingRebuilder counts Start calls. Running reports no build, after
// both pollers of the test have asked: that forces the worst overlap, where
// both have read the same pending advisories before either starts.
type countingRebuilder struct {
	mu      sync.Mutex
	starts  [][]string
	asked   int
	both    chan struct{}
	timeout time.Duration
}

func (f *countingRebuilder) Running(ctx context.Context, _ *config.App) (bool, error) {
	f.mu.Lock()
	f.asked++
	if f.asked == 2 {
		close(f.both)
	}
	f.mu.Unlock()
	select {
	case <-f.both:
	case <-time.After(f.timeout):
		return false, fmt.Errorf("the other poller never asked whether a build runs")
	}
	return false, nil
}

func (f *countingRebuilder) Start(_ context.Context, _ *config.App, ids []string, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, slices.Clone(ids))
	return fmt.Sprintf("web-image:build-%d", len(f.starts)), nil
}

type notes struct {
	mu       sync.Mutex
	subjects []string
}

func (n *notes) Notify(_ context.Context, _ *config.App, subject, _ string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.subjects = append(n.subjects, subject)
	return nil
}

// split returns the subjects of poll messages and of digests.
func (n *notes) split() (polls, digests []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range n.subjects {
		if strings.Contains(s, ": security digest, ") {
			digests = append(digests, s)
		} else {
			polls = append(polls, s)
		}
	}
	return polls, digests
}

// TestTwoPollersStartOneRebuild is the acceptance point: two pollers (two
// Lambda invocations, each with its own store value) poll the same feed
// against the same table at the same time and start exactly one build.
// Recording each advisory once is not enough for that (both polls read the
// same pending advisories before either marks them rebuilt); rebuild.Once
// claims the start in the same table.
func TestTwoPollersStartOneRebuild(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "alas", "testdata", "al2.rss"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Header().Set("ETag", `"al2-v1"`)
		if r.Header.Get("If-None-Match") == `"al2-v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	app := &config.App{Name: "web", ALAS: config.ALAS{Feeds: []string{srv.URL + "/AL2/alas.rss"}, MinSeverity: "important"}}
	ctx := context.Background()

	for round := range 3 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			shared, db := newDynamo(t)
			builds := &countingRebuilder{both: make(chan struct{}), timeout: 20 * time.Second}
			sent := &notes{}
			poller := func() *alas.Poller {
				// Each invocation has its own store value; only the table is shared.
				d := &store.Dynamo{DB: db, Table: shared.Table}
				quiet := slog.New(slog.DiscardHandler)
				return &alas.Poller{
					Store: d, Notifier: sent, Log: quiet,
					Rebuilder: &rebuild.Once{Rebuilder: builds, Claims: d, Log: quiet},
					// The whole test feed is new: the more both polls
					// record, the more they overlap.
					FirstPollWindow: -1,
				}
			}
			var wg sync.WaitGroup
			reps := make([]alas.Report, 2)
			errs := make([]error, 2)
			for i := range 2 {
				p := poller()
				wg.Go(func() { reps[i], errs[i] = p.Poll(ctx, app) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("poller %d: %v", i, err)
				}
			}

			if len(builds.starts) != 1 {
				t.Fatalf("%d builds started, want exactly 1: %v", len(builds.starts), builds.starts)
			}
			var fresh []string
			for _, r := range reps {
				for _, a := range r.New {
					fresh = append(fresh, a.ID)
				}
			}
			slices.Sort(fresh)
			if len(fresh) == 0 || !slices.Equal(fresh, slices.Compact(slices.Clone(fresh))) {
				t.Fatalf("new advisories across both polls = %v; want each exactly once", fresh)
			}
			if !slices.Equal(builds.starts[0], fresh) {
				t.Fatalf("the build got %v, want every new advisory %v", builds.starts[0], fresh)
			}
			for i, r := range reps {
				if r.RebuildID != "web-image:build-1" || len(r.Waiting) != 0 {
					t.Errorf("poller %d: rebuild %q, waiting %v; want both to report build 1", i, r.RebuildID, r.Waiting)
				}
			}
			if p, err := shared.PendingAdvisories(ctx, "web"); err != nil || len(p) != 0 {
				t.Fatalf("pending after the polls = %v, %v; want none", p, err)
			}
			// Each poll that found news or saw a build sends one message;
			// the digest goes out at least once (overlapping polls may
			// both send it, see alas.Poller).
			polls, digests := sent.split()
			if n := len(polls); n < 1 || n > 2 {
				t.Errorf("%d poll notifications, want 1 or 2: %v", n, polls)
			}
			if n := len(digests); n < 1 || n > 2 {
				t.Errorf("%d digests, want 1 or 2: %v", n, digests)
			}

			// The next poll finds the feed unchanged and nothing pending.
			rep, err := poller().Poll(ctx, app)
			if err != nil || rep.Unchanged != 1 || rep.RebuildID != "" || len(builds.starts) != 1 {
				t.Fatalf("third poll: %+v, %v; builds %d", rep, err, len(builds.starts))
			}
		})
	}
}

// idleRebuilder never has a build running and starts every build.
type idleRebuilder struct{}

func (idleRebuilder) Running(context.Context, *config.App) (bool, error) { return false, nil }
func (idleRebuilder) Start(context.Context, *config.App, []string, string) (string, error) {
	return "web-image:build", nil
}

// TestDynamoPollDigest runs the digest against DynamoDB: sent on the first
// poll, then not again until the period is over and something new below
// the minimum was recorded.
func TestDynamoPollDigest(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "alas", "testdata", "al2.rss"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	d, _ := newDynamo(t)
	now := time.Date(2025, 1, 20, 9, 0, 0, 0, time.UTC)
	sent := &notes{}
	quiet := slog.New(slog.DiscardHandler)
	p := &alas.Poller{
		Store: d, Notifier: sent, Log: quiet, FirstPollWindow: -1,
		Rebuilder: idleRebuilder{},
		Now:       func() time.Time { return now },
	}
	app := &config.App{Name: "web", ALAS: config.ALAS{Feeds: []string{srv.URL}, MinSeverity: "important", DigestHours: 24}}
	ctx := context.Background()
	poll := func(after time.Duration) alas.Report {
		t.Helper()
		now = time.Date(2025, 1, 20, 9, 0, 0, 0, time.UTC).Add(after)
		rep, err := p.Poll(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := poll(0); len(rep.DigestSent) != 4 {
		t.Fatalf("first poll sent digest %v, want the 4 advisories below important", rep.DigestSent)
	}
	mu.Lock()
	i := strings.Index(string(body), "<item>")
	body = []byte(string(body[:i]) + "<item><title>ALAS2-2025-3031 (low): less</title><description>CVE-2024-32487</description>" +
		"<pubDate>Mon, 20 Jan 2025 08:00:00 GMT</pubDate><link>https://alas.aws.amazon.com/AL2/ALAS2-2025-3031.html</link></item>" + string(body[i:]))
	mu.Unlock()
	if rep := poll(time.Hour); len(rep.DigestSent) != 0 || len(rep.Digest) != 1 {
		t.Fatalf("+1h: digest sent %v, recorded %v", rep.DigestSent, rep.Digest)
	}
	if rep := poll(24*time.Hour - time.Millisecond); len(rep.DigestSent) != 0 {
		t.Fatalf("just before 24h: digest sent %v", rep.DigestSent)
	}
	if rep := poll(24 * time.Hour); !slices.Equal(rep.DigestSent, []string{"ALAS2-2025-3031"}) {
		t.Fatalf("+24h: digest sent %v, want only the new advisory", rep.DigestSent)
	}
	if rep := poll(72 * time.Hour); len(rep.DigestSent) != 0 {
		t.Fatalf("+72h: digest sent %v, want nothing", rep.DigestSent)
	}
	if _, digests := sent.split(); len(digests) != 2 {
		t.Fatalf("digests = %v, want 2", digests)
	}
}
