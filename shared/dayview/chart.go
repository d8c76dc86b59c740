package dayview

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The picture's geometry: two charts stacked, the legend on the right.
const (
	width       = 12 * vg.Inch
	chartHeight = 3 * vg.Inch
	legendWidth = 1.9 * vg.Inch
	labelSize   = vg.Length(7)
	// labelRow is the height of one row of marker labels above the
	// traffic chart, in percent of its y axis.
	labelRow = 11.0
)

var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// palette colors the known colors; any other color is drawn in grey.
var palette = map[string]color.RGBA{
	"blue":  {R: 0x1f, G: 0x6f, B: 0xc5, A: 0xff},
	"green": {R: 0x2e, G: 0x9e, B: 0x44, A: 0xff},
}

var markerColors = map[Kind]color.RGBA{
	KindAMI:       {R: 0x77, G: 0x77, B: 0x77, A: 0xff},
	KindApproval:  {R: 0x7b, G: 0x3f, B: 0xb5, A: 0xff},
	KindRejection: {R: 0x8c, G: 0x56, B: 0x3b, A: 0xff},
	KindCutover:   {R: 0x10, G: 0x10, B: 0x10, A: 0xff},
	KindAlarm:     {R: 0xe6, G: 0x8a, B: 0x00, A: 0xff},
	KindRollback:  {R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	KindDone:      {R: 0x17, G: 0x9c, B: 0xa8, A: 0xff},
}

var kindNames = map[Kind]string{
	KindAMI: "AMI staged", KindApproval: "approval", KindRejection: "rejection", KindCutover: "cutover",
	KindAlarm: "alarm", KindRollback: "rollback", KindDone: "old color retired",
}

func colorOf(c string) color.RGBA {
	if v, ok := palette[c]; ok {
		return v
	}
	return color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}
}

// SVG draws the day's charts as one SVG document: the public's share per
// color above, capacity (desired and healthy) per color below (when the
// day has it), the markers across both, one legend.
func SVG(d *Day) ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	data := d.Data()
	charts := 1
	if d.Capacity {
		charts = 2
	}
	c := vgsvg.New(width, chartHeight*vg.Length(charts))
	dc := draw.New(c)
	area := draw.Crop(dc, 0, -legendWidth, 0, 0)
	legend := plot.NewLegend()
	legend.TextStyle.Font = font.From(sans, 9)
	legend.Top, legend.Left = true, true
	legend.ThumbnailWidth = 0.35 * vg.Inch
	legend.Padding = 3

	traffic, err := trafficChart(d, data, &legend)
	if err != nil {
		return nil, err
	}
	plots := [][]*plot.Plot{{traffic}}
	if d.Capacity {
		capacity, err := capacityChart(d, data, &legend)
		if err != nil {
			return nil, err
		}
		plots = append(plots, []*plot.Plot{capacity})
	}
	// Aligned, so a marker is at one x in both charts.
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: 8, PadTop: 4, PadBottom: 4, PadLeft: 4}
	for i, row := range plot.Align(plots, tiles, area) {
		plots[i][0].Draw(row[0])
	}
	markerLegend(d, &legend)
	legend.Draw(draw.Crop(dc, width-legendWidth+6, 0, 0, -18))

	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("dayview: write svg: %w", err)
	}
	return b.Bytes(), nil
}

func newPlot(d *Day, title, ylabel string) *plot.Plot {
	from, to := d.span()
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 11)
	p.X.Min, p.X.Max = unix(from), unix(to)
	p.X.Tick.Marker = clockTicks{loc: from.Location()}
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 9)
		a.Tick.Label.Font = font.From(sans, 8)
	}
	p.Add(plotter.NewGrid())
	return p
}

func trafficChart(d *Day, data Data, legend *plot.Legend) (*plot.Plot, error) {
	p := newPlot(d, "public traffic per color", "% of the public")
	labels, rows := layoutLabels(d, data)
	p.Y.Min, p.Y.Max = 0, 100+labelRow*float64(rows)+4
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 25, Label: "25"}, {Value: 50, Label: "50"}, {Value: 75, Label: "75"}, {Value: 100, Label: "100"}})
	if err := addMarkers(p, data, 100+labelRow*float64(rows)); err != nil {
		return nil, err
	}
	for _, s := range data.Series {
		if s.Chart != ChartTraffic {
			continue
		}
		l, err := stepLine(s, data.To, colorOf(s.Color), 2.2, nil)
		if err != nil {
			return nil, err
		}
		p.Add(l)
		legend.Add(s.Color+" public %", l)
	}
	if labels != nil {
		p.Add(labels)
	}
	return p, nil
}

