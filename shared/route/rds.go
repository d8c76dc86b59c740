package route

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// The database refresh's events: production's automated snapshots (RDS
// sends them to EventBridge directly) and the scrub build's state changes.
const (
	SourceRDS                  = "aws.rds"
	TypeDBSnapshotEvent        = "RDS DB Snapshot Event"
	TypeDBClusterSnapshotEvent = "RDS DB Cluster Snapshot Event"

	// EventAutomatedSnapshot is "Automated snapshot created." of a DB
	// instance, EventAutomatedClusterSnapshot "Automated cluster snapshot
	// created." of an Aurora cluster (AWS's RDS event reference). The
	// others (creating, manual, deleted, copy and export notices) start
	// nothing.
	EventAutomatedSnapshot        = "RDS-EVENT-0091"
	EventAutomatedClusterSnapshot = "RDS-EVENT-0169"
)

// RDSDetail is the detail of RDS's snapshot (and other) events.
type RDSDetail struct {
	EventCategories  []string `json:"EventCategories"`
	SourceType       string   `json:"SourceType"`
	SourceArn        string   `json:"SourceArn"`
	Date             string   `json:"Date"`
	SourceIdentifier string   `json:"SourceIdentifier"`
	Message          string   `json:"Message"`
	EventID          string   `json:"EventID"`
}

// automatedName is an automated snapshot's identifier: "rds:" and the
// database's identifier, then the snapshot's UTC date and time.
var automatedName = regexp.MustCompile(`^rds:([a-z](?:-?[a-z0-9])*)-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}$`)

// AutomatedSnapshotOf returns the database an automated snapshot was taken
// of, from the snapshot's identifier.
func AutomatedSnapshotOf(id string) (string, bool) {
	m := automatedName.FindStringSubmatch(strings.ToLower(id))
	if m == nil {
		return "", false
	}
	return m[1], true
}

// dbRefreshRules are dbrefresh's event rules.
func dbRefreshRules() []Rule {
	return []Rule{
		{DBRefresh, "rds-snapshot-created", Pattern{
			Source: []string{SourceRDS}, DetailType: []string{TypeDBSnapshotEvent, TypeDBClusterSnapshotEvent},
			Detail: map[string]any{"EventID": []string{EventAutomatedSnapshot, EventAutomatedClusterSnapshot}},
		}},
		// Any ended build has this shape: only the configured scrub
		// projects' builds are dbrefresh's, so Match leaves this rule to
		// RulesFor and RouteFor (see configuredOnly).
		{DBRefresh, "scrub-build", Pattern{
			Source: []string{SourceCodeBuild}, DetailType: []string{TypeCodeBuildState},
			Detail: map[string]any{"build-status": []string{"SUCCEEDED", "FAILED", "STOPPED"}},
		}},
	}
}

// configuredOnly names the rules whose events belong to a function only
// for the resources the configuration names: Match (which has no
// configuration) skips them, RouteFor and RulesFor narrow them.
var configuredOnly = map[string]bool{"scrub-build": true}

// narrowRDSSnapshot narrows the automated-snapshot rule to the sources of
// the apps that refresh on production's automated snapshot. A prefix also
// takes a database whose name extends the source's with a hyphen;
// dbrefresh compares the exact identifier.
func narrowRDSSnapshot(r Rule, f *config.File) []Rule {
	var prefixes []Value
	for i := range f.Apps {
		d := f.Apps[i].DBRefresh
		if d == nil || !d.OnAutomatedSnapshot || d.Source.ID() == "" {
			continue
		}
		prefixes = append(prefixes, HasPrefix("rds:"+d.Source.ID()+"-"))
	}
	return split(r, uniqValues(prefixes...), func(p Pattern, vs []Value) Pattern {
		p.Detail["SourceIdentifier"] = vs
		return p
	})
}

// narrowScrubBuild narrows the build rule to the scrub projects.
func narrowScrubBuild(r Rule, f *config.File) []Rule {
	return split(r, ScrubProjects(f), func(p Pattern, names []string) Pattern {
		p.Detail["project-name"] = exacts(names)
		return p
	})
}

// ScrubProjects are the configured scrub builds' projects.
func ScrubProjects(f *config.File) []string {
	var out []string
	for i := range f.Apps {
		if d := f.Apps[i].DBRefresh; d != nil && d.Scrub.CodeBuildProject != "" {
			out = append(out, d.Scrub.CodeBuildProject)
		}
	}
	return uniq(out)
}

// RefreshApps are the apps an automated snapshot of db starts a refresh
// for: those whose dbRefresh source it is (of the event's kind, in the
// event's account) and that refresh on production's automated snapshot.
func RefreshApps(f *config.File, account string, cluster bool, db string) []*config.App {
	var out []*config.App
	for i := range f.Apps {
		a := &f.Apps[i]
		d := a.DBRefresh
		if d != nil && d.OnAutomatedSnapshot && d.Source.ID() == db && d.Source.Cluster() == cluster && d.SourceAccount(f) == account {
			out = append(out, a)
		}
	}
	return out
}

