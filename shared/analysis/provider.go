package analysis

import (
	"context"
	"sort"
	"time"
)

// Period is the resolution analysis asks for: one point a minute.
const Period = time.Minute

// Query asks a provider for one series: one metric of one color, one
// point a minute. A CloudWatch query names a metric (Namespace,
// MetricName, Dimensions, Stat) or a metric-math Expression; a Datadog
// query is a metrics query string (DatadogQuery).
type Query struct {
	// ID names the series in the answer; unique within one Fetch.
	ID         string      `json:"id"`
	Namespace  string      `json:"namespace,omitempty"`
	MetricName string      `json:"metricName,omitempty"`
	Dimensions []Dimension `json:"dimensions,omitempty"`
	Stat       string      `json:"stat,omitempty"`
	Expression string      `json:"expression,omitempty"`
	// DatadogQuery is Datadog's query, e.g.
	// "sum:aws.applicationelb.httpcode_target_5xx{targetgroup:...}.as_count()".
	DatadogQuery string `json:"datadogQuery,omitempty"`
}

// Dimension is a CloudWatch dimension.
type Dimension struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Point is one value of a series.
type Point struct {
	At    time.Time `json:"at"`
	Value float64   `json:"value"`
}

// Series is a series' points in time order.
type Series []Point

// Values are the points' values, in time order.
func (s Series) Values() []float64 {
	out := make([]float64, len(s))
	for i, p := range s {
		out[i] = p.Value
	}
	return out
}

// Within keeps the points in [from, to).
func (s Series) Within(from, to time.Time) Series {
	var out Series
	for _, p := range s {
		if !p.At.Before(from) && p.At.Before(to) {
			out = append(out, p)
		}
	}
	return out
}

// Sort orders points by time.
func (s Series) Sort() { sort.Slice(s, func(i, j int) bool { return s[i].At.Before(s[j].At) }) }

// Provider fetches series: every query of every app in flight in one
// Fetch, which a provider makes in as few calls as its API allows
// (CloudWatch: one GetMetricData call for up to 500 queries). A series
// with no data is absent or empty: CloudWatch reports no point for a
// minute without events.
type Provider interface {
	// Name is "cloudwatch" or "datadog".
	Name() string
	Fetch(ctx context.Context, start, end time.Time, queries []Query) (map[string]Series, error)
}
