package cloudwatch

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/kaizen-sre/kaizen/shared/analysis"
)

var (
	t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(10 * time.Minute)
)

func query(id string) analysis.Query {
	return analysis.Query{ID: id, Namespace: "AWS/ApplicationELB", MetricName: "RequestCount", Stat: "Sum",
		Dimensions: []analysis.Dimension{{Name: "TargetGroup", Value: "targetgroup/shop-green/0123"}, {Name: "LoadBalancer", Value: "app/shop/abcd"}}}
}

// The real SDK client, with a middleware that captures the input the
// provider builds and answers in place of AWS: the exact API input is
// checked, and *cloudwatch.Client is what Fetch calls.
func TestRealClientInput(t *testing.T) {
	var got []*cloudwatch.GetMetricDataInput
	answer := middleware.InitializeMiddlewareFunc("answer", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		gin := in.Parameters.(*cloudwatch.GetMetricDataInput)
		got = append(got, gin)
		out := &cloudwatch.GetMetricDataOutput{}
		for _, q := range gin.MetricDataQueries {
			out.MetricDataResults = append(out.MetricDataResults, cwtypes.MetricDataResult{Id: q.Id, StatusCode: cwtypes.StatusCodeComplete,
				Timestamps: []time.Time{t0.Add(time.Minute), t0}, Values: []float64{7, 5}})
		}
		return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, nil
	})
	client := cloudwatch.New(cloudwatch.Options{Region: "eu-west-1", Credentials: aws.AnonymousCredentials{},
		APIOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error { return s.Initialize.Add(answer, middleware.Before) }}})
	p := &Provider{API: client}
	expr := analysis.Query{ID: "e1", Expression: `SUM(SEARCH('{AWS/ApplicationELB,TargetGroup} TargetGroup="targetgroup/shop-green/0123"', 'Sum', 60))`}
	series, err := p.Fetch(context.Background(), t0, t1, []analysis.Query{query("q0"), expr})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || p.Calls != 1 {
		t.Fatalf("%d calls, want 1", len(got))
	}
	in := got[0]
	if !aws.ToTime(in.StartTime).Equal(t0) || !aws.ToTime(in.EndTime).Equal(t1) || in.ScanBy != cwtypes.ScanByTimestampAscending {
		t.Errorf("window %v–%v scan %s", in.StartTime, in.EndTime, in.ScanBy)
	}
	q := in.MetricDataQueries[0]
	ms := q.MetricStat
	if aws.ToString(q.Id) != "q0" || ms == nil || aws.ToString(ms.Stat) != "Sum" || aws.ToInt32(ms.Period) != 60 ||
		aws.ToString(ms.Metric.Namespace) != "AWS/ApplicationELB" || aws.ToString(ms.Metric.MetricName) != "RequestCount" ||
		len(ms.Metric.Dimensions) != 2 || aws.ToString(ms.Metric.Dimensions[0].Value) != "targetgroup/shop-green/0123" || !aws.ToBool(q.ReturnData) {
		t.Errorf("metric query %+v", q)
	}
	e := in.MetricDataQueries[1]
	if e.MetricStat != nil || !strings.HasPrefix(aws.ToString(e.Expression), "SUM(SEARCH(") || aws.ToInt32(e.Period) != 60 {
		t.Errorf("expression query %+v", e)
	}
	s := series["q0"]
	if len(s) != 2 || !s[0].At.Equal(t0) || s[0].Value != 5 || s[1].Value != 7 {
		t.Errorf("series not in time order: %+v", s)
	}
}

// fake answers from a table and pages its answer.
type fake struct {
	calls    []*cloudwatch.GetMetricDataInput
	pageSize int
	status   cwtypes.StatusCode
}

func (f *fake) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	f.calls = append(f.calls, in)
	if len(in.MetricDataQueries) > MaxQueries {
		return nil, fmt.Errorf("ValidationError: %d queries, at most %d", len(in.MetricDataQueries), MaxQueries)
	}
	// Each query has two points; a page holds pageSize points.
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &start)
	}
	out := &cloudwatch.GetMetricDataOutput{}
	n := 0
	for i, q := range in.MetricDataQueries {
		for k := range 2 {
			idx := 2*i + k
			if idx < start || n >= f.pageSize {
				continue
			}
			n++
			st := f.status
			if st == "" {
				st = cwtypes.StatusCodeComplete
			}
			out.MetricDataResults = append(out.MetricDataResults, cwtypes.MetricDataResult{Id: q.Id, StatusCode: st,
				Timestamps: []time.Time{t0.Add(time.Duration(k) * time.Minute)}, Values: []float64{float64(k + 1)}})
		}
	}
	if next := start + n; next < 2*len(in.MetricDataQueries) {
		out.NextToken = aws.String(fmt.Sprint(next))
	}
	return out, nil
}

func TestChunksAndPages(t *testing.T) {
	var qs []analysis.Query
	for i := range 1100 {
		qs = append(qs, query(fmt.Sprintf("q%d", i)))
	}
	f := &fake{pageSize: 1500}
	p := &Provider{API: f}
	series, err := p.Fetch(context.Background(), t0, t1, qs)
	if err != nil {
		t.Fatal(err)
	}
	// 1100 queries: chunks of 500, 500, 100; the first two need two pages
	// each (1000 points, 1500 a page: no), so three calls.
	if len(f.calls) != 3 || p.Calls != 3 {
		t.Fatalf("%d calls for 1100 queries, want 3", len(f.calls))
	}
	f2 := &fake{pageSize: 600}
	p2 := &Provider{API: f2}
	series2, err := p2.Fetch(context.Background(), t0, t1, qs)
	if err != nil {
		t.Fatal(err)
	}
	// 1000 points a chunk at 600 a page: two pages each; 200: one.
	if len(f2.calls) != 5 {
		t.Fatalf("%d calls with paging, want 5", len(f2.calls))
	}
	for _, s := range []map[string]analysis.Series{series, series2} {
		if len(s) != 1100 || len(s["q1099"]) != 2 || s["q7"][1].Value != 2 {
			t.Fatalf("series lost in paging: %d series, q1099 %+v", len(s), s["q1099"])
		}
	}
}

func TestBadInput(t *testing.T) {
	f := &fake{pageSize: 10}
	p := &Provider{API: f}
	for _, q := range []analysis.Query{{ID: "Q0", Namespace: "n", MetricName: "m"}, {ID: "0q", Namespace: "n", MetricName: "m"}, {ID: "q-1", Namespace: "n", MetricName: "m"}, {ID: "q1"}} {
		if _, err := p.Fetch(context.Background(), t0, t1, []analysis.Query{q}); err == nil {
			t.Errorf("query %+v accepted", q)
		}
	}
	if len(f.calls) != 0 {
		t.Fatalf("bad input made %d calls", len(f.calls))
	}
	f.status = cwtypes.StatusCodeForbidden
	if _, err := p.Fetch(context.Background(), t0, t1, []analysis.Query{query("q0")}); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("a forbidden result: %v", err)
	}
}
