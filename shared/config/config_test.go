package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// base is a small valid file with two unrelated apps: each row of the
// tables below changes one thing.
const base = `{
  "account": "111122223333",
  "region": "eu-west-1",
  "apps": [
    {
      "name": "shop",
      "blue": {"asg": "shop-blue", "targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/shop-blue/0123456789abcdef", "launchTemplateId": "lt-0b1e0000000000001"},
      "green": {"asg": "shop-green", "targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/shop-green/fedcba9876543210", "launchTemplateId": "lt-06e0000000000002"},
      "listenerArn": "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2",
      "preview": {"ruleArn": "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee", "officeCidrs": ["203.0.113.10/32"]},
      "previewSize": 1,
      "floor": 2,
      "bakeMinutes": 60,
      "approval": {"pipeline": "shop-release", "stage": "Approve", "action": "ProductionApproval"},
      "rebuild": {"codeBuildProject": "shop-golden-ami"},
      "alarms": [
        {"name": "shop-5xx-rate", "role": "guard"},
        {"name": "shop-cpu-high", "role": "capacity", "step": 2, "cooldownMinutes": 5}
      ],
      "alas": {"amazonLinux": "2023", "minSeverity": "important"},
      "secret": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/production-AbCdEf",
      "topicArn": "arn:aws:sns:eu-west-1:111122223333:kaizen-shop",
      "instanceRoleArn": "arn:aws:iam::111122223333:role/shop-instance"
    },
    {
      "name": "api",
      "blue": {"asg": "api-blue", "targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/api-blue/1123456789abcdef", "launchTemplateId": "lt-0a1e0000000000001"},
      "green": {"asg": "api-green", "targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/api-green/1edcba9876543210", "launchTemplateId": "lt-0a2e0000000000002"},
      "listenerArn": "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/api/60dc6c495c0c9188/a2f7dc8efc522ab2",
      "preview": {"ruleArn": "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/api/60dc6c495c0c9188/a2f7dc8efc522ab2/1683b2d02a6cabee", "officeCidrs": ["198.51.100.0/24", "2001:db8:1234::/48"]},
      "previewSize": 2,
      "floor": 3,
      "bakeMinutes": 30,
      "approval": {"pipeline": "api-release", "stage": "Approve", "action": "ProductionApproval"},
      "rebuild": {"pipeline": "api-golden-ami"},
      "alarms": [{"name": "api-5xx-rate", "role": "guard"}],
      "alas": {"amazonLinux": "2", "minSeverity": "critical"},
      "topicArn": "arn:aws:sns:eu-west-1:111122223333:kaizen-api"
    }
  ]
}`

// doc is the base file as generic JSON, edited by path.
type doc map[string]any

