package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/infra/stacks"
)

// The reference build's role may touch only what Packer created for this
// app: creates carry kaizen:builder=<app> in the request, changes and
// deletes need it on the resource, and no mutating action is on "*".
func TestPipelineLeastPrivilege(t *testing.T) {
	s := full(t)
	p := s.stacks.Pipeline
	tpl := s.template(p.Stack)
	app := exampleApp(t)
	all := statements(tpl)
	of := func(role string) []statement {
		var out []statement
		for _, st := range all {
			if st.role == role {
				out = append(out, st)
			}
		}
		return out
	}
	project, builder := of(logicalID(p.Project.Role())), of(logicalID(p.BuilderRole))
	cond := func(st statement) string { b, _ := json.Marshal(st.condition); return string(b) }

	t.Run("no mutating action on *", func(t *testing.T) {
		for _, st := range project {
			if !slices.Contains(st.resources, "*") {
				continue
			}
			for _, a := range st.actions {
				if !strings.HasPrefix(a, "ec2:Describe") {
					t.Errorf("%s: %s on *", st.sid, a)
				}
			}
		}
	})

	t.Run("Packer touches only what carries its tag", func(t *testing.T) {
		onResource := `"ec2:ResourceTag/` + stacks.BuilderTag + `":"` + app.Name + `"`
		inRequest := `"aws:RequestTag/` + stacks.BuilderTag + `":"` + app.Name + `"`
		seen := map[string]bool{}
		for _, st := range project {
			c := cond(st)
			for _, a := range st.actions {
				seen[a] = true
				switch a {
				case "ec2:StopInstances", "ec2:TerminateInstances", "ec2:DeleteKeyPair", "ec2:DeleteSecurityGroup",
					"ec2:AuthorizeSecurityGroupIngress", "ec2:DeregisterImage", "ec2:DeleteSnapshot":
					if !strings.Contains(c, onResource) {
						t.Errorf("%s: %s without %s", st.sid, a, onResource)
					}
				case "ec2:CreateKeyPair", "ec2:CreateSecurityGroup":
					if !strings.Contains(c, inRequest) {
						t.Errorf("%s: %s without %s", st.sid, a, inRequest)
					}
				case "ec2:RunInstances", "ec2:CreateImage":
					if !strings.Contains(c, inRequest) && !strings.Contains(c, onResource) && !strings.Contains(c, `"ec2:Owner":"amazon"`) {
						t.Errorf("%s: %s on %v with %s", st.sid, a, st.resources, c)
					}
				case "ec2:CreateTags":
					if !strings.Contains(c, "ec2:CreateAction") && !strings.Contains(c, `"ec2:ResourceTag/`+stacks.BuilderTag) {
						t.Errorf("%s: CreateTags with %s", st.sid, c)
					}
				case "iam:PassRole":
					if !slices.Equal(st.resources, []string{`{"Fn::GetAtt":["` + logicalID(p.BuilderRole) + `","Arn"]}`}) ||
						!strings.Contains(c, `"iam:PassedToService":"ec2.amazonaws.com"`) {
						t.Errorf("%s: PassRole on %v with %s", st.sid, st.resources, c)
					}
				case "secretsmanager:GetSecretValue", "ssm:PutParameter":
					t.Errorf("%s: the project role has %s; only the build instance reads the secret and writes the baseline", st.sid, a)
				}
			}
		}
		for _, a := range []string{"ec2:RunInstances", "ec2:CreateImage", "ec2:CopyImage", "ec2:TerminateInstances", "iam:PassRole", "kms:CreateGrant"} {
			if !seen[a] {
				t.Errorf("the build cannot %s", a)
			}
		}
	})

	t.Run("the build instance reads the secret and the baseline, nothing else", func(t *testing.T) {
		var got []string
		for _, st := range builder {
			for _, a := range st.actions {
				got = append(got, a)
				for _, r := range st.resources {
					switch {
					case strings.HasPrefix(a, "ssm:") && !strings.HasSuffix(r, ":parameter"+stacks.BaselineParameter(app)):
						t.Errorf("%s on %s", a, r)
					case strings.HasPrefix(a, "secretsmanager:") && !strings.Contains(r, ":secret:"):
						t.Errorf("%s on %s", a, r)
					}
				}
			}
		}
		slices.Sort(got)
		want := []string{"secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:PutParameter"}
		if !slices.Equal(got, want) {
			t.Errorf("builder role allows %v, want %v", got, want)
		}
	})

	t.Run("the AMI key rotates and reaches the build", func(t *testing.T) {
		key := props(resources(tpl, "AWS::KMS::Key")[logicalID(p.ImageKey)])
		if key["EnableKeyRotation"] != true {
			t.Errorf("image key %v", key)
		}
		proj := props(resources(tpl, "AWS::CodeBuild::Project")[logicalID(p.Project)])
		env := map[string]string{}
		for _, e := range proj["Environment"].(map[string]any)["EnvironmentVariables"].([]any) {
			e := e.(map[string]any)
			b, _ := json.Marshal(e["Value"])
			env[e["Name"].(string)] = string(b)
		}
		if !strings.Contains(env["AMI_KMS_KEY_ID"], logicalID(p.ImageKey)) || !strings.Contains(env["BUILDER_INSTANCE_PROFILE"], "BuilderInstanceProfile") ||
			env["BASELINE_PARAMETER"] != `"`+stacks.BaselineParameter(app)+`"` {
			t.Errorf("project environment %v", env)
		}
	})
}
