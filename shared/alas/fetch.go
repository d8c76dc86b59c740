package alas

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"
)

// Validators remember what a feed looked like when it was last processed,
// so that the next poll can ask the server whether anything changed.
type Validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	// Hash is the hex SHA-256 of the body, for servers that send neither
	// ETag nor Last-Modified.
	Hash string `json:"hash,omitempty"`
	// Recorded lists, comma-separated and sorted, the advisory ids of the
	// feed that the last completed poll had recorded. The next changed poll
	// skips their conditional writes: a feed of thousands of items that
	// gains one costs one write, not thousands. Only a cache: RecordAdvisory
	// stays the authority, so a lost or stale list costs writes, never a
	// second rebuild.
	Recorded string `json:"recorded,omitempty"`
}

// Result of a conditional fetch.
type Result struct {
	// NotModified: the server answered 304, or the body is byte-for-byte
	// the one whose hash is in the previous validators.
	NotModified bool
	Body        []byte // nil on a 304
	Validators  Validators
}

// Fetcher downloads feeds over http(s) with a conditional GET, a timeout and
// a size cap. The zero value is ready to use.
type Fetcher struct {
	Client    *http.Client  // default http.DefaultClient
	MaxBytes  int64         // default DefaultMaxBytes
	Timeout   time.Duration // whole request, body included; default 20s
	UserAgent string        // default "kaizen-alas/1"
}

// DefaultTimeout bounds one feed download.
const DefaultTimeout = 20 * time.Second

// Fetch GETs rawURL, sending If-None-Match and If-Modified-Since from prev.
// A 304, or a body whose SHA-256 equals prev.Hash, gives NotModified. Any
// other non-2xx status, an HTML page, or a body larger than MaxBytes is an
// error naming the URL.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, prev Validators) (Result, error) {
	fail := func(format string, args ...any) (Result, error) {
		return Result{}, fmt.Errorf("alas: GET %s: %s", rawURL, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// No file:// or bare paths: in a Lambda the only feed worth
		// reading is the remote one, and a path here is a config mistake.
		return fail("not an http(s) URL")
	}
	client, maxBytes, timeout, agent := f.Client, f.MaxBytes, f.Timeout, f.UserAgent
	if client == nil {
		client = http.DefaultClient
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if agent == "" {
		agent = "kaizen-alas/1"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fail("%v", err)
	}
	req.Header.Set("User-Agent", agent)
	req.Header.Set("Accept", "application/rss+xml, application/xml;q=0.9, text/xml;q=0.8")
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("alas: GET %s: %w", rawURL, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode == http.StatusNotModified {
		return Result{NotModified: true, Validators: prev}, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail("status %s", resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" || mt == "application/xhtml+xml" {
		return fail("got an HTML page, not a feed (Content-Type %s)", mt)
	}
	limitErr := func() (Result, error) {
		return fail("body is larger than the %d-byte limit (Fetcher.MaxBytes)", maxBytes)
	}
	// Refuse early when the server announces the size; otherwise read one
	// byte past the cap so an oversized body is detected without being
	// buffered.
	if resp.ContentLength > maxBytes {
		return limitErr()
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return fail("read body: %v", err)
	}
	if int64(len(body)) > maxBytes {
		return limitErr()
	}
	sum := sha256.Sum256(body)
	next := Validators{
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		Hash:         hex.EncodeToString(sum[:]),
	}
	// Compare the hash whatever headers came back, not only when there were
	// none: servers behind a load balancer can disagree on ETags for the same
	// bytes, and identical bytes need no parsing and no writes. The stored
	// validators then stay the old ones, which is harmless: the next poll
	// costs one GET again and still writes nothing.
	unchanged := prev.Hash != "" && prev.Hash == next.Hash
	return Result{NotModified: unchanged, Body: body, Validators: next}, nil
}
