package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/kaizen-sre/kaizen/infra/stacks"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/route"
)

func exampleApp(t *testing.T) *config.App {
	t.Helper()
	cfg, err := config.Load(filepath.Join(repoRoot, exampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	return &cfg.Apps[0]
}

func TestFleetStack(t *testing.T) {
	s := full(t)
	f := s.stacks.Fleet
	tpl := s.template(f.Stack)
	app := exampleApp(t)
	tg := map[config.Color]string{}
	for _, c := range config.Colors {
		tg[c] = logicalID(f.TargetGroups[c])
	}
	forwardsTo := func(actions any) string {
		as, _ := actions.([]any)
		if len(as) != 1 {
			return ""
		}
		a := as[0].(map[string]any)
		if a["Type"] != "forward" {
			return ""
		}
		return ref(a["TargetGroupArn"])
	}

	t.Run("the listener sends the public to blue", func(t *testing.T) {
		p := props(resources(tpl, "AWS::ElasticLoadBalancingV2::Listener")[logicalID(f.Listener)])
		if got := forwardsTo(p["DefaultActions"]); got != tg[config.Blue] {
			t.Errorf("default action %v, want forward to blue", p["DefaultActions"])
		}
	})

	t.Run("the office previews green", func(t *testing.T) {
		p := props(resources(tpl, "AWS::ElasticLoadBalancingV2::ListenerRule")[logicalID(f.PreviewRule)])
		if ref(p["ListenerArn"]) != logicalID(f.Listener) {
			t.Errorf("preview rule on %v", p["ListenerArn"])
		}
		if got := forwardsTo(p["Actions"]); got != tg[config.Green] {
			t.Errorf("preview rule actions %v, want forward to green", p["Actions"])
		}
		var cidrs []string
		for _, c := range p["Conditions"].([]any) {
			c := c.(map[string]any)
			if c["Field"] == "source-ip" {
				cidrs = strs(c["SourceIpConfig"].(map[string]any)["Values"])
			}
		}
		if !slices.Equal(cidrs, app.Preview.OfficeCIDRs) {
			t.Errorf("preview rule source IPs %v, want %v", cidrs, app.Preview.OfficeCIDRs)
		}
	})

	t.Run("each color has a target group checking /health and a group named as configured", func(t *testing.T) {
		groups := resources(tpl, "AWS::AutoScaling::AutoScalingGroup")
		if len(groups) != 2 {
			t.Errorf("%d Auto Scaling groups, want 2", len(groups))
		}
		for _, c := range config.Colors {
			tp := props(resources(tpl, "AWS::ElasticLoadBalancingV2::TargetGroup")[tg[c]])
			if tp["HealthCheckPath"] != "/health" {
				t.Errorf("%s: HealthCheckPath = %v", c, tp["HealthCheckPath"])
			}
			gp := props(groups[logicalID(f.Groups[c])])
			if gp["AutoScalingGroupName"] != app.Color(c).ASG {
				t.Errorf("%s: AutoScalingGroupName = %v, want %s", c, gp["AutoScalingGroupName"], app.Color(c).ASG)
			}
			// Never zero from the first deploy: blue, live, has MinSize at
			// the floor; green may be retired to zero.
			wantMin := "0"
			if c == config.Blue {
				wantMin = strconv.Itoa(app.Floor)
			}
			if gp["MinSize"] != wantMin || gp["HealthCheckType"] != "ELB" {
				t.Errorf("%s: MinSize %v (want %s), HealthCheckType %v", c, gp["MinSize"], wantMin, gp["HealthCheckType"])
			}
			if c == config.Blue {
				if n, err := strconv.Atoi(fmt.Sprint(gp["MinSize"])); err != nil || n < 1 {
					t.Errorf("the live group's MinSize is %v, want at least 1", gp["MinSize"])
				}
			}
			// Instances warm up as long as a golden image takes to be
			// healthy; every scaling policy counts on it.
			if gp["DefaultInstanceWarmup"] != float64(420) {
				t.Errorf("%s: DefaultInstanceWarmup %v, want 420 s", c, gp["DefaultInstanceWarmup"])
			}
			if tgs := gp["TargetGroupARNs"].([]any); len(tgs) != 1 || ref(tgs[0]) != tg[c] {
				t.Errorf("%s: group registers in %v, want only its own target group", c, tgs)
			}
			lt, _ := gp["LaunchTemplate"].(map[string]any)
			if ref(lt["LaunchTemplateId"]) != logicalID(f.Templates[c]) {
				t.Errorf("%s: group launches from %v", c, lt)
			}
		}
	})

	t.Run("both groups scale alike: target tracking and predictive, on their own target group", func(t *testing.T) {
		alb := ""
		for id := range resources(tpl, "AWS::ElasticLoadBalancingV2::LoadBalancer") {
			alb = id
		}
		// label is the ResourceLabel of a color's ALB request count:
		// "<alb full name>/<target group full name>".
		label := func(c config.Color) string {
			b, _ := json.Marshal(map[string]any{"Fn::Join": []any{"/", []any{
				map[string]any{"Fn::GetAtt": []any{alb, "LoadBalancerFullName"}},
				map[string]any{"Fn::GetAtt": []any{tg[c], "TargetGroupFullName"}},
			}}})
			return string(b)
		}
		js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
		joined := func(xs []string) string { xs = slices.Clone(xs); slices.Sort(xs); return strings.Join(xs, "\n") }
		defs := map[config.Color][]string{}
		for _, p := range resources(tpl, "AWS::AutoScaling::ScalingPolicy") {
			pp := props(p)
			var c config.Color
			for _, col := range config.Colors {
				if ref(pp["AutoScalingGroupName"]) == logicalID(f.Groups[col]) {
					c = col
				}
			}
			if c == "" {
				t.Fatalf("a scaling policy of no color's group: %v", pp["AutoScalingGroupName"])
			}
			// The definition with the color's own label made generic.
			def := strings.ReplaceAll(js(pp), label(c), `"<own target group>"`)
			if strings.Contains(def, tg[c.Other()]) {
				t.Errorf("%s's policy names %s's target group: %s", c, c.Other(), def)
			}
			defs[c] = append(defs[c], strings.ReplaceAll(def, logicalID(f.Groups[c]), "<own group>"))
		}
		for _, c := range config.Colors {
			got := joined(defs[c])
			for _, want := range []string{
				`"PolicyType":"TargetTrackingScaling","TargetTrackingConfiguration":{"PredefinedMetricSpecification":{"PredefinedMetricType":"ALBRequestCountPerTarget","ResourceLabel":"<own target group>"}`,
				`"PredefinedMetricType":"ASGAverageCPUUtilization"`,
				`"PolicyType":"PredictiveScaling","PredictiveScalingConfiguration":{"MaxCapacityBreachBehavior":"HonorMaxCapacity","MetricSpecifications":[{"PredefinedMetricPairSpecification":{"PredefinedMetricType":"ALBRequestCount","ResourceLabel":"<own target group>"}`,
				`"Mode":"ForecastAndScale"`,
			} {
				if !strings.Contains(got, want) {
					t.Errorf("%s's policies lack %s:\n%s", c, want, got)
				}
			}
		}
		if b, g := joined(defs[config.Blue]), joined(defs[config.Green]); b != g || len(defs[config.Blue]) != 3 {
			t.Errorf("the colors' policies differ (or are not three):\nblue  %s\ngreen %s", b, g)
		}
	})

	t.Run("launch templates start from the given AMI, with no AWS lookups", func(t *testing.T) {
		for id, lt := range resources(tpl, "AWS::EC2::LaunchTemplate") {
			data := props(lt)["LaunchTemplateData"].(map[string]any)
			if data["ImageId"] != "ami-0123456789abcdef0" {
				t.Errorf("%s: ImageId = %v", id, data["ImageId"])
			}
			if md, _ := data["MetadataOptions"].(map[string]any); md["HttpTokens"] != "required" {
				t.Errorf("%s: IMDSv2 not required", id)
			}
		}
		b, err := os.ReadFile(filepath.Join(s.outdir, "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Missing []any `json:"missing"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Missing) > 0 {
			t.Errorf("synth wants context lookups (AWS credentials): %v", m.Missing)
		}
	})

	t.Run("guard alarms watch each target group, capacity alarms each group", func(t *testing.T) {
		type key struct{ metric, dim, id string }
		seen := map[key]bool{}
		for _, a := range resources(tpl, "AWS::CloudWatch::Alarm") {
			p := props(a)
			for _, d := range p["Dimensions"].([]any) {
				d := d.(map[string]any)
				if d["Name"] == "TargetGroup" || d["Name"] == "AutoScalingGroupName" {
					seen[key{p["MetricName"].(string), d["Name"].(string), ref(d["Value"])}] = true
				}
			}
		}
		for _, c := range config.Colors {
			for _, k := range []key{
				{"HTTPCode_Target_5XX_Count", "TargetGroup", tg[c]},
				{"TargetResponseTime", "TargetGroup", tg[c]},
				{"CPUUtilization", "AutoScalingGroupName", logicalID(f.Groups[c])},
			} {
				if !seen[k] {
					t.Errorf("%s: no %s alarm", c, k.metric)
				}
			}
		}
	})

	t.Run("the instance role and topic carry the configured names", func(t *testing.T) {
		roles := 0
		for _, r := range resources(tpl, "AWS::IAM::Role") {
			if props(r)["RoleName"] == "shop-instance" {
				roles++
			}
		}
		if roles != 1 || !strings.HasSuffix(app.InstanceRoleARN, ":role/shop-instance") {
			t.Errorf("no role named after %s", app.InstanceRoleARN)
		}
		if got := props(resources(tpl, "AWS::SNS::Topic")[logicalID(f.Topic)])["TopicName"]; !strings.HasSuffix(app.TopicARN, ":"+got.(string)) {
			t.Errorf("topic named %v, config says %s", got, app.TopicARN)
		}
	})
}

func TestPipelineStack(t *testing.T) {
	s := full(t)
	p := s.stacks.Pipeline
	tpl := s.template(p.Stack)
	app := exampleApp(t)
	pipe := props(resources(tpl, "AWS::CodePipeline::Pipeline")[logicalID(p.Pipeline)])
	action := func(category string) (stage string, a map[string]any) {
		for _, st := range pipe["Stages"].([]any) {
			st := st.(map[string]any)
			for _, a := range st["Actions"].([]any) {
				a := a.(map[string]any)
				if a["ActionTypeId"].(map[string]any)["Category"] == category {
					return st["Name"].(string), a
				}
			}
		}
		return "", nil
	}

	t.Run("the manual approval is the one the configuration names", func(t *testing.T) {
		if pipe["Name"] != app.Approval.Pipeline {
			t.Errorf("pipeline %v, want %s", pipe["Name"], app.Approval.Pipeline)
		}
		stage, a := action("Approval")
		if stage != app.Approval.Stage || a["Name"] != app.Approval.Action {
			t.Errorf("approval %s/%v, want %s/%s", stage, a["Name"], app.Approval.Stage, app.Approval.Action)
		}
		// Its events reach promote through the kaizen stack's rule.
		detail, _ := json.Marshal(map[string]any{
			"pipeline": app.Approval.Pipeline, "stage": app.Approval.Stage, "action": app.Approval.Action,
			"execution-id": "0b8f5a2e", "state": "SUCCEEDED",
			"type": map[string]any{"owner": "AWS", "provider": "Manual", "category": "Approval", "version": "1"},
		})
		ev := route.Envelope{Source: route.SourceCodePipeline, DetailType: route.TypeActionExecution, Detail: detail}
		if got := route.Route(ev).Function; got != route.Promote {
			t.Errorf("the approval event routes to %q, want promote", got)
		}
	})

	t.Run("the build runs the repository's buildspec in the configured project", func(t *testing.T) {
		proj := props(resources(tpl, "AWS::CodeBuild::Project")[logicalID(p.Project)])
		if proj["Name"] != app.Rebuild.CodeBuildProject {
			t.Errorf("project %v, want %s", proj["Name"], app.Rebuild.CodeBuildProject)
		}
		if src := proj["Source"].(map[string]any); src["BuildSpec"] != stacks.BuildspecPath {
			t.Errorf("buildspec %v, want %s", src["BuildSpec"], stacks.BuildspecPath)
		}
		if proj["EncryptionKey"] == nil {
			t.Error("project has no KMS key")
		}
		for _, f := range []string{stacks.BuildspecPath, "infra/packer/golden.pkr.hcl", "infra/ansible/playbook.yml"} {
			if _, err := os.Stat(filepath.Join(repoRoot, f)); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("the build gets the advisories variable and the execution id", func(t *testing.T) {
		_, a := action("Build")
		var env []map[string]string
		if err := json.Unmarshal([]byte(a["Configuration"].(map[string]any)["EnvironmentVariables"].(string)), &env); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, e := range env {
			got[e["name"]] = e["value"]
		}
		if got["SECURITY_ADVISORIES"] != "#{variables.SECURITY_ADVISORIES}" || got["PIPELINE_EXECUTION_ID"] != "#{codepipeline.PipelineExecutionId}" ||
			got["AL2023_RELEASE_VERSION"] != "#{variables.AL2023_RELEASE_VERSION}" {
			t.Errorf("build action environment %v", got)
		}
		// Every variable kaizen may set on an execution is declared.
		var names []string
		for _, v := range pipe["Variables"].([]any) {
			names = append(names, v.(map[string]any)["Name"].(string))
		}
		if want := rebuild.PipelineVariables(app); !slices.Equal(names, want) {
			t.Errorf("pipeline variables %v, want %v", names, want)
		}
	})

	t.Run("the image build applies each advisory and tags the AMI for kaizen", func(t *testing.T) {
		read := func(f string) string {
			b, err := os.ReadFile(filepath.Join(repoRoot, f))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		for file, wants := range map[string][]string{
			"infra/packer/golden.pkr.hcl": {`(var.image_tag_key) = local.tag_value`, `(var.pipeline_tag_key) = var.pipeline_execution_id`, `provisioner "ansible"`,
				`default = "kaizen:app"`, `default = "kaizen:pipeline-execution"`, `image prepare`, `encrypt_boot = true`, `kms_key_id   = var.kms_key_id`,
				`http_tokens                 = "required"`, `iam_instance_profile                      = var.instance_profile`},
			stacks.BuildspecPath: {"exported-variables:", "- AMI_ID", "packer build", "SECURITY_ADVISORIES", "AL2023_RELEASE_VERSION", "go build", "./cmd/kaizen"},
		} {
			text := read(file)
			for _, w := range wants {
				if !strings.Contains(text, w) {
					t.Errorf("%s does not contain %q", file, w)
				}
			}
		}
		// No release logic left in YAML, HCL or Jinja: kaizen image prepare does it.
		for _, file := range []string{"infra/ansible/playbook.yml", "infra/packer/golden.pkr.hcl", stacks.BuildspecPath} {
			text := read(file)
			for _, w := range []string{"yum update", "dnf upgrade", "--advisory", "profile.d/{{", "secretsmanager get-secret-value", "{% for"} {
				if strings.Contains(text, w) {
					t.Errorf("%s still does %q", file, w)
				}
			}
		}
	})
}

// TestPipelineRebuild synthesizes the variant where kaizen rebuilds through
// the pipeline (rebuild.pipeline) and the pipeline takes its source from a
// CodeStar connection.
func TestPipelineRebuild(t *testing.T) {
	var raw map[string]any
	b, err := os.ReadFile(filepath.Join(repoRoot, exampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	a := raw["apps"].([]any)[0].(map[string]any)
	a["rebuild"] = map[string]any{"pipeline": "shop-release"}
	b, _ = json.MarshalIndent(raw, "", "  ")
	path := filepath.Join(scratch, "rebuild-pipeline.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(scratch, "rebuild-pipeline")
	ctx := cdkJSONContext(t)
	for k, v := range map[string]any{
		ctxConfig: path, ctxAssets: fakeAssets(t, "assets"), ctxStaging: filepath.Join(dir, "staging"),
		ctxPipeline:         "true",
		ctxSourceConnection: "arn:aws:codeconnections:eu-west-1:111122223333:connection/0b8f5a2e-0000-4000-8000-000000000000",
		ctxSourceRepository: "kaizen-sre/shop",
	} {
		ctx[k] = v
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(dir, "cdk.out")), Context: &ctx})
	built, err := build(app)
	if err != nil {
		t.Fatal(err)
	}
	kaizen := assertions.Template_FromStack(built.Kaizen.Stack, nil)
	pipeline := assertions.Template_FromStack(built.Pipeline.Stack, nil)

	t.Run("alaspoll and secretchange may start and list the pipeline, and nothing in CodeBuild", func(t *testing.T) {
		tpl := *kaizen.ToJSON()
		arn := "arn:aws:codepipeline:eu-west-1:111122223333:shop-release"
		for _, fn := range []string{route.ALASPoll, route.SecretChange} {
			role := logicalID(built.Kaizen.Functions[fn].Role)
			var actions []string
			for _, st := range statements(tpl) {
				if st.role != role {
					continue
				}
				for _, act := range st.actions {
					if strings.HasPrefix(act, "codepipeline:") && !slices.Equal(st.resources, []string{arn}) {
						t.Errorf("%s: %s on %v, want %s", fn, act, st.resources, arn)
					}
				}
				actions = append(actions, st.actions...)
			}
			for _, want := range []string{"codepipeline:StartPipelineExecution", "codepipeline:ListPipelineExecutions"} {
				if !slices.Contains(actions, want) {
					t.Errorf("%s: no %s", fn, want)
				}
			}
			for _, act := range actions {
				if strings.HasPrefix(act, "codebuild:") {
					t.Errorf("%s: %s, but the app rebuilds through the pipeline", fn, act)
				}
			}
		}
	})

	t.Run("the pipeline's source is the connection", func(t *testing.T) {
		tpl := *pipeline.ToJSON()
		pipe := props(resources(tpl, "AWS::CodePipeline::Pipeline")[logicalID(built.Pipeline.Pipeline)])
		src := pipe["Stages"].([]any)[0].(map[string]any)["Actions"].([]any)[0].(map[string]any)
		if src["ActionTypeId"].(map[string]any)["Provider"] != "CodeStarSourceConnection" {
			t.Errorf("source action %v", src["ActionTypeId"])
		}
		if built.Pipeline.SourceBucket != nil || len(resources(tpl, "AWS::S3::Bucket")) != 2 {
			t.Errorf("a source bucket was created for a connection source")
		}
	})

	t.Run("no unacknowledged AwsSolutions findings", func(t *testing.T) {
		pattern := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
		for _, st := range built.All() {
			an := assertions.Annotations_FromStack(st)
			for kind, found := range map[string]any{
				"error":   an.FindError(jsii.String("*"), pattern),
				"warning": an.FindWarning(jsii.String("*"), pattern),
			} {
				for _, m := range findings(t, found) {
					t.Errorf("%s %s at %s: %v", *st.StackName(), kind, m.ID, m.Entry.Data)
				}
			}
		}
	})
}