// ScrubApps are the apps whose scrub build runs in project.
func ScrubApps(f *config.File, project string) []*config.App {
	var out []*config.App
	for i := range f.Apps {
		if d := f.Apps[i].DBRefresh; d != nil && d.Scrub.CodeBuildProject == project {
			out = append(out, &f.Apps[i])
		}
	}
	return out
}

// SnapshotEvent checks an RDS snapshot event the way dbrefresh does and
// returns the apps it starts a refresh for, or why it starts none.
func SnapshotEvent(f *config.File, e Envelope) (apps []*config.App, d RDSDetail, why string, err error) {
	if err := DecodeDetail(e, &d); err != nil {
		return nil, d, "", err
	}
	cluster := e.DetailType == TypeDBClusterSnapshotEvent
	want := EventAutomatedSnapshot
	if cluster {
		want = EventAutomatedClusterSnapshot
	}
	if d.EventID != want {
		return nil, d, fmt.Sprintf("%s (%q) is not %q's automated snapshot created event %s: only that starts a refresh", orNone(d.EventID), d.Message, e.DetailType, want), nil
	}
	db, ok := AutomatedSnapshotOf(d.SourceIdentifier)
	if !ok {
		return nil, d, fmt.Sprintf("SourceIdentifier %q is not an automated snapshot's name (rds:DB-YYYY-MM-DD-HH-MM)", d.SourceIdentifier), nil
	}
	apps = RefreshApps(f, e.AccountID, cluster, db)
	if len(apps) == 0 {
		var known []string
		for i := range f.Apps {
			if dr := f.Apps[i].DBRefresh; dr != nil && dr.OnAutomatedSnapshot {
				known = append(known, dr.Source.ID())
			}
		}
		kind := "DB instance"
		if cluster {
			kind = "DB cluster"
		}
		return nil, d, fmt.Sprintf("snapshot %s is of %s %s in account %s, which no app refreshes from on its automated snapshot (dbRefresh sources: %s)",
			d.SourceIdentifier, kind, db, e.AccountID, orNone(strings.Join(known, ", "))), nil
	}
	return apps, d, "", nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// RouteFor is Route with the configuration: an RDS snapshot event goes to
// dbrefresh only if it is an automated snapshot of a configured source,
// and a build of a configured scrub project goes to dbrefresh; every other
// event routes as Route says. `kaizen route` uses it when it has a
// configuration.
func RouteFor(f *config.File, e Envelope) Result {
	switch {
	case e.Source == SourceRDS && (e.DetailType == TypeDBSnapshotEvent || e.DetailType == TypeDBClusterSnapshotEvent):
		apps, d, why, err := SnapshotEvent(f, e)
		if err != nil {
			return Result{Reason: fmt.Sprintf("an RDS snapshot event, but its detail is malformed: %v", err)}
		}
		if why != "" {
			return Result{Reason: "no refresh starts: " + why}
		}
		db, _ := AutomatedSnapshotOf(d.SourceIdentifier)
		return Result{Function: DBRefresh, Rule: "rds-snapshot-created", Fields: map[string]any{
			"snapshot": d.SourceIdentifier, "source": db, "event_id": d.EventID, "apps": appNames(apps),
		}}
	case e.Source == SourceCodeBuild && e.DetailType == TypeCodeBuildState:
		var d CodeBuildDetail
		if DecodeDetail(e, &d) != nil || !slices.Contains(ScrubProjects(f), d.ProjectName) {
			break
		}
		fields := map[string]any{"project": d.ProjectName, "status": d.BuildStatus, "build": d.BuildID, "apps": appNames(ScrubApps(f, d.ProjectName))}
		for _, r := range dbRefreshRules() {
			if r.Name == "scrub-build" && r.Pattern.Match(e) {
				return Result{Function: DBRefresh, Rule: r.Name, Fields: fields}
			}
		}
		return Result{Reason: fmt.Sprintf("a build of scrub project %s that has not ended (%s): dbrefresh acts when it ends", d.ProjectName, d.BuildStatus)}
	}
	return Route(e)
}

func appNames(apps []*config.App) []string {
	out := make([]string, 0, len(apps))
	for _, a := range apps {
		out = append(out, a.Name)
	}
	return out
}

func dbRefreshFields(e Envelope) (map[string]any, error) {
	if e.Source != SourceRDS {
		return map[string]any{"resources": e.Resources}, nil
	}
	var d RDSDetail
	if err := DecodeDetail(e, &d); err != nil {
		return nil, err
	}
	if d.SourceIdentifier == "" || d.EventID == "" {
		return nil, fmt.Errorf("detail needs SourceIdentifier and EventID")
	}
	f := map[string]any{"snapshot": d.SourceIdentifier, "event_id": d.EventID}
	if db, ok := AutomatedSnapshotOf(d.SourceIdentifier); ok {
		f["source"] = db
	}
	return f, nil
}
