// Package route holds the one definition of which function takes which
// EventBridge event. The CDK app turns Patterns into rules; `kaizen route`
// and the functions' own checks match events against the same values, so the
// wiring and the code cannot drift apart.
package route

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Function names, as deployed.
const (
	Stage        = "stage"
	Promote      = "promote"
	Guard        = "guard"
	Tick         = "tick"
	ALASPoll     = "alaspoll"
	SecretChange = "secretchange"
	DBRefresh    = "dbrefresh"
)

// Functions lists every function, in a stable order.
var Functions = []string{Stage, Promote, Guard, Tick, ALASPoll, SecretChange, DBRefresh}

// Event sources and detail types kaizen reacts to.
const (
	SourceEC2            = "aws.ec2"
	SourceImageBuilder   = "aws.imagebuilder"
	SourceCodeBuild      = "aws.codebuild"
	SourceCodePipeline   = "aws.codepipeline"
	SourceCloudWatch     = "aws.cloudwatch"
	SourceSecretsManager = "aws.secretsmanager"
	SourceSchedule       = "aws.events"

	TypeAMIStateChange      = "EC2 AMI State Change"
	TypeImageBuilderState   = "EC2 Image Builder Image State Change"
	TypeCodeBuildState      = "CodeBuild Build State Change"
	TypeActionExecution     = "CodePipeline Action Execution State Change"
	TypeAlarmStateChange    = "CloudWatch Alarm State Change"
	TypeCloudTrailAPICall   = "AWS API Call via CloudTrail"
	TypeCloudTrailSvcEvent  = "AWS Service Event via CloudTrail"
	TypeScheduled           = "Scheduled Event"
	SecretsManagerEventSrc  = "secretsmanager.amazonaws.com"
	DefaultAMIExportVarName = "AMI_ID"
)

// Pattern is the subset of the EventBridge pattern language kaizen uses:
// exact string matches on source and detail-type; in the detail, nested
// objects whose fields are []string (exact) or []Value (exact or prefix)
// lists, and Or alternatives (see Value).
type Pattern struct {
	Source     []string       `json:"source"`
	DetailType []string       `json:"detail-type"`
	Detail     map[string]any `json:"detail,omitempty"`
}

// Rule is one EventBridge rule of a function.
type Rule struct {
	Function string
	// Name is a short, stable suffix for the rule's construct id.
	Name    string
	Pattern Pattern
}

// Rules returns every event rule, in a stable order. Schedules (tick,
// alaspoll) are not patterns and are wired by the CDK app directly.
func Rules() []Rule {
	return append([]Rule{
		{Stage, "ami-available", Pattern{
			Source: []string{SourceEC2}, DetailType: []string{TypeAMIStateChange},
			Detail: map[string]any{"State": []string{"available"}},
		}},
		{Stage, "imagebuilder-available", Pattern{
			Source: []string{SourceImageBuilder}, DetailType: []string{TypeImageBuilderState},
			Detail: map[string]any{"state": map[string]any{"status": []string{"AVAILABLE"}}},
		}},
		{Stage, "codebuild-succeeded", Pattern{
			Source: []string{SourceCodeBuild}, DetailType: []string{TypeCodeBuildState},
			Detail: map[string]any{"build-status": []string{"SUCCEEDED"}},
		}},
		{Promote, "approval", Pattern{
			Source: []string{SourceCodePipeline}, DetailType: []string{TypeActionExecution},
			Detail: map[string]any{
				"type":  map[string]any{"category": []string{"Approval"}},
				"state": []string{"STARTED", "SUCCEEDED", "FAILED"},
			},
		}},
		{Guard, "alarm", Pattern{
			Source: []string{SourceCloudWatch}, DetailType: []string{TypeAlarmStateChange},
		}},
		{SecretChange, "secret-write", Pattern{
			Source: []string{SourceSecretsManager}, DetailType: []string{TypeCloudTrailAPICall},
			Detail: map[string]any{
				"eventSource": []string{SecretsManagerEventSrc},
				"eventName":   []string{"PutSecretValue", "UpdateSecret"},
			},
		}},
		{SecretChange, "secret-rotated", Pattern{
			Source: []string{SourceSecretsManager}, DetailType: []string{TypeCloudTrailSvcEvent},
			Detail: map[string]any{
				"eventSource": []string{SecretsManagerEventSrc},
				"eventName":   []string{"RotationSucceeded"},
			},
		}},
	}, dbRefreshRules()...)
}

