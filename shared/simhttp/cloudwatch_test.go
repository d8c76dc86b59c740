package simhttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/rpcv2"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

// cwClient is the SDK's CloudWatch client pointed at the test server, one
// attempt.
func (e *env) cwClient() *cloudwatch.Client {
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "")
	return cloudwatch.New(cloudwatch.Options{Region: region, BaseEndpoint: aws.String(e.srv.URL), Credentials: creds, RetryMaxAttempts: 1})
}

// utc sets every time.Time reachable from v (a pointer) to UTC: the SDK
// decodes CBOR timestamps in the local zone, the simulation keeps UTC.
func utc(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			utc(v.Elem())
		}
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			if v.CanSet() {
				v.Set(reflect.ValueOf(t.UTC()))
			}
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				utc(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			utc(v.Index(i))
		}
	}
}

// sameOutput compares two outputs without their result metadata.
func sameOutput[T any](got, want *T) bool {
	g, w := *got, *want
	for _, p := range []*T{&g, &w} {
		if f := reflect.ValueOf(p).Elem().FieldByName("ResultMetadata"); f.IsValid() {
			f.Set(reflect.ValueOf(middleware.Metadata{}))
		}
		utc(reflect.ValueOf(p))
	}
	return reflect.DeepEqual(g, w)
}

// The approval evidence's alarm states read through the SDK over HTTP
// match the in-process simulation, metric and composite alarms alike,
// and the input arrives as sent.
func TestDescribeAlarmsThroughSDK(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.cloud.SetAlarm("shop-5xx-rate", "OK", "Threshold Crossed: no datapoints were breaching", false)
	e.cloud.Advance(90*time.Second + 250*time.Millisecond)
	e.cloud.SetAlarm("shop-p99-latency", "ALARM", "Threshold Crossed: 3 datapoints [0.9, 0.8, 1.2] were greater than 0.5", false)
	e.cloud.SetAlarm("shop-health", "INSUFFICIENT_DATA", "", true)
	cw := e.cwClient()

	names := []string{"shop-5xx-rate", "shop-p99-latency", "shop-health", "shop-gone"}
	got, err := (&cloud.Fleet{CW: cw}).AlarmStates(ctx, names)
	if err != nil {
		t.Fatalf("AlarmStates over HTTP: %v", err)
	}
	want, err := (&cloud.Fleet{CW: e.cloud.CloudWatch()}).AlarmStates(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i].Since = got[i].Since.UTC()
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("alarm states over HTTP:\n got %s\nwant %s", js(got), js(want))
	}
	if got[1].State != "ALARM" || got[2].State != "INSUFFICIENT_DATA" || got[3].State != release.AlarmMissing ||
		!got[1].Since.Equal(start.Add(90*time.Second+250*time.Millisecond)) {
		t.Fatalf("alarm states: %s", js(got))
	}

	in := &cloudwatch.DescribeAlarmsInput{AlarmNames: names, AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeCompositeAlarm, cwtypes.AlarmTypeMetricAlarm}, MaxRecords: aws.Int32(50)}
	out, err := cw.DescribeAlarms(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if sent := lastInput(t, e.cloud, "DescribeAlarms"); !reflect.DeepEqual(sent, in) {
		t.Errorf("DescribeAlarms input arrived as %s, sent %s", js(sent), js(in))
	}
	local, _ := e.cloud.CloudWatch().DescribeAlarms(ctx, in)
	if !sameOutput(out, local) || len(out.MetricAlarms) != 2 || len(out.CompositeAlarms) != 1 {
		t.Errorf("DescribeAlarms over HTTP:\n got %s\nwant %s", js(out), js(local))
	}
	// Metric alarms only, by default; a prefix instead of names. The
	// seeded app has three metric alarms.
	byPrefix := &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("shop-")}
	out, err = cw.DescribeAlarms(ctx, byPrefix)
	local, _ = e.cloud.CloudWatch().DescribeAlarms(ctx, byPrefix)
	if err != nil || !sameOutput(out, local) || len(out.MetricAlarms) != 3 || len(out.CompositeAlarms) != 0 {
		t.Errorf("DescribeAlarms by prefix: %s, %v", js(out), err)
	}
}

