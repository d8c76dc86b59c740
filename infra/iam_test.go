package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/infra/stacks"
	"github.com/kaizen-sre/kaizen/shared/access"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// statement is one IAM policy statement of a template.
type statement struct {
	role      string // logical id of the role the policy is attached to
	sid       string
	effect    string
	actions   []string
	resources []string
	condition map[string]any
}

// statements lists the statements of the template's AWS::IAM::Policy
// resources, once per role they are attached to.
func statements(tpl map[string]any) []statement {
	var out []statement
	for _, p := range resources(tpl, "AWS::IAM::Policy") {
		pp := props(p)
		for _, role := range pp["Roles"].([]any) {
			for _, st := range pp["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				st := st.(map[string]any)
				sid, _ := st["Sid"].(string)
				effect, _ := st["Effect"].(string)
				cond, _ := st["Condition"].(map[string]any)
				out = append(out, statement{
					role: ref(role), sid: sid, effect: effect, condition: cond,
					actions: strs(st["Action"]), resources: strs(st["Resource"]),
				})
			}
		}
	}
	return out
}

// readOnlyExceptions are the only actions that may have the resource "*" in
// the kaizen stack: IAM has no resource-level permissions for them, and
// they change nothing.
var readOnlyExceptions = []string{
	"autoscaling:DescribeAutoScalingGroups",
	"autoscaling:DescribePolicies",
	"autoscaling:DescribeScheduledActions",
	"ec2:DescribeImages",
	"ec2:DescribeLaunchTemplateVersions",
	"elasticloadbalancing:DescribeListeners",
	"elasticloadbalancing:DescribeRules",
	"elasticloadbalancing:DescribeTargetHealth",
	"rds:DescribeDBClusterSnapshots",
	"rds:DescribeDBClusters",
	"rds:DescribeDBInstances",
	"rds:DescribeDBSnapshots",
	"cloudwatch:GetMetricData",
}

