package alaspoll_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/alaspoll"
	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/fake"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/secretchange"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// newAdvisory is an item the feed gains between the two polls.
const newAdvisory = `<item>
<title>ALAS2-2025-3031 (important): openssl</title>
<description> CVE-2025-0001</description>
<pubDate>Sun, 19 Jan 2025 10:00:00 GMT</pubDate>
<link>https://alas.aws.amazon.com/AL2/ALAS2-2025-3031.html</link>
</item>
`

// An alaspoll run for shop (at home) and billing (in a member account,
// through its role; examples/kaizen-multiaccount.json), each account its
// own simulated cloud recording who signed each call: each app's notices
// (the poll's, and the pending secret rebuild's) are published in its own
// account, the member's signed by its role, while every rebuild starts at
// home; the role is assumed once across polls.
func TestMemberAppNoticesFromItsAccount(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "alas", "testdata", "al2.rss"))
	if err != nil {
		t.Fatal(err)
	}
	var grown atomic.Bool // the feed holds newAdvisory
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b := string(body)
		if grown.Load() {
			b = strings.Replace(b, "<item>", newAdvisory+"<item>", 1)
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write([]byte(b))
	}))
	t.Cleanup(srv.Close)

	cfg, err := config.Load("../../examples/kaizen-multiaccount.json")
	if err != nil {
		t.Fatal(err)
	}
	shop, _ := cfg.App("shop")
	billing, _ := cfg.App("billing")
	if billing == nil || !billing.Remote() || billing.Account == cfg.Account {
		t.Fatal("examples/kaizen-multiaccount.json: billing must live in a member account, through roleArn")
	}
	for _, app := range []*config.App{shop, billing} {
		app.ALAS.Feeds, app.ALAS.AmazonLinux, app.ALAS.MinSeverity = []string{srv.URL + "/al2.rss"}, "2", "important"
	}
	home, member, sts := sim.New(t0), sim.New(t0), sim.NewSTS()
	home.Account, home.Region = cfg.Account, cfg.Region
	member.Account, member.Region = billing.Account, billing.Region
	home.SeedServices(shop)
	home.AddProject(billing.Rebuild.CodeBuildProject) // the golden-image builds are kaizen's
	member.AddTopic(billing.TopicARN)                 // billing's topic lives in its account only
	sts.Trust(billing.RoleARN)                        // the member stack's role trusts kaizen

	clouds := map[string]*sim.Cloud{cfg.Account: home, billing.Account: member}
	homeCreds := credentials.NewStaticCredentialsProvider("AKIAHOMEFUNCTIONROLE", "home-secret", "")
	placed := &awsapi.PlacedNotifier{
		Home: cfg.Home(), Local: home.As(homeCreds, sts).SNS(), STS: sts, Session: awsapi.SessionName(route.ALASPoll),
		New: func(p config.Place, creds aws.CredentialsProvider) awsapi.SNSAPI {
			c := clouds[p.Account]
			if c == nil {
				t.Fatalf("no simulated account %s", p.Account)
			}
			if creds == nil {
				creds = homeCreds
			}
			return c.As(creds, sts).SNS()
		},
	}
	quiet := slog.New(slog.DiscardHandler)
	now := time.Date(2025, 1, 20, 9, 0, 0, 0, time.UTC) // a week after the feed's newest advisory
	clock := func() time.Time { return now }
	builder := &rebuild.Builder{CodeBuild: home.CodeBuild(), CodePipeline: home.CodePipeline()}
	secrets := store.NewMemory()
	h := &alaspoll.Handler{Config: cfg, Log: quiet, Poller: &alas.Poller{
		Store:     &fake.ALASStore{},
		Rebuilder: &rebuild.Once{Rebuilder: builder, Claims: &fake.Claims{}, Log: quiet, Now: clock},
		Notifier:  placed,
		Log:       quiet,
		Now:       clock,
	}, Pending: &secretchange.Handler{Config: cfg, Rebuilder: builder, Notifier: placed, Store: secrets, Pending: secrets, Log: quiet}}

	byTopic := func(c *sim.Cloud) map[string][]string {
		out := map[string][]string{}
		for _, p := range c.Published() {
			out[p.Topic] = append(out[p.Topic], p.Subject)
		}
		return out
	}
	check := func(poll string, wantShop, wantBilling int) {
		t.Helper()
		if got := byTopic(home); len(got) != 1 || len(got[shop.TopicARN]) != wantShop {
			t.Fatalf("%s: published at home %v, want %d on %s only", poll, got, wantShop, shop.TopicARN)
		}
		for _, p := range home.Published() {
			if strings.Contains(p.Message, "billing") || strings.Contains(p.Subject, "billing") {
				t.Fatalf("%s: billing's notice published at home: %+v", poll, p)
			}
		}
		if got := byTopic(member); len(got) != 1 || len(got[billing.TopicARN]) != wantBilling {
			t.Fatalf("%s: published in the member account %v, want %d on %s only", poll, got, wantBilling, billing.TopicARN)
		}
		for _, p := range member.Published() {
			if !strings.Contains(p.Message, "billing") || strings.Contains(p.Message, "shop") {
				t.Fatalf("%s: member account notice is not billing's: %+v", poll, p)
			}
		}
		for _, c := range member.Calls() {
			if c.Principal != billing.RoleARN || c.Op != "Publish" {
				t.Fatalf("%s: %s %s in the member account signed by %q, want only Publish by %s", poll, c.Service, c.Op, c.Principal, billing.RoleARN)
			}
		}
		for _, c := range home.Calls() {
			if c.Principal == billing.RoleARN {
				t.Fatalf("%s: home call %s %s signed by the member role", poll, c.Service, c.Op)
			}
			if c.Op == "Publish" && c.Principal != "AKIAHOMEFUNCTIONROLE" {
				t.Fatalf("%s: home publish signed by %q, want the function's own credentials", poll, c.Principal)
			}
		}
	}

	// First poll: the recent critical advisory is new for both apps; both
	// rebuilds start at home, each notice goes to its app's account.
	reps, err := h.Handle(context.Background(), event(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range reps {
		if rep.RebuildID == "" || !rep.Notified {
			t.Fatalf("first poll: report %+v, want a rebuild started and notified", rep)
		}
	}
	if len(reps) != 2 {
		t.Fatalf("first poll: %d reports, want shop's and billing's", len(reps))
	}
	check("first poll", 1, 1)
	if b := member.Builds(); len(b) != 0 {
		t.Fatalf("builds started in the member account: %+v", b)
	}
	projects := map[string]bool{}
	for _, b := range home.Builds() {
		projects[b.Project] = true
	}
	if len(projects) != 2 || !projects[shop.Rebuild.CodeBuildProject] || !projects[billing.Rebuild.CodeBuildProject] {
		t.Fatalf("home builds %v, want shop's and billing's", projects)
	}

	// Second poll, a new advisory in the feed, the builds done and a
	// secret change of billing's waiting: billing's pending rebuild and
	// poll notices, and shop's poll notice, each in its account; the role
	// assumed on the first poll serves the second.
	for _, b := range home.Builds() {
		home.FinishBuild(b.ID, "SUCCEEDED")
	}
	if err := secrets.SetPending(context.Background(), billing.Name, "secret app/production changed", t0); err != nil {
		t.Fatal(err)
	}
	grown.Store(true)
	now = now.Add(30 * time.Minute) // the schedule's next run
	reps, err = h.Handle(context.Background(), event(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range reps {
		if len(rep.New) != 1 || !rep.Notified {
			t.Fatalf("second poll: report %+v, want the new advisory notified", rep)
		}
	}
	check("second poll", 2, 3)
	if a := sts.Assumed(); len(a) != 1 || a[0].RoleARN != billing.RoleARN || a[0].Session != "kaizen-alaspoll" {
		t.Fatalf("AssumeRole calls %+v, want one of %s as kaizen-alaspoll", a, billing.RoleARN)
	}
}