// GetMetricData over HTTP answers what the simulation answers in process:
// several queries, an expression the simulation declines, ascending scan.
func TestGetMetricDataThroughSDK(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.cloud.MetricsSeed(3)
	for range 10 {
		e.cloud.Advance(time.Minute)
	}
	listener := e.app.ListenerARN
	_, lbPath, _ := strings.Cut(listener, ":listener/")
	lb := lbPath[:strings.LastIndex(lbPath, "/")]
	dims := []cwtypes.Dimension{
		{Name: aws.String("TargetGroup"), Value: aws.String(sim.TargetGroupLabel(e.app.Blue.TargetGroupARN))},
		{Name: aws.String("LoadBalancer"), Value: aws.String(lb)},
	}
	stat := func(id, metric, st string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(true), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String(metric), Dimensions: dims},
			Period: aws.Int32(60), Stat: aws.String(st),
		}}
	}
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(start), EndTime: aws.Time(e.cloud.Now()), ScanBy: cwtypes.ScanByTimestampAscending,
		LabelOptions: &cwtypes.LabelOptions{Timezone: aws.String("+0000")},
		MetricDataQueries: []cwtypes.MetricDataQuery{
			stat("requests", "RequestCount", "Sum"),
			stat("p99", "TargetResponseTime", "p99"),
			stat("healthy", "HealthyHostCount", "Average"),
			{Id: aws.String("ratio"), Expression: aws.String("100 * requests / requests"), Label: aws.String("ratio")},
		},
	}
	out, err := e.cwClient().GetMetricData(ctx, in)
	if err != nil {
		t.Fatalf("GetMetricData over HTTP: %v", err)
	}
	if sent := lastInput(t, e.cloud, "GetMetricData"); !reflect.DeepEqual(sent, in) {
		t.Errorf("GetMetricData input arrived as %s, sent %s", js(sent), js(in))
	}
	local, err := e.cloud.CloudWatch().GetMetricData(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !sameOutput(out, local) {
		t.Fatalf("GetMetricData over HTTP:\n got %s\nwant %s", js(out), js(local))
	}
	if len(out.MetricDataResults) != 4 || len(out.MetricDataResults[0].Values) < 8 || len(out.MetricDataResults[3].Messages) != 1 {
		t.Fatalf("GetMetricData: want four results, minutes of requests and a message for the expression: %s", js(out))
	}
	r := out.MetricDataResults[0]
	if len(r.Timestamps) != len(r.Values) || !r.Timestamps[0].Before(r.Timestamps[1]) || r.Values[0] < 100 {
		t.Errorf("requests: %v at %v", r.Values, r.Timestamps)
	}
}

