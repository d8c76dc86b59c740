package route_test

import (
	"os"
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/shared/route"
)

func TestAutomatedSnapshotOf(t *testing.T) {
	for id, want := range map[string]string{
		"rds:shop-prod-db-2026-11-22-02-10":   "shop-prod-db",
		"rds:Shop-Prod-DB-2026-11-22-02-10":   "shop-prod-db",
		"rds:a-2026-01-01-00-00":              "a",
		"shop-prod-db-before-upgrade":         "",
		"rds:shop-prod-db":                    "",
		"rds:shop-prod-db-2026-11-22":         "",
		"rds:shop--prod-2026-11-22-02-10":     "",
		"xrds:shop-prod-db-2026-11-22-02-10":  "",
		"rds:shop-prod-db-2026-11-22-02-10-1": "",
	} {
		got, ok := route.AutomatedSnapshotOf(id)
		if got != want || ok != (want != "") {
			t.Errorf("AutomatedSnapshotOf(%q) = %q, %v; want %q", id, got, ok, want)
		}
	}
}

func decodeFile(t *testing.T, file string) route.Envelope {
	t.Helper()
	b, err := os.ReadFile("../../events/" + file)
	if err != nil {
		t.Fatal(err)
	}
	e, err := route.DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// With the configuration, an RDS snapshot event goes to dbrefresh only if
// it is the configured source's automated snapshot; the rest say why not.
// Builds of the scrub project go to dbrefresh, the golden-image build's to
// stage.
func TestRouteFor(t *testing.T) {
	cfg := scopedConfig()
	for _, c := range []struct {
		file, fn, reason string
	}{
		{"dbrefresh-snapshot-created.json", route.DBRefresh, ""},
		{"dbrefresh-snapshot-deleted.json", "", "RDS-EVENT-0041 (\"Deleted user snapshot.\") is not"},
		{"dbrefresh-snapshot-other-instance.json", "", "is of DB instance billing-db"},
		{"dbrefresh-cluster-snapshot-created.json", "", "is of DB cluster reports-aurora"},
		{"dbrefresh-scrub-succeeded.json", route.DBRefresh, ""},
		{"dbrefresh-scrub-failed.json", route.DBRefresh, ""},
		{"dbrefresh-schedule.json", route.DBRefresh, ""},
		{"codebuild-succeeded.json", route.Stage, ""},
		{"codebuild-failed.json", "", "does not match"},
		{"alarm-guard.json", route.Guard, ""},
	} {
		res := route.RouteFor(cfg, decodeFile(t, c.file))
		if res.Function != c.fn || !strings.Contains(res.Reason, c.reason) {
			t.Errorf("%s: %+v, want function %q, reason with %q", c.file, res, c.fn, c.reason)
		}
	}
	res := route.RouteFor(cfg, decodeFile(t, "dbrefresh-snapshot-created.json"))
	if apps, _ := res.Fields["apps"].([]string); len(apps) != 1 || apps[0] != "shop-staging" || res.Fields["source"] != "shop-prod-db" {
		t.Errorf("fields %v", res.Fields)
	}
	// Without the configuration the automated snapshot still names
	// dbrefresh (its pattern), and a build never does.
	if fn, _ := route.Match(decodeFile(t, "dbrefresh-snapshot-created.json")); fn != route.DBRefresh {
		t.Errorf("generic match of the automated snapshot: %q", fn)
	}
	if fn, _ := route.Match(decodeFile(t, "dbrefresh-scrub-failed.json")); fn != "" {
		t.Errorf("generic match of a failed build: %q", fn)
	}
}

func TestRulesForNarrowsTheRefreshRules(t *testing.T) {
	cfg := scopedConfig()
	rules := route.RulesFor(cfg)
	snap := rulesOf(rules, "rds-snapshot-created")
	if len(snap) != 1 || !jsonEqual(field(t, snap[0].Pattern, "SourceIdentifier"), []any{map[string]any{"prefix": "rds:shop-prod-db-"}}) {
		t.Fatalf("rds-snapshot-created: %+v", snap)
	}
	scrub := rulesOf(rules, "scrub-build")
	if len(scrub) != 1 || !jsonEqual(field(t, scrub[0].Pattern, "project-name"), []any{"shop-staging-db-scrub"}) {
		t.Fatalf("scrub-build: %+v", scrub)
	}
	for _, c := range []struct {
		file string
		rule []route.Rule
		want bool
	}{
		{"dbrefresh-snapshot-created.json", snap, true},
		{"dbrefresh-snapshot-other-instance.json", snap, false},
		{"dbrefresh-snapshot-deleted.json", snap, false},
		{"dbrefresh-scrub-succeeded.json", scrub, true},
		{"codebuild-succeeded.json", scrub, false},
	} {
		if got := c.rule[0].Pattern.Match(decodeFile(t, c.file)); got != c.want {
			t.Errorf("%s: %s takes it: %v, want %v", c.file, c.rule[0].Name, got, c.want)
		}
	}
	// Only apps that refresh on production's snapshot narrow the rule.
	cfg.Apps[3].DBRefresh.OnAutomatedSnapshot = false
	if rs := rulesOf(route.RulesFor(cfg), "rds-snapshot-created"); len(rs) != 0 {
		t.Errorf("without onAutomatedSnapshot: %+v", rs)
	}
}
