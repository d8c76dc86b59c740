package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/kaizen-sre/kaizen/infra/stacks"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/route/ebtest"
)

// alarmEvent is events/alarm-guard.json for the named alarm.
func alarmEvent(t *testing.T, name string) route.Envelope {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "events", "alarm-guard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["detail"].(map[string]any)["alarmName"] = name
	b, _ = json.Marshal(m)
	e, err := route.DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// logicalID is the logical id CDK gave a construct's resource, looked up
// through the construct tree, never spelled out in a test.
func logicalID(c constructs.IConstruct) string {
	return *awscdk.Stack_Of(c).GetLogicalId(c.Node().DefaultChild().(awscdk.CfnElement))
}

func TestKaizenStack(t *testing.T) {
	s := full(t)
	k := s.stacks.Kaizen
	tpl := s.template(k.Stack)
	lambdas := resources(tpl, "AWS::Lambda::Function")
	tableID := logicalID(k.Table)
	topicID := logicalID(k.OpsTopic)

	fnOf := func(t *testing.T, fn string) (string, map[string]any) {
		t.Helper()
		id := logicalID(k.Functions[fn].Lambda)
		r, ok := lambdas[id]
		if !ok {
			t.Fatalf("%s: no Lambda function %s in the template", fn, id)
		}
		return id, props(r)
	}

	t.Run("every function runs its prebuilt bootstrap on provided.al2023 arm64", func(t *testing.T) {
		if len(lambdas) != len(route.Functions) {
			t.Errorf("%d Lambda functions in the stack, want exactly %d (one per route.Functions, no helper functions)", len(lambdas), len(route.Functions))
		}
		for _, fn := range route.Functions {
			_, p := fnOf(t, fn)
			if p["Runtime"] != "provided.al2023" {
				t.Errorf("%s: Runtime = %v", fn, p["Runtime"])
			}
			if got := strs(p["Architectures"]); !slices.Equal(got, []string{"arm64"}) {
				t.Errorf("%s: Architectures = %v", fn, got)
			}
			if p["Handler"] != "bootstrap" {
				t.Errorf("%s: Handler = %v", fn, p["Handler"])
			}
			if m, _ := p["MemorySize"].(float64); m < 128 || m > 256 {
				t.Errorf("%s: MemorySize = %v, want 128-256", fn, p["MemorySize"])
			}
			if to, _ := p["Timeout"].(float64); to < 30 || to > 60 {
				t.Errorf("%s: Timeout = %v, want 30-60 s", fn, p["Timeout"])
			}
			lc, _ := p["LoggingConfig"].(map[string]any)
			if lc["LogFormat"] != "JSON" {
				t.Errorf("%s: LogFormat = %v", fn, lc["LogFormat"])
			}
			lg := resources(tpl, "AWS::Logs::LogGroup")[ref(lc["LogGroup"])]
			if lg == nil || props(lg)["RetentionInDays"] == nil {
				t.Errorf("%s: no log group with a retention: %v", fn, lc["LogGroup"])
			}
			env, _ := p["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			if vars[stacks.EnvConfig] != "/var/task/kaizen.json" {
				t.Errorf("%s: %s = %v", fn, stacks.EnvConfig, vars[stacks.EnvConfig])
			}
			if ref(vars[stacks.EnvTable]) != tableID {
				t.Errorf("%s: %s = %v, want a Ref to the table", fn, stacks.EnvTable, vars[stacks.EnvTable])
			}
		}
	})

	t.Run("every function's asset holds its bootstrap and the validated configuration", func(t *testing.T) {
		config, err := os.ReadFile(filepath.Join(repoRoot, exampleConfig))
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range route.Functions {
			_, p := fnOf(t, fn)
			key, _ := p["Code"].(map[string]any)["S3Key"].(string)
			hash := strings.TrimSuffix(key, ".zip")
			// The staged directory and its copy in cdk.out (what is zipped).
			for _, dir := range []string{filepath.Join(s.staging, fn), filepath.Join(s.outdir, "asset."+hash)} {
				entries, err := os.ReadDir(dir)
				if err != nil {
					t.Fatalf("%s: %v", fn, err)
				}
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				if !slices.Equal(names, []string{stacks.BootstrapFile, stacks.ConfigFile}) {
					t.Errorf("%s: %s holds %v, want exactly bootstrap and kaizen.json", fn, dir, names)
				}
				got, err := os.ReadFile(filepath.Join(dir, stacks.ConfigFile))
				if err != nil || !bytes.Equal(got, config) {
					t.Errorf("%s: %s/kaizen.json differs from %s (%v)", fn, dir, exampleConfig, err)
				}
				st, err := os.Stat(filepath.Join(dir, stacks.BootstrapFile))
				if err != nil || st.Mode().Perm()&0o111 == 0 {
					t.Errorf("%s: %s/bootstrap is not executable (%v)", fn, dir, err)
				}
			}
		}
	})

	cfg, err := config.Load(filepath.Join(repoRoot, exampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	scoped := route.RulesFor(cfg)

	t.Run("every rule of route.RulesFor is deployed with its exact pattern and targets its function with a dead-letter queue", func(t *testing.T) {
		rules := resources(tpl, "AWS::Events::Rule")
		if want := len(scoped) + 3; len(rules) != want {
			t.Errorf("%d rules, want %d (route.RulesFor plus the tick, alaspoll and dbrefresh schedules)", len(rules), want)
		}
		for _, r := range scoped {
			b, _ := json.Marshal(r.Pattern)
			var want any
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			fnID := logicalID(k.Functions[r.Function].Lambda)
			dlqID := logicalID(k.Functions[r.Function].DeadLetters)
			spec, _ := stacks.Spec(r.Function)
			matches := 0
			for _, rule := range rules {
				p := props(rule)
				if !reflect.DeepEqual(p["EventPattern"], want) {
					continue
				}
				matches++
				targets, _ := p["Targets"].([]any)
				if len(targets) != 1 {
					t.Errorf("%s/%s: %d targets, want 1", r.Function, r.Name, len(targets))
					continue
				}
				tg := targets[0].(map[string]any)
				if ref(tg["Arn"]) != fnID {
					t.Errorf("%s/%s: targets %v, want the %s function", r.Function, r.Name, tg["Arn"], r.Function)
				}
				dlc, _ := tg["DeadLetterConfig"].(map[string]any)
				if ref(dlc["Arn"]) != dlqID {
					t.Errorf("%s/%s: DeadLetterConfig = %v, want the function's dead-letter queue", r.Function, r.Name, tg["DeadLetterConfig"])
				}
				rp, _ := tg["RetryPolicy"].(map[string]any)
				if rp["MaximumRetryAttempts"] != float64(spec.TargetRetries) || rp["MaximumEventAgeInSeconds"] != spec.TargetMaxEventAge.Seconds() {
					t.Errorf("%s/%s: RetryPolicy = %v, want %d retries within %s", r.Function, r.Name, rp, spec.TargetRetries, spec.TargetMaxEventAge)
				}
			}
			if matches != 1 {
				t.Errorf("%s/%s: %d rules have the pattern %s, want 1", r.Function, r.Name, matches, b)
			}
		}
	})

	t.Run("every deployed event pattern is valid EventBridge syntax, narrowed to the configured resources", func(t *testing.T) {
		n := 0
		for id, rule := range resources(tpl, "AWS::Events::Rule") {
			ep, ok := props(rule)["EventPattern"]
			if !ok {
				continue // a schedule
			}
			n++
			b, err := json.Marshal(ep)
			if err != nil {
				t.Fatal(err)
			}
			if err := ebtest.Valid(b); err != nil {
				t.Errorf("rule %s: %v: %s", id, err, b)
			}
		}
		if n != len(scoped) {
			t.Errorf("%d rules with a pattern, want %d", n, len(scoped))
		}
		// What the narrowing means for the example: guard takes the
		// configured alarms only.
		alarm := alarmEvent(t, "shop-5xx-rate")
		foreign := alarmEvent(t, "someone-elses-alarm")
		var guardRules int
		for _, r := range scoped {
			if r.Function != route.Guard {
				continue
			}
			guardRules++
			if !r.Pattern.Match(alarm) || r.Pattern.Match(foreign) {
				t.Errorf("guard rule %s: takes shop-5xx-rate %v, someone-elses-alarm %v", r.Name, r.Pattern.Match(alarm), r.Pattern.Match(foreign))
			}
		}
		if guardRules != 1 {
			t.Errorf("%d guard rules, want 1", guardRules)
		}
	})

	t.Run("guard has reserved concurrency; the others share the account's pool", func(t *testing.T) {
		if stacks.GuardReservedConcurrency < 1 {
			t.Fatalf("GuardReservedConcurrency = %d", stacks.GuardReservedConcurrency)
		}
		for _, fn := range route.Functions {
			_, p := fnOf(t, fn)
			got, set := p["ReservedConcurrentExecutions"]
			switch {
			case fn == route.Guard && got != float64(stacks.GuardReservedConcurrency):
				t.Errorf("guard: ReservedConcurrentExecutions = %v, want %d", got, stacks.GuardReservedConcurrency)
			case fn != route.Guard && set:
				t.Errorf("%s: ReservedConcurrentExecutions = %v, want none", fn, got)
			}
		}
	})

	t.Run("tick and alaspoll run on schedules named after them", func(t *testing.T) {
		want := map[string]string{route.Tick: "rate(1 minute)", route.ALASPoll: "rate(30 minutes)", route.DBRefresh: "rate(5 minutes)"}
		for fn, expr := range want {
			fnID := logicalID(k.Functions[fn].Lambda)
			found := false
			for _, rule := range resources(tpl, "AWS::Events::Rule") {
				p := props(rule)
				if p["ScheduleExpression"] != expr {
					continue
				}
				found = true
				name, _ := p["Name"].(string)
				if !strings.Contains(name, fn) {
					t.Errorf("%s: schedule rule name %q does not contain %q", fn, name, fn)
				}
				tg := p["Targets"].([]any)[0].(map[string]any)
				if ref(tg["Arn"]) != fnID || tg["DeadLetterConfig"] == nil {
					t.Errorf("%s: schedule targets %v (dead letters %v)", fn, tg["Arn"], tg["DeadLetterConfig"])
				}
				// The scheduled event carries the rule's ARN; route.Route
				// must send it to this function.
				ev := route.Envelope{Source: route.SourceSchedule, DetailType: route.TypeScheduled,
					Resources: []string{"arn:aws:events:eu-west-1:111122223333:rule/" + name}}
				if got := route.Route(ev).Function; got != fn {
					t.Errorf("%s: an event from rule %q routes to %q", fn, name, got)
				}
			}
			if !found {
				t.Errorf("%s: no rule with %s", fn, expr)
			}
		}
	})

	t.Run("failed invocations are retried deliberately, then kept in the dead-letter queue", func(t *testing.T) {
		configs := resources(tpl, "AWS::Lambda::EventInvokeConfig")
		queues := resources(tpl, "AWS::SQS::Queue")
		for _, fn := range route.Functions {
			id, p := fnOf(t, fn)
			spec, _ := stacks.Spec(fn)
			dlqID := logicalID(k.Functions[fn].DeadLetters)
			if dlc, _ := p["DeadLetterConfig"].(map[string]any); ref(dlc["TargetArn"]) != dlqID {
				t.Errorf("%s: DeadLetterConfig = %v", fn, p["DeadLetterConfig"])
			}
			n := 0
			for _, c := range configs {
				cp := props(c)
				if ref(cp["FunctionName"]) != id {
					continue
				}
				n++
				if cp["MaximumRetryAttempts"] != float64(spec.Retries) || cp["MaximumEventAgeInSeconds"] != spec.MaxEventAge.Seconds() {
					t.Errorf("%s: invoke config %v, want %d retries within %s", fn, cp, spec.Retries, spec.MaxEventAge)
				}
			}
			if n != 1 {
				t.Errorf("%s: %d event invoke configs, want 1", fn, n)
			}
			q := props(queues[dlqID])
			if q["SqsManagedSseEnabled"] != true && q["KmsMasterKeyId"] == nil {
				t.Errorf("%s: dead-letter queue is not encrypted: %v", fn, q)
			}
		}
	})

	t.Run("errors, throttles and dead letters raise alarms on the ops topic", func(t *testing.T) {
		alarms := resources(tpl, "AWS::CloudWatch::Alarm")
		has := func(namespace, metric, dimension, id string) bool {
			for _, a := range alarms {
				p := props(a)
				if p["Namespace"] != namespace || p["MetricName"] != metric {
					continue
				}
				dims, _ := p["Dimensions"].([]any)
				if len(dims) != 1 {
					continue
				}
				d := dims[0].(map[string]any)
				actions, _ := p["AlarmActions"].([]any)
				if d["Name"] == dimension && ref(d["Value"]) == id && len(actions) == 1 && ref(actions[0]) == topicID {
					return true
				}
			}
			return false
		}
		for _, fn := range route.Functions {
			f := k.Functions[fn]
			for _, m := range []string{"Errors", "Throttles"} {
				if !has("AWS/Lambda", m, "FunctionName", logicalID(f.Lambda)) {
					t.Errorf("%s: no %s alarm notifying the ops topic", fn, m)
				}
			}
			if !has("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", logicalID(f.DeadLetters)) {
				t.Errorf("%s: no dead-letter queue alarm notifying the ops topic", fn)
			}
		}
	})

	t.Run("malformed events, logged and dropped at the edge, are counted and alarmed on", func(t *testing.T) {
		filters := resources(tpl, "AWS::Logs::MetricFilter")
		alarms := resources(tpl, "AWS::CloudWatch::Alarm")
		for _, fn := range route.Functions {
			metric := "MalformedEvents-" + fn
			counted := false
			for _, f := range filters {
				p := props(f)
				trs, _ := p["MetricTransformations"].([]any)
				if p["FilterPattern"] != stacks.MalformedFilterPattern || len(trs) != 1 {
					continue
				}
				tr := trs[0].(map[string]any)
				counted = counted || (tr["MetricName"] == metric && tr["MetricNamespace"] == stacks.MetricNamespace)
			}
			alarmed := false
			for _, a := range alarms {
				p := props(a)
				actions, _ := p["AlarmActions"].([]any)
				alarmed = alarmed || (p["MetricName"] == metric && p["Namespace"] == stacks.MetricNamespace && len(actions) == 1 && ref(actions[0]) == topicID)
			}
			if !counted || !alarmed {
				t.Errorf("%s: malformed events counted %v, alarmed on the ops topic %v", fn, counted, alarmed)
			}
		}
	})

	t.Run("the state table has pk/sk, PITR, TTL on expires, encryption, and is retained", func(t *testing.T) {
		tables := resources(tpl, "AWS::DynamoDB::Table")
		if len(tables) != 1 {
			t.Fatalf("%d tables, want 1", len(tables))
		}
		r := tables[tableID]
		p := props(r)
		wantKeys := []any{
			map[string]any{"AttributeName": "pk", "KeyType": "HASH"},
			map[string]any{"AttributeName": "sk", "KeyType": "RANGE"},
		}
		if !reflect.DeepEqual(p["KeySchema"], wantKeys) {
			t.Errorf("KeySchema = %v", p["KeySchema"])
		}
		for _, a := range p["AttributeDefinitions"].([]any) {
			if a.(map[string]any)["AttributeType"] != "S" {
				t.Errorf("attribute %v is not a string", a)
			}
		}
		if p["BillingMode"] != "PAY_PER_REQUEST" {
			t.Errorf("BillingMode = %v", p["BillingMode"])
		}
		if pitr, _ := p["PointInTimeRecoverySpecification"].(map[string]any); pitr["PointInTimeRecoveryEnabled"] != true {
			t.Errorf("PointInTimeRecoverySpecification = %v", p["PointInTimeRecoverySpecification"])
		}
		if ttl, _ := p["TimeToLiveSpecification"].(map[string]any); ttl["AttributeName"] != "expires" || ttl["Enabled"] != true {
			t.Errorf("TimeToLiveSpecification = %v", p["TimeToLiveSpecification"])
		}
		if sse, _ := p["SSESpecification"].(map[string]any); sse["SSEEnabled"] != true {
			t.Errorf("SSESpecification = %v", p["SSESpecification"])
		}
		if r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
			t.Errorf("DeletionPolicy %v, UpdateReplacePolicy %v, want Retain", r["DeletionPolicy"], r["UpdateReplacePolicy"])
		}
	})

	t.Run("the topic is KMS-encrypted, and the topic and every queue refuse requests without TLS", func(t *testing.T) {
		if props(resources(tpl, "AWS::SNS::Topic")[topicID])["KmsMasterKeyId"] == nil {
			t.Error("ops topic has no KmsMasterKeyId")
		}
		deniesPlainHTTP := func(doc any) bool {
			for _, st := range doc.(map[string]any)["Statement"].([]any) {
				st := st.(map[string]any)
				cond, _ := st["Condition"].(map[string]any)
				b, _ := cond["Bool"].(map[string]any)
				if st["Effect"] == "Deny" && b["aws:SecureTransport"] == "false" {
					return true
				}
			}
			return false
		}
		enforced := map[string]bool{}
		for _, p := range resources(tpl, "AWS::SNS::TopicPolicy") {
			if deniesPlainHTTP(props(p)["PolicyDocument"]) {
				for _, t := range props(p)["Topics"].([]any) {
					enforced[ref(t)] = true
				}
			}
		}
		for _, p := range resources(tpl, "AWS::SQS::QueuePolicy") {
			if deniesPlainHTTP(props(p)["PolicyDocument"]) {
				for _, q := range props(p)["Queues"].([]any) {
					enforced[ref(q)] = true
				}
			}
		}
		if !enforced[topicID] {
			t.Error("the ops topic's policy does not deny aws:SecureTransport=false")
		}
		for id := range resources(tpl, "AWS::SQS::Queue") {
			if !enforced[id] {
				t.Errorf("queue %s: no policy denying aws:SecureTransport=false", id)
			}
		}
	})
}
