package sim_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/sim"
)

const (
	mListener = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2"
	mBlue     = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web-blue/0123456789abcdef"
	mGreen    = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web-green/fedcba9876543210"
)

// metricsCloud: blue on a good AMI, green on a bad one (3×), the public
// split 90/10.
func metricsCloud(t *testing.T) *sim.Cloud {
	t.Helper()
	c := sim.New(t0)
	good := c.AddImage("golden-1", t0, nil)
	bad := c.AddImage("golden-2", t0, nil)
	c.AddLaunchTemplate("lt-0b1e0000000000001", "web-blue", good)
	c.AddLaunchTemplate("lt-06e0000000000002", "web-green", bad)
	c.AddTargetGroup(mBlue)
	c.AddTargetGroup(mGreen)
	c.AddGroup("web-blue", "lt-0b1e0000000000001", "1", mBlue, 2, 2, 4)
	c.AddGroup("web-green", "lt-06e0000000000002", "1", mGreen, 2, 2, 4)
	c.AddListener(mListener, mBlue)
	c.BadAMI(bad, 3)
	_, err := c.ELBv2().ModifyListener(context.Background(), &elbv2.ModifyListenerInput{ListenerArn: aws.String(mListener),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{
			TargetGroups: []elbtypes.TargetGroupTuple{{TargetGroupArn: aws.String(mBlue), Weight: aws.Int32(90)}, {TargetGroupArn: aws.String(mGreen), Weight: aws.Int32(10)}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetTraffic(mListener, 10000)
	c.Advance(60 * time.Minute)
	return c
}

func mq(id, tg, metric, stat string) cwtypes.MetricDataQuery {
	return cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{Period: aws.Int32(60), Stat: aws.String(stat),
		Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String(metric), Dimensions: []cwtypes.Dimension{
			{Name: aws.String("TargetGroup"), Value: aws.String(sim.TargetGroupLabel(tg))}, {Name: aws.String("LoadBalancer"), Value: aws.String("app/web/50dc6c495c0c9188")}}}}}
}

func total(r cwtypes.MetricDataResult) float64 {
	s := 0.0
	for _, v := range r.Values {
		s += v
	}
	return s
}

func TestMetricsFollowTrafficAndBadAMI(t *testing.T) {
	c := metricsCloud(t)
	cw := c.CloudWatch()
	out, err := cw.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(time.Hour)),
		ScanBy: cwtypes.ScanByTimestampAscending,
		MetricDataQueries: []cwtypes.MetricDataQuery{
			mq("rb", mBlue, "RequestCount", "Sum"), mq("rg", mGreen, "RequestCount", "Sum"),
			mq("eb", mBlue, "HTTPCode_Target_5XX_Count", "Sum"), mq("eg", mGreen, "HTTPCode_Target_5XX_Count", "Sum"),
			mq("lb", mBlue, "TargetResponseTime", "p99"), mq("lg", mGreen, "TargetResponseTime", "p99"),
		}})
	if err != nil {
		t.Fatal(err)
	}
	r := map[string]cwtypes.MetricDataResult{}
	for _, x := range out.MetricDataResults {
		r[aws.ToString(x.Id)] = x
	}
	rb, rg := total(r["rb"]), total(r["rg"])
	if len(r["rb"].Values) != 60 || rb < 500000 || rb > 580000 || rg < 50000 || rg > 70000 {
		t.Fatalf("requests blue %g (%d points), green %g: want about 540000 and 60000", rb, len(r["rb"].Values), rg)
	}
	eb, eg := total(r["eb"])/rb, total(r["eg"])/rg
	if eb < 0.004 || eb > 0.006 || eg < 2.5*eb || eg > 3.5*eb {
		t.Fatalf("error ratio blue %.4f green %.4f: want 0.005 and three times it", eb, eg)
	}
	if lg, lb := total(r["lg"]), total(r["lb"]); lg < 1.7*lb || lg > 2.3*lb {
		t.Fatalf("p99 green %g blue %g: want twice as slow", lg, lb)
	}
	if !r["rb"].Timestamps[0].Equal(t0) || !r["rb"].Timestamps[59].Equal(t0.Add(59*time.Minute)) {
		t.Fatalf("timestamps %v … %v", r["rb"].Timestamps[0], r["rb"].Timestamps[59])
	}
	// A wrong LoadBalancer dimension is another metric: no data.
	q := mq("x", mBlue, "RequestCount", "Sum")
	q.MetricStat.Metric.Dimensions[1].Value = aws.String("app/other/1")
	out, err = cw.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(time.Hour)), MetricDataQueries: []cwtypes.MetricDataQuery{q}})
	if err != nil || len(out.MetricDataResults) != 1 || len(out.MetricDataResults[0].Values) != 0 {
		t.Fatalf("another load balancer's metric: %v %+v", err, out)
	}
}

func TestGetMetricDataLimits(t *testing.T) {
	c := metricsCloud(t)
	cw := c.CloudWatch()
	ctx := context.Background()
	window := func(qs ...cwtypes.MetricDataQuery) *cloudwatch.GetMetricDataInput {
		return &cloudwatch.GetMetricDataInput{StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(time.Hour)), MetricDataQueries: qs}
	}
	var many []cwtypes.MetricDataQuery
	for i := range 501 {
		many = append(many, mq(fmt.Sprintf("q%d", i), mBlue, "RequestCount", "Sum"))
	}
	bad := map[string]*cloudwatch.GetMetricDataInput{
		"501 queries":   window(many...),
		"duplicate ids": window(mq("a", mBlue, "RequestCount", "Sum"), mq("a", mGreen, "RequestCount", "Sum")),
		"bad id":        window(mq("A1", mBlue, "RequestCount", "Sum")),
		"end first":     {StartTime: aws.Time(t0.Add(time.Hour)), EndTime: aws.Time(t0), MetricDataQueries: []cwtypes.MetricDataQuery{mq("a", mBlue, "RequestCount", "Sum")}},
		"both":          window(cwtypes.MetricDataQuery{Id: aws.String("a"), Expression: aws.String("m1"), MetricStat: mq("a", mBlue, "RequestCount", "Sum").MetricStat}),
	}
	for name, in := range bad {
		var ae smithy.APIError
		if _, err := cw.GetMetricData(ctx, in); !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" {
			t.Errorf("%s: %v, want a ValidationError", name, err)
		}
	}
	// 500 queries of 60 points at 1000 points a page: 30 pages.
	in := window(many[:500]...)
	in.MaxDatapoints = aws.Int32(1000)
	pages, points := 0, 0
	for {
		out, err := cw.GetMetricData(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range out.MetricDataResults {
			points += len(r.Values)
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if pages != 30 || points != 30000 {
		t.Fatalf("%d pages, %d points; want 30 and 30000", pages, points)
	}
}
