package alas

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSeverity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		norm string
		rank int
	}{
		{"critical", Critical, 4},
		{"CRITICAL", Critical, 4},
		{" Important ", Important, 3},
		{"medium", Medium, 2},
		{"Moderate", Medium, 2},
		{"low", Low, 1},
		{"", "", 0},
		{"high", "", 0},
		{"informational", "", 0},
	} {
		norm, ok := NormalizeSeverity(tc.in)
		if norm != tc.norm || ok != (tc.norm != "") {
			t.Errorf("NormalizeSeverity(%q) = %q, %v; want %q", tc.in, norm, ok, tc.norm)
		}
		if got := SeverityRank(tc.in); got != tc.rank {
			t.Errorf("SeverityRank(%q) = %d, want %d", tc.in, got, tc.rank)
		}
	}
}

func TestAtLeast(t *testing.T) {
	for _, tc := range []struct {
		s, min string
		want   bool
	}{
		{"critical", "important", true},
		{"important", "important", true},
		{"moderate", "medium", true},
		{"medium", "important", false},
		{"low", "medium", false},
		{"Critical", "CRITICAL", true},
		{"bogus", "low", false},   // unknown severity never qualifies
		{"low", "bogus", true},    // unknown threshold errs towards patching
		{"bogus", "bogus", false}, // ...but not for unknown severities
		{"important", "", true},   // no threshold: everything known
		{"important", "critical", false},
	} {
		if got := AtLeast(tc.s, tc.min); got != tc.want {
			t.Errorf("AtLeast(%q, %q) = %v, want %v", tc.s, tc.min, got, tc.want)
		}
	}
}

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"ALAS-2020-1375", true},
		{"ALAS2-2025-3025", true},
		{"ALAS2023-2024-700", true},
		{"ALAS2LIVEPATCH-2024-200", true},
		{"ALASKERNEL-5.10-2024-045", true},
		{"ALAS2KERNEL-5.15-2024-010", true},
		{"ALAS2ECS-2024-041", true},
		{"ALAS2NITRO-ENCLAVES-2024-010", true},
		{"ALAS-2020-12345", true},
		{"ALAS-2020-12", false},   // sequence has at least three digits
		{"ALAS-20-1375", false},   // year has four
		{"alas-2020-1375", false}, // ids are upper case
		{"ALAS2-2025-3025x", false},
		{"ALAS--2020-1375", false},
		{"RHSA-2020-1375", false},
		{"ALAS2-2025", false},
		{"", false},
		{"ALAS" + strings.Repeat("X", 60) + "-2020-1375", false}, // too long
	} {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestPackageName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel":                            "kernel",
		"389-ds-base":                       "389-ds-base",
		"python3.11":                        "python3.11",
		"nodejs20":                          "nodejs20",
		"java-1.8.0-openjdk":                "java-1.8.0-openjdk",
		"compat-libstdc++-33":               "compat-libstdc++-33",
		"kernel-5.10.1-1.amzn2":             "kernel",
		"kernel-livepatch-5.10.225-213.878": "kernel-livepatch",
		"postgresql13-13.5-1.amzn2":         "postgresql13",
		"389-ds-base-1.4.0.31-1":            "389-ds-base",
	} {
		if got := packageName(in); got != want {
			t.Errorf("packageName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseItem(t *testing.T) {
	const link = "https://alas.aws.amazon.com/AL2/ALAS2-2025-3025.html"
	const date = "Thu, 07 Nov 2024 21:33:00 GMT"
	nov7 := time.Date(2024, 11, 7, 21, 33, 0, 0, time.UTC)
	for _, tc := range []struct {
		name              string
		title, desc, link string
		date              string
		want              Advisory
		wantErr           string // substring; "" means success
	}{
		{
			name:  "AL2 critical",
			title: "ALAS2-2025-3025 (critical): 389-ds-base", desc: "\n CVE-2024-8445, CVE-2024-2199\n", link: link, date: date,
			want: Advisory{ID: "ALAS2-2025-3025", Severity: "critical", Packages: []string{"389-ds-base"},
				CVEs: []string{"CVE-2024-8445", "CVE-2024-2199"}, Published: nov7, URL: link},
		},
		{
			name:  "AL1 id, several packages, moderate",
			title: "  ALAS-2020-1375 (Moderate): kernel, kernel-tools ,perf,  ", desc: "CVE-2020-10711,CVE-2020-12770", date: date,
			want: Advisory{ID: "ALAS-2020-1375", Severity: "medium", Packages: []string{"kernel", "kernel-tools", "perf"},
				CVEs: []string{"CVE-2020-10711", "CVE-2020-12770"}, Published: nov7},
		},
		{
			name:  "versioned package reduced to its name, duplicates dropped",
			title: "ALAS2LIVEPATCH-2024-200 (important): kernel-livepatch-5.10.225-213.878, kernel-livepatch-5.10.226-214.879",
			desc:  " cve-2024-26923 CVE-2024-26923; CVE-2024-26930 not-a-cve CVE-24-1 CVE-2024-123", date: "Mon, 25 Nov 2024 20:01:00 +0100",
			want: Advisory{ID: "ALAS2LIVEPATCH-2024-200", Severity: "important", Packages: []string{"kernel-livepatch"},
				CVEs: []string{"CVE-2024-26923", "CVE-2024-26930"}, Published: time.Date(2024, 11, 25, 19, 1, 0, 0, time.UTC)},
		},
		{
			name:  "kernel product id, single-digit day",
			title: "ALASKERNEL-5.10-2024-045 (low): kernel", date: "Thu, 7 Nov 2024 21:33:00 UTC",
			want: Advisory{ID: "ALASKERNEL-5.10-2024-045", Severity: "low", Packages: []string{"kernel"}, CVEs: []string{}, Published: nov7},
		},
		{
			name:  "no packages is still an advisory",
			title: "ALAS2023-2024-700 (important)", date: date,
			want: Advisory{ID: "ALAS2023-2024-700", Severity: "important", Packages: []string{}, CVEs: []string{}, Published: nov7},
		},
		{name: "no id", title: "Important update (critical): kernel", date: date, wantErr: `item "Important update (critical): kernel": no advisory id in title`},
		{name: "empty title", title: "", date: date, wantErr: "no advisory id in title"},
		{name: "lower-case id", title: "alas2-2025-3025 (critical): kernel", date: date, wantErr: "no advisory id in title"},
		{name: "no severity", title: "ALAS2-2025-3025: kernel", date: date, wantErr: "no severity in title"},
		{name: "unclosed severity", title: "ALAS2-2025-3025 (critical: kernel", date: date, wantErr: "no closing parenthesis"},
		{name: "unknown severity", title: "ALAS2-2025-3025 (high): kernel", date: date, wantErr: `unknown severity "high"`},
		{name: "junk after severity", title: "ALAS2-2025-3025 (critical) kernel", date: date, wantErr: `unexpected "kernel" after the severity`},
		{name: "bad package", title: "ALAS2-2025-3025 (critical): kernel <b>", date: date, wantErr: `bad package name "kernel <b>"`},
		{name: "bad link", title: "ALAS2-2025-3025 (critical): kernel", link: "javascript:alert(1)", date: date, wantErr: "is not an http(s) URL"},
		{name: "no date", title: "ALAS2-2025-3025 (critical): kernel", wantErr: "no pubDate"},
		{name: "bad date", title: "ALAS2-2025-3025 (critical): kernel", date: "2024-11-07", wantErr: `pubDate "2024-11-07" is not an RFC 1123 date`},
		{name: "ambiguous zone", title: "ALAS2-2025-3025 (critical): kernel", date: "Thu, 07 Nov 2024 21:33:00 PST", wantErr: `time zone "PST"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseItem(tc.title, tc.desc, tc.link, tc.date)
			if tc.wantErr != "" {
				var ie *ItemError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &ie) {
					t.Fatalf("err = %v, want an *ItemError containing %q", err, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "alas: item ") {
					t.Fatalf("err = %q, want it to start with `alas: item`", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tc.want.ID || got.Severity != tc.want.Severity || got.URL != tc.want.URL ||
				!got.Published.Equal(tc.want.Published) || got.Published.Location() != time.UTC ||
				!slices.Equal(got.Packages, tc.want.Packages) || !slices.Equal(got.CVEs, tc.want.CVEs) ||
				got.Packages == nil || got.CVEs == nil {
				t.Fatalf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestItemErrorClipsLongTitles(t *testing.T) {
	title := strings.Repeat("x", 10000)
	_, err := ParseItem(title, "", "", "")
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error of %d bytes for a 10000-byte title, want it clipped", len(err.Error()))
	}
}

// FuzzParseItem: ParseItem must never panic, and whatever it accepts must be
// an advisory the rest of the system can trust.
func FuzzParseItem(f *testing.F) {
	f.Add("ALAS2-2025-3025 (critical): 389-ds-base", "\n CVE-2024-8445, CVE-2024-2199\n", "https://alas.aws.amazon.com/AL2/ALAS2-2025-3025.html", "Tue, 14 Jan 2025 22:47:00 GMT")
	f.Add("ALAS-2020-1375 (important): kernel, kernel-tools", "CVE-2020-10711", "", "Wed, 10 Jun 2020 18:47:00 +0000")
	f.Add("ALASKERNEL-5.10-2024-045 (moderate): kernel-livepatch-5.10.225-213.878", "", "http://x", "Thu, 7 Nov 2024 21:33:00 UTC")
	f.Add("ALAS2-2025-3025 (critical", "CVE-", "::", "Thu, 07 Nov 2024 21:33:00 PST")
	f.Add("ALAS2023-2024-700 ()", ",,,", "https://", "")
	f.Fuzz(func(t *testing.T, title, desc, link, date string) {
		a, err := ParseItem(title, desc, link, date)
		if err != nil {
			var ie *ItemError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is not an *ItemError", err)
			}
			return
		}
		if !ValidID(a.ID) {
			t.Fatalf("accepted invalid id %q", a.ID)
		}
		if norm, ok := NormalizeSeverity(a.Severity); !ok || norm != a.Severity {
			t.Fatalf("accepted severity %q", a.Severity)
		}
		for _, c := range a.CVEs {
			if _, ok := normalizeCVE(c); !ok || !strings.HasPrefix(c, "CVE-") {
				t.Fatalf("accepted CVE %q", c)
			}
		}
		for _, p := range a.Packages {
			if !validPackage(p) {
				t.Fatalf("accepted package %q", p)
			}
		}
		if a.Published.IsZero() || a.Published.Location() != time.UTC {
			t.Fatalf("published %v", a.Published)
		}
	})
}