func baseDoc(t *testing.T) doc {
	t.Helper()
	var d doc
	if err := json.Unmarshal([]byte(base), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

var pathPart = regexp.MustCompile(`[^.\[\]]+|\[\d+\]`)

// walk returns the container holding the last element of path and that
// element (a key or an index).
func (d doc) walk(t *testing.T, path string) (any, string) {
	t.Helper()
	parts := pathPart.FindAllString(path, -1)
	var cur any = map[string]any(d)
	for _, p := range parts[:len(parts)-1] {
		cur = step(t, cur, p, path)
	}
	return cur, parts[len(parts)-1]
}

func step(t *testing.T, cur any, p, path string) any {
	t.Helper()
	if strings.HasPrefix(p, "[") {
		i, _ := strconv.Atoi(strings.Trim(p, "[]"))
		return cur.([]any)[i]
	}
	m := cur.(map[string]any)
	next, ok := m[p]
	if !ok {
		next = map[string]any{}
		m[p] = next
	}
	if next == nil {
		t.Fatalf("%s: %s is null", path, p)
	}
	return next
}

func (d doc) set(t *testing.T, path string, v any) doc {
	t.Helper()
	c, last := d.walk(t, path)
	if strings.HasPrefix(last, "[") {
		i, _ := strconv.Atoi(strings.Trim(last, "[]"))
		c.([]any)[i] = v
	} else {
		c.(map[string]any)[last] = v
	}
	return d
}

func (d doc) del(t *testing.T, path string) doc {
	t.Helper()
	c, last := d.walk(t, path)
	delete(c.(map[string]any), last)
	return d
}

// rename moves a key, keeping its value: for keys spelled with other case.
func (d doc) rename(t *testing.T, path, to string) doc {
	t.Helper()
	c, last := d.walk(t, path)
	m := c.(map[string]any)
	m[to] = m[last]
	delete(m, last)
	return d
}

func (d doc) bytes(t *testing.T) []byte {
	t.Helper()
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withWindow(t *testing.T) string {
	return string(baseDoc(t).set(t, "apps[0].changeWindow", map[string]any{
		"days": []any{"mon", "tue", "wed", "thu", "fri"}, "from": "09:00", "to": "17:00", "timeZone": "Europe/Berlin",
	}).bytes(t))
}

func TestBaseIsValid(t *testing.T) {
	f, err := Parse([]byte(base))
	if err != nil {
		t.Fatalf("the base of the tables does not validate: %v", err)
	}
	if w := f.Warnings(); len(w) > 0 {
		t.Errorf("the base has warnings: %q", w)
	}
	if _, err := Parse([]byte(withWindow(t))); err != nil {
		t.Fatal(err)
	}
}

// TestParseRefuses has one row per rule: Parse must fail, and its error must
// name the field (and, for two things that fight, both fields).
func TestParseRefuses(t *testing.T) {
	type edit func(t *testing.T, d doc) doc
	set := func(path string, v any) edit {
		return func(t *testing.T, d doc) doc { return d.set(t, path, v) }
	}
	del := func(path string) edit {
		return func(t *testing.T, d doc) doc { return d.del(t, path) }
	}
	rename := func(path, to string) edit {
		return func(t *testing.T, d doc) doc { return d.rename(t, path, to) }
	}
	window := func(days []any, from, to, zone string) edit {
		return set("apps[0].changeWindow", map[string]any{"days": days, "from": from, "to": to, "timeZone": zone})
	}
	weekdays := []any{"mon", "tue", "wed", "thu", "fri"}
	const elb = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:"
	cases := []struct {
		name  string
		edits []edit
		raw   func(string) string // instead of edits, for text that is not a JSON document
		want  []string
	}{
		// Required fields.
		{name: "bakeMinutes missing", edits: []edit{del("apps[0].bakeMinutes")}, want: []string{"apps[0].bakeMinutes: required"}},
		{name: "bakeMinutes null", edits: []edit{set("apps[1].bakeMinutes", nil)}, want: []string{"apps[1].bakeMinutes: required"}},
		{name: "floor missing", edits: []edit{del("apps[0].floor")}, want: []string{"apps[0].floor: required"}},
		{name: "floor 0", edits: []edit{set("apps[0].floor", 0)}, want: []string{"apps[0].floor: must be at least 1"}},
		{name: "previewSize missing", edits: []edit{del("apps[1].previewSize")}, want: []string{"apps[1].previewSize: required"}},
		{name: "previewSize 0", edits: []edit{set("apps[1].previewSize", 0)}, want: []string{"apps[1].previewSize: must be at least 1"}},
		{name: "name missing", edits: []edit{del("apps[1].name")}, want: []string{"apps[1].name: required"}},
		{name: "name upper case", edits: []edit{set("apps[1].name", "API")}, want: []string{"apps[1].name: must be lower-case"}},
		{name: "blue asg missing", edits: []edit{del("apps[0].blue.asg")}, want: []string{"apps[0].blue.asg: required"}},
		{name: "green missing", edits: []edit{del("apps[0].green")}, want: []string{"apps[0].green.asg: required", "apps[0].green.targetGroupArn: required", "apps[0].green.launchTemplateId"}},
		{name: "launch template id", edits: []edit{set("apps[0].blue.launchTemplateId", "my-template")}, want: []string{"apps[0].blue.launchTemplateId: must be a launch template id"}},
		{name: "listenerArn missing", edits: []edit{del("apps[0].listenerArn")}, want: []string{"apps[0].listenerArn: required"}},
		{name: "preview rule missing", edits: []edit{del("apps[0].preview.ruleArn")}, want: []string{"apps[0].preview.ruleArn: required"}},
		{name: "office CIDRs missing", edits: []edit{del("apps[0].preview.officeCidrs")}, want: []string{"apps[0].preview.officeCidrs: at least one"}},
		{name: "preview header half set", edits: []edit{set("apps[0].preview.header", map[string]any{"name": "x-preview"})}, want: []string{"apps[0].preview.header: name and value"}},
		{name: "approval stage missing", edits: []edit{del("apps[0].approval.stage")}, want: []string{"apps[0].approval.stage: required"}},
		{name: "approval missing", edits: []edit{del("apps[1].approval")}, want: []string{"apps[1].approval.pipeline: required", "apps[1].approval.stage: required", "apps[1].approval.action: required"}},
		{name: "rebuild both", edits: []edit{set("apps[0].rebuild.pipeline", "p")}, want: []string{"apps[0].rebuild: set exactly one"}},
		{name: "rebuild neither", edits: []edit{del("apps[0].rebuild")}, want: []string{"apps[0].rebuild: set exactly one"}},
		{name: "topicArn missing", edits: []edit{del("apps[1].topicArn")}, want: []string{"apps[1].topicArn: required"}},
		{name: "alas version", edits: []edit{set("apps[0].alas.amazonLinux", "2022")}, want: []string{"apps[0].alas.amazonLinux"}},
		{name: "alas severity", edits: []edit{set("apps[0].alas.minSeverity", "high")}, want: []string{"apps[0].alas.minSeverity"}},
		{name: "alas feed not a URL", edits: []edit{set("apps[0].alas.feeds", []any{"alas.rss"})}, want: []string{"apps[0].alas.feeds[0]: must be an http(s) URL"}},
		{name: "alarm role", edits: []edit{set("apps[0].alarms[0].role", "page")}, want: []string{"apps[0].alarms[0].role"}},
		{name: "alarm name missing", edits: []edit{del("apps[0].alarms[1].name")}, want: []string{"apps[0].alarms[1].name: required"}},
		{name: "account", edits: []edit{set("account", "1111-2222-3333")}, want: []string{"account: must be a 12-digit"}},
		{name: "region", edits: []edit{set("region", "Ireland")}, want: []string{"region: must be an AWS region"}},
		{name: "no apps", edits: []edit{set("apps", []any{})}, want: []string{"apps: at least one app"}},
		{name: "cutoverHealthyPercent over 100", edits: []edit{set("apps[0].cutoverHealthyPercent", 101)}, want: []string{"apps[0].cutoverHealthyPercent: must be between 1 and 100"}},

		// Weighted steps.
		{name: "weightSteps not ending at 100", edits: []edit{set("apps[0].weightSteps", []any{10, 50})}, want: []string{"apps[0].weightSteps: the last step must be 100, got 50"}},
		{name: "weightSteps falling", edits: []edit{set("apps[0].weightSteps", []any{50, 25, 100})}, want: []string{"apps[0].weightSteps[1]: steps must rise strictly"}},
		{name: "weightSteps over 100", edits: []edit{set("apps[0].weightSteps", []any{50, 150})}, want: []string{"apps[0].weightSteps[1]"}},

		// Negative durations and counts: defaults must not paper over them.
		{name: "negative bakeMinutes", edits: []edit{set("apps[0].bakeMinutes", -5)}, want: []string{"apps[0].bakeMinutes: must not be negative, got -5"}},
		{name: "negative stepMinutes", edits: []edit{set("apps[0].weightSteps", []any{50, 100}), set("apps[0].stepMinutes", -1)}, want: []string{"apps[0].stepMinutes: must not be negative"}},
		{name: "negative retireHoldMinutes", edits: []edit{set("apps[0].retireHoldMinutes", -1)}, want: []string{"apps[0].retireHoldMinutes: must not be negative"}},
		{name: "negative minImageAgeDays", edits: []edit{set("apps[0].minImageAgeDays", -7)}, want: []string{"apps[0].minImageAgeDays: must not be negative"}},
		{name: "negative alas.digestHours", edits: []edit{set("apps[0].alas.digestHours", -24)}, want: []string{"apps[0].alas.digestHours: must not be negative"}},
		{name: "negative cutoverTimeoutMinutes", edits: []edit{set("apps[0].cutoverTimeoutMinutes", -30)}, want: []string{"apps[0].cutoverTimeoutMinutes: must be at least 1, got -30"}},
		{name: "negative windowWaitHours", edits: []edit{set("apps[0].windowWaitHours", -1)}, want: []string{"apps[0].windowWaitHours: must be at least 1"}},
		{name: "negative alarmSkewSeconds", edits: []edit{set("apps[0].alarmSkewSeconds", -30)}, want: []string{"apps[0].alarmSkewSeconds: must be at least 1"}},
		{name: "negative noProgressTicks", edits: []edit{set("apps[1].noProgressTicks", -5)}, want: []string{"apps[1].noProgressTicks: must be at least 1"}},
		{name: "scalingPolicies unknown", edits: []edit{set("apps[0].scalingPolicies", "sync")}, want: []string{`apps[0].scalingPolicies: must be "copy" or "verify", got "sync"`}},
		{name: "negative alarm step", edits: []edit{set("apps[0].alarms[1].step", -2)}, want: []string{"apps[0].alarms[1].step: must not be negative"}},
		{name: "negative alarm cooldown", edits: []edit{set("apps[0].alarms[1].cooldownMinutes", -5)}, want: []string{"apps[0].alarms[1].cooldownMinutes: must not be negative"}},

		// Configurations that fight: both fields named.
		{name: "same name", edits: []edit{set("apps[1].name", "shop")}, want: []string{`apps[1].name: "shop" is already apps[0].name`}},
		{name: "same ASG in two apps", edits: []edit{set("apps[1].blue.asg", "shop-blue")}, want: []string{`apps[1].blue.asg: "shop-blue" is already apps[0].blue.asg`}},
		{name: "same ASG across colors", edits: []edit{set("apps[1].green.asg", "shop-blue")}, want: []string{`apps[1].green.asg: "shop-blue" is already apps[0].blue.asg`}},
		{name: "same ASG on both colors", edits: []edit{set("apps[0].green.asg", "shop-blue")}, want: []string{`apps[0].green.asg: "shop-blue" is already apps[0].blue.asg`}},
		{name: "same target group in two apps", edits: []edit{set("apps[1].green.targetGroupArn", elb+"targetgroup/shop-green/fedcba9876543210")}, want: []string{"apps[1].green.targetGroupArn:", "is already apps[0].green.targetGroupArn"}},
		{name: "same target group on both colors", edits: []edit{set("apps[0].green.targetGroupArn", elb+"targetgroup/shop-blue/0123456789abcdef")}, want: []string{"apps[0].green.targetGroupArn:", "is already apps[0].blue.targetGroupArn"}},
		{name: "same launch template in two apps", edits: []edit{set("apps[1].blue.launchTemplateId", "lt-06e0000000000002")}, want: []string{`apps[1].blue.launchTemplateId: "lt-06e0000000000002" is already apps[0].green.launchTemplateId`}},
		{name: "same launch template on both colors", edits: []edit{set("apps[0].green.launchTemplateId", "lt-0b1e0000000000001")}, want: []string{"apps[0].green.launchTemplateId:", "is already apps[0].blue.launchTemplateId"}},
		{name: "same listener", edits: []edit{set("apps[1].listenerArn", elb+"listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2")}, want: []string{"apps[1].listenerArn:", "is already apps[0].listenerArn"}},
		{name: "same preview rule", edits: []edit{set("apps[1].preview.ruleArn", elb+"listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee")}, want: []string{"apps[1].preview.ruleArn:", "is already apps[0].preview.ruleArn"}},
		{name: "same approval action", edits: []edit{set("apps[1].approval.pipeline", "shop-release")}, want: []string{`apps[1].approval: "shop-release/Approve/ProductionApproval" is already apps[0].approval`}},
		{name: "same alarm in two apps", edits: []edit{set("apps[1].alarms[0].name", "shop-cpu-high")}, want: []string{`apps[1].alarms[0].name: "shop-cpu-high" is already apps[0].alarms[1].name`}},
		{name: "same alarm twice in one app", edits: []edit{set("apps[0].alarms[1].name", "shop-5xx-rate")}, want: []string{`apps[0].alarms[1].name: "shop-5xx-rate" is already apps[0].alarms[0].name`}},
		{name: "same image tag, unrelated apps", edits: []edit{set("apps[1].imageTag", map[string]any{"value": "shop"})}, want: []string{`apps[1].imageTag: "kaizen:app=shop" is already apps[0].imageTag`}},

		// Staging.
		{name: "staging unknown", edits: []edit{set("apps[0].stagingApp", "shop-staging")}, want: []string{`apps[0].stagingApp: no app named "shop-staging"`}},
		{name: "soak without staging", edits: []edit{set("apps[0].stagingSoakMinutes", 30)}, want: []string{"apps[0].stagingSoakMinutes: needs stagingApp"}},
		{name: "soak negative", edits: []edit{set("apps[0].stagingApp", "api"), set("apps[0].stagingSoakMinutes", -1)}, want: []string{"apps[0].stagingSoakMinutes: must not be negative"}},
		{name: "preview URL not http", edits: []edit{set("apps[0].previewUrl", "ftp://preview.example.com")}, want: []string{"apps[0].previewUrl: must be an http(s) URL"}},
		{name: "preview URL with credentials", edits: []edit{set("apps[0].previewUrl", "https://u:p@preview.example.com")}, want: []string{"apps[0].previewUrl: must be an http(s) URL without credentials"}},
		{name: "staging self", edits: []edit{set("apps[0].stagingApp", "shop")}, want: []string{"apps[0].stagingApp: an app cannot be its own staging"}},
		{name: "staging loop", edits: []edit{set("apps[0].stagingApp", "api"), set("apps[1].stagingApp", "shop")}, want: []string{"apps[0].stagingApp: staging apps form a loop: shop -> api -> shop", "apps[1].stagingApp: staging apps form a loop"}},

		// Office CIDRs.
		{name: "CIDR catch-all IPv4", edits: []edit{set("apps[0].preview.officeCidrs", []any{"0.0.0.0/0"})}, want: []string{`apps[0].preview.officeCidrs[0]: "0.0.0.0/0" matches every address`}},
		{name: "CIDR catch-all IPv6", edits: []edit{set("apps[1].preview.officeCidrs[1]", "::/0")}, want: []string{`apps[1].preview.officeCidrs[1]: "::/0" matches every address`}},
		{name: "CIDR catch-all even when wide is allowed", edits: []edit{set("apps[0].preview.officeCidrs", []any{"0.0.0.0/0"}), set("apps[0].allowWidePreview", true)}, want: []string{`apps[0].preview.officeCidrs[0]: "0.0.0.0/0" matches every address`}},
		{name: "CIDR catch-all IPv4-mapped", edits: []edit{set("apps[0].preview.officeCidrs", []any{"::ffff:0.0.0.0/96"})}, want: []string{"apps[0].preview.officeCidrs[0]:", "matches every address"}},
		{name: "CIDR wider than /16", edits: []edit{set("apps[0].preview.officeCidrs", []any{"10.0.0.0/8"})}, want: []string{`apps[0].preview.officeCidrs[0]: "10.0.0.0/8" is wider than /16`, "allowWidePreview"}},
		{name: "CIDR /15", edits: []edit{set("apps[0].preview.officeCidrs", []any{"203.0.0.0/15"})}, want: []string{"apps[0].preview.officeCidrs[0]:", "wider than /16"}},
		{name: "CIDR wider than /48", edits: []edit{set("apps[1].preview.officeCidrs[1]", "2001:db8::/32")}, want: []string{`apps[1].preview.officeCidrs[1]: "2001:db8::/32" is wider than /48`}},
		{name: "CIDR host bits", edits: []edit{set("apps[0].preview.officeCidrs", []any{"203.0.113.10/24"})}, want: []string{`apps[0].preview.officeCidrs[0]: "203.0.113.10/24" has host bits set: the network is 203.0.113.0/24`}},
		{name: "CIDR host bits IPv6", edits: []edit{set("apps[1].preview.officeCidrs[1]", "2001:db8:1234::1/48")}, want: []string{"apps[1].preview.officeCidrs[1]:", "the network is 2001:db8:1234::/48"}},
		{name: "CIDR not a CIDR", edits: []edit{set("apps[0].preview.officeCidrs", []any{"203.0.113.10"})}, want: []string{`apps[0].preview.officeCidrs[0]: not a CIDR`}},

		// ARNs: no wildcards, the right service and resource type.
		{name: "ARN wildcard *", edits: []edit{set("apps[0].blue.targetGroupArn", elb+"targetgroup/shop-*/0123456789abcdef")}, want: []string{"apps[0].blue.targetGroupArn: must name one resource, not a wildcard"}},
		{name: "ARN wildcard ?", edits: []edit{set("apps[0].instanceRoleArn", "arn:aws:iam::111122223333:role/shop-instanc?")}, want: []string{"apps[0].instanceRoleArn: must name one resource, not a wildcard"}},
		{name: "ARN wildcard account", edits: []edit{set("apps[0].topicArn", "arn:aws:sns:eu-west-1:*:kaizen-shop")}, want: []string{"apps[0].topicArn: must name one resource, not a wildcard"}},
		{name: "targetGroupArn is a listener", edits: []edit{set("apps[0].blue.targetGroupArn", elb+"listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab1")}, want: []string{"apps[0].blue.targetGroupArn: must be an ARN like arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID"}},
		{name: "listenerArn is a target group", edits: []edit{set("apps[0].listenerArn", elb+"targetgroup/shop-x/0123456789abcdee")}, want: []string{"apps[0].listenerArn: must be an ARN like arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/"}},
		{name: "listenerArn is a load balancer", edits: []edit{set("apps[0].listenerArn", elb+"loadbalancer/app/shop/50dc6c495c0c9188")}, want: []string{"apps[0].listenerArn: must be an ARN like", "got \"arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/shop/50dc6c495c0c9188\""}},
		{name: "ruleArn is the listener", edits: []edit{set("apps[0].preview.ruleArn", elb+"listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2")}, want: []string{"apps[0].preview.ruleArn: must be an ARN like arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/"}},
		{name: "listenerArn of another service", edits: []edit{set("apps[0].listenerArn", "arn:aws:ec2:eu-west-1:111122223333:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2")}, want: []string{"apps[0].listenerArn: must be an ARN like arn:aws:elasticloadbalancing:", "got \"arn:aws:ec2:"}},
		{name: "ARN in another account", edits: []edit{set("apps[0].listenerArn", "arn:aws:elasticloadbalancing:eu-west-1:444455556666:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2")}, want: []string{"apps[0].listenerArn: ARN must be in region eu-west-1 and account 111122223333"}},
		{name: "topicArn is a subscription", edits: []edit{set("apps[0].topicArn", "arn:aws:sns:eu-west-1:111122223333:kaizen-shop:7b1c2c1e-0000-4000-8000-000000000000")}, want: []string{"apps[0].topicArn: must be an ARN like arn:aws:sns:REGION:ACCOUNT:TOPIC (a topic, not a subscription)"}},
		{name: "topicArn is a queue", edits: []edit{set("apps[0].topicArn", "arn:aws:sqs:eu-west-1:111122223333:kaizen-shop")}, want: []string{"apps[0].topicArn: must be an ARN like arn:aws:sns:", "got \"arn:aws:sqs:"}},
		{name: "instanceRoleArn is an instance profile", edits: []edit{set("apps[0].instanceRoleArn", "arn:aws:iam::111122223333:instance-profile/shop-instance")}, want: []string{"apps[0].instanceRoleArn: must be an ARN like arn:aws:iam::ACCOUNT:role/NAME (a role, not an instance profile)"}},
		{name: "instanceRoleArn of another account", edits: []edit{set("apps[0].instanceRoleArn", "arn:aws:iam::444455556666:role/shop-instance")}, want: []string{"apps[0].instanceRoleArn: must be an IAM ARN of account 111122223333"}},
		{name: "secret ARN of a parameter", edits: []edit{set("apps[0].secret", "arn:aws:ssm:eu-west-1:111122223333:parameter/shop/production")}, want: []string{"apps[0].secret: must be an ARN like arn:aws:secretsmanager:", "got \"arn:aws:ssm:"}},
		{name: "secret ARN not a secret", edits: []edit{set("apps[0].secret", "arn:aws:secretsmanager:eu-west-1:111122223333:shop/production")}, want: []string{"apps[0].secret: must be an ARN like arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME"}},
		{name: "secret name wildcard", edits: []edit{set("apps[0].secret", "shop/*")}, want: []string{"apps[0].secret: must name one secret"}},
		{name: "not an ARN", edits: []edit{set("apps[0].topicArn", "kaizen-shop")}, want: []string{"apps[0].topicArn: must be an ARN like arn:aws:sns:", `got "kaizen-shop"`}},

		// Image owners.
		{name: "imageOwners alias", edits: []edit{set("apps[0].imageOwners", []any{"amazon"})}, want: []string{`apps[0].imageOwners[0]: must be a 12-digit AWS account id, got "amazon"`}},
		{name: "imageOwners short", edits: []edit{set("apps[0].imageOwners", []any{"444455556666", "44445555666"})}, want: []string{"apps[0].imageOwners[1]: must be a 12-digit"}},

		// Change windows.
		{name: "window from == to", edits: []edit{window(weekdays, "09:00", "09:00", "Europe/Berlin")}, want: []string{"apps[0].changeWindow.to: must differ from from"}},
		{name: "window zone unknown", edits: []edit{window(weekdays, "09:00", "17:00", "Europe/Frankfurt")}, want: []string{`apps[0].changeWindow.timeZone: must be an IANA time zone such as Europe/Berlin, got "Europe/Frankfurt"`}},
		{name: "window zone Local", edits: []edit{window(weekdays, "09:00", "17:00", "Local")}, want: []string{"apps[0].changeWindow.timeZone: must be an IANA time zone"}},
		{name: "window zone missing", edits: []edit{window(weekdays, "09:00", "17:00", "")}, want: []string{"apps[0].changeWindow.timeZone: must be an IANA time zone"}},
		{name: "window day", edits: []edit{window([]any{"mon", "funday"}, "09:00", "17:00", "UTC")}, want: []string{`apps[0].changeWindow.days[1]: must be mon..sun, got "funday"`}},
		{name: "window day twice", edits: []edit{window([]any{"mon", "Mon"}, "09:00", "17:00", "UTC")}, want: []string{`apps[0].changeWindow.days[1]: "Mon" is listed twice`}},
		{name: "window no days", edits: []edit{window([]any{}, "09:00", "17:00", "UTC")}, want: []string{"apps[0].changeWindow.days: at least one day"}},
		{name: "window 24:00", edits: []edit{window(weekdays, "09:00", "24:00", "UTC")}, want: []string{`apps[0].changeWindow.to: must be HH:MM (00:00 to 23:59), got "24:00"`}},
		{name: "window 9:00", edits: []edit{window(weekdays, "9:00", "17:00", "UTC")}, want: []string{`apps[0].changeWindow.from: must be HH:MM`}},

		// Keys encoding/json would take silently.
		{name: "key case top level", edits: []edit{rename("account", "Account")}, want: []string{`Account: unknown key "Account": the field is spelled "account"`}},
		{name: "key case app", edits: []edit{rename("apps[0].bakeMinutes", "BakeMinutes")}, want: []string{`apps[0].BakeMinutes: unknown key "BakeMinutes": the field is spelled "bakeMinutes"`}},
		{name: "key case color", edits: []edit{rename("apps[1].blue.asg", "ASG")}, want: []string{`apps[1].blue.ASG: unknown key "ASG": the field is spelled "asg"`}},
		{name: "key case in a case key", edits: []edit{rename("apps[1].blue", "Blue"), rename("apps[1].Blue.asg", "Asg")}, want: []string{`apps[1].Blue: unknown key "Blue"`, `apps[1].Blue.Asg: unknown key "Asg": the field is spelled "asg"`}},
		{name: "key case alarm", edits: []edit{rename("apps[0].alarms[1].cooldownMinutes", "cooldownminutes")}, want: []string{`apps[0].alarms[1].cooldownminutes: unknown key "cooldownminutes": the field is spelled "cooldownMinutes"`}},
		{name: "key case window", edits: []edit{window(weekdays, "09:00", "17:00", "UTC"), rename("apps[0].changeWindow.timeZone", "TimeZone")}, want: []string{`apps[0].changeWindow.TimeZone: unknown key "TimeZone": the field is spelled "timeZone"`}},
		{name: "key case long s", edits: []edit{rename("apps[0].approval.stage", "\u017Ftage")}, want: []string{"apps[0].approval.\u017Ftage: unknown key", `the field is spelled "stage"`}},
		{name: "key case Kelvin sign", edits: []edit{set("apps[0].imageTag", map[string]any{"\u212Aey": "kaizen:app"})}, want: []string{"apps[0].imageTag.\u212Aey: unknown key", `the field is spelled "key"`}},
		{name: "unknown key", edits: []edit{rename("apps[0].bakeMinutes", "bakeMinute")}, want: []string{`apps[0].bakeMinute: unknown key "bakeMinute" (did you mean "bakeMinutes"?)`, "apps[0].bakeMinutes: required"}},
		{name: "unknown key deep", edits: []edit{set("apps[0].alas.severity", "high")}, want: []string{`apps[0].alas.severity: unknown key "severity"`}},

		// Values of the wrong type, named with their index.
		{name: "string for a number", edits: []edit{set("apps[1].floor", "2")}, want: []string{`apps[1].floor: must be a whole number, got the string "2"`}},
		{name: "fraction for a whole number", edits: []edit{set("apps[1].bakeMinutes", 2.5)}, want: []string{"apps[1].bakeMinutes: must be a whole number, got the number 2.5"}},
		{name: "object for a list", edits: []edit{set("apps[0].preview.officeCidrs", map[string]any{"a": "b"})}, want: []string{"apps[0].preview.officeCidrs: must be an array, got an object"}},
		{name: "number for a bool", edits: []edit{set("apps[0].autoPromote", 1)}, want: []string{"apps[0].autoPromote: must be true or false, got the number 1"}},
		{name: "list for an object", edits: []edit{set("apps[0].blue", []any{})}, want: []string{"apps[0].blue: must be an object, got an array"}},

		// Not one JSON document.
		{name: "trailing document", raw: func(s string) string { return s + "\n{}\n" }, want: []string{fmt.Sprintf("decode: line %d, column 1: trailing data after the JSON document", strings.Count(base, "\n")+2)}},
		{name: "trailing garbage", raw: func(s string) string { return s + " x" }, want: []string{"trailing data after the JSON document"}},
		{name: "trailing bracket", raw: func(s string) string { return s + "]" }, want: []string{"trailing data after the JSON document"}},
		{name: "truncated", raw: func(s string) string { return s[:len(s)-2] }, want: []string{"decode: the document ends early"}},
		{name: "empty", raw: func(string) string { return "" }, want: []string{"decode:"}},
		{name: "syntax error", raw: func(s string) string { return strings.Replace(s, `"floor": 2,`, `"floor": 2,,`, 1) }, want: []string{fmt.Sprintf("decode: line %d, column", 1+strings.Count(base[:strings.Index(base, `"floor": 2,`)], "\n"))}},
		{name: "duplicate key", raw: func(s string) string { return strings.Replace(s, `"floor": 2,`, `"floor": 2, "floor": 0,`, 1) }, want: []string{"apps[0].floor: duplicate key"}},
		{name: "duplicate key by case", raw: func(s string) string { return strings.Replace(s, `"floor": 2,`, `"floor": 2, "Floor": 0,`, 1) }, want: []string{`apps[0].Floor: unknown key "Floor"`, "apps[0].Floor: duplicate key: apps[0].floor is already set"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b []byte
			if c.raw != nil {
				b = []byte(c.raw(base))
			} else {
				d := baseDoc(t)
				for _, e := range c.edits {
					d = e(t, d)
				}
				b = d.bytes(t)
			}
			f, err := Parse(b)
			if err == nil {
				t.Fatalf("Parse accepted it (warnings %q)", f.Warnings())
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestParseAccepts: valid files close to the rules, with the warnings they
// should carry.
func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name     string
		edit     func(t *testing.T, d doc) doc
		warnings []string
	}{
		{"bakeMinutes 0", func(t *testing.T, d doc) doc { return d.set(t, "apps[1].bakeMinutes", 0) },
			[]string{"apps[1].bakeMinutes: 0 retires the previous color at cutover; a rollback then needs new instances"}},
		{"wide office with allowWidePreview", func(t *testing.T, d doc) doc {
			return d.set(t, "apps[0].preview.officeCidrs", []any{"10.0.0.0/8", "2001:db8::/32"}).set(t, "apps[0].allowWidePreview", true)
		}, []string{"apps[0].preview.officeCidrs[0]: 10.0.0.0/8 is wider than /16", "apps[0].preview.officeCidrs[1]: 2001:db8::/32 is wider than /48"}},
		{"a /16 and a /48", func(t *testing.T, d doc) doc {
			return d.set(t, "apps[0].preview.officeCidrs", []any{"10.1.0.0/16", "2001:db8:1::/48", "::ffff:10.2.0.0/112"})
		}, nil},
		{"staging and production share the image tag", func(t *testing.T, d doc) doc {
			return d.set(t, "apps[1].imageTag", map[string]any{"value": "shop"}).set(t, "apps[0].stagingApp", "api")
		}, nil},
		{"two productions of one staging share the image tag", func(t *testing.T, d doc) doc {
			third := map[string]any{}
			b, _ := json.Marshal(d["apps"].([]any)[1])
			_ = json.Unmarshal(b, &third)
			d["apps"] = append(d["apps"].([]any), third)
			return d.set(t, "apps[2].name", "api-eu").set(t, "apps[2].blue.asg", "api-eu-blue").set(t, "apps[2].green.asg", "api-eu-green").
				set(t, "apps[2].blue.targetGroupArn", "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/api-eu-blue/2123456789abcdef").
				set(t, "apps[2].green.targetGroupArn", "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/api-eu-green/2edcba9876543210").
				set(t, "apps[2].blue.launchTemplateId", "lt-0c1e0000000000001").set(t, "apps[2].green.launchTemplateId", "lt-0c2e0000000000002").
				set(t, "apps[2].listenerArn", "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/net/api-eu/70dc6c495c0c9188/b2f7dc8efc522ab2").
				set(t, "apps[2].preview.ruleArn", "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/api-eu/70dc6c495c0c9188/c2f7dc8efc522ab2/2683b2d02a6cabee").
				set(t, "apps[2].approval.pipeline", "api-eu-release").set(t, "apps[2].alarms", []any{}).
				set(t, "apps[0].imageTag", map[string]any{"value": "api"}).set(t, "apps[2].imageTag", map[string]any{"value": "api"}).
				set(t, "apps[1].stagingApp", "shop").set(t, "apps[2].stagingApp", "shop")
		}, []string{"apps[2].alarms: no guard alarm", "apps[2].preview.ruleArn: the rule is on listener"}},
		{"a window across midnight", func(t *testing.T, d doc) doc {
			return d.set(t, "apps[0].changeWindow", map[string]any{"days": []any{"Tue"}, "from": "22:00", "to": "01:00", "timeZone": "America/New_York"})
		}, nil},
		{"image owners", func(t *testing.T, d doc) doc {
			return d.set(t, "apps[0].imageOwners", []any{"444455556666", "111122223333"})
		}, []string{"apps[0].imageOwners[1]: 111122223333 is the configured account"}},
		{"a secret by name", func(t *testing.T, d doc) doc { return d.set(t, "apps[0].secret", "shop/production") }, nil},
		{"null optional fields", func(t *testing.T, d doc) doc {
			return d.set(t, "apps[0].changeWindow", nil).set(t, "apps[0].alarms", nil).set(t, "apps[0].weightSteps", nil)
		}, []string{"apps[0].alarms: no guard alarm"}},
		{"guard alarm with capacity settings, step minutes without steps", func(t *testing.T, d doc) doc {
			return d.set(t, "apps[1].alarms[0].step", 2).set(t, "apps[1].stepMinutes", 5)
		}, []string{"apps[1].alarms[0]: step and cooldownMinutes apply to capacity alarms only", "apps[1].stepMinutes: has no effect without weightSteps"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.edit(t, baseDoc(t)).bytes(t))
			if err != nil {
				t.Fatal(err)
			}
			got := f.Warnings()
			ok := len(got) == len(c.warnings)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], c.warnings[i])
			}
			if !ok {
				t.Errorf("warnings:\n got %q\nwant %q (prefixes)", got, c.warnings)
			}
		})
	}
}

// TestEveryErrorAtOnce: one run reports every problem, not the first.
func TestEveryErrorAtOnce(t *testing.T) {
	d := baseDoc(t).del(t, "apps[0].bakeMinutes").set(t, "apps[1].floor", 0).rename(t, "apps[1].blue.asg", "ASG").
		set(t, "apps[1].green.asg", "shop-green").set(t, "apps[0].preview.officeCidrs", []any{"0.0.0.0/0"})
	_, err := Parse(d.bytes(t))
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, w := range []string{"apps[1].blue.ASG: unknown key", "apps[0].bakeMinutes: required", "apps[1].floor: must be at least 1",
		`apps[1].green.asg: "shop-green" is already apps[0].green.asg`, "apps[0].preview.officeCidrs[0]:"} {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, w)
		}
		if !found {
			t.Errorf("no line starting %q in:\n%v", w, err)
		}
	}
}