// Errors keep the simulation's codes, modeled ones decode to the SDK's
// error types, and requests simhttp cannot serve are refused with a
// message naming the problem, changing nothing.
func TestCloudWatchErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cw := e.cwClient()

	// An empty list passes the SDK's own checks (it rejects a missing one).
	_, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(start), EndTime: aws.Time(start.Add(time.Hour)), MetricDataQueries: []cwtypes.MetricDataQuery{}})
	if code := errorCode(t, err); code != "ValidationError" || !strings.Contains(err.Error(), "MetricDataQueries") {
		t.Errorf("no queries: %s %v", code, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorFault() != smithy.FaultClient {
		t.Errorf("ValidationError fault %v, want client", ae.ErrorFault())
	}

	_, err = cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"a"}, AlarmNamePrefix: aws.String("a")})
	var combo *cwtypes.InvalidParameterCombinationException
	if !errors.As(err, &combo) || combo.ErrorCode() != "InvalidParameterCombination" || !strings.Contains(combo.ErrorMessage(), "cannot be used together") {
		t.Errorf("names and prefix: %v (%T)", err, err)
	}
	_, err = cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(start), EndTime: aws.Time(start.Add(time.Hour)), NextToken: aws.String("bogus"),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("q"), Expression: aws.String("1")}}})
	var tok *cwtypes.InvalidNextToken
	if !errors.As(err, &tok) || tok.ErrorCode() != "InvalidNextToken" {
		t.Errorf("bad token: %v (%T)", err, err)
	}
	e.cloud.Fail(sim.OpDescribeAlarms, sim.ServerError(), 1)
	_, err = cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	if errors.As(err, &ae); ae == nil || ae.ErrorFault() != smithy.FaultServer {
		t.Errorf("injected server error: %v", err)
	}

	before := len(e.cloud.Calls())
	post := func(path, protocol string, body []byte) (int, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
		if protocol != "" {
			req.Header.Set("Smithy-Protocol", protocol)
		}
		req.Header.Set("Content-Type", "application/cbor")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		v, err := cbor.Decode(b)
		m, ok := v.(cbor.Map)
		if err != nil || !ok || resp.Header.Get("Content-Type") != "application/cbor" {
			t.Fatalf("POST %s: the error body is not a CBOR map (%v): %x", path, err, b)
		}
		out := map[string]string{"query": resp.Header.Get("X-Amzn-Query-Error")}
		for k, v := range m {
			if s, ok := v.(cbor.String); ok {
				out[k] = string(s)
			}
		}
		return resp.StatusCode, out
	}
	emptyQuery := cbor.Encode(cbor.Map{})
	for _, tc := range []struct {
		name, path, protocol string
		body                 []byte
		status               int
		typ, want            string
	}{
		{"an operation not served", "/service/GraniteServiceVersion20100801/operation/PutMetricData", "rpc-v2-cbor", emptyQuery, 404, "UnknownOperationException", `"PutMetricData"`},
		{"another service", "/service/DynamoDB_20120810/operation/GetItem", "rpc-v2-cbor", emptyQuery, 404, "UnknownOperationException", `"DynamoDB_20120810"`},
		{"no protocol header", "/service/GraniteServiceVersion20100801/operation/DescribeAlarms", "", emptyQuery, 400, "SerializationException", "smithy-protocol"},
		{"not CBOR", "/service/GraniteServiceVersion20100801/operation/DescribeAlarms", "rpc-v2-cbor", []byte{0xbf, 0x61}, 400, "SerializationException", "not CBOR"},
		{"a member of the wrong type", "/service/GraniteServiceVersion20100801/operation/DescribeAlarms", "rpc-v2-cbor",
			cbor.Encode(cbor.Map{"AlarmNames": cbor.String("shop-5xx-rate")}), 400, "SerializationException", "AlarmNames: expected a CBOR list"},
		{"a timestamp without its tag", "/service/GraniteServiceVersion20100801/operation/GetMetricData", "rpc-v2-cbor",
			cbor.Encode(cbor.Map{"StartTime": cbor.Uint(1700000000)}), 400, "SerializationException", "StartTime"},
	} {
		status, got := post(tc.path, tc.protocol, tc.body)
		if status != tc.status || got["__type"] != tc.typ || !strings.Contains(got["message"], tc.want) || got["query"] != tc.typ+";Sender" {
			t.Errorf("%s: HTTP %d %v; want %d %s naming %s", tc.name, status, got, tc.status, tc.typ, tc.want)
		}
	}
	if n := len(e.cloud.Calls()) - before; n != 0 {
		t.Errorf("refused requests reached the simulation %d times", n)
	}
	// A modeled error carries its shape ID.
	status, got := post("/service/GraniteServiceVersion20100801/operation/DescribeAlarms", "rpc-v2-cbor",
		cbor.Encode(cbor.Map{"AlarmNames": cbor.List{cbor.String("a")}, "AlarmNamePrefix": cbor.String("a")}))
	if status != 400 || got["__type"] != "com.amazonaws.cloudwatch#InvalidParameterCombinationException" || got["query"] != "InvalidParameterCombination;Sender" {
		t.Errorf("modeled error: HTTP %d %v", status, got)
	}
}

