package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/kaizen-sre/kaizen/infra/stacks"
	"github.com/kaizen-sre/kaizen/shared/route"
)

const (
	ddSecretARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:kaizen/datadog-AbCdEf"
	ddKeyARN    = "arn:aws:kms:eu-west-1:111122223333:key/0f0e0d0c-0b0a-4908-8706-050403020100"
)

// analysisConfig is the multi-account example with metric analysis:
// shop (at home) judged by Datadog, its keys in ddSecretARN encrypted with
// ddKeyARN; billing (in the member account) judged by CloudWatch.
func analysisConfig(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, multiAccountConfig))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	apps := doc["apps"].([]any)
	shop, billing := apps[0].(map[string]any), apps[1].(map[string]any)
	for _, a := range []map[string]any{shop, billing} {
		a["weightSteps"], a["stepMinutes"] = []int{10, 50, 100}, 10
	}
	shop["analysis"] = map[string]any{
		"provider": "datadog",
		"datadog":  map[string]any{"secretArn": ddSecretARN, "kmsKeyArn": ddKeyARN},
		"requests": map[string]any{"datadog": "sum:aws.applicationelb.request_count{targetgroup:{targetGroup}}.as_count()"},
		"metrics": []any{map[string]any{"name": "errors", "kind": "ratio",
			"query": map[string]any{"datadog": "sum:aws.applicationelb.httpcode_target_5xx{targetgroup:{targetGroup}}.as_count()"}}},
	}
	billing["analysis"] = map[string]any{}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kaizen-analysis.json")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Metric analysis' grants: the tick reads Datadog's keys from exactly the
// configured secret (and decrypts with exactly its key, through Secrets
// Manager only), no function holds a key in its environment, and the
// member account's role may read the member's metrics.
func TestAnalysisIAM(t *testing.T) {
	s := synth(t, inputs{name: "analysis", config: analysisConfig(t), assets: fakeAssets(t, "assets-analysis")})
	k := s.stacks.Kaizen
	tpl := s.template(k.Stack)
	all := statements(tpl)

	t.Run("only the tick may read the Datadog secret, and only that secret", func(t *testing.T) {
		tick := logicalID(k.Functions[route.Tick].Role)
		var found bool
		for _, st := range all {
			for _, a := range st.actions {
				if a != "secretsmanager:GetSecretValue" && a != "secretsmanager:*" && a != "*" {
					continue
				}
				if st.role != tick && slices.Contains(st.resources, ddSecretARN) {
					t.Errorf("role %s may read the Datadog secret (%s)", st.role, st.sid)
				}
				if st.role == tick {
					if st.sid != "ReadDatadogKeys" || !slices.Equal(st.actions, []string{"secretsmanager:GetSecretValue"}) || !slices.Equal(st.resources, []string{ddSecretARN}) {
						t.Errorf("tick statement %s: %v on %v, want only GetSecretValue on %s", st.sid, st.actions, st.resources, ddSecretARN)
					}
					found = true
				}
			}
		}
		if !found {
			t.Fatal("the tick may not read the Datadog secret")
		}
	})

	t.Run("the tick decrypts with the secret's key only through Secrets Manager", func(t *testing.T) {
		tick := logicalID(k.Functions[route.Tick].Role)
		n := 0
		for _, st := range all {
			if !slices.Contains(st.actions, "kms:Decrypt") {
				continue
			}
			if st.role != tick {
				t.Errorf("role %s may kms:Decrypt (%s)", st.role, st.sid)
				continue
			}
			n++
			cond, _ := json.Marshal(st.condition)
			if !slices.Equal(st.actions, []string{"kms:Decrypt"}) || !slices.Equal(st.resources, []string{ddKeyARN}) ||
				!strings.Contains(string(cond), `"kms:ViaService":["secretsmanager.eu-west-1.amazonaws.com"]`) {
				t.Errorf("tick's %s: %v on %v when %s, want kms:Decrypt on %s via Secrets Manager", st.sid, st.actions, st.resources, cond, ddKeyARN)
			}
		}
		if n != 1 {
			t.Fatalf("%d kms:Decrypt statements on the tick's role, want 1", n)
		}
	})

	t.Run("no function has a Datadog key in its environment", func(t *testing.T) {
		for id, fn := range resources(tpl, "AWS::Lambda::Function") {
			env, _ := props(fn)["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			for k := range vars {
				if strings.HasPrefix(strings.ToUpper(k), "DD_") || strings.Contains(strings.ToLower(k), "datadog") {
					t.Errorf("%s has %s in its environment", id, k)
				}
			}
		}
	})

	t.Run("the member's role may read the member's metrics, on * as CloudWatch requires", func(t *testing.T) {
		if len(s.stacks.Members) != 1 {
			t.Fatalf("%d member stacks", len(s.stacks.Members))
		}
		m := s.stacks.Members[0]
		mtpl := s.template(m.Stack)
		var got []statement
		for _, st := range statements(mtpl) {
			if slices.Contains(st.actions, "cloudwatch:GetMetricData") {
				got = append(got, st)
			}
		}
		if len(got) != 1 || !slices.Equal(got[0].actions, []string{"cloudwatch:GetMetricData"}) || !slices.Equal(got[0].resources, []string{"*"}) {
			t.Fatalf("member statements with GetMetricData: %+v, want one: GetMetricData on *", got)
		}
		for _, st := range statements(mtpl) {
			for _, a := range st.actions {
				if strings.HasPrefix(a, "secretsmanager:") || strings.HasPrefix(a, "kms:") {
					t.Errorf("the member's role may %s (%s): Datadog's keys stay at home", a, st.sid)
				}
			}
		}
	})

	for _, stack := range s.stacks.All() {
		t.Run(*stack.StackName()+" has no unacknowledged AwsSolutions findings", func(t *testing.T) {
			a := assertions.Annotations_FromStack(stack)
			pattern := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
			for kind, found := range map[string]any{"error": a.FindError(jsii.String("*"), pattern), "warning": a.FindWarning(jsii.String("*"), pattern)} {
				for _, m := range findings(t, found) {
					t.Errorf("%s at %s: %v", kind, m.ID, m.Entry.Data)
				}
			}
		})
	}
}

// A member account whose apps nobody judges by CloudWatch lends no
// GetMetricData; the home tick without Datadog apps reads no secret.
func TestNoAnalysisNoMetricGrants(t *testing.T) {
	s, cfg := multi(t)
	billing, _ := cfg.App("billing")
	if billing.Analysis != nil {
		t.Fatal("the multi-account example judges billing: this test needs an account without analysis")
	}
	_, sts := stacks.MemberStatements(cfg, billing.Account)
	for _, st := range sts {
		if slices.Contains(st.Actions, "cloudwatch:GetMetricData") {
			t.Errorf("member statement %s grants GetMetricData though no app there is judged", st.Sid)
		}
	}
	tick := logicalID(s.stacks.Kaizen.Functions[route.Tick].Role)
	for _, st := range statements(s.template(s.stacks.Kaizen.Stack)) {
		if st.role == tick && (slices.Contains(st.actions, "secretsmanager:GetSecretValue") || slices.Contains(st.actions, "kms:Decrypt")) {
			t.Errorf("tick's %s: %v on %v with no Datadog app", st.sid, st.actions, st.resources)
		}
	}
}
