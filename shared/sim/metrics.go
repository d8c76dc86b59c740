package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Per target group metrics, as an Application Load Balancer publishes them
// to CloudWatch (namespace AWS/ApplicationELB, dimensions TargetGroup and
// LoadBalancer), one point a minute. They follow the simulated traffic:
// each listener carries Traffic requests a minute, split between target
// groups by its default action's weights, and its preview rule carries
// OfficeTraffic to its target group. A target group's error ratio and
// latency are its healthy instances' AMIs': BadAMI raises an AMI's error
// ratio by its factor and its latency by half of it. Counts are Poisson,
// latencies log-normal, from a generator seeded once (MetricsSeed), so a
// run is reproducible.

// OpGetMetricData reads metric series.
const OpGetMetricData Op = "GetMetricData"

func init() { ops[OpGetMetricData] = opInfo{"cloudwatch", false} }

// GetMetricData's documented limits.
const (
	maxMetricDataQueries = 500
	maxDatapoints        = 100800
)

// The healthy traffic model's defaults.
const (
	DefaultTraffic       = 5000  // requests a minute on a listener
	DefaultOfficeTraffic = 40    // requests a minute on a preview rule
	BaseErrorRatio       = 0.005 // 5xx over requests of a healthy AMI
	BaseP50              = 0.040 // seconds
	BaseP99              = 0.250
)

// minutePoint is one target group's minute.
type minutePoint struct {
	at                      time.Time
	requests, errors        float64
	p50, p99                float64
	unhealthy, healthy      float64
	loadBalancer            string // the LoadBalancer dimension it was published under
	hasLatency, hasRequests bool
}

type metricsState struct {
	rng     *rand.Rand
	traffic map[string]float64 // listener ARN → requests a minute
	office  map[string]float64 // rule ARN → requests a minute
	bad     map[string]float64 // AMI → factor
	series  map[string][]minutePoint
}

// metricsKeep is how much history each target group keeps: GetMetricData
// serves one-minute points for 15 days; the simulation keeps one.
const metricsKeep = 24 * 60

// EnableMetrics starts metering: from now on every minute of every target
// group is recorded. Setting traffic, a bad AMI or a seed, or a
// GetMetricData call, enables it too. Until then the simulation spends
// nothing on metrics (the 500-app benchmarks never read them).
func (c *Cloud) EnableMetrics() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.metricState()
}

func (c *Cloud) metricState() *metricsState {
	if c.metrics == nil {
		c.metrics = &metricsState{rng: rand.New(rand.NewPCG(1, 2)), traffic: map[string]float64{}, office: map[string]float64{},
			bad: map[string]float64{}, series: map[string][]minutePoint{}}
	}
	return c.metrics
}

