package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/kaizen-sre/kaizen/infra/stacks"
	"github.com/kaizen-sre/kaizen/shared/emf"
	"github.com/kaizen-sre/kaizen/shared/route"
)

func TestHealth(t *testing.T) {
	s := full(t)
	k := s.stacks.Kaizen
	tpl := s.template(k.Stack)
	topicID := logicalID(k.OpsTopic)

	t.Run("one dashboard graphs every metric kaizen writes", func(t *testing.T) {
		dash := resources(tpl, "AWS::CloudWatch::Dashboard")
		if len(dash) != 1 {
			t.Fatalf("%d dashboards", len(dash))
		}
		var body string
		for _, d := range dash {
			b, _ := json.Marshal(props(d)["DashboardBody"])
			body = string(b)
		}
		for _, m := range emf.All {
			if !strings.Contains(body, `\"`+emf.Namespace+`\",\"`+m+`\"`) {
				t.Errorf("the dashboard does not graph %s/%s", emf.Namespace, m)
			}
		}
		// Every function's dead-letter queue, and every alarm of kaizen's.
		for _, fn := range route.Functions {
			if !strings.Contains(body, logicalID(k.Functions[fn].DeadLetters)) {
				t.Errorf("the dashboard does not show %s's dead-letter queue", fn)
			}
		}
		for _, id := range []string{logicalID(k.Health.NoTick), logicalID(k.Health.Stuck)} {
			if !strings.Contains(body, id) {
				t.Errorf("the dashboard does not list alarm %s", id)
			}
		}
	})

	alarm := func(t *testing.T, metric string) map[string]any {
		t.Helper()
		var found []map[string]any
		for _, a := range resources(tpl, "AWS::CloudWatch::Alarm") {
			if p := props(a); p["Namespace"] == emf.Namespace && p["MetricName"] == metric {
				found = append(found, p)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%d alarms on %s", len(found), metric)
		}
		p := found[0]
		if actions, _ := p["AlarmActions"].([]any); len(actions) != 1 || ref(actions[0]) == "" || ref(actions[0]) != topicID {
			t.Errorf("%s: alarm actions %v, want the ops topic", metric, p["AlarmActions"])
		}
		if d, _ := p["Dimensions"].([]any); len(d) != 0 {
			t.Errorf("%s: dimensions %v, want the total", metric, d)
		}
		return p
	}
	t.Run("no tick completed in 5 minutes raises an alarm, missing data too", func(t *testing.T) {
		p := alarm(t, emf.TicksCompleted)
		if p["Statistic"] != "Sum" || p["Period"] != 300.0 || p["EvaluationPeriods"] != 1.0 || p["Threshold"] != 1.0 ||
			p["ComparisonOperator"] != "LessThanThreshold" || p["TreatMissingData"] != "breaching" {
			t.Errorf("no-tick alarm %v", p)
		}
	})
	t.Run("a release past its state's bound raises an alarm", func(t *testing.T) {
		p := alarm(t, emf.ReleasesPastBound)
		if p["Statistic"] != "Maximum" || p["Threshold"] != 1.0 || p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || p["TreatMissingData"] != "notBreaching" {
			t.Errorf("stuck alarm %v", p)
		}
	})
	t.Run("every function's dead-letter queue alarms as soon as it holds a message", func(t *testing.T) {
		for _, fn := range route.Functions {
			q := logicalID(k.Functions[fn].DeadLetters)
			ok := false
			for _, a := range resources(tpl, "AWS::CloudWatch::Alarm") {
				p := props(a)
				dims, _ := p["Dimensions"].([]any)
				if p["MetricName"] != "ApproximateNumberOfMessagesVisible" || len(dims) != 1 || ref(dims[0].(map[string]any)["Value"]) != q {
					continue
				}
				ok = p["Threshold"] == 1.0 && p["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
			}
			if !ok {
				t.Errorf("%s: no alarm on a non-empty dead-letter queue", fn)
			}
		}
	})
	t.Run("X-Ray active tracing on every function", func(t *testing.T) {
		for _, fn := range route.Functions {
			p := props(resources(tpl, "AWS::Lambda::Function")[logicalID(k.Functions[fn].Lambda)])
			if tc, _ := p["TracingConfig"].(map[string]any); tc["Mode"] != "Active" {
				t.Errorf("%s: TracingConfig %v", fn, p["TracingConfig"])
			}
		}
	})
}

// kaizen:tracing=false turns tracing off, and its X-Ray grant with it; a
// value that is not a boolean fails the synth naming the key.
func TestTracingOff(t *testing.T) {
	assets := fakeAssets(t, "assets-tracing")
	build1 := func(value string) (*stacks.Stacks, error) {
		ctx := cdkJSONContext(t)
		ctx[ctxConfig] = filepath.Join(repoRoot, exampleConfig)
		ctx[ctxAssets] = assets
		ctx[ctxStaging] = filepath.Join(scratch, "tracing-"+value, "staging")
		ctx[ctxTracing] = value
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(scratch, "tracing-"+value, "cdk.out")), Context: &ctx})
		return build(app)
	}
	if _, err := build1("maybe"); err == nil || !strings.Contains(err.Error(), ctxTracing) {
		t.Errorf("kaizen:tracing=maybe: %v", err)
	}
	st, err := build1("false")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(assertions.Template_FromStack(st.Kaizen.Stack, nil).ToJSON())
	var tpl map[string]any
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	for id, f := range resources(tpl, "AWS::Lambda::Function") {
		if tc, _ := props(f)["TracingConfig"].(map[string]any); tc["Mode"] == "Active" {
			t.Errorf("%s: still traced", id)
		}
	}
	for _, st := range statements(tpl) {
		for _, a := range st.actions {
			if strings.HasPrefix(a, "xray:") {
				t.Errorf("role %s may still %s", st.role, a)
			}
		}
	}
}
