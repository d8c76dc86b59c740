package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// TestCdkNag runs the AwsSolutions pack (applied by stacks.Build, as in
// `cdk synth`) over every stack: no finding may be left unacknowledged, and
// every acknowledgement carries its reason.
func TestCdkNag(t *testing.T) {
	s := full(t)
	for _, stack := range s.stacks.All() {
		name := *stack.StackName()
		t.Run(name+" has no unacknowledged AwsSolutions findings", func(t *testing.T) {
			a := assertions.Annotations_FromStack(stack)
			pattern := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
			errs := a.FindError(jsii.String("*"), pattern)
			warns := a.FindWarning(jsii.String("*"), pattern)
			for kind, found := range map[string]any{"error": errs, "warning": warns} {
				for _, m := range findings(t, found) {
					t.Errorf("%s at %s: %v", kind, m.ID, m.Entry.Data)
				}
			}
		})
		t.Run(name+" acknowledges findings only with specific reasons", func(t *testing.T) {
			n := 0
			for id, r := range s.template(stack)["Resources"].(map[string]any) {
				md, _ := r.(map[string]any)["Metadata"].(map[string]any)
				nag, _ := md["cdk_nag"].(map[string]any)
				rules, _ := nag["rules_to_suppress"].([]any)
				for _, rule := range rules {
					rule := rule.(map[string]any)
					n++
					ruleID, _ := rule["id"].(string)
					reason, _ := rule["reason"].(string)
					if !strings.HasPrefix(ruleID, "AwsSolutions-") {
						t.Errorf("%s: suppression of %q, which is not an AwsSolutions rule", id, ruleID)
					}
					// A reason says why this resource is fine, not that
					// the finding was seen.
					if len(reason) < 60 || strings.Contains(strings.ToLower(reason), "todo") {
						t.Errorf("%s: %s suppressed without a specific reason: %q", id, ruleID, reason)
					}
					if ruleID == "AwsSolutions-IAM5" {
						if applies, _ := rule["applies_to"].([]any); len(applies) == 0 {
							t.Errorf("%s: AwsSolutions-IAM5 suppressed for every finding instead of named ones", id)
						}
					}
				}
			}
			t.Logf("%d suppression entries on %s's resources", n, name)
		})
	}
}

// finding is the part of a synthesis message a failure report needs.
type finding struct {
	ID    string `json:"id"`
	Entry struct {
		Data any `json:"data"`
	} `json:"entry"`
}

// findings decodes the messages FindError/FindWarning return.
func findings(t *testing.T, messages any) []finding {
	t.Helper()
	b, err := json.Marshal(messages)
	if err != nil {
		t.Fatal(err)
	}
	var out []finding
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
