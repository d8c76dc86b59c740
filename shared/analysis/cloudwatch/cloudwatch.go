// Package cloudwatch is analysis' CloudWatch provider: every query of a
// tick in one GetMetricData call (500 queries a call, AWS's limit), over
// a narrow interface that *cloudwatch.Client satisfies and the simulator
// implements.
package cloudwatch

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/kaizen-sre/kaizen/shared/analysis"
)

// API is the one CloudWatch method analysis calls.
type API interface {
	GetMetricData(ctx context.Context, params *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

var _ API = (*cloudwatch.Client)(nil)

// MaxQueries is GetMetricData's limit of MetricDataQueries per call.
const MaxQueries = 500

// Provider fetches series from CloudWatch.
type Provider struct {
	API API
	// Calls counts the GetMetricData calls made (pages included).
	Calls int
}

var _ analysis.Provider = (*Provider)(nil)

// Name is "cloudwatch".
func (p *Provider) Name() string { return "cloudwatch" }

// idPattern is GetMetricData's rule for a query id: a lowercase letter
// first, then letters, digits and underscores.
var idPattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// Input builds the GetMetricData input of one chunk of queries: per-minute
// points, oldest first.
func Input(start, end time.Time, qs []analysis.Query) (*cloudwatch.GetMetricDataInput, error) {
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(start.UTC()), EndTime: aws.Time(end.UTC()),
		ScanBy: cwtypes.ScanByTimestampAscending,
	}
	period := int32(analysis.Period / time.Second)
	for _, q := range qs {
		if !idPattern.MatchString(q.ID) {
			return nil, fmt.Errorf("query id %q: GetMetricData ids start with a lowercase letter and hold only letters, digits and underscores", q.ID)
		}
		d := cwtypes.MetricDataQuery{Id: aws.String(q.ID), ReturnData: aws.Bool(true)}
		switch {
		case q.Expression != "":
			d.Expression = aws.String(q.Expression)
			d.Period = aws.Int32(period)
		case q.MetricName != "" && q.Namespace != "":
			m := &cwtypes.Metric{Namespace: aws.String(q.Namespace), MetricName: aws.String(q.MetricName)}
			for _, dim := range q.Dimensions {
				m.Dimensions = append(m.Dimensions, cwtypes.Dimension{Name: aws.String(dim.Name), Value: aws.String(dim.Value)})
			}
			stat := q.Stat
			if stat == "" {
				stat = "Sum"
			}
			d.MetricStat = &cwtypes.MetricStat{Metric: m, Period: aws.Int32(period), Stat: aws.String(stat)}
		default:
			return nil, fmt.Errorf("query %s names neither a metric (namespace and metricName) nor an expression", q.ID)
		}
		in.MetricDataQueries = append(in.MetricDataQueries, d)
	}
	return in, nil
}

// Fetch gets every query's per-minute points in [start, end): one call a
// MaxQueries queries, plus a call for each further page AWS asks for.
func (p *Provider) Fetch(ctx context.Context, start, end time.Time, qs []analysis.Query) (map[string]analysis.Series, error) {
	out := map[string]analysis.Series{}
	for lo := 0; lo < len(qs); lo += MaxQueries {
		in, err := Input(start, end, qs[lo:min(lo+MaxQueries, len(qs))])
		if err != nil {
			return nil, err
		}
		for {
			p.Calls++
			res, err := p.API.GetMetricData(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("get metric data: %w", err)
			}
			for _, r := range res.MetricDataResults {
				id := aws.ToString(r.Id)
				switch r.StatusCode {
				case cwtypes.StatusCodeInternalError, cwtypes.StatusCodeForbidden:
					msg := ""
					if len(r.Messages) > 0 {
						msg = ": " + aws.ToString(r.Messages[0].Value)
					}
					return nil, fmt.Errorf("get metric data: query %s: %s%s", id, r.StatusCode, msg)
				}
				if len(r.Timestamps) != len(r.Values) {
					return nil, fmt.Errorf("get metric data: query %s: %d timestamps for %d values", id, len(r.Timestamps), len(r.Values))
				}
				s := out[id]
				for i, at := range r.Timestamps {
					s = append(s, analysis.Point{At: at.UTC(), Value: r.Values[i]})
				}
				out[id] = s
			}
			if res.NextToken == nil || aws.ToString(res.NextToken) == "" {
				break
			}
			in.NextToken = res.NextToken
		}
	}
	for _, s := range out {
		s.Sort()
	}
	return out, nil
}
