package alas

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mmcdole/gofeed/rss"
)

// DefaultMaxBytes caps a feed document. The AL2 feed, the largest, is a few
// MiB; anything far beyond that is a misconfigured URL or an attack.
const DefaultMaxBytes = 20 << 20

// Feed is a parsed ALAS feed.
type Feed struct {
	Title      string
	Advisories []Advisory
	// Skipped holds one *ItemError per malformed item. Such an item is left
	// out entirely, never half-recorded, and the rest of the feed is kept.
	Skipped []error
}

// Parse reads an ALAS RSS document of at most DefaultMaxBytes.
func Parse(r io.Reader) (Feed, error) {
	b, err := io.ReadAll(io.LimitReader(r, DefaultMaxBytes+1))
	if err != nil {
		return Feed{}, fmt.Errorf("alas: read feed: %w", err)
	}
	if len(b) > DefaultMaxBytes {
		return Feed{}, fmt.Errorf("alas: feed is larger than the %d-byte limit", DefaultMaxBytes)
	}
	return parseBytes(b)
}

// ReadFile parses a feed saved on disk, for the CLI (kaizen alas check
// --file) and for trying a feed by hand. Polling only fetches over http(s).
func ReadFile(path string) (Feed, error) {
	f, err := os.Open(path)
	if err != nil {
		return Feed{}, fmt.Errorf("alas: %w", err)
	}
	defer f.Close()
	feed, err := Parse(f)
	if err != nil {
		return Feed{}, fmt.Errorf("%s: %w", path, err)
	}
	return feed, nil
}

var (
	errHTML  = errors.New("alas: got an HTML page, not a feed")
	errEmpty = errors.New("alas: empty document, not a feed")
)

func parseBytes(b []byte) (Feed, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return Feed{}, errEmpty
	}
	// A proxy, captive portal or error page served with status 200 is the
	// common way a feed URL "works" and yet returns nothing useful; name it
	// instead of reporting an XML syntax error.
	if looksHTML(b) {
		return Feed{}, errHTML
	}
	// Go's encoding/xml does not expand DTD entities, so a "billion laughs"
	// document cannot blow up here today. ALAS feeds never carry a DTD
	// though, so refusing one costs nothing and keeps that true whatever the
	// parser underneath does in a later version.
	if decl := findDecl(b); decl != "" {
		return Feed{}, fmt.Errorf("alas: refusing a feed with %s: a DTD can declare entities that expand without bound", decl)
	}
	var p rss.Parser
	ch, err := p.Parse(bytes.NewReader(b))
	if err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) && se.Msg == "unexpected EOF" {
			return Feed{}, fmt.Errorf("alas: not a valid RSS feed, it ends early (truncated download?): %w", err)
		}
		return Feed{}, fmt.Errorf("alas: not a valid RSS feed: %w", err)
	}
	if ch.Title == "" && len(ch.Items) == 0 {
		return Feed{}, errors.New("alas: the feed has no channel title and no items")
	}
	f := Feed{Title: ch.Title, Advisories: make([]Advisory, 0, len(ch.Items))}
	seen := make(map[string]bool, len(ch.Items))
	for _, it := range ch.Items {
		a, err := ParseItem(it.Title, it.Description, it.Link, it.PubDate)
		if err != nil {
			f.Skipped = append(f.Skipped, err)
			continue
		}
		if seen[a.ID] {
			f.Skipped = append(f.Skipped, &ItemError{Title: it.Title, Reason: "duplicate advisory id " + a.ID})
			continue
		}
		seen[a.ID] = true
		f.Advisories = append(f.Advisories, a)
	}
	return f, nil
}

// looksHTML reports whether the first markup of b, after an XML declaration,
// comments and whitespace, opens an HTML document.
func looksHTML(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		var end []byte
		switch {
		case bytes.HasPrefix(b, []byte("<?")):
			end = []byte("?>")
		case bytes.HasPrefix(b, []byte("<!--")):
			end = []byte("-->")
		default:
			return hasPrefixFold(b, "<!doctype html") || hasPrefixFold(b, "<html")
		}
		i := bytes.Index(b, end)
		if i < 0 {
			return false
		}
		b = b[i+len(end):]
	}
}

