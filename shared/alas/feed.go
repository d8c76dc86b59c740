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

func parseBytes(b []byte) (Feed, error) { return parseDoc(b, true) }

// parseDoc is parseBytes; hideDates false skips hidePubDates, for the
// test that checks it changes nothing.
func parseDoc(b []byte, hideDates bool) (Feed, error) {
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
	if hideDates {
		b = hidePubDates(b)
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
		pubDate := it.PubDate
		if d, ok := it.Custom[hiddenPubDate]; ok {
			pubDate = d
		}
		a, err := ParseItem(it.Title, it.Description, it.Link, pubDate)
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

// hiddenPubDate is the element name hidePubDates gives <pubDate>. It has
// the same length, so the document keeps its size and offsets.
const hiddenPubDate = "kzPubDt"

// hidePubDates returns a copy of b in which every pubDate element is
// renamed to hiddenPubDate, or b itself when there is none or when it
// cannot rename them all. b is not modified.
//
// Why: gofeed's RSS parser runs every item's pubDate through its own date
// parser, which tries some 150 layouts in turn. RFC 1123 with a named zone,
// what ALAS feeds use, comes after about 120 failed attempts that each
// allocate an error: over half the time and 80% of the allocations of
// parsing a large feed, for a value that ParseItem parses again anyway (and
// more strictly: it refuses zones time.Parse would silently take as UTC).
// gofeed keeps an item element it does not know as text in Item.Custom,
// where parseDoc reads it back, so the result is the same, only cheaper.
//
// Renaming is all or nothing, so that an item never has its date in both
// places: every tag whose local name is pubDate in any case, outside
// CDATA sections, comments and processing instructions, must be exactly
// <pubDate>, followed by text without markup and </pubDate>; start and end
// tag are renamed together, so the document stays well-formed. Any other
// form (CDATA inside, attributes, a prefix, another case, an empty-element
// tag), or a document that already has a hiddenPubDate anywhere, leaves b
// to gofeed as it is. FuzzParse checks that both ways agree.
func hidePubDates(b []byte) []byte {
	const open, end = "<pubDate>", "</pubDate>"
	if bytes.Contains(b, []byte(hiddenPubDate)) {
		return b
	}
	var at []int // offsets of the start tags to rename
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			break
		}
		i += j
		rest := b[i:]
		if skip := skipMarkup(rest); skip != 0 {
			if skip < 0 {
				return b // unterminated: gofeed reports the error
			}
			i += skip
			continue
		}
		name := rest[1:]
		if len(name) > 0 && name[0] == '/' {
			name = name[1:]
		}
		if k := bytes.IndexAny(name, " \t\r\n/>"); k >= 0 {
			name = name[:k]
		}
		if k := bytes.LastIndexByte(name, ':'); k >= 0 {
			name = name[k+1:]
		}
		if !bytes.EqualFold(name, []byte("pubDate")) {
			i++
			continue
		}
		// A pubDate tag: it must be <pubDate>text</pubDate>. A lone end tag
		// means its start tag was not of that form.
		if !bytes.HasPrefix(rest, []byte(open)) {
			return b
		}
		k := bytes.IndexByte(rest[len(open):], '<')
		if k < 0 || !bytes.HasPrefix(rest[len(open)+k:], []byte(end)) {
			return b
		}
		at = append(at, i)
		i += len(open) + k + len(end)
	}
	if len(at) == 0 {
		return b
	}
	out := bytes.Clone(b)
	for _, i := range at {
		copy(out[i+1:], hiddenPubDate)
		k := bytes.IndexByte(out[i+len(open):], '<')
		copy(out[i+len(open)+k+2:], hiddenPubDate)
	}
	return out
}

// skipMarkup returns the length of the CDATA section, comment or
// processing instruction b starts with, 0 if it starts with none of them,
// or -1 if it is not terminated.
func skipMarkup(b []byte) int {
	for _, m := range [...][2]string{{"<![CDATA[", "]]>"}, {"<!--", "-->"}, {"<?", "?>"}} {
		if bytes.HasPrefix(b, []byte(m[0])) {
			k := bytes.Index(b[len(m[0]):], []byte(m[1]))
			if k < 0 {
				return -1
			}
			return len(m[0]) + k + len(m[1])
		}
	}
	return 0
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
	// ActionKnown: already in the feed, and published more than
	// Poller.FirstPollWindow earlier, when kaizen first polled the feed for
	// the app. Recorded so that it never counts as new, but neither rebuilt
	// nor notified nor digested: it is taken to be in the image's base AMI
	// already. Check never decides it; only a Poller does.
	ActionKnown Action = "known"
)

// Recordable reports whether a is an action a Store records: ActionRebuild,
// ActionDigest or ActionKnown.
func (a Action) Recordable() bool {
	return a == ActionRebuild || a == ActionDigest || a == ActionKnown
}

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