// plumbing is what every function has besides its spec: writing its own
// log group, sending to its own dead-letter queue, and (X-Ray active
// tracing) writing its traces.
var plumbing = append([]string{"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}, stacks.TracingActions...)

func TestIAM(t *testing.T) {
	s := full(t)
	k := s.stacks.Kaizen
	tpl := s.template(k.Stack)
	all := statements(tpl)
	cfg, err := config.Load(filepath.Join(repoRoot, exampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	app := cfg.Apps[0]
	of := func(fn string) []statement {
		role := logicalID(k.Functions[fn].Role)
		var out []statement
		for _, st := range all {
			if st.role == role {
				out = append(out, st)
			}
		}
		return out
	}

	t.Run("the spec table covers exactly route.Functions, in order", func(t *testing.T) {
		var names []string
		for _, s := range stacks.Specs {
			names = append(names, s.Name)
		}
		if !slices.Equal(names, route.Functions) {
			t.Errorf("stacks.Specs = %v, route.Functions = %v", names, route.Functions)
		}
		if !slices.Equal(stacks.ReadOnlyActions, readOnlyExceptions) {
			t.Errorf("stacks.ReadOnlyActions = %v, want %v", stacks.ReadOnlyActions, readOnlyExceptions)
		}
	})

	// What each function's role allows is derived from shared/access, the
	// list the functions themselves consult (its tests drive every
	// function on the simulator against it). The example rebuilds with
	// CodeBuild only, so no role gets the pipeline actions: a grant without
	// resources is left out.
	want := func(fn string) []string {
		var out []string
		for _, a := range access.Actions(fn) {
			// The example refreshes no database: dbrefresh's grants
			// besides the table resolve to nothing and are left out
			// (TestDBRefreshLeastPrivilege checks them on the staging example).
			// Nor does it judge by Datadog: the tick's grants on the
			// Datadog secret and its key resolve to nothing (TestAnalysisIAM).
			if fn == route.Tick && (a == "secretsmanager:GetSecretValue" || a == "kms:Decrypt") {
				continue
			}
			if !strings.HasPrefix(a, "codepipeline:") && (fn != route.DBRefresh || strings.HasPrefix(a, "dynamodb:")) {
				out = append(out, a)
			}
		}
		return out
	}

	t.Run("each function's role allows exactly the actions shared/access gives it", func(t *testing.T) {
		for _, fn := range route.Functions {
			var got []string
			for _, st := range of(fn) {
				if st.effect == "Deny" && slices.Equal(st.actions, []string{"codebuild:StartBuild"}) {
					continue // denies StartBuild overrides: TestStartBuildDenies
				}
				if st.effect != "Allow" {
					t.Errorf("%s: unexpected %s statement %v", fn, st.effect, st.actions)
				}
				got = append(got, st.actions...)
			}
			exp := append(want(fn), plumbing...)
			slices.Sort(got)
			slices.Sort(exp)
			if got, exp = slices.Compact(got), slices.Compact(exp); !slices.Equal(got, exp) {
				t.Errorf("%s: actions\n got %v\nwant %v", fn, got, exp)
			}
			if slices.Contains(got, "secretsmanager:GetSecretValue") {
				t.Errorf("%s: may read the secret", fn)
			}
		}
	})

	t.Run("guard can neither create launch template versions nor pass roles", func(t *testing.T) {
		for _, st := range of(route.Guard) {
			for _, a := range []string{"ec2:CreateLaunchTemplateVersion", "iam:PassRole", "ec2:RunInstances", "ec2:CreateTags"} {
				if slices.Contains(st.actions, a) {
					t.Errorf("guard statement %s allows %s", st.sid, a)
				}
			}
		}
		if len(of(route.Guard)) == 0 {
			t.Fatal("guard has no policy statements")
		}
	})

	t.Run("the grant catalog scopes exactly the actions some function needs", func(t *testing.T) {
		var needed []string
		for _, fn := range route.Functions {
			needed = append(needed, access.Actions(fn)...)
		}
		slices.Sort(needed)
		needed = slices.Compact(needed)
		if got := stacks.CatalogActions(); !slices.Equal(got, needed) {
			t.Errorf("catalog scopes %v,\nfunctions need %v", got, needed)
		}
	})

	t.Run("no mutating action has the resource *", func(t *testing.T) {
		for _, st := range all {
			if !slices.Contains(st.resources, "*") || st.effect == "Deny" {
				continue
			}
			for _, a := range st.actions {
				// X-Ray's writes of the function's own traces accept no
				// other resource (stacks/tracing.go).
				if !slices.Contains(readOnlyExceptions, a) && !slices.Contains(stacks.TracingActions, a) {
					t.Errorf("role %s statement %s: %s on *", st.role, st.sid, a)
				}
			}
		}
	})

	t.Run("wildcard ARNs either pin a configured name or carry a condition", func(t *testing.T) {
		asgs := []string{asgARN(cfg, app.Blue.ASG), asgARN(cfg, app.Green.ASG)}
		for _, st := range all {
			for _, r := range st.resources {
				if r == "*" || !strings.Contains(r, "*") || slices.Contains(asgs, r) {
					continue
				}
				// AWS's own public parameters (no account in the ARN), read only.
				if strings.Contains(r, "::parameter/aws/service/ami-amazon-linux-latest/") && slices.Equal(st.actions, []string{"ssm:GetParameter"}) {
					continue
				}
				if len(st.condition) == 0 {
					t.Errorf("role %s statement %s: %v on %s without a condition", st.role, st.sid, st.actions, r)
				}
			}
		}
	})

	t.Run("mutating actions are scoped to the configured resources", func(t *testing.T) {
		lts := []string{ltARN(cfg, app.Blue.LaunchTemplateID), ltARN(cfg, app.Green.LaunchTemplateID)}
		scoped := map[string][]string{
			"ec2:CreateLaunchTemplateVersion":       lts,
			"autoscaling:UpdateAutoScalingGroup":    {asgARN(cfg, app.Blue.ASG), asgARN(cfg, app.Green.ASG)},
			"autoscaling:SuspendProcesses":          {asgARN(cfg, app.Blue.ASG), asgARN(cfg, app.Green.ASG)},
			"autoscaling:ResumeProcesses":           {asgARN(cfg, app.Blue.ASG), asgARN(cfg, app.Green.ASG)},
			"elasticloadbalancing:ModifyListener":   {app.ListenerARN},
			"elasticloadbalancing:ModifyRule":       {app.Preview.RuleARN},
			"iam:PassRole":                          {app.InstanceRoleARN},
			"sns:Publish":                           {app.TopicARN},
			"codebuild:StartBuild":                  {fmt.Sprintf("arn:aws:codebuild:%s:%s:project/%s", cfg.Region, cfg.Account, app.Rebuild.CodeBuildProject)},
			"dynamodb:PutItem":                      {"<table>"},
			"dynamodb:DeleteItem":                   {"<table>"},
			"elasticloadbalancing:DescribeRules":    {"*"},
			"autoscaling:DescribeAutoScalingGroups": {"*"},
		}
		tableID := logicalID(k.Table)
		for _, st := range all {
			if st.effect == "Deny" {
				continue // narrows what is granted: TestStartBuildDenies
			}
			for _, a := range st.actions {
				exp, ok := scoped[a]
				if !ok {
					continue
				}
				var got []string
				for _, r := range st.resources {
					if strings.Contains(r, tableID) {
						r = "<table>"
					}
					got = append(got, r)
				}
				if !slices.Equal(got, exp) {
					t.Errorf("role %s: %s on %v, want %v", st.role, a, got, exp)
				}
			}
		}
	})

	t.Run("iam:PassRole passes only the instance role, only to EC2", func(t *testing.T) {
		n := 0
		for _, tpl := range s.templates {
			for _, st := range statements(tpl) {
				if !slices.Contains(st.actions, "iam:PassRole") {
					continue
				}
				// The reference pipeline's build launches its instance with
				// the builder role (pipeline_iam_test.go).
				if p := s.stacks.Pipeline; p != nil && st.role == logicalID(p.Project.Role()) &&
					slices.Equal(st.resources, []string{`{"Fn::GetAtt":["` + logicalID(p.BuilderRole) + `","Arn"]}`}) {
					continue
				}
				n++
				if !slices.Equal(st.resources, []string{app.InstanceRoleARN}) {
					t.Errorf("role %s: iam:PassRole on %v", st.role, st.resources)
				}
				eq, _ := st.condition["StringEquals"].(map[string]any)
				if got := strs(eq["iam:PassedToService"]); !slices.Equal(got, []string{"ec2.amazonaws.com"}) {
					t.Errorf("role %s: iam:PassRole condition %v", st.role, st.condition)
				}
			}
		}
		if n != 3 {
			t.Errorf("%d iam:PassRole statements, want 3 (stage, promote, tick)", n)
		}
	})

	t.Run("launches are allowed only from the apps' launch templates, tags only at launch", func(t *testing.T) {
		for _, st := range all {
			switch st.sid {
			case "LaunchedByColorTemplates":
				like, _ := st.condition["ArnLike"].(map[string]any)
				got := strs(like["ec2:LaunchTemplate"])
				slices.Sort(got)
				exp := []string{ltARN(cfg, app.Blue.LaunchTemplateID), ltARN(cfg, app.Green.LaunchTemplateID)}
				slices.Sort(exp)
				if !slices.Equal(got, exp) {
					t.Errorf("role %s: RunInstances condition %v", st.role, st.condition)
				}
			case "TagOnLaunch":
				eq, _ := st.condition["StringEquals"].(map[string]any)
				if got := strs(eq["ec2:CreateAction"]); !slices.Equal(got, []string{"RunInstances"}) {
					t.Errorf("role %s: CreateTags condition %v", st.role, st.condition)
				}
			}
		}
	})

	t.Run("the reference pipeline's wildcard EC2 grants are conditioned", func(t *testing.T) {
		for _, st := range statements(s.template(s.stacks.Pipeline.Stack)) {
			if !slices.Contains(st.resources, "*") {
				continue
			}
			for _, a := range st.actions {
				if strings.HasPrefix(a, "ec2:Describe") {
					continue
				}
				if len(st.condition) == 0 {
					t.Errorf("pipeline statement %s: %s on * without a condition", st.sid, a)
				}
			}
		}
	})
}

func asgARN(cfg *config.File, name string) string {
	return fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:*:autoScalingGroupName/%s", cfg.Region, cfg.Account, name)
}

func ltARN(cfg *config.File, id string) string {
	return fmt.Sprintf("arn:aws:ec2:%s:%s:launch-template/%s", cfg.Region, cfg.Account, id)
}

// TestConfigDrivesTheStack synthesizes the kaizen stack again from a
// configuration whose blue Auto Scaling group has another name: the IAM
// resources follow it, and so do the function assets (they carry the
// configuration).
func TestConfigDrivesTheStack(t *testing.T) {
	base := full(t)
	var raw map[string]any
	b, err := os.ReadFile(filepath.Join(repoRoot, exampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	const renamed = "shop-blue-2024"
	raw["apps"].([]any)[0].(map[string]any)["blue"].(map[string]any)["asg"] = renamed
	b, _ = json.MarshalIndent(raw, "", "  ")
	path := filepath.Join(scratch, "renamed-asg.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	changed := synth(t, inputs{name: "renamed-asg", config: path, assets: fakeAssets(t, "assets")})
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	oldARN, newARN := asgARN(cfg, "shop-blue"), asgARN(cfg, renamed)

	asgResources := func(s *synthesized) []string {
		var out []string
		for _, st := range statements(s.template(s.stacks.Kaizen.Stack)) {
			if slices.Contains(st.actions, "autoscaling:UpdateAutoScalingGroup") {
				out = append(out, st.resources...)
			}
		}
		return out
	}

	t.Run("renaming an Auto Scaling group changes the IAM resources", func(t *testing.T) {
		before, after := asgResources(base), asgResources(changed)
		if !slices.Contains(before, oldARN) || slices.Contains(before, newARN) {
			t.Errorf("example config: autoscaling resources %v", before)
		}
		if slices.Contains(after, oldARN) || !slices.Contains(after, newARN) {
			t.Errorf("renamed config: autoscaling resources %v, want %s and not %s", after, newARN, oldARN)
		}
	})

	t.Run("the changed configuration changes every function's asset", func(t *testing.T) {
		before, after := codeKeys(t, base), codeKeys(t, changed)
		for _, fn := range route.Functions {
			if before[fn] == after[fn] {
				t.Errorf("%s: same asset %s for a different configuration", fn, before[fn])
			}
		}
	})
}

// codeKeys maps each function to its Code.S3Key (the asset hash).
func codeKeys(t *testing.T, s *synthesized) map[string]string {
	t.Helper()
	k := s.stacks.Kaizen
	lambdas := resources(s.template(k.Stack), "AWS::Lambda::Function")
	out := map[string]string{}
	for _, fn := range route.Functions {
		code, _ := props(lambdas[logicalID(k.Functions[fn].Lambda)])["Code"].(map[string]any)
		key, _ := code["S3Key"].(string)
		if key == "" {
			t.Fatalf("%s: no Code.S3Key", fn)
		}
		out[fn] = key
	}
	return out
}