// The codec against the SDK's own RPC v2 CBOR protocol, with values
// richer than the simulation produces: every alarm field kaizen might
// read, nested metric queries, a union, maps, floats, negative numbers.
func TestCBORCodecMatchesSDK(t *testing.T) {
	ctx := context.Background()
	proto := rpcv2.NewCBOR(cwschemas.GraniteServiceVersion20100801)
	when := time.Date(2025, 3, 1, 9, 30, 15, 250e6, time.UTC)
	query := cwtypes.MetricDataQuery{Id: aws.String("m1"), Label: aws.String("5xx"), ReturnData: aws.Bool(false), Period: aws.Int32(60), AccountId: aws.String("111122223333"),
		MetricStat: &cwtypes.MetricStat{Period: aws.Int32(60), Stat: aws.String("p99.9"), Unit: cwtypes.StandardUnitSeconds,
			Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("TargetResponseTime"),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("TargetGroup"), Value: aws.String("targetgroup/shop-blue/0123")}}}}}

	// Outputs: what the server encodes, the SDK decodes.
	sent := &cloudwatch.DescribeAlarmsOutput{NextToken: aws.String("n"), MetricAlarms: []cwtypes.MetricAlarm{{
		AlarmName: aws.String("shop-5xx-rate"), StateValue: cwtypes.StateValueAlarm, StateTransitionedTimestamp: aws.Time(when),
		Threshold: aws.Float64(-0.5), EvaluationPeriods: aws.Int32(3), DatapointsToAlarm: aws.Int32(2), ActionsEnabled: aws.Bool(true),
		AlarmActions: []string{"arn:aws:sns:eu-west-1:111122223333:a", "arn:b"}, OKActions: []string{}, Dimensions: []cwtypes.Dimension{},
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, Metrics: []cwtypes.MetricDataQuery{query},
		EvaluationCriteria: &cwtypes.EvaluationCriteriaMemberPromQLCriteria{Value: cwtypes.AlarmPromQLCriteria{Query: aws.String("up == 0"), PendingPeriod: aws.Int32(-60)}},
	}}, CompositeAlarms: []cwtypes.CompositeAlarm{{AlarmName: aws.String("c"), AlarmRule: aws.String("ALARM(a)"), StateUpdatedTimestamp: aws.Time(when.Add(-time.Hour))}}}
	enc := &cborEncoder{}
	sent.Serialize(enc)
	if enc.err != nil {
		t.Fatal(enc.err)
	}
	resp := &smithyhttp.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(enc.Bytes()))}}
	got := &cloudwatch.DescribeAlarmsOutput{}
	op := smithy.NewOperationSchema(cwschemas.DescribeAlarms, cwschemas.DescribeAlarmsInput, cwschemas.DescribeAlarmsOutput)
	if err := proto.DeserializeResponse(ctx, op, cloudwatch.TypeRegistry, resp, got); err != nil {
		t.Fatalf("the SDK cannot decode the encoded output: %v", err)
	}
	if !sameOutput(got, sent) {
		t.Errorf("DescribeAlarmsOutput:\n got %s\nsent %s", js(got), js(sent))
	}

	// Inputs: what the SDK encodes, the server decodes.
	in := &cloudwatch.GetMetricDataInput{StartTime: aws.Time(when), EndTime: aws.Time(when.Add(time.Hour)), MaxDatapoints: aws.Int32(100),
		NextToken: aws.String("page-3"), ScanBy: cwtypes.ScanByTimestampDescending, LabelOptions: &cwtypes.LabelOptions{Timezone: aws.String("-0130")},
		MetricDataQueries: []cwtypes.MetricDataQuery{query, {Id: aws.String("e"), Expression: aws.String("m1 * 2"), ReturnData: aws.Bool(true)}}}
	req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	gop := smithy.NewOperationSchema(cwschemas.GetMetricData, cwschemas.GetMetricDataInput, cwschemas.GetMetricDataOutput)
	if err := proto.SerializeRequest(ctx, gop, in, req); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(req.GetStream())
	if err != nil {
		t.Fatal(err)
	}
	v, err := cbor.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	decoded := &cloudwatch.GetMetricDataInput{}
	if err := decodeInput(&cborDecoder{next: v, pending: true}, cwschemas.GetMetricDataInput, decoded); err != nil {
		t.Fatalf("decode the SDK's request: %v", err)
	}
	if !reflect.DeepEqual(decoded, in) {
		t.Errorf("GetMetricDataInput:\n got %s\nsent %s", js(decoded), js(in))
	}
}

// POST /_sim/alarm moves an alarm as CloudWatch's evaluation would; bad
// bodies are refused with a message naming the problem and change nothing.
func TestAdminAlarm(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(e.srv.URL+"/_sim/alarm", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	states := func() string {
		t.Helper()
		got, err := (&cloud.Fleet{CW: e.cwClient()}).AlarmStates(ctx, []string{"shop-5xx-rate", "shop-health"})
		if err != nil {
			t.Fatal(err)
		}
		return got[0].State + " " + got[1].State
	}
	before := states()
	for _, tc := range []struct{ body, want string }{
		{`{"name":"shop-5xx-rate","state":"FIRING"}`, `state must be one of [OK ALARM INSUFFICIENT_DATA], got \"FIRING\"`},
		{`{"state":"ALARM"}`, "name must hold 1 to 255 characters"},
		{`{"name":"shop-5xx-rate","state":"ALARM","colour":"red"}`, `unknown field \"colour\"`},
		{`not json`, "body: "},
	} {
		if status, body := post(tc.body); status != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("POST /_sim/alarm %s: HTTP %d %s; want 400 naming %s", tc.body, status, body, tc.want)
		}
	}
	if got := states(); got != before || before != "OK MISSING" {
		t.Fatalf("refused requests changed the alarms: %s, before %s", got, before)
	}
	if status, body := post(`{"name":"shop-5xx-rate","state":"ALARM","reason":"test"}`); status != http.StatusOK || !strings.Contains(body, `"state":"ALARM"`) {
		t.Fatalf("POST /_sim/alarm: HTTP %d %s", status, body)
	}
	if status, _ := post(`{"name":"shop-health","state":"OK","composite":true}`); status != http.StatusOK {
		t.Fatalf("POST /_sim/alarm composite: HTTP %d", status)
	}
	if got := states(); got != "ALARM OK" {
		t.Errorf("after POST /_sim/alarm the alarms read %q over HTTP, want ALARM OK", got)
	}
	out, err := e.cwClient().DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"shop-health"}, AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeCompositeAlarm}})
	if err != nil || len(out.CompositeAlarms) != 1 {
		t.Errorf("shop-health is not a composite alarm: %v %v", out, err)
	}
}
