// Package dayview draws a release day: the public's share per color and the
// capacity per color over time, the day's events as markers, and the
// ledger, as one self-contained HTML page (or the charts alone as SVG).
// The charts are drawn by gonum's plot package into SVG and inlined, so
// the page needs no script, font or network to show.
//
// The input is neutral (Day): the demo feeds it a sample per minute from
// the simulated AWS, `kaizen history` a step function derived from the
// ledger.
package dayview

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Day is what one page shows.
type Day struct {
	// Title heads the page; App names the app.
	Title string
	App   string
	// Source says what the series were derived from (shown on the page).
	Source string
	// From and To bound the time axis; zero takes the samples' extent.
	From, To time.Time
	// Colors lists the colors in the order they are drawn.
	Colors []string
	// Samples are the observed values in time order; each holds until
	// the next (a step function).
	Samples []Sample
	// Capacity says whether the samples carry capacity and health; a
	// day without it draws the public's share alone and says why.
	Capacity bool
	// Markers are the day's events.
	Markers []Marker
	// Ledger is the releases of the day, newest last.
	Ledger []Release
	// Notes are shown under the charts.
	Notes []string
}

// Sample is every color's values at one moment.
type Sample struct {
	At     time.Time              `json:"at"`
	Colors map[string]ColorSample `json:"colors"`
}

// ColorSample is one color's values.
type ColorSample struct {
	// Traffic is the public's share, in percent.
	Traffic int    `json:"traffic"`
	Min     int    `json:"min"`
	Desired int    `json:"desired"`
	Max     int    `json:"max"`
	Healthy int    `json:"healthy"`
	AMI     string `json:"ami,omitempty"`
}

// Kind is the kind of an event marker.
type Kind string

// The kinds of markers, in the order the legend lists them.
const (
	KindAMI       Kind = "ami"       // an AMI was staged
	KindApproval  Kind = "approval"  // approved
	KindRejection Kind = "rejection" // rejected or aborted
	KindCutover   Kind = "cutover"   // the public moved to the new color
	KindAlarm     Kind = "alarm"     // an alarm changed state
	KindRollback  Kind = "rollback"  // the public went back
	KindDone      Kind = "done"      // bake over, old color retired
)

// Kinds lists every kind of marker.
var Kinds = []Kind{KindAMI, KindApproval, KindRejection, KindCutover, KindAlarm, KindRollback, KindDone}

// Marker is one event on the time axis.
type Marker struct {
	At    time.Time `json:"at"`
	Kind  Kind      `json:"kind"`
	Label string    `json:"label"`
}

// Release is one row of the ledger.
type Release struct {
	AMI   string `json:"ami"`
	Name  string `json:"name,omitempty"`
	Color string `json:"color"`
	State string `json:"state"`
	Steps []Step `json:"steps"`
}

// Step is one transition of a release.
type Step struct {
	At    time.Time `json:"at"`
	To    string    `json:"to"`
	By    string    `json:"by,omitempty"`
	Cause string    `json:"cause,omitempty"`
}

// Data is the page's machine-readable copy of what the charts draw: the
// JSON in <script type="application/json" id="kaizen-series">.
type Data struct {
	App     string    `json:"app"`
	Source  string    `json:"source"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Series  []Series  `json:"series"`
	Markers []Marker  `json:"markers"`
}

// Series is one line of a chart: a step function, each point holding
// until the next, the last until Data.To.
type Series struct {
	// Chart is "traffic" or "capacity".
	Chart string `json:"chart"`
	Color string `json:"color"`
	// Measure is "public" (percent), "desired" or "healthy" (instances).
	Measure string  `json:"measure"`
	Points  []Point `json:"points"`
}

// Point is one step of a series.
type Point struct {
	At time.Time `json:"at"`
	V  int       `json:"v"`
}

// The charts and the measures of their series.
const (
	ChartTraffic  = "traffic"
	ChartCapacity = "capacity"
	Public        = "public"
	Desired       = "desired"
	Healthy       = "healthy"
)

// check refuses a day that cannot be drawn, naming the problem.
func (d *Day) check() error {
	if len(d.Colors) == 0 {
		return fmt.Errorf("dayview: no colors")
	}
	if len(d.Samples) == 0 {
		return fmt.Errorf("dayview: no samples for %s", d.App)
	}
	if !sort.SliceIsSorted(d.Samples, func(i, j int) bool { return d.Samples[i].At.Before(d.Samples[j].At) }) {
		return fmt.Errorf("dayview: samples of %s are not in time order", d.App)
	}
	from, to := d.span()
	if !to.After(from) {
		return fmt.Errorf("dayview: empty time range %s–%s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return nil
}

// span is the time axis: From and To, or the samples' extent.
func (d *Day) span() (time.Time, time.Time) {
	from, to := d.From, d.To
	if from.IsZero() {
		from = d.Samples[0].At
	}
	if to.IsZero() {
		to = d.Samples[len(d.Samples)-1].At
	}
	return from, to
}

// Data is the series the charts draw. Consecutive equal values are one
// step.
func (d *Day) Data() Data {
	from, to := d.span()
	out := Data{App: d.App, Source: d.Source, From: from, To: to, Markers: slices.Clone(d.Markers)}
	if out.Markers == nil {
		out.Markers = []Marker{}
	}
	add := func(chart, color, measure string, v func(ColorSample) int) {
		s := Series{Chart: chart, Color: color, Measure: measure, Points: []Point{}}
		for _, smp := range d.Samples {
			p := Point{At: smp.At, V: v(smp.Colors[color])}
			if n := len(s.Points); n > 0 && s.Points[n-1].V == p.V {
				continue
			}
			if n := len(s.Points); n > 0 && s.Points[n-1].At.Equal(p.At) {
				// Two samples in one moment: the later one stands.
				s.Points = s.Points[:n-1]
				if n > 1 && s.Points[n-2].V == p.V {
					continue
				}
			}
			s.Points = append(s.Points, p)
		}
		out.Series = append(out.Series, s)
	}
	for _, c := range d.Colors {
		add(ChartTraffic, c, Public, func(s ColorSample) int { return s.Traffic })
	}
	if d.Capacity {
		for _, c := range d.Colors {
			add(ChartCapacity, c, Desired, func(s ColorSample) int { return s.Desired })
			add(ChartCapacity, c, Healthy, func(s ColorSample) int { return s.Healthy })
		}
	}
	return out
}

// At is the value of the series at t (the last step at or before t), and
// false before its first point.
func (s Series) At(t time.Time) (int, bool) {
	v, ok := 0, false
	for _, p := range s.Points {
		if p.At.After(t) {
			break
		}
		v, ok = p.V, true
	}
	return v, ok
}
