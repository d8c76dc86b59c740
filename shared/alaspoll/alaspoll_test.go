package alaspoll_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/alaspoll"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/fake"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

var t0 = time.Date(2026, 11, 24, 9, 5, 0, 0, time.UTC)

type rig struct {
	cloud    *sim.Cloud
	store    *fake.ALASStore
	handler  *alaspoll.Handler
	requests atomic.Int64
}

func newRig(t *testing.T) *rig {
	body, err := os.ReadFile(filepath.Join("..", "alas", "testdata", "al2.rss"))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{cloud: sim.New(t0), store: &fake.ALASStore{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if req.URL.Path == "/broken.rss" {
			http.Error(w, "upstream trouble", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	cfg := &config.File{Account: "111122223333", Region: "eu-west-1", Apps: []config.App{
		{Name: "shop", TopicARN: "arn:aws:sns:eu-west-1:111122223333:kaizen-shop", Rebuild: config.Rebuild{CodeBuildProject: "shop-golden-ami"},
			ALAS: config.ALAS{Feeds: []string{srv.URL + "/broken.rss"}, MinSeverity: "important"}},
		{Name: "blog", TopicARN: "arn:aws:sns:eu-west-1:111122223333:kaizen-blog", Rebuild: config.Rebuild{CodeBuildProject: "blog-golden-ami"},
			ALAS: config.ALAS{Feeds: []string{srv.URL + "/al2.rss"}, MinSeverity: "critical"}},
	}}
	for i := range cfg.Apps {
		r.cloud.SeedServices(&cfg.Apps[i]) // their topics and projects
	}
	quiet := slog.New(slog.DiscardHandler)
	r.handler = &alaspoll.Handler{Config: cfg, Log: quiet, Poller: &alas.Poller{
		Store:     r.store,
		Rebuilder: &rebuild.Once{Rebuilder: &rebuild.Builder{CodeBuild: r.cloud.CodeBuild()}, Claims: &fake.Claims{}, Log: quiet},
		Notifier:  &cloud.Fleet{SNS: r.cloud.SNS(), Attempts: 1},
		Log:       quiet,
		// A week after the newest advisory of the test feed, with the
		// default first-poll window of 30 days.
		Now: func() time.Time { return time.Date(2025, 1, 20, 9, 0, 0, 0, time.UTC) },
	}}
	return r
}

func event(t *testing.T, mutate func(m map[string]any)) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "alaspoll-schedule.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(m)
	}
	out, _ := json.Marshal(m)
	return out
}

func TestPollsEveryAppAndJoinsFailures(t *testing.T) {
	r := newRig(t)
	reps, err := r.handler.Handle(context.Background(), event(t, nil))
	if err == nil || !strings.Contains(err.Error(), "alaspoll: app shop") || strings.Contains(err.Error(), "app blog") {
		t.Fatalf("err = %v; want the shop feed's failure only", err)
	}
	if len(reps) != 2 || reps[0].Failed != 1 || reps[1].Fetched != 1 || reps[1].RebuildID == "" || reps[1].Known != 11 {
		t.Fatalf("reports = %+v", reps)
	}
	// The first poll takes the history older than 30 days as known, so
	// only the critical advisory of January is rebuilt.
	builds := r.cloud.Builds()
	if len(builds) != 1 || builds[0].Project != "blog-golden-ami" || builds[0].Env[rebuild.EnvAdvisories] != "ALAS2-2025-3025" {
		t.Fatalf("builds = %+v; want one blog build for the recent critical advisory", builds)
	}
	if p := r.cloud.Published(); len(p) != 1 || p[0].Topic != "arn:aws:sns:eu-west-1:111122223333:kaizen-blog" {
		t.Fatalf("published = %+v", p)
	}
}

// Each layer adds only its own context, so the app is named once per
// line: alaspoll names the app, alas the step, rebuild the operation and
// project, the SDK the AWS error. A poll that fails twice says so on two
// lines, each naming the app.
func TestErrorsNameTheAppOnce(t *testing.T) {
	r := newRig(t)
	r.cloud.Fail(sim.OpStartBuild, sim.Throttle(), 100)
	r.cloud.Fail(sim.OpPublish, sim.Throttle(), 100)
	_, err := r.handler.Handle(context.Background(), event(t, nil))
	want := strings.Join([]string{
		"alaspoll: app shop: alas: GET " + r.handler.Config.Apps[0].ALAS.Feeds[0] + ": status 502 Bad Gateway",
		"alaspoll: app blog: alas: rebuild ALAS2-2025-3025: start build of project blog-golden-ami: api error Throttling: Rate exceeded",
		"alaspoll: app blog: alas: notify: publish to arn:aws:sns:eu-west-1:111122223333:kaizen-blog: api error Throttling: Rate exceeded",
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("err =\n%v\nwant\n%s", err, want)
	}
}

func TestIgnoresForeignEvents(t *testing.T) {
	for name, mutate := range map[string]func(m map[string]any){
		"other account": func(m map[string]any) { m["account"] = "999999999999" },
		"other region":  func(m map[string]any) { m["region"] = "us-east-1" },
		"custom source": func(m map[string]any) { m["source"] = "my.app" },
		"other type":    func(m map[string]any) { m["detail-type"] = "EC2 AMI State Change" },
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			reps, err := r.handler.Handle(context.Background(), event(t, mutate))
			if err != nil || reps != nil || r.requests.Load() != 0 || len(r.cloud.Calls()) != 0 {
				t.Fatalf("reports %+v, err %v, %d feed requests, %d AWS calls; want nothing done", reps, err, r.requests.Load(), len(r.cloud.Calls()))
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	r := newRig(t)
	for _, raw := range []string{`{}`, `[]`, `{"source":"aws.events","detail-type":"Scheduled Event"}`} {
		if _, err := r.handler.Handle(context.Background(), []byte(raw)); !errors.Is(err, route.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", raw, err)
		}
	}
	if _, err := (&alaspoll.Handler{}).Handle(context.Background(), event(t, nil)); err == nil {
		t.Error("handler without config succeeded")
	}
}

// pendingFunc is a PendingRebuilds made of a function.
type pendingFunc func(ctx context.Context, app *config.App) (string, error)

func (f pendingFunc) StartPending(ctx context.Context, app *config.App) (string, error) {
	return f(ctx, app)
}

// Pending rebuilds are started for every app ahead of its poll; a failure
// is reported and does not stop the polls.
func TestPendingRunsForEveryApp(t *testing.T) {
	r := newRig(t)
	var seen []string
	r.handler.Pending = pendingFunc(func(_ context.Context, app *config.App) (string, error) {
		seen = append(seen, app.Name)
		if app.Name == "blog" {
			return "", errors.New("pending rebuild check failed")
		}
		return "", nil
	})
	reps, err := r.handler.Handle(context.Background(), event(t, nil))
	if strings.Join(seen, ",") != "shop,blog" {
		t.Fatalf("pending rebuilds asked for %v", seen)
	}
	if err == nil || !strings.Contains(err.Error(), "app blog: pending rebuild check failed") {
		t.Fatalf("err = %v", err)
	}
	if len(reps) != 2 || reps[1].Fetched != 1 {
		t.Fatalf("the blog poll did not run after its pending check failed: %+v", reps)
	}
}