// TestEveryKeyIsCaseChecked renames each key of the base, at every depth, to
// a spelling that differs only by case: each must be refused, naming it.
func TestEveryKeyIsCaseChecked(t *testing.T) {
	var paths []string
	var collect func(prefix string, v any)
	collect = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				paths = append(paths, p)
				collect(p, x)
			}
		case []any:
			for i, x := range v {
				collect(prefix+"["+strconv.Itoa(i)+"]", x)
			}
		}
	}
	collect("", map[string]any(baseDoc(t)))
	if len(paths) < 60 {
		t.Fatalf("only %d keys", len(paths))
	}
	for _, p := range paths {
		i := strings.LastIndex(p, ".") + 1
		key := p[i:]
		odd := strings.ToUpper(key[:1]) + key[1:]
		if odd == key {
			odd = strings.ToLower(key)
		}
		_, err := Parse(baseDoc(t).rename(t, p, odd).bytes(t))
		want := p[:i] + odd + `: unknown key "` + odd + `": the field is spelled "` + key + `"`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s renamed to %s: want %q, got %v", p, odd, want, err)
		}
	}
}

// TestKnownKeysFollowTheTags: the key list is the json tags, so a field
// added to App is known without a list to keep in step.
func TestKnownKeysFollowTheTags(t *testing.T) {
	keys := jsonFields(reflect.TypeFor[App]())
	rt := reflect.TypeFor[App]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name == "-" || !rt.Field(i).IsExported() {
			continue
		}
		if _, ok := keys[name]; !ok {
			t.Errorf("%s (%q) is not a known key", rt.Field(i).Name, name)
		}
	}
	if _, ok := jsonFields(reflect.TypeFor[ChangeWindow]())["loc"]; ok {
		t.Error("an unexported field is a key")
	}
	for _, k := range []string{"windowWaitHours", "alarmSkewSeconds", "imageOwners", "allowWidePreview", "noProgressTicks"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("%s is not a known key", k)
		}
	}
}

