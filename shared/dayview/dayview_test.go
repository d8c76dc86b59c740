package dayview

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func sample(min, blue, green, blueDesired, greenDesired int) Sample {
	return Sample{At: at(min), Colors: map[string]ColorSample{
		"blue":  {Traffic: blue, Desired: blueDesired, Healthy: blueDesired, Max: 6},
		"green": {Traffic: green, Desired: greenDesired, Healthy: greenDesired, Max: 6},
	}}
}

func testDay() *Day {
	return &Day{
		Title: "a day", App: "shop", Source: "test samples", From: t0, To: at(120),
		Colors: []string{"blue", "green"}, Capacity: true,
		Samples: []Sample{
			sample(0, 100, 0, 2, 0),
			sample(1, 100, 0, 2, 0), // unchanged: no step
			sample(10, 100, 0, 2, 1),
			sample(30, 0, 100, 2, 2), // the cutover
			sample(30, 0, 100, 2, 2),
			sample(60, 100, 0, 2, 2), // the tick at 60 saw blue 100 ...
			sample(60, 0, 100, 2, 2), // ... the rollback in the same minute put green back
			sample(90, 0, 100, 0, 2),
		},
		Markers: []Marker{
			{At: at(10), Kind: KindAMI, Label: "AMI ami-…0017 on green"},
			{At: at(30), Kind: KindCutover, Label: "cutover to green"},
			{At: at(60), Kind: KindAlarm, Label: `5xx</script><b>&"x" ALARM`},
			{At: at(60), Kind: KindRollback, Label: "rollback to green"},
		},
		Ledger: []Release{{AMI: "ami-0017", Name: "golden <1>", Color: "green", State: "done",
			Steps: []Step{{At: at(10), To: "staged", By: "image"}, {At: at(30), To: "baking", By: "health", Cause: "cut over"}}}},
	}
}

func TestData(t *testing.T) {
	data := testDay().Data()
	want := map[string][]Point{
		"traffic blue public":    {{at(0), 100}, {at(30), 0}},
		"traffic green public":   {{at(0), 0}, {at(30), 100}},
		"capacity blue desired":  {{at(0), 2}, {at(90), 0}},
		"capacity green desired": {{at(0), 0}, {at(10), 1}, {at(30), 2}},
		"capacity blue healthy":  {{at(0), 2}, {at(90), 0}},
		"capacity green healthy": {{at(0), 0}, {at(10), 1}, {at(30), 2}},
	}
	if len(data.Series) != len(want) {
		t.Fatalf("%d series, want %d: %+v", len(data.Series), len(want), data.Series)
	}
	for _, s := range data.Series {
		key := s.Chart + " " + s.Color + " " + s.Measure
		w, ok := want[key]
		if !ok {
			t.Errorf("unexpected series %s", key)
			continue
		}
		if len(s.Points) != len(w) {
			t.Errorf("%s: %v, want %v", key, s.Points, w)
			continue
		}
		for i := range w {
			if !s.Points[i].At.Equal(w[i].At) || s.Points[i].V != w[i].V {
				t.Errorf("%s point %d: %v, want %v", key, i, s.Points[i], w[i])
			}
		}
	}
	blue := data.Series[0]
	for _, c := range []struct {
		min, v int
		ok     bool
	}{{-1, 0, false}, {0, 100, true}, {29, 100, true}, {30, 0, true}, {119, 0, true}} {
		if v, ok := blue.At(at(c.min)); v != c.v || ok != c.ok {
			t.Errorf("blue at +%dm: %d %v, want %d %v", c.min, v, ok, c.v, c.ok)
		}
	}
}

// The page holds the charts as SVG that parses as XML, with a legend entry
// per series, the JSON copy of the series, and escapes what it shows.
func TestHTML(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, testDay()); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	i, j := strings.Index(page, "<svg"), strings.Index(page, "</svg>")
	if i < 0 || j < i {
		t.Fatalf("no inline svg in the page")
	}
	texts := svgTexts(t, page[i:j+len("</svg>")])
	for _, want := range []string{"blue public %", "green public %", "blue desired", "green healthy", "cutover", "rollback", "AMI staged",
		"10:00", "09:30 cutover to green", `10:00 5xx</script><b>&"x" ALARM · rollback to green`} {
		if !texts[want] {
			t.Errorf("svg lacks the text %q", want)
		}
	}
	if strings.Contains(page, "</script><b>") || strings.Contains(page, "golden <1>") {
		t.Errorf("the page does not escape a label or a name")
	}
	k := strings.Index(page, `<script type="application/json" id="`+SeriesID+`">`)
	end := strings.Index(page[k:], "</script>")
	if k < 0 || end < 0 {
		t.Fatalf("no series block")
	}
	var data Data
	body := page[k+strings.Index(page[k:], ">")+1 : k+end]
	if err := json.Unmarshal([]byte(body), &data); err != nil {
		t.Fatalf("series block: %v\n%s", err, body)
	}
	if len(data.Series) != 6 || data.Markers[2].Label != `5xx</script><b>&"x" ALARM` || !data.To.Equal(at(120)) {
		t.Errorf("series block: %+v", data)
	}
	if !strings.Contains(page, `<table id="ledger">`) || !strings.Contains(page, "golden &lt;1&gt;") || !strings.Contains(page, "09:30 baking (health): cut over") {
		t.Errorf("page lacks the ledger table")
	}
}

// A day without capacity draws one chart and no capacity series.
func TestTrafficOnly(t *testing.T) {
	d := testDay()
	d.Capacity = false
	svg, err := SVG(d)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, string(svg))
	if texts["blue desired"] || !texts["blue public %"] || texts["capacity per color"] {
		t.Errorf("traffic-only day: texts %v", texts)
	}
	if n := len(d.Data().Series); n != 2 {
		t.Errorf("%d series, want 2", n)
	}
}

func TestRefusesWhatCannotBeDrawn(t *testing.T) {
	for name, mut := range map[string]func(*Day){
		"no samples":   func(d *Day) { d.Samples = nil },
		"no colors":    func(d *Day) { d.Colors = nil },
		"out of order": func(d *Day) { d.Samples[0], d.Samples[3] = d.Samples[3], d.Samples[0] },
		"empty range":  func(d *Day) { d.To = d.From },
	} {
		d := testDay()
		mut(d)
		var b bytes.Buffer
		err := HTML(&b, d)
		if err == nil || !strings.Contains(err.Error(), "dayview: ") || b.Len() != 0 {
			t.Errorf("%s: err %v, %d bytes written; want an error and nothing written", name, err, b.Len())
		}
	}
}

// svgTexts parses an SVG document and returns its <text> contents.
func svgTexts(t *testing.T, svg string) map[string]bool {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	texts := map[string]bool{}
	in := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("svg does not parse: %v", err)
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
	if len(texts) == 0 {
		t.Fatalf("svg has no text")
	}
	return texts
}
