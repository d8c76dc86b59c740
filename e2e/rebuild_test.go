package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// feedServer serves testdata/al2.rss with its recent advisories dated an
// hour ago, with an ETag, answering a matching If-None-Match with 304. It
// records each request's If-None-Match.
type feedServer struct {
	*httptest.Server
	mu          sync.Mutex
	conditional []string
}

func newFeedServer(t *testing.T) *feedServer {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join("testdata", "al2.rss"))
	if err != nil {
		t.Fatal(err)
	}
	recent := time.Now().Add(-time.Hour).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	body := strings.ReplaceAll(string(tmpl), "{{RECENT}}", recent)
	const etag = `"e2e-feed-1"`
	fs := &feedServer{}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.conditional = append(fs.conditional, r.Header.Get("If-None-Match"))
		fs.mu.Unlock()
		if r.URL.Path != "/AL2/alas.rss" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *feedServer) requests() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.conditional...)
}

// alaspoll on its schedule: the new critical advisory starts one golden-image
// build in the simulated CodeBuild (through simhttp); the next poll is one
// conditional GET that finds the feed unchanged and starts nothing.
func TestALASPollRebuilds(t *testing.T) {
	t.Parallel()
	feed := newFeedServer(t)
	w := newWorld(t, func(f *config.File) {
		// Amazon Linux 2023: the poll also asks SSM (through simhttp) for
		// the newest release, which the build needs for dnf --releasever.
		f.Apps[0].ALAS.AmazonLinux = "2023"
		f.Apps[0].ALAS.Feeds = []string{feed.URL + "/AL2/alas.rss"}
	})
	poll := w.start("alaspoll")

	w.send(poll, "alaspoll schedule", w.mk.Schedule("kaizen-alaspoll", time.Now()))
	builds := w.cloud.Builds()
	if len(builds) != 1 {
		t.Fatalf("want 1 golden-image build, got %+v\nalaspoll log:\n%s", builds, poll.Log())
	}
	b := builds[0]
	if b.Project != w.app().Rebuild.CodeBuildProject || b.Env["SECURITY_ADVISORIES"] != "ALAS2-2026-9001" {
		t.Errorf("build %+v: want project %s with SECURITY_ADVISORIES=ALAS2-2026-9001 (the low one goes to the digest, the 2024 one is known)",
			b, w.app().Rebuild.CodeBuildProject)
	}
	if v := b.Env["AL2023_RELEASE_VERSION"]; v != "2023.6.20241121" {
		t.Errorf("build %+v: want AL2023_RELEASE_VERSION=2023.6.20241121 from the public parameter", b)
	}
	if !published(w, "ALAS2-2026-9001") {
		t.Errorf("no SNS message names the advisory: %+v", w.cloud.Published())
	}

	w.send(poll, "alaspoll schedule again", w.mk.Schedule("kaizen-alaspoll", time.Now()))
	if n := len(w.cloud.Builds()); n != 1 {
		t.Errorf("an unchanged feed started %d more build(s)", n-1)
	}
	reqs := feed.requests()
	if len(reqs) != 2 || reqs[0] != "" || reqs[1] == "" {
		t.Errorf("want one plain GET then one conditional GET of the feed, got If-None-Match %q", reqs)
	}
}

// A new value of the app's secret (CloudTrail PutSecretValue) starts one
// golden-image build; a duplicate delivery starts none.
func TestSecretChangeRebuilds(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	sc := w.start("secretchange")
	ev := event(t, "secret-put-value.json")

	w.send(sc, "PutSecretValue", ev)
	builds := w.cloud.Builds()
	if len(builds) != 1 || builds[0].Project != w.app().Rebuild.CodeBuildProject {
		t.Fatalf("want 1 build of %s, got %+v\nsecretchange log:\n%s", w.app().Rebuild.CodeBuildProject, builds, sc.Log())
	}
	if _, ok := builds[0].Env["SECURITY_ADVISORIES"]; ok {
		t.Errorf("a secret rebuild carries advisories: %+v", builds[0])
	}
	w.send(sc, "the same PutSecretValue again", ev)
	if n := len(w.cloud.Builds()); n != 1 {
		t.Errorf("a duplicate secret event started %d more build(s)", n-1)
	}
}

func published(w *world, s string) bool {
	for _, p := range w.cloud.Published() {
		if strings.Contains(p.Subject+p.Message, s) {
			return true
		}
	}
	return false
}
