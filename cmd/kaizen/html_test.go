package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/internal/testenv"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/dayview"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// readPage parses a page written by --html: its JSON copy of the series,
// and the <text> of its inline SVG, which must parse as XML.
func readPage(t *testing.T, path string) (dayview.Data, map[string]bool) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 1<<20 {
		t.Errorf("%s is %d bytes; want under 1 MiB", path, len(raw))
	}
	page := string(raw)
	for _, ref := range []string{`src="http`, `href="http`, "<link", "<script src"} {
		if strings.Contains(page, ref) {
			t.Errorf("the page loads something (%q): it must work offline", ref)
		}
	}
	open := `<script type="application/json" id="` + dayview.SeriesID + `">`
	i := strings.Index(page, open)
	if i < 0 {
		t.Fatalf("no series block in %s", path)
	}
	body := page[i+len(open):]
	body = body[:strings.Index(body, "</script>")]
	var data dayview.Data
	if err := json.Unmarshal([]byte(body), &data); err != nil {
		t.Fatalf("series block: %v", err)
	}
	s, e := strings.Index(page, "<svg"), strings.Index(page, "</svg>")
	if s < 0 || e < s {
		t.Fatalf("no inline svg in %s", path)
	}
	return data, svgTexts(t, page[s:e+len("</svg>")])
}

func svgTexts(t *testing.T, svg string) map[string]bool {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	texts := map[string]bool{}
	in := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return texts
		}
		if err != nil {
			t.Fatalf("the svg does not parse: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			in = tok.Name.Local == "text"
		case xml.CharData:
			if in {
				texts[string(tok)] = true
			}
		case xml.EndElement:
			in = false
		}
	}
}

// trafficSeries finds exactly one public-share series per color.
func trafficSeries(t *testing.T, data dayview.Data) map[config.Color]dayview.Series {
	t.Helper()
	out := map[config.Color]dayview.Series{}
	for _, s := range data.Series {
		if s.Chart != dayview.ChartTraffic {
			continue
		}
		if _, dup := out[config.Color(s.Color)]; dup {
			t.Errorf("two traffic series for %s", s.Color)
		}
		out[config.Color(s.Color)] = s
	}
	for _, c := range config.Colors {
		if _, ok := out[c]; !ok {
			t.Fatalf("no traffic series for %s in %+v", c, data.Series)
		}
	}
	if len(out) != len(config.Colors) {
		t.Errorf("traffic series for %d colors, want %d", len(out), len(config.Colors))
	}
	return out
}

// public checks the public's share of every color at t.
func public(t *testing.T, series map[config.Color]dayview.Series, at time.Time, want map[config.Color]int) {
	t.Helper()
	for c, w := range want {
		if got, ok := series[c].At(at); !ok || got != w {
			t.Errorf("%s at %s: %d%% (%v), want %d%%", c, at.Format("15:04"), got, ok, w)
		}
	}
}

// demoMoves finds the demo's first cutover and its rollback in the ledger.
func demoMoves(t *testing.T, rels []release.Release) (cutover release.Release, rollback release.Release, rolledAt time.Time) {
	t.Helper()
	for _, r := range byStaged(rels) {
		if !r.CutoverAt.IsZero() && cutover.AMI == "" {
			cutover = r
		}
		for _, tr := range r.History {
			if tr.To == release.RolledBack && rolledAt.IsZero() { // the guard alarm's, not the 16:00 analysis'
				rollback, rolledAt = r, tr.At
			}
		}
	}
	if cutover.AMI == "" || rolledAt.IsZero() {
		t.Fatalf("the demo's ledger has no cutover or no rollback: %+v", rels)
	}
	return cutover, rollback, rolledAt
}