func capacityChart(d *Day, data Data, legend *plot.Legend) (*plot.Plot, error) {
	p := newPlot(d, "capacity per color", "instances")
	top := 1
	for _, s := range data.Series {
		if s.Chart != ChartCapacity {
			continue
		}
		for _, pt := range s.Points {
			top = max(top, pt.V)
		}
	}
	for _, smp := range d.Samples {
		for _, v := range smp.Colors {
			top = max(top, v.Max)
		}
	}
	p.Y.Min, p.Y.Max = 0, float64(top)+0.5
	var ticks []plot.Tick
	every := max(1, top/6)
	for v := 0; v <= top; v += every {
		ticks = append(ticks, plot.Tick{Value: float64(v), Label: fmt.Sprint(v)})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	if err := addMarkers(p, data, p.Y.Max); err != nil {
		return nil, err
	}
	for _, s := range data.Series {
		if s.Chart != ChartCapacity {
			continue
		}
		w, dash := vg.Length(2.2), []vg.Length(nil)
		if s.Measure == Healthy {
			w, dash = 1.2, []vg.Length{vg.Points(4), vg.Points(2)}
		}
		l, err := stepLine(s, data.To, colorOf(s.Color), w, dash)
		if err != nil {
			return nil, err
		}
		p.Add(l)
		legend.Add(s.Color+" "+s.Measure, l)
	}
	return p, nil
}

// stepLine draws a series as a step function held to the end of the day.
func stepLine(s Series, to time.Time, col color.Color, w vg.Length, dash []vg.Length) (*plotter.Line, error) {
	xys := make(plotter.XYs, 0, len(s.Points)+1)
	for _, p := range s.Points {
		xys = append(xys, plotter.XY{X: unix(p.At), Y: float64(p.V)})
	}
	if n := len(s.Points); n > 0 && to.After(s.Points[n-1].At) {
		xys = append(xys, plotter.XY{X: unix(to), Y: float64(s.Points[n-1].V)})
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, fmt.Errorf("dayview: %s %s %s: %w", s.Chart, s.Color, s.Measure, err)
	}
	l.StepStyle = plotter.PostStep
	l.Color, l.Width, l.Dashes = col, w, dash
	return l, nil
}

// addMarkers draws a thin vertical line at each marker, up to top.
func addMarkers(p *plot.Plot, data Data, top float64) error {
	for _, m := range data.Markers {
		if m.At.Before(data.From) || m.At.After(data.To) {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: unix(m.At), Y: 0}, {X: unix(m.At), Y: top}})
		if err != nil {
			return fmt.Errorf("dayview: marker %s: %w", m.Label, err)
		}
		l.Color, l.Width, l.Dashes = markerColors[m.Kind], 0.8, []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(l)
	}
	return nil
}

// markerLegend lists the kinds of marker the day has.
func markerLegend(d *Day, legend *plot.Legend) {
	seen := map[Kind]bool{}
	for _, m := range d.Markers {
		seen[m.Kind] = true
	}
	for _, k := range Kinds {
		if !seen[k] {
			continue
		}
		l := &plotter.Line{LineStyle: draw.LineStyle{Color: markerColors[k], Width: 1.2, Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}}
		legend.Add(kindNames[k], l)
	}
}

// layoutLabels puts the markers' labels in rows above the traffic chart:
// markers in the same minute share one label, and each label takes the
// lowest row where it does not overlap the one before it.
func layoutLabels(d *Day, data Data) (*plotter.Labels, int) {
	type group struct {
		at    time.Time
		kind  Kind
		parts []string
	}
	var groups []*group
	for _, m := range data.Markers {
		if m.At.Before(data.From) || m.At.After(data.To) {
			continue
		}
		t := m.At.Truncate(time.Minute)
		if n := len(groups); n > 0 && groups[n-1].at.Equal(t) {
			groups[n-1].parts = append(groups[n-1].parts, m.Label)
			continue
		}
		groups = append(groups, &group{at: t, kind: m.Kind, parts: []string{m.Label}})
	}
	if len(groups) == 0 {
		return nil, 0
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].at.Before(groups[j].at) })
	sty := text.Style{Font: font.From(sans, labelSize), Handler: plot.DefaultTextHandler}
	// The data area is about the canvas less the legend and the axes.
	perSecond := float64(width-legendWidth-0.9*vg.Inch) / data.To.Sub(data.From).Seconds()
	var ends []float64 // per row, where its last label ends (points)
	var xys plotter.XYs
	var strs []string
	var styles []text.Style
	for _, g := range groups {
		s := g.at.Format("15:04") + " " + strings.Join(g.parts, " · ")
		x := g.at.Sub(data.From).Seconds() * perSecond
		w := float64(sty.Width(s)) + 6
		row := -1
		for i, end := range ends {
			if x >= end {
				row = i
				break
			}
		}
		if row < 0 {
			row = len(ends)
			ends = append(ends, 0)
		}
		ends[row] = x + w
		xys = append(xys, plotter.XY{X: unix(g.at), Y: 100 + labelRow*float64(row) + 3})
		strs = append(strs, s)
		st := sty
		st.Color = markerColors[g.kind]
		styles = append(styles, st)
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: strs})
	if err != nil {
		return nil, 0
	}
	labels.TextStyle = styles
	labels.Offset = vg.Point{X: 2}
	return labels, len(ends)
}

func unix(t time.Time) float64 { return float64(t.Unix()) }

// clockTicks marks every hour (labelled hh:mm) and every quarter hour,
// fewer when the day is long.
type clockTicks struct{ loc *time.Location }

func (c clockTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	major := 3600.0
	for span/major > 14 {
		major *= 2
	}
	minor := major / 4
	format := "15:04"
	if span > 36*3600 {
		format = "Jan 2 15:04"
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/minor) * minor; v <= hi; v += minor {
		t := plot.Tick{Value: v}
		if math.Mod(v, major) == 0 {
			t.Label = time.Unix(int64(v), 0).In(c.loc).Format(format)
		}
		ticks = append(ticks, t)
	}
	return ticks
}
