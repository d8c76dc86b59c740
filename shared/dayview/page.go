package dayview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// SeriesID is the id of the page's JSON copy of the series.
const SeriesID = "kaizen-series"

// HTML writes the day as one self-contained page: the charts (inline SVG),
// what they were derived from, the markers, the ledger as a table, and the
// series as JSON for scripts and tests. It needs nothing else to show.
func HTML(w io.Writer, d *Day) error {
	svg, err := SVG(d)
	if err != nil {
		return err
	}
	data := d.Data()
	js, err := json.MarshalIndent(data, "", " ")
	if err != nil {
		return fmt.Errorf("dayview: series: %w", err)
	}
	var b bytes.Buffer
	err = page.Execute(&b, map[string]any{
		"Day":  d,
		"From": data.From,
		"To":   data.To,
		// The SVG comes from our own renderer: every string in it was
		// escaped by the SVG writer. Drop its XML prolog to inline it.
		"SVG": template.HTML(inlineSVG(svg)),
		// Inserted as it is inside <script>: with every "<" escaped no
		// string in the JSON can close the element.
		"Series": template.JS(strings.ReplaceAll(string(js), "<", `\u003c`)),
		"ID":     SeriesID,
	})
	if err != nil {
		return fmt.Errorf("dayview: page: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// inlineSVG strips the XML declaration and the generator's comment.
func inlineSVG(svg []byte) string {
	s := string(svg)
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return s
}

func clock(t time.Time) string { return t.Format("15:04") }

func stamp(t time.Time) string { return t.Format("Mon 2006-01-02 15:04 MST") }

var page = template.Must(template.New("day").Funcs(template.FuncMap{"clock": clock, "stamp": stamp}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Day.Title}}</title>
<style>
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; }
figure { margin: 0; }
figure svg { width: 100%; height: auto; max-width: 1200px; }
table { border-collapse: collapse; font-size: 0.85em; margin-top: 0.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.source, .note { color: #555; font-size: 0.9em; }
ol.steps { margin: 0; padding-left: 1.2em; }
</style>
</head>
<body>
<h1>{{.Day.Title}}</h1>
<p class="source">app <b>{{.Day.App}}</b>, {{stamp .From}} – {{stamp .To}}. {{.Day.Source}}</p>
<figure id="charts">
{{.SVG}}
</figure>
{{range .Day.Notes}}<p class="note">{{.}}</p>
{{end}}
<h2>Events</h2>
<table id="markers">
<tr><th>time</th><th>kind</th><th>event</th></tr>
{{range .Day.Markers}}<tr><td>{{clock .At}}</td><td>{{.Kind}}</td><td>{{.Label}}</td></tr>
{{end}}</table>
<h2>Ledger</h2>
<table id="ledger">
<tr><th>AMI</th><th>name</th><th>color</th><th>state</th><th>transitions</th></tr>
{{range .Day.Ledger}}<tr><td>{{.AMI}}</td><td>{{.Name}}</td><td>{{.Color}}</td><td>{{.State}}</td><td><ol class="steps">
{{range .Steps}}<li>{{clock .At}} {{.To}}{{if .By}} ({{.By}}){{end}}{{if .Cause}}: {{.Cause}}{{end}}</li>
{{end}}</ol></td></tr>
{{end}}</table>
<script type="application/json" id="{{.ID}}">
{{.Series}}
</script>
</body>
</html>
`))