// TestDefaults: zero takes the default; the default does not hide a
// negative value (see TestParseRefuses).
func TestDefaults(t *testing.T) {
	f, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	a := f.Apps[0]
	got := []int{a.CutoverHealthyPercent, a.CutoverTimeoutMinutes, a.WindowWaitHours, a.AlarmSkewSeconds, a.NoProgressTicks, a.RetireHoldMinutes, a.ALAS.DigestHours, a.Alarms[1].Step}
	want := []int{100, 30, 24, 30, 5, 60, 24, 2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults %v, want %v", got, want)
	}
	if a.ImageTag != (Tag{Key: "kaizen:app", Value: "shop"}) || f.Apps[1].Rebuild.PipelineVariable != "SECURITY_ADVISORIES" {
		t.Errorf("defaults: %+v %+v", a.ImageTag, f.Apps[1].Rebuild)
	}
}

// TestRoundTrip: a parsed file marshals to JSON that parses to the same
// file (the e2e tests edit a parsed file and write it back).
func TestRoundTrip(t *testing.T) {
	f, err := Parse([]byte(withWindow(t)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse(b)
	if err != nil {
		t.Fatalf("a marshaled file does not parse: %v", err)
	}
	b2, _ := json.Marshal(g)
	if !bytes.Equal(b, b2) {
		t.Errorf("round trip changed the file:\n%s\n%s", b, b2)
	}
}

func TestValidateWithoutParse(t *testing.T) {
	f, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	g := &File{Account: f.Account, Region: f.Region, Apps: f.Apps}
	g.Apps[0].BakeMinutes = 0
	g.Apps[0].ChangeWindow = &ChangeWindow{Days: []string{"mon"}, From: "09:00", To: "17:00", TimeZone: "Europe/Berlin"}
	if err := g.Validate(); err != nil {
		t.Fatalf("a File made in Go: %v", err)
	}
	if g.Apps[0].ChangeWindow.loc == nil {
		t.Error("Validate did not parse the zone")
	}
	g.Apps[1].Floor = -1
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), "apps[1].floor: must be at least 1") {
		t.Errorf("got %v", err)
	}
}

// TestRepoConfigs runs every configuration file in the repository through
// Parse: all of them must validate (name a deliberately broken fixture
// *invalid*, *broken* or *bad* to leave it out).
func TestRepoConfigs(t *testing.T) {
	root := filepath.Join("..", "..")
	n := 0
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := e.Name()
		if e.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "cdk.out" || name == "build") {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Ext(name) != ".json" || regexp.MustCompile(`(?i)invalid|broken|bad`).MatchString(name) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(`"apps"`)) {
			return err
		}
		n++
		if _, err := Parse(b); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Errorf("found %d configuration files; want examples/kaizen.json and more", n)
	}
}