// `kaizen demo --html`: one page whose series hold the approval's cutover
// (the public to green at 10:3x) and the guard alarm's rollback at 14:50,
// at the times the ledger records.
func TestDemoHTML(t *testing.T) {
	page := filepath.Join(t.TempDir(), "day.html")
	code, out, errs := kz(t, "demo", "--json", "--html", page)
	if code != 0 {
		t.Fatalf("demo --html: exit %d %s", code, errs)
	}
	var res DemoResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	data, texts := readPage(t, page)
	for _, want := range []string{"blue public %", "green public %", "blue desired", "green healthy", "public traffic per color", "capacity per color"} {
		if !texts[want] {
			t.Errorf("the picture lacks %q", want)
		}
	}
	series := trafficSeries(t, data)
	cut, back, rolledAt := demoMoves(t, res.History)
	if cut.Color != config.Green || cut.CutoverAt.Before(cut.ApprovedAt) || cut.CutoverAt.Hour() != 10 {
		t.Errorf("the demo's first cutover: %s to %s at %s (approved %s); want green soon after the 10:30 approval", cut.AMI, cut.Color, cut.CutoverAt, cut.ApprovedAt)
	}
	public(t, series, cut.CutoverAt.Add(-time.Minute), map[config.Color]int{config.Blue: 100, config.Green: 0})
	public(t, series, cut.CutoverAt, map[config.Color]int{config.Blue: 0, config.Green: 100})
	if rolledAt.Format("15:04") != "14:50" || back.Color != config.Blue {
		t.Errorf("the demo's rollback: %s on %s at %s; want blue's release rolled back at 14:50", back.AMI, back.Color, rolledAt)
	}
	public(t, series, back.CutoverAt, map[config.Color]int{config.Blue: 100, config.Green: 0})
	public(t, series, rolledAt.Add(-time.Minute), map[config.Color]int{config.Blue: 100, config.Green: 0})
	public(t, series, rolledAt, map[config.Color]int{config.Blue: 0, config.Green: 100})
	// Capacity: one desired and one healthy series per color, and the
	// morning peak's step up on blue.
	var peak bool
	n := 0
	for _, s := range data.Series {
		if s.Chart != dayview.ChartCapacity {
			continue
		}
		n++
		if s.Color == "blue" && s.Measure == dayview.Desired {
			before, _ := s.At(demoDay.Add(29 * time.Minute))
			after, _ := s.At(demoDay.Add(31 * time.Minute))
			peak = after > before
		}
	}
	if n != 4 || !peak {
		t.Errorf("capacity: %d series (want 4), blue steps up at the 09:30 alarm: %v", n, peak)
	}
	// Targets come up between kaizen's steps: the minutes they do are
	// sampled too.
	stepAt := map[time.Time]bool{}
	for _, s := range res.Steps {
		stepAt[s.At] = true
	}
	between := 0
	for _, s := range data.Series {
		if s.Measure == dayview.Healthy {
			for _, p := range s.Points {
				if !stepAt[p.At] {
					between++
				}
			}
		}
	}
	if between == 0 {
		t.Errorf("no health change sampled between the timeline's steps: %+v", data.Series)
	}
	kinds := map[dayview.Kind]bool{}
	for _, m := range data.Markers {
		kinds[m.Kind] = true
	}
	for _, k := range []dayview.Kind{dayview.KindAMI, dayview.KindApproval, dayview.KindRejection, dayview.KindCutover, dayview.KindAlarm, dayview.KindRollback} {
		if !kinds[k] {
			t.Errorf("no %s marker in %+v", k, data.Markers)
		}
	}

	if code, _, errs := kz(t, "demo", "--html", filepath.Join(t.TempDir(), "no", "such", "dir", "day.html")); code != 1 || !strings.Contains(errs, "no/such/dir/day.html") {
		t.Errorf("unwritable --html: exit %d, %s; want 1 naming the file", code, errs)
	}
}