// MetricsSeed reseeds the metrics' noise.
func (c *Cloud) MetricsSeed(seed uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.metricState().rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// SetTraffic sets a listener's public requests a minute (DefaultTraffic
// until set; 0 for none).
func (c *Cloud) SetTraffic(listenerARN string, perMinute float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.metricState().traffic[listenerARN] = perMinute
}

// SetOfficeTraffic sets a preview rule's requests a minute.
func (c *Cloud) SetOfficeTraffic(ruleARN string, perMinute float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.metricState().office[ruleARN] = perMinute
}

// BadAMI makes an AMI's instances fail factor times as often as a healthy
// AMI's and answer (1+factor)/2 times as slowly; 1 makes it healthy.
func (c *Cloud) BadAMI(ami string, factor float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.metricState().bad[ami] = factor
}

// TargetGroupLabel is the TargetGroup dimension of a target group ARN.
func TargetGroupLabel(arn string) string {
	if i := strings.Index(arn, ":targetgroup/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// loadBalancerLabel is the LoadBalancer dimension of a listener ARN.
func loadBalancerLabel(listenerARN string) string {
	lb := loadBalancerARN(listenerARN)
	if i := strings.Index(lb, ":loadbalancer/"); i >= 0 {
		return lb[i+len(":loadbalancer/"):]
	}
	return ""
}

// forwards is a forward action's share per target group.
func forwards(actions []elbtypes.Action) map[string]float64 {
	out := map[string]float64{}
	for _, a := range actions {
		if a.Type != elbtypes.ActionTypeEnumForward {
			continue
		}
		if a.TargetGroupArn != nil {
			out[aws.ToString(a.TargetGroupArn)] = 1
			return out
		}
		if a.ForwardConfig == nil {
			continue
		}
		total := 0.0
		for _, tg := range a.ForwardConfig.TargetGroups {
			total += float64(aws.ToInt32(tg.Weight))
		}
		for _, tg := range a.ForwardConfig.TargetGroups {
			if total > 0 {
				out[aws.ToString(tg.TargetGroupArn)] += float64(aws.ToInt32(tg.Weight)) / total
			}
		}
		return out
	}
	return out
}

// poisson draws a Poisson count (normal approximation above 50).
func poisson(r *rand.Rand, mean float64) float64 {
	if mean <= 0 {
		return 0
	}
	if mean > 50 {
		return math.Max(0, math.Round(mean+math.Sqrt(mean)*r.NormFloat64()))
	}
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// meterTraffic records one step of every target group's metrics. Callers
// hold mu.
func (c *Cloud) meterTraffic(step time.Duration) {
	m := c.metrics
	if m == nil || len(c.listeners) == 0 {
		return
	}
	frac := float64(step) / float64(time.Minute)
	reqs := map[string]float64{}
	lbOf := map[string]string{}
	for _, arn := range sortedSet(c.listeners) {
		l := c.listeners[arn]
		load, ok := m.traffic[arn]
		if !ok {
			load = DefaultTraffic
		}
		for tg, share := range forwards(l.actions) {
			reqs[tg] += load * share * frac
			lbOf[tg] = loadBalancerLabel(arn)
		}
	}
	for _, arn := range sortedSet(c.rules) {
		r := c.rules[arn]
		load, ok := m.office[arn]
		if !ok {
			load = DefaultOfficeTraffic
		}
		for tg, share := range forwards(r.actions) {
			reqs[tg] += load * share * frac
			if lbOf[tg] == "" {
				lbOf[tg] = loadBalancerLabel(r.listener)
			}
		}
	}
	at := c.now.Truncate(time.Minute)
	groupsOf := map[string][]*group{}
	for _, g := range sortedSet(c.groups) {
		grp := c.groups[g]
		groupsOf[grp.targetGroup] = append(groupsOf[grp.targetGroup], grp)
	}
	for _, tg := range sortedSet(c.tgs) {
		var healthy, unhealthy, factor float64
		for _, grp := range groupsOf[tg] {
			for _, in := range grp.instances {
				switch {
				case c.healthy(in):
					healthy++
					f := m.bad[in.ami]
					if f <= 0 {
						f = 1
					}
					factor += f
				case c.inService(in):
					unhealthy++
				}
			}
		}
		if healthy == 0 && unhealthy == 0 {
			continue // no registered targets: the ALB publishes nothing
		}
		p := minutePoint{at: at, loadBalancer: lbOf[tg], healthy: healthy, unhealthy: unhealthy}
		if healthy > 0 && reqs[tg] > 0 {
			f := factor / healthy
			n := poisson(m.rng, reqs[tg])
			p.requests, p.hasRequests = n, n > 0
			p.errors = poisson(m.rng, n*math.Min(1, BaseErrorRatio*f))
			if n > 0 {
				slow := (1 + f) / 2
				p.p50 = BaseP50 * slow * math.Exp(0.05*m.rng.NormFloat64())
				p.p99 = BaseP99 * slow * math.Exp((0.08+0.5/math.Sqrt(n))*m.rng.NormFloat64())
				p.hasLatency = true
			}
		}
		s := m.series[tg]
		if k := len(s); k > 0 && s[k-1].at.Equal(at) {
			// A second step within one minute adds to it.
			last := &s[k-1]
			last.requests += p.requests
			last.errors += p.errors
			last.hasRequests = last.hasRequests || p.hasRequests
			continue
		}
		s = append(s, p)
		if len(s) > metricsKeep {
			s = append([]minutePoint(nil), s[len(s)-metricsKeep:]...)
		}
		m.series[tg] = s
	}
}

// value is a minute's statistic of a metric, and whether the ALB
// publishes a point for it (no 5xx point in a minute without one, no
// latency without requests).
func (p minutePoint) value(metric, stat string) (float64, bool) {
	switch metric {
	case "RequestCount":
		return p.requests, p.hasRequests && stat == "Sum"
	case "HTTPCode_Target_5XX_Count":
		return p.errors, p.errors > 0 && stat == "Sum"
	case "TargetResponseTime":
		switch stat {
		case "p50", "Average":
			return p.p50, p.hasLatency
		case "p99":
			return p.p99, p.hasLatency
		}
	case "UnHealthyHostCount":
		return p.unhealthy, stat == "Average" || stat == "Maximum" || stat == "Minimum"
	case "HealthyHostCount":
		return p.healthy, stat == "Average" || stat == "Maximum" || stat == "Minimum"
	}
	return 0, false
}

var metricDataID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// GetMetricData answers per target group ALB metrics (MetricStat queries
// only: an expression is answered with no data and a message), with
// CloudWatch's limits: at most 500 queries, unique ids of its pattern,
// periods in whole minutes, StartTime before EndTime, and at most 100,800
// points (or MaxDatapoints) a call, the rest behind NextToken.
func (w *CloudWatch) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return serve(w.c, ctx, OpGetMetricData, in, w.getMetricData)
}

func (w *CloudWatch) getMetricData(in *cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
	c := w.c
	if n := len(in.MetricDataQueries); n == 0 || n > maxMetricDataQueries {
		return nil, validation("The collection MetricDataQueries must not have a size greater than %d or be empty, got %d.", maxMetricDataQueries, n)
	}
	if in.StartTime == nil || in.EndTime == nil || !in.StartTime.Before(*in.EndTime) {
		return nil, validation("The parameter StartTime must be less than the parameter EndTime.")
	}
	limit := maxDatapoints
	if in.MaxDatapoints != nil && int(*in.MaxDatapoints) > 0 {
		limit = int(*in.MaxDatapoints)
	}
	ids := map[string]bool{}
	type row struct {
		id     string
		points []minutePoint
		values []float64
		msg    string
	}
	var rows []row
	m := c.metricState()
	for _, q := range in.MetricDataQueries {
		id := aws.ToString(q.Id)
		if !metricDataID.MatchString(id) {
			return nil, validation("Invalid metric data query id %q: it must start with a lower-case letter and hold only letters, digits and underscores.", id)
		}
		if ids[id] {
			return nil, validation("The values for parameter id in MetricDataQueries are not unique.")
		}
		ids[id] = true
		if (q.MetricStat == nil) == (q.Expression == nil) {
			return nil, validation("Exactly one of MetricStat and Expression must be set in query %s.", id)
		}
		r := row{id: id}
		if q.Expression != nil {
			r.msg = "the simulation does not evaluate metric math expressions"
			rows = append(rows, r)
			continue
		}
		ms := q.MetricStat
		if ms.Period == nil || *ms.Period < 60 || *ms.Period%60 != 0 || ms.Stat == nil || ms.Metric == nil {
			return nil, validation("Query %s: a MetricStat needs a Metric, a Stat and a Period in whole minutes.", id)
		}
		if *ms.Period != 60 {
			return nil, validation("Query %s: the simulation serves one-minute periods only.", id)
		}
		dims := map[string]string{}
		for _, d := range ms.Metric.Dimensions {
			dims[aws.ToString(d.Name)] = aws.ToString(d.Value)
		}
		if aws.ToString(ms.Metric.Namespace) == "AWS/ApplicationELB" && len(dims) == 2 && dims["TargetGroup"] != "" && dims["LoadBalancer"] != "" {
			for tg, s := range m.series {
				if TargetGroupLabel(tg) != dims["TargetGroup"] {
					continue
				}
				for _, p := range s {
					if p.at.Before(*in.StartTime) || !p.at.Before(*in.EndTime) || p.loadBalancer != dims["LoadBalancer"] {
						continue
					}
					if v, ok := p.value(aws.ToString(ms.Metric.MetricName), aws.ToString(ms.Stat)); ok {
						r.points = append(r.points, p)
						r.values = append(r.values, v)
					}
				}
			}
		}
		rows = append(rows, r)
	}
	// Page over the flattened points: the token is the offset.
	offset := 0
	if t := aws.ToString(in.NextToken); t != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(t, "page-"))
		if err != nil || n < 0 {
			return nil, APIError("InvalidNextToken", "The NextToken is not valid.", 0)
		}
		offset = n
	}
	out := &cloudwatch.GetMetricDataOutput{}
	pos, taken := 0, 0
	for _, r := range rows {
		res := cwtypes.MetricDataResult{Id: aws.String(r.id), Label: aws.String(r.id), StatusCode: cwtypes.StatusCodeComplete}
		if r.msg != "" {
			res.Messages = []cwtypes.MessageData{{Code: aws.String("Unsupported"), Value: aws.String(r.msg)}}
		}
		idx := make([]int, len(r.points))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool {
			if in.ScanBy == cwtypes.ScanByTimestampAscending {
				return r.points[idx[a]].at.Before(r.points[idx[b]].at)
			}
			return r.points[idx[a]].at.After(r.points[idx[b]].at)
		})
		res.Timestamps, res.Values = []time.Time{}, []float64{}
		include := pos >= offset || pos+len(idx) > offset
		for _, i := range idx {
			if pos >= offset && taken < limit {
				res.Timestamps = append(res.Timestamps, r.points[i].at)
				res.Values = append(res.Values, r.values[i])
				taken++
			} else if pos >= offset {
				res.StatusCode = cwtypes.StatusCodePartialData
			}
			pos++
		}
		if include || len(idx) == 0 && pos >= offset {
			out.MetricDataResults = append(out.MetricDataResults, res)
		}
	}
	if offset+taken < pos {
		out.NextToken = aws.String(fmt.Sprintf("page-%d", offset+taken))
	}
	return out, nil
}
