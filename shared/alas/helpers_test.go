package alas_test

import (
	"context"
	"crypto/sha256"
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

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/fake"
)

// validatorMode is how a test server lets clients tell the feed changed.
type validatorMode int

const (
	withETag validatorMode = iota
	withLastModified
	withNothing // neither header: only the body hash can tell
)

func (m validatorMode) String() string {
	return [...]string{"ETag", "Last-Modified", "no validators"}[m]
}

// feedServer serves one feed document and records the requests it saw.
type feedServer struct {
	*httptest.Server
	mu       sync.Mutex
	body     []byte
	modified time.Time
	mode     validatorMode
	status   int    // when set, answer with it (and a short body)
	ctype    string // Content-Type; default application/rss+xml
	requests []http.Header
}

func newFeedServer(t *testing.T, mode validatorMode, body []byte) *feedServer {
	s := &feedServer{mode: mode, body: body, modified: time.Date(2025, 1, 14, 23, 10, 0, 0, time.UTC)}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

func (s *feedServer) set(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
	s.modified = s.modified.Add(time.Hour)
}

func (s *feedServer) reqs() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Header.Clone())
	if s.status != 0 {
		http.Error(w, "upstream trouble", s.status)
		return
	}
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(s.body))
	lastMod := s.modified.Format(http.TimeFormat)
	switch s.mode {
	case withETag:
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	case withLastModified:
		w.Header().Set("Last-Modified", lastMod)
		if r.Header.Get("If-Modified-Since") == lastMod {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	ctype := s.ctype
	if ctype == "" {
		ctype = "application/rss+xml; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Write(s.body)
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withItem inserts an item at the top of a feed's channel, as ALAS does.
func withItem(feed []byte, title, cves, date string) []byte {
	id, _, _ := strings.Cut(title, " ")
	item := fmt.Sprintf("<item>\n<title>%s</title>\n<description>\n %s\n</description>\n<pubDate>%s</pubDate>\n<link>https://alas.aws.amazon.com/AL2/%s.html</link>\n</item>\n", title, cves, date, id)
	s := string(feed)
	i := strings.Index(s, "<item>")
	return []byte(s[:i] + item + s[i:])
}

type startCall struct {
	IDs     []string
	Release string
}

type fakeRebuilder struct {
	mu         sync.Mutex
	running    bool
	runningErr error
	startErr   error
	starts     []startCall
}

func (f *fakeRebuilder) Running(context.Context, *config.App) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running, f.runningErr
}

func (f *fakeRebuilder) Start(_ context.Context, _ *config.App, ids []string, release string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return "", f.startErr
	}
	f.starts = append(f.starts, startCall{slices.Clone(ids), release})
	return fmt.Sprintf("build-%d", len(f.starts)), nil
}

func (f *fakeRebuilder) calls() []startCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.starts)
}

type note struct{ Subject, Message string }

type fakeNotifier struct {
	mu    sync.Mutex
	err   error
	notes []note
}

func (f *fakeNotifier) Notify(_ context.Context, _ *config.App, subject, message string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.notes = append(f.notes, note{subject, message})
	return nil
}

// sent returns the poll messages; digests the digest messages.
func (f *fakeNotifier) sent() []note { return f.filter(false) }

func (f *fakeNotifier) digests() []note { return f.filter(true) }

func (f *fakeNotifier) filter(digest bool) []note {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []note
	for _, n := range f.notes {
		if strings.Contains(n.Subject, ": security digest, ") == digest {
			out = append(out, n)
		}
	}
	return out
}

// failingStore fails RecordAdvisory after okRecords successful calls.
type failingStore struct {
	alas.Store
	mu        sync.Mutex
	okRecords int
}

func (s *failingStore) RecordAdvisory(ctx context.Context, app string, a alas.Advisory, action alas.Action) (bool, error) {
	s.mu.Lock()
	n := s.okRecords
	s.okRecords--
	s.mu.Unlock()
	if n <= 0 {
		return false, fmt.Errorf("ProvisionedThroughputExceededException")
	}
	return s.Store.RecordAdvisory(ctx, app, a, action)
}

// rig is a poller wired to fakes and a fake.ALASStore, at a fixed time (see
// now). The first-poll window is off, so that the first poll takes the
// whole test feed as new; the window's own tests turn it on.
type rig struct {
	store    *fake.ALASStore
	rebuild  *fakeRebuilder
	notifier *fakeNotifier
	poller   *alas.Poller
	app      *config.App
	now      time.Time // what poller.Now returns
}

func newRig(feeds ...string) *rig {
	r := &rig{store: &fake.ALASStore{}, rebuild: &fakeRebuilder{}, notifier: &fakeNotifier{}, now: time.Date(2025, 1, 20, 9, 0, 0, 0, time.UTC)}
	r.poller = &alas.Poller{
		Store: r.store, Rebuilder: r.rebuild, Notifier: r.notifier,
		Fetcher:         &alas.Fetcher{Timeout: 5 * time.Second},
		Now:             func() time.Time { return r.now },
		Log:             slog.New(slog.DiscardHandler),
		FirstPollWindow: -1,
	}
	r.app = &config.App{Name: "web", ALAS: config.ALAS{AmazonLinux: "2", Feeds: feeds, MinSeverity: "important"}}
	return r
}

func (r *rig) poll(t *testing.T) (alas.Report, error) {
	t.Helper()
	return r.poller.Poll(context.Background(), r.app)
}

func ids(as []alas.Advisory) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

// al2Rebuild are the critical and important advisories of testdata/al2.rss,
// sorted: what the first poll at min "important" must rebuild.
var al2Rebuild = []string{
	"ALAS-2019-1234", "ALAS-2020-1375", "ALAS2-2024-2680", "ALAS2-2025-3025",
	"ALAS2DOCKER-2024-050", "ALAS2ECS-2024-041", "ALAS2KERNEL-5.10-2024-071", "ALAS2LIVEPATCH-2024-200",
}

// al2Digest are its medium and low advisories, in feed order.
var al2Digest = []string{"ALAS2-2024-2650", "ALAS2NGINX1-2024-005", "ALAS2-2024-2601", "ALAS2NITRO-ENCLAVES-2024-010"}
