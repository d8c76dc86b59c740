package alas_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/alas"
)

func TestFetchConditional(t *testing.T) {
	feed := testdata(t, "al2.rss")
	sum := sha256.Sum256(feed)
	hash := hex.EncodeToString(sum[:])
	for _, mode := range []validatorMode{withETag, withLastModified, withNothing} {
		t.Run(mode.String(), func(t *testing.T) {
			srv := newFeedServer(t, mode, feed)
			f := &alas.Fetcher{UserAgent: "kaizen-test"}
			first, err := f.Fetch(context.Background(), srv.URL, alas.Validators{})
			if err != nil || first.NotModified || string(first.Body) != string(feed) || first.Validators.Hash != hash {
				t.Fatalf("first fetch: %+v, %v", first.Validators, err)
			}
			second, err := f.Fetch(context.Background(), srv.URL, first.Validators)
			if err != nil || !second.NotModified {
				t.Fatalf("second fetch: NotModified=%v, %v; want true", second.NotModified, err)
			}
			h := srv.reqs()[1]
			if got := h.Get("If-None-Match"); got != first.Validators.ETag {
				t.Errorf("If-None-Match = %q, want %q", got, first.Validators.ETag)
			}
			if got := h.Get("If-Modified-Since"); got != first.Validators.LastModified {
				t.Errorf("If-Modified-Since = %q, want %q", got, first.Validators.LastModified)
			}
			if mode != withNothing && (first.Validators.ETag == "") == (first.Validators.LastModified == "") {
				t.Errorf("validators %+v: want exactly the header the server sends", first.Validators)
			}
			if h.Get("User-Agent") != "kaizen-test" {
				t.Errorf("User-Agent = %q", h.Get("User-Agent"))
			}
			srv.set(append(feed, '\n'))
			third, err := f.Fetch(context.Background(), srv.URL, first.Validators)
			if err != nil || third.NotModified || third.Validators.Hash == hash {
				t.Fatalf("changed feed: NotModified=%v, %v; want a new body", third.NotModified, err)
			}
		})
	}
}

func TestFetchHashBeatsRotatingETag(t *testing.T) {
	feed := testdata(t, "al2.rss")
	srv := newFeedServer(t, withETag, feed)
	first, err := (&alas.Fetcher{}).Fetch(context.Background(), srv.URL, alas.Validators{})
	if err != nil {
		t.Fatal(err)
	}
	prev := first.Validators
	prev.ETag = `"from-another-node"`
	res, err := (&alas.Fetcher{}).Fetch(context.Background(), srv.URL, prev)
	if err != nil || !res.NotModified {
		t.Fatalf("same bytes under another ETag: NotModified=%v, %v; want true", res.NotModified, err)
	}
}

func TestFetchErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		url     string // overrides the test server's
		max     int64
		timeout time.Duration
		wantErr []string // all must appear; "{url}" stands for the URL fetched
	}{
		{
			name:    "500",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) },
			wantErr: []string{"GET {url}", "status 500 Internal Server Error"},
		},
		{
			name:    "404",
			handler: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			wantErr: []string{"GET {url}", "status 404"},
		},
		{
			name: "HTML page with status 200",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Write([]byte("<html><body>maintenance</body></html>"))
			},
			wantErr: []string{"GET {url}", "got an HTML page, not a feed"},
		},
		{
			name:    "body over the limit",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 101)) },
			max:     100,
			wantErr: []string{"GET {url}", "larger than the 100-byte limit"},
		},
		{
			name: "announced length over the limit",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "1000")
				w.Write(make([]byte, 1000))
			},
			max:     100,
			wantErr: []string{"larger than the 100-byte limit"},
		},
		{
			name: "timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			},
			timeout: 50 * time.Millisecond,
			wantErr: []string{"GET {url}", "deadline exceeded"},
		},
		{name: "file URL", url: "file:///etc/passwd", wantErr: []string{"not an http(s) URL"}},
		{name: "plain path", url: "/tmp/alas.rss", wantErr: []string{"not an http(s) URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url
			if u == "" {
				srv := httptest.NewServer(tc.handler)
				defer srv.Close()
				u = srv.URL
			}
			_, err := (&alas.Fetcher{MaxBytes: tc.max, Timeout: tc.timeout}).Fetch(context.Background(), u, alas.Validators{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wantErr {
				if w = strings.ReplaceAll(w, "{url}", u); !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
	t.Run("exactly at the limit", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 100)) }))
		defer srv.Close()
		res, err := (&alas.Fetcher{MaxBytes: 100}).Fetch(context.Background(), srv.URL, alas.Validators{})
		if err != nil || len(res.Body) != 100 {
			t.Fatalf("%d bytes, %v", len(res.Body), err)
		}
	})
}

// hugeBody streams size bytes from one small buffer, so the test allocates
// nothing near the size it serves. It counts what it managed to send.
func hugeBody(size int64, announce bool, sent *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		if announce {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
		chunk := []byte(strings.Repeat("<item></item>\n", 4096))
		for n := int64(0); n < size; {
			m, err := w.Write(chunk[:min(int64(len(chunk)), size-n)])
			n += int64(m)
			if sent != nil {
				sent.Add(int64(m))
			}
			if err != nil {
				return // the client gave up, as it should
			}
		}
	}
}

func TestFetch100MB(t *testing.T) {
	const size = 100 << 20
	want := fmt.Sprintf("larger than the %d-byte limit", alas.DefaultMaxBytes)
	t.Run("streamed", func(t *testing.T) {
		var sent atomic.Int64
		srv := httptest.NewServer(hugeBody(size, false, &sent))
		defer srv.Close()
		_, err := (&alas.Fetcher{}).Fetch(context.Background(), srv.URL, alas.Validators{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		srv.Close() // waits for the handler, so sent is final
		// The client stops one byte past the cap; the server gets no further
		// than the cap plus what the sockets buffer.
		if got := sent.Load(); got >= 50<<20 {
			t.Errorf("the server sent %d MiB before the client gave up", got>>20)
		}
	})
	t.Run("announced", func(t *testing.T) {
		srv := httptest.NewServer(hugeBody(size, true, nil))
		defer srv.Close()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := (&alas.Fetcher{}).Fetch(context.Background(), srv.URL, alas.Validators{})
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		// An announced Content-Length is refused before reading the body.
		if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
			t.Errorf("allocated %d MiB to refuse an announced 100 MiB body", got>>20)
		}
	})
}
