// Package emf writes CloudWatch embedded metric format (EMF) lines: one
// JSON object per line on the function's log (stdout), from which
// CloudWatch Logs extracts the metrics. No API call, no permission beyond
// the log group the function already writes to.
//
// The shape is AWS's "Specification: Embedded metric format": a root
// object with "_aws": {"Timestamp": epoch milliseconds,
// "CloudWatchMetrics": [{"Namespace", "Dimensions": [[keys]],
// "Metrics": [{"Name", "Unit"}]}]}, and every dimension and metric value
// as a member of the root. Check validates a line against it.
package emf

import (
	"encoding/json"
	"io"
	"sort"
	"sync"
	"time"
)

// Namespace is where kaizen's own metrics go; infra's dashboard and
// alarms read them there.
const Namespace = "kaizen"

// Unit is a CloudWatch unit.
type Unit string

// The units kaizen's metrics use.
const (
	Count        Unit = "Count"
	Seconds      Unit = "Seconds"
	Milliseconds Unit = "Milliseconds"
)

// Metric is one value.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Dims are dimension values by name. Every Put publishes its metrics by
// all its dimensions, by each dimension other than App alone (an outcome
// or a reason across apps), and across them all (no dimensions): what the
// dashboard's totals and the health alarms read.
type Dims map[string]string

// Writer writes EMF lines to Out. A nil *Writer writes nothing, so code
// that may run without one (the CLI, most tests) needs no check.
type Writer struct {
	Out       io.Writer
	Namespace string
	// Now stamps the lines (default time.Now).
	Now func() time.Time
	// Function is a property (not a dimension) of every line: which
	// function wrote it, for Logs Insights.
	Function string

	mu sync.Mutex
}

// New is a Writer to out in Namespace for function.
func New(out io.Writer, function string) *Writer {
	return &Writer{Out: out, Namespace: Namespace, Function: function}
}

// Put writes one line with the metrics, by dims and in total. A failed
// write is dropped: metrics never fail a step.
func (w *Writer) Put(dims Dims, metrics ...Metric) {
	if w == nil || w.Out == nil || len(metrics) == 0 {
		return
	}
	line, err := w.Line(dims, metrics...)
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = w.Out.Write(line)
}

type directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []definition `json:"Metrics"`
}

type definition struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit,omitempty"`
}

type meta struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// Line is the JSON line Put writes, newline included.
func (w *Writer) Line(dims Dims, metrics ...Metric) ([]byte, error) {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ns := w.Namespace
	if ns == "" {
		ns = Namespace
	}
	keys := make([]string, 0, len(dims))
	for k, v := range dims {
		if v != "" { // an empty value would drop every dimension of the line
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	// By all the dimensions; by each one but App alone (an outcome, a
	// reason across apps); in total.
	sets := [][]string{}
	if len(keys) > 0 {
		sets = append(sets, keys)
	}
	for _, k := range keys {
		if k != "App" && len(keys) > 1 {
			sets = append(sets, []string{k})
		}
	}
	sets = append(sets, []string{})
	d := directive{Namespace: ns, Dimensions: sets}
	root := map[string]any{}
	for _, m := range metrics {
		d.Metrics = append(d.Metrics, definition{Name: m.Name, Unit: m.Unit})
		root[m.Name] = m.Value
	}
	for _, k := range keys {
		root[k] = dims[k]
	}
	if w.Function != "" {
		root["function"] = w.Function
	}
	root["_aws"] = meta{Timestamp: now().UnixMilli(), CloudWatchMetrics: []directive{d}}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