// Result is what `kaizen route` prints.
type Result struct {
	Function string         `json:"function"`
	Rule     string         `json:"rule,omitempty"`
	Fields   map[string]any `json:"fields,omitempty"`
	Reason   string         `json:"reason,omitempty"`
}

// Match reports whether the event matches the pattern.
func (p Pattern) Match(e Envelope) bool {
	if !contains(p.Source, e.Source) || !contains(p.DetailType, e.DetailType) {
		return false
	}
	if len(p.Detail) == 0 {
		return true
	}
	var detail map[string]any
	if err := json.Unmarshal(e.Detail, &detail); err != nil {
		return false
	}
	return matchMap(p.Detail, detail)
}

func matchMap(pat, v map[string]any) bool {
	for k, want := range pat {
		if k == Or {
			alts, ok := want.([]map[string]any)
			if !ok || !matchAny(alts, v) {
				return false
			}
			continue
		}
		got, ok := v[k]
		if !ok {
			return false
		}
		switch w := want.(type) {
		case []string:
			if !matchValue(got, func(s string) bool { return contains(w, s) }) {
				return false
			}
		case []Value:
			if !matchValue(got, func(s string) bool { return matchValues(w, s) }) {
				return false
			}
		case map[string]any:
			m, ok := got.(map[string]any)
			if !ok || !matchMap(w, m) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func matchAny(alts []map[string]any, v map[string]any) bool {
	for _, alt := range alts {
		if matchMap(alt, v) {
			return true
		}
	}
	return false
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Match names the function whose pattern takes the event (schedules go to
// tick, or to alaspoll when its rule fired), without decoding the detail.
func Match(e Envelope) (function, rule string) {
	if e.Source == SourceSchedule && e.DetailType == TypeScheduled {
		for _, r := range e.Resources {
			if strings.Contains(r, ALASPoll) {
				return ALASPoll, "schedule"
			}
			if strings.Contains(r, DBRefresh) {
				return DBRefresh, "schedule"
			}
		}
		return Tick, "schedule"
	}
	for _, r := range Rules() {
		if r.Pattern.Match(e) && !configuredOnly[r.Name] {
			return r.Function, r.Name
		}
	}
	return "", ""
}

// Route finds the function whose generic pattern takes the event and decodes
// its key fields. It does not consult the app configuration.
func Route(e Envelope) Result {
	fn, rule := Match(e)
	switch fn {
	case "":
		return Result{Reason: why(e)}
	case ALASPoll, Tick, DBRefresh:
		if e.Source != SourceSchedule {
			break
		}
		return Result{Function: fn, Rule: rule, Fields: map[string]any{"resources": e.Resources}}
	}
	fields, err := Fields(fn, e)
	if err != nil {
		return Result{Reason: fmt.Sprintf("matches %s/%s but its detail is malformed: %v", fn, rule, err)}
	}
	return Result{Function: fn, Rule: rule, Fields: fields}
}

func why(e Envelope) string {
	for _, r := range Rules() {
		if contains(r.Pattern.Source, e.Source) && contains(r.Pattern.DetailType, e.DetailType) {
			return fmt.Sprintf("%s %q from %s does not match the %s pattern (for example a state kaizen does not act on)", "event", e.DetailType, e.Source, r.Function)
		}
	}
	return fmt.Sprintf("no function takes %q events from %s", e.DetailType, e.Source)
}
