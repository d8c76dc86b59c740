package main

import (
	"slices"
	"testing"

	"github.com/kaizen-sre/kaizen/infra/stacks"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Every kaizen role that may start the golden-image build is denied every
// StartBuild override (buildspec, source, role, image, ...) and every
// environment variable kaizen does not send.
func TestStartBuildDenies(t *testing.T) {
	s := full(t)
	all := statements(s.template(s.stacks.Kaizen.Stack))
	starters := 0
	for _, fn := range route.Functions {
		role := logicalID(s.stacks.Kaizen.Functions[fn].Role)
		var allowed []string
		denied := map[string]bool{}
		otherVariables := false
		for _, st := range all {
			if st.role != role || !slices.Contains(st.actions, "codebuild:StartBuild") {
				continue
			}
			if st.effect == "Allow" {
				allowed = append(allowed, st.resources...)
				continue
			}
			if null, ok := st.condition["Null"].(map[string]any); ok {
				for k, v := range null {
					if strs(v)[0] == "false" {
						denied[k] = true
					}
				}
			}
			if ne, ok := st.condition["ForAnyValue:StringNotEquals"].(map[string]any); ok {
				names := strs(ne["codebuild:environment.environmentVariables.name"])
				slices.Sort(names)
				want := slices.Clone(rebuild.BuildVariables)
				slices.Sort(want)
				otherVariables = slices.Equal(names, want)
			}
			if !slices.Equal(st.resources, []string{"*"}) {
				t.Errorf("%s: the deny is on %v, not on every project", fn, st.resources)
			}
		}
		if len(allowed) == 0 {
			if len(denied) > 0 {
				t.Errorf("%s: denies without a grant", fn)
			}
			continue
		}
		starters++
		for _, k := range append(stacks.StartBuildOverrideKeys, "codebuild:source.buildspec", "codebuild:source.location", "codebuild:serviceRole") {
			if !denied[k] {
				t.Errorf("%s may start a build with %s overridden", fn, k)
			}
		}
		if !otherVariables {
			t.Errorf("%s may start a build with variables other than %v", fn, rebuild.BuildVariables)
		}
	}
	if starters == 0 {
		t.Fatal("no kaizen function may start the build: the example rebuilds with CodeBuild")
	}
}