// findDecl returns "<!DOCTYPE" or "<!ENTITY" when b contains either, in any
// case, and "" otherwise.
func findDecl(b []byte) string {
	for {
		i := bytes.Index(b, []byte("<!"))
		if i < 0 {
			return ""
		}
		b = b[i+2:]
		switch {
		case hasPrefixFold(b, "doctype"):
			return "<!DOCTYPE"
		case hasPrefixFold(b, "entity"):
			return "<!ENTITY"
		}
	}
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}

// WriteJSONLines writes one JSON object per advisory (id, severity,
// packages, cves, published in RFC 3339, url), for the CLI and for jq.
func WriteJSONLines(w io.Writer, f Feed) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep & in URLs readable
	for _, a := range f.Advisories {
		if err := enc.Encode(a); err != nil {
			return err
		}
	}
	return nil
}

// Action is what a poll does with an advisory.
type Action string

const (
	// ActionRebuild: at or above the app's minimum severity; starts a
	// golden-image build.
	ActionRebuild Action = "rebuild"
	// ActionDigest: below the minimum severity; recorded and reported, no
	// build.
	ActionDigest Action = "digest"
	// ActionIgnore: not relevant to the app (too old, or none of its
	// packages); not recorded, so it is judged again on the next change.
	ActionIgnore Action = "ignore"
)

// Decision is what a poll would do with one advisory, and why.
type Decision struct {
	Advisory
	Action Action `json:"action"`
	Reason string `json:"reason"`
}

// Check describes what a poll would do with the advisories of f, without
// fetching or writing anything: advisories published before since (when it
// is not zero) are ignored, the rest are rebuilt or go to the digest
// according to minSeverity.
func Check(f Feed, since time.Time, minSeverity string) []Decision {
	pol := newPolicy(minSeverity, since, nil)
	out := make([]Decision, 0, len(f.Advisories))
	for _, a := range f.Advisories {
		out = append(out, pol.decide(a))
	}
	return out
}

// policy is the one place that decides rebuild, digest or ignore, shared by
// Check and Poller so that a dry run and a real poll cannot disagree.
type policy struct {
	min   string
	since time.Time
	// packages, when not nil, is the image's package manifest.
	packages map[string]bool
}

func newPolicy(minSeverity string, since time.Time, manifest []string) policy {
	p := policy{since: since}
	p.min, _ = NormalizeSeverity(minSeverity)
	if manifest != nil {
		p.packages = make(map[string]bool, len(manifest))
		for _, m := range manifest {
			p.packages[packageName(m)] = true
		}
	}
	return p
}

func (p policy) decide(a Advisory) Decision {
	d := Decision{Advisory: a}
	switch {
	case !p.since.IsZero() && a.Published.Before(p.since):
		d.Action = ActionIgnore
		d.Reason = fmt.Sprintf("published %s, before %s", a.Published.Format(time.RFC3339), p.since.UTC().Format(time.RFC3339))
	case p.packages != nil && len(a.Packages) > 0 && !p.touches(a):
		d.Action = ActionIgnore
		d.Reason = "none of its packages is in the image"
	case AtLeast(a.Severity, p.min):
		d.Action = ActionRebuild
		d.Reason = fmt.Sprintf("%s is at or above %s", a.Severity, p.minName())
	default:
		d.Action = ActionDigest
		d.Reason = fmt.Sprintf("%s is below %s", a.Severity, p.minName())
	}
	return d
}

// touches reports whether any package of a is in the manifest. An advisory
// that lists no packages is treated as touching the image (decide never
// asks): we cannot prove it irrelevant, and patching too much is cheaper
// than missing a fix.
func (p policy) touches(a Advisory) bool {
	for _, name := range a.Packages {
		if p.packages[name] {
			return true
		}
	}
	return false
}

func (p policy) minName() string {
	if p.min == "" {
		return "any severity"
	}
	return p.min
}
