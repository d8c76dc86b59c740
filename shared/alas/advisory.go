package alas

import (
	"fmt"
	"github.com/kaizen-sre/kaizen/shared/release"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Advisory is one Amazon Linux security advisory as the feed announces it.
type Advisory struct {
	ID       string `json:"id"`
	Severity string `json:"severity"` // critical, important, medium or low
	// Packages are package names, versions stripped (see ParseItem).
	Packages []string `json:"packages"`
	CVEs     []string `json:"cves"`
	// Published is in UTC; encoding/json writes it as RFC 3339.
	Published time.Time `json:"published"`
	URL       string    `json:"url"`
}

// Severities, highest first.
const (
	Critical  = "critical"
	Important = "important"
	Medium    = "medium"
	Low       = "low"
)

// NormalizeSeverity maps a severity as the feed or a config spells it to one
// of Critical, Important, Medium or Low. Older advisories say "moderate"
// where newer ones say "medium"; both mean the same rank.
func NormalizeSeverity(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case Critical:
		return Critical, true
	case Important:
		return Important, true
	case Medium, "moderate":
		return Medium, true
	case Low:
		return Low, true
	}
	return "", false
}

// SeverityRank orders severities: critical 4, important 3, medium (or
// moderate) 2, low 1, anything else 0. Case does not matter.
func SeverityRank(s string) int {
	n, _ := NormalizeSeverity(s)
	switch n {
	case Critical:
		return 4
	case Important:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// AtLeast reports whether severity s is known and ranks at or above min.
// An unknown s is never at least anything. An unknown min ranks 0, so every
// known severity passes: a misspelt threshold errs towards patching rather
// than towards silence (config validation rejects it before it gets here).
func AtLeast(s, min string) bool {
	r := SeverityRank(s)
	return r > 0 && r >= SeverityRank(min)
}

// idPattern: "ALAS", an optional product segment (2, 2023, 2LIVEPATCH,
// KERNEL-5.10, 2ECS, ...), then "-YYYY-NNN". RE2 has no backtracking, so the
// optional dashed segment cannot blow up on hostile input.
var idPattern = regexp.MustCompile(`^ALAS(?:[A-Z0-9.]+(?:-[A-Z0-9.]+)*)?-[0-9]{4}-[0-9]{3,}$`)

// maxIDLen bounds IDs: the longest real ones are about 30 characters, and an
// ID ends up in build variables, DynamoDB keys and SNS messages.
const maxIDLen = 64

// ValidID reports whether id looks like an ALAS advisory id, for example
// ALAS-2020-1375, ALAS2-2025-3025 or ALASKERNEL-5.10-2024-045.
func ValidID(id string) bool {
	return len(id) <= maxIDLen && idPattern.MatchString(id)
}

// ItemError says why one feed item was skipped.
type ItemError struct {
	Title  string // the item's title as the feed has it
	Reason string
}

func (e *ItemError) Error() string {
	return fmt.Sprintf("alas: item %q: %s", clip(e.Title, 120), e.Reason)
}

// clip shortens s for error messages: a hostile feed must not be able to
// flood logs and notifications through one title.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ParseItem turns one feed item into an Advisory.
//
// The title is "<ID> (<severity>): <package>, <package>...". Packages that
// carry a version and release (kernel-livepatch-5.10.225-213.878, as the
// livepatch advisories do) are reduced to the name, because the name is what
// the image's package manifest is matched against. The description is the
// comma-separated CVE list; any other token in it is ignored. pubDate is
// RFC 1123 with GMT/UTC or a numeric zone. An advisory without packages or
// CVEs is accepted: it can still be applied with `yum update --advisory`,
// and skipping a real advisory over a cosmetic gap would be the worse error.
func ParseItem(title, description, link, pubDate string) (Advisory, error) {
	bad := func(format string, args ...any) (Advisory, error) {
		return Advisory{}, &ItemError{Title: title, Reason: fmt.Sprintf(format, args...)}
	}
	t := strings.TrimSpace(title)
	end := strings.IndexAny(t, " \t(:")
	if end < 0 {
		end = len(t)
	}
	id := t[:end]
	if !ValidID(id) {
		return bad("no advisory id in title")
	}
	rest := strings.TrimSpace(t[end:])
	if !strings.HasPrefix(rest, "(") {
		return bad("no severity in title")
	}
	closing := strings.IndexByte(rest, ')')
	if closing < 0 {
		return bad("severity in title has no closing parenthesis")
	}
	rawSev := strings.TrimSpace(rest[1:closing])
	sev, ok := NormalizeSeverity(rawSev)
	if !ok {
		return bad("unknown severity %q", rawSev)
	}
	a := Advisory{ID: id, Severity: sev, Packages: []string{}, CVEs: []string{}}

	if rest = strings.TrimSpace(rest[closing+1:]); rest != "" {
		if rest[0] != ':' {
			return bad("unexpected %q after the severity (want \": packages\")", clip(rest, 60))
		}
		for tok := range strings.SplitSeq(rest[1:], ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue // "kernel, , perf" or a trailing comma
			}
			if !validPackage(tok) {
				return bad("bad package name %q", clip(tok, 60))
			}
			a.Packages = appendUnique(a.Packages, packageName(tok))
		}
	}

	for tok := range strings.FieldsFuncSeq(description, isCVESep) {
		if cve, ok := normalizeCVE(tok); ok {
			a.CVEs = appendUnique(a.CVEs, cve)
		}
	}

	if link = strings.TrimSpace(link); link != "" {
		u, err := url.Parse(link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("link %q is not an http(s) URL", clip(link, 120))
		}
		a.URL = link
	}

	p, err := parseDate(pubDate)
	if err != nil {
		return bad("%v", err)
	}
	a.Published = p
	return a, nil
}

func isCVESep(r rune) bool {
	return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
}

// normalizeCVE accepts CVE-YYYY-NNNN with four or more digits in the
// sequence number, in any case, and returns it upper-cased.
func normalizeCVE(s string) (string, bool) {
	// 19 digits would already overflow every real numbering scheme; the cap
	// keeps junk out of notifications.
	if len(s) < len("CVE-2024-1234") || len(s) > len("CVE-2024-")+19 {
		return "", false
	}
	if !strings.EqualFold(s[:4], "CVE-") || s[8] != '-' || !allDigits(s[4:8]) || !allDigits(s[9:]) {
		return "", false
	}
	return "CVE-" + s[4:], true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// validPackage accepts RPM name(-version-release) tokens: letters, digits
// and ._+- , starting with a letter or digit (389-ds-base). Anything else
// (spaces, markup, quotes) means the title is not what we think it is.
func validPackage(s string) bool {
	if len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '+' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// packageName strips a trailing "-<version>-<release>" from an RPM token.
// Both of the last two dash-separated parts must start with a digit, so
// names that merely contain dashes or digits (389-ds-base, python3.11,
// nodejs20, compat-libstdc++-33, java-1.8.0-openjdk) are left alone.
func packageName(s string) string {
	rel := strings.LastIndexByte(s, '-')
	if rel <= 0 || !startsDigit(s[rel+1:]) {
		return s
	}
	ver := strings.LastIndexByte(s[:rel], '-')
	if ver <= 0 || !startsDigit(s[ver+1:rel]) {
		return s
	}
	return s[:ver]
}

func startsDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

func appendUnique(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

// parseDate reads RFC 1123 dates. A named zone is accepted only when it is
// GMT or UTC: time.Parse gives any other abbreviation it does not know
// (PST, CEST) a zero offset, which would silently shift the date by hours.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("no pubDate")
	}
	// Pick the layouts by the last character so the common case parses on
	// the first try: a failed time.Parse allocates its error.
	if c := s[len(s)-1]; c >= '0' && c <= '9' {
		for _, layout := range []string{time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 -0700"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC(), nil
			}
		}
	} else {
		for _, layout := range []string{time.RFC1123, "Mon, 2 Jan 2006 15:04:05 MST"} {
			if t, err := time.Parse(layout, s); err == nil {
				switch zone, _ := t.Zone(); zone {
				case "GMT", "UTC":
					return t.UTC(), nil
				default:
					return time.Time{}, fmt.Errorf("pubDate %q: time zone %q is ambiguous, want GMT or a numeric offset", clip(s, 60), zone)
				}
			}
		}
	}
	return time.Time{}, fmt.Errorf("pubDate %q is not an RFC 1123 date", clip(s, 60))
}

// Notes picks the advisories with the given ids, as the approval evidence
// lists them (release.AdvisoryNote), in the order of ids.
func Notes(all []Advisory, ids []string) []release.AdvisoryNote {
	byID := make(map[string]Advisory, len(all))
	for _, a := range all {
		byID[a.ID] = a
	}
	var out []release.AdvisoryNote
	for _, id := range ids {
		if a, ok := byID[id]; ok {
			out = append(out, release.AdvisoryNote{ID: a.ID, Severity: a.Severity, CVEs: append([]string(nil), a.CVEs...)})
		}
	}
	return out
}
