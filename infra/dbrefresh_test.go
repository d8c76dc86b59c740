package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/kaizen-sre/kaizen/infra/stacks"
	"github.com/kaizen-sre/kaizen/shared/access"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// stagingConfig is the example with a staging app whose database kaizen
// refreshes from production's (examples/kaizen-staging.json).
const stagingConfig = "examples/kaizen-staging.json"

var (
	stagingOnce sync.Once
	stagingApp  *synthesized
)

func withStaging(t *testing.T) *synthesized {
	t.Helper()
	stagingOnce.Do(func() {
		stagingApp = synth(t, inputs{name: "staging", config: filepath.Join(repoRoot, stagingConfig), assets: fakeAssets(t, "staging-assets")})
	})
	if stagingApp == nil {
		t.Fatal("the staging app failed to synthesize (see the first failing test)")
	}
	return stagingApp
}

// TestDBRefreshLeastPrivilege: dbrefresh's role may only describe and copy
// from production; everything that changes is named after the staging
// target; CodeBuild, SNS and the table are the staging app's.
func TestDBRefreshLeastPrivilege(t *testing.T) {
	s := withStaging(t)
	k := s.stacks.Kaizen
	cfg, err := config.Load(filepath.Join(repoRoot, stagingConfig))
	if err != nil {
		t.Fatal(err)
	}
	var app *config.App
	for i := range cfg.Apps {
		if cfg.Apps[i].DBRefresh != nil {
			app = &cfg.Apps[i]
		}
	}
	d := app.DBRefresh
	role := logicalID(k.Functions[route.DBRefresh].Role)
	var mine []statement
	for _, st := range statements(s.template(k.Stack)) {
		if st.role == role {
			mine = append(mine, st)
		}
	}
	if len(mine) == 0 {
		t.Fatal("dbrefresh has no policy statements")
	}
	production := func(r string) bool {
		for _, p := range []string{":db:", ":cluster:", ":snapshot:", ":cluster-snapshot:", ":snapshot:rds:", ":cluster-snapshot:rds:"} {
			if strings.Contains(r, p+d.Source.ID()) {
				return true
			}
		}
		return false
	}
	staging := func(r string) bool {
		for _, kind := range []string{"db", "cluster", "snapshot", "cluster-snapshot"} {
			if strings.HasSuffix(r, ":"+kind+":"+d.Target) || strings.Contains(r, ":"+kind+":"+d.Target+"-") {
				return true
			}
		}
		return strings.HasSuffix(r, ":subgrp:"+d.SubnetGroup) || strings.HasSuffix(r, ":pg:"+d.ParameterGroup) || strings.HasSuffix(r, ":og:default:*")
	}

	t.Run("production is only described and copied from", func(t *testing.T) {
		prodSeen := false
		for _, st := range mine {
			if st.effect != "Allow" {
				continue
			}
			for _, r := range st.resources {
				if !production(r) {
					continue
				}
				prodSeen = true
				for _, a := range st.actions {
					if a != "rds:CopyDBSnapshot" && a != "rds:CopyDBClusterSnapshot" {
						t.Errorf("statement %s allows %s on production's %s", st.sid, a, r)
					}
				}
			}
		}
		if !prodSeen {
			t.Error("no statement names production's snapshots: the copy has no grant")
		}
	})

	t.Run("every other RDS change names the staging target", func(t *testing.T) {
		for _, st := range mine {
			if st.effect != "Allow" {
				continue
			}
			for _, a := range st.actions {
				if !strings.HasPrefix(a, "rds:") || strings.HasPrefix(a, "rds:Describe") {
					continue
				}
				for _, r := range st.resources {
					if !production(r) && !staging(r) {
						t.Errorf("statement %s: %s on %s, which is not the staging target's", st.sid, a, r)
					}
				}
			}
			if slices.Contains(st.resources, "*") {
				for _, a := range st.actions {
					// X-Ray's writes of the function's own traces take no
					// other resource (stacks/tracing.go).
					if !strings.HasPrefix(a, "rds:Describe") && !slices.Contains(stacks.TracingActions, a) {
						t.Errorf("statement %s: %s on *", st.sid, a)
					}
				}
			}
		}
	})

	t.Run("the scrub build, the staging topic, the table", func(t *testing.T) {
		scrub := "arn:aws:codebuild:eu-west-1:111122223333:project/" + d.Scrub.CodeBuildProject
		for _, st := range mine {
			if st.effect != "Allow" {
				continue
			}
			for _, a := range st.actions {
				switch {
				case strings.HasPrefix(a, "codebuild:") && !slices.Equal(st.resources, []string{scrub}):
					t.Errorf("%s on %v, want only the scrub project", a, st.resources)
				case a == "sns:Publish" && !slices.Equal(st.resources, []string{app.TopicARN}):
					t.Errorf("sns:Publish on %v, want only the staging app's topic", st.resources)
				case strings.HasPrefix(a, "kms:") && !slices.Equal(st.resources, []string{d.KMSKeyID}):
					t.Errorf("%s on %v, want only staging's key", a, st.resources)
				case a == "kms:CreateGrant" && st.condition == nil:
					t.Errorf("kms:CreateGrant without the kms:GrantIsForAWSResource condition")
				}
			}
		}
	})

	t.Run("the role allows exactly what shared/access lists, less the secret (the example renames)", func(t *testing.T) {
		var got []string
		denies := 0
		for _, st := range mine {
			if st.effect == "Deny" {
				denies++
				if ne, ok := st.condition["ForAnyValue:StringNotEquals"].(map[string]any); ok {
					names := strs(ne["codebuild:environment.environmentVariables.name"])
					if !slices.Equal(sorted(names), sorted(dbrefresh.ScrubVariables)) {
						t.Errorf("the scrub build may be started with variables %v, want %v", names, dbrefresh.ScrubVariables)
					}
				}
				continue
			}
			got = append(got, st.actions...)
		}
		var want []string
		for _, a := range access.Actions(route.DBRefresh) {
			if !strings.HasPrefix(a, "secretsmanager:") {
				want = append(want, a)
			}
		}
		want = append(want, plumbing...)
		if got, want = sorted(got), sorted(want); !slices.Equal(got, want) {
			t.Errorf("actions\n got %v\nwant %v", got, want)
		}
		if denies == 0 {
			t.Error("StartBuild's overrides are not denied")
		}
	})

	t.Run("its rules take the source's automated snapshots and the scrub's ends; its schedule every 5 minutes", func(t *testing.T) {
		var snap, scrub, sched bool
		for _, rule := range resources(s.template(k.Stack), "AWS::Events::Rule") {
			p := props(rule)
			tg := p["Targets"].([]any)[0].(map[string]any)
			if ref(tg["Arn"]) != logicalID(k.Functions[route.DBRefresh].Lambda) {
				continue
			}
			b, _ := json.Marshal(p["EventPattern"])
			switch {
			case p["ScheduleExpression"] == "rate(5 minutes)" && strings.Contains(p["Name"].(string), route.DBRefresh):
				sched = true
			case strings.Contains(string(b), `"SourceIdentifier":[{"prefix":"rds:`+d.Source.ID()+`-"}]`) && strings.Contains(string(b), route.EventAutomatedSnapshot):
				snap = true
			case strings.Contains(string(b), `"project-name":["`+d.Scrub.CodeBuildProject+`"]`):
				scrub = true
			default:
				t.Errorf("unexpected dbrefresh rule %s", b)
			}
		}
		if !snap || !scrub || !sched {
			t.Errorf("snapshot rule %v, scrub rule %v, schedule %v", snap, scrub, sched)
		}
	})

	t.Run("no unacknowledged AwsSolutions findings", func(t *testing.T) {
		a := assertions.Annotations_FromStack(k.Stack)
		pattern := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
		for kind, found := range map[string]any{"error": a.FindError(jsii.String("*"), pattern), "warning": a.FindWarning(jsii.String("*"), pattern)} {
			for _, m := range findings(t, found) {
				t.Errorf("%s at %s: %v", kind, m.ID, m.Entry.Data)
			}
		}
	})
}

func sorted(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

var _ = stacks.DBRefreshSchedule
