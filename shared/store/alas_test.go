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
	for _, c := range []struct {
		a      alas.Advisory
		digest bool
	}{{crit, false}, {low, true}} {
		if first, err := d.RecordAdvisory(ctx, "web", c.a, c.digest); !first || err != nil {
			t.Fatalf("RecordAdvisory(%s) = %v, %v", c.a.ID, first, err)
		}
	}
	it = get("app#web", "alas#ALAS2-2025-3025")
	if attr(it, "id") != crit.ID || attr(it, "severity") != "critical" || attr(it, "digest") != false || attr(it, "rebuilt") != false || it["buildId"] != nil ||
		!strings.Contains(attr(it, "body").(string), `"packages":["389-ds-base"]`) {
		t.Fatalf("advisory item = %v", it)
	}
	if it := get("app#web", "alas#ALAS2-2025-3001"); attr(it, "digest") != true {
		t.Fatalf("digest item = %v; want digest=true", it)
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
			// Each poll that found news or saw a build sends one message.
			if n := len(sent.subjects); n < 1 || n > 2 {
				t.Errorf("%d notifications, want 1 or 2: %v", n, sent.subjects)
			}

			// The next poll finds the feed unchanged and nothing pending.
			rep, err := poller().Poll(ctx, app)
			if err != nil || rep.Unchanged != 1 || rep.RebuildID != "" || len(builds.starts) != 1 {
				t.Fatalf("third poll: %+v, %v; builds %d", rep, err, len(builds.starts))
			}
		})
	}
}