// The README's picture is the demo's, drawn by today's renderer.
func TestDemoPictureUpToDate(t *testing.T) {
	cfg, err := config.Load(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Demo(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, err := dayview.SVG(demoDayView(res))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(demoPicture)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is not the demo's picture (%v): run `make demo-picture` and commit it", demoPicture, err)
	}
	if !strings.Contains(readme(t), "("+demoPicture+")") {
		t.Errorf("README.md does not show %s", demoPicture)
	}
}

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// `kaizen history --html` on a DynamoDB store holding the demo's ledger:
// the public's share derived from it has the same cutover and rollback.
func TestHistoryHTML(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Load(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Demo(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := testenv.DynamoEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	db := testenv.DynamoClient(ep)
	table := testenv.NewTable(t, db)
	st := &release.AppState{App: res.App}
	if err := (&store.Dynamo{DB: db, Table: table}).Save(ctx, st, res.History...); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "eu-west-1",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"} {
		t.Setenv(k, v)
	}
	ops := []string{"--config", demoConfig, "--dynamodb-endpoint", ep, "--table", table}
	page := filepath.Join(t.TempDir(), "history.html")
	code, out, errs := kz(t, append([]string{"history", "--app", res.App, "--html", page}, ops...)...)
	if code != 0 || !strings.Contains(out, "rolled_back") || !strings.Contains(errs, "wrote "+page) {
		t.Fatalf("history --html: exit %d %s\n%s", code, errs, out)
	}
	data, texts := readPage(t, page)
	if !texts["blue public %"] || !texts["green public %"] || texts["capacity per color"] || !strings.Contains(data.Source, "ledger") {
		t.Errorf("history page: texts %v, source %q", texts, data.Source)
	}
	series := trafficSeries(t, data)
	cut, back, rolledAt := demoMoves(t, res.History)
	public(t, series, cut.CutoverAt.Add(-time.Minute), map[config.Color]int{config.Blue: 100, config.Green: 0})
	public(t, series, cut.CutoverAt, map[config.Color]int{config.Blue: 0, config.Green: 100})
	public(t, series, back.CutoverAt, map[config.Color]int{config.Blue: 100, config.Green: 0})
	public(t, series, rolledAt, map[config.Color]int{config.Blue: 0, config.Green: 100})

	// Every app at once cannot be one page; an app without releases has
	// nothing to draw. Neither writes a file.
	other := filepath.Join(t.TempDir(), "x.html")
	if code, _, errs := kz(t, append([]string{"history", "--html", other}, ops...)...); code != 2 || !strings.Contains(errs, "--app") {
		t.Errorf("history --html without --app: exit %d, %s", code, errs)
	}
	if code, _, errs := kz(t, append([]string{"history", "--app", "shop-staging", "--html", other}, ops...)...); code != 1 || !strings.Contains(errs, "no release of shop-staging") {
		t.Errorf("history --html of an app without releases: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused --html wrote %s", other)
	}
}

// A weighted shift: the ledger records its first step; the later ones
// follow weightSteps every stepMinutes until the next transition.
func TestLedgerWeightedShift(t *testing.T) {
	app := &config.App{Name: "shop", WeightSteps: []int{10, 50, 100}, StepMinutes: 10}
	at := func(hh, mm int) time.Time { return time.Date(2026, 11, 24, hh, mm, 0, 0, time.UTC) }
	tr := func(t time.Time, from, to release.State, by release.Trigger) release.Transition {
		return release.Transition{At: t, From: from, To: to, By: by}
	}
	rels := []release.Release{
		{AMI: "ami-2", Color: config.Blue, From: config.Green, State: release.RolledBack, StagedAt: at(11, 0), History: []release.Transition{
			tr(at(11, 0), "", release.Staged, release.ByImage), tr(at(11, 30), release.PreviewReady, release.Promoting, release.ByApproval),
			tr(at(11, 40), release.Promoting, release.Shifting, release.ByHealth), tr(at(11, 55), release.Shifting, release.RollingBack, release.ByGuard),
			tr(at(11, 55), release.RollingBack, release.RolledBack, release.ByListener)}},
		{AMI: "ami-1", Color: config.Green, From: config.Blue, State: release.Done, StagedAt: at(9, 0), History: []release.Transition{
			tr(at(9, 0), "", release.Staged, release.ByImage), tr(at(9, 30), release.PreviewReady, release.Promoting, release.ByApproval),
			tr(at(9, 40), release.Promoting, release.Shifting, release.ByHealth), tr(at(10, 0), release.Shifting, release.Baking, release.ByTimer),
			tr(at(10, 30), release.Baking, release.Done, release.ByTimer)}},
	}
	d, err := ledgerDayView(app, rels, at(13, 0))
	if err != nil {
		t.Fatal(err)
	}
	data := d.Data()
	series := trafficSeries(t, data)
	for _, c := range []struct {
		at          time.Time
		blue, green int
	}{
		{at(9, 39), 100, 0}, {at(9, 40), 90, 10}, {at(9, 50), 50, 50}, {at(10, 0), 0, 100},
		{at(11, 40), 10, 90}, {at(11, 50), 50, 50}, {at(11, 55), 0, 100}, {at(12, 5), 0, 100},
	} {
		public(t, series, c.at, map[config.Color]int{config.Blue: c.blue, config.Green: c.green})
	}
	if !data.From.Equal(at(8, 45)) || !data.To.Equal(at(12, 10)) {
		t.Errorf("range %s–%s, want 08:45–12:10 (the ledger's, with a margin)", data.From, data.To)
	}
	if _, err := ledgerDayView(app, nil, at(13, 0)); err == nil {
		t.Error("an empty ledger drew a page")
	}
}
