package stacks

import (
	"strings"
	"unicode"

	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// StartBuildOverrideKeys are CodeBuild's condition keys for the parts of a
// StartBuild request that override the project: the buildspec
// (buildspecOverride), the source (sourceTypeOverride,
// sourceLocationOverride, secondary sources), the service role, the build
// image and environment, artifacts, cache, logs and the encryption key.
// kaizen sends none of them (shared/rebuild sets environment variables
// only), so a request that carries one is denied: a kaizen function that
// misbehaved, or whoever took its credentials, cannot make the golden-image
// build run other code or run as another role. codebuild:source.buildspec
// and the other keys are tested with the Null operator (present or not),
// the only one CodeBuild supports for the buildspec.
var StartBuildOverrideKeys = []string{
	"codebuild:source",
	"codebuild:source.buildspec",
	"codebuild:source.location",
	"codebuild:source.auth.resource",
	"codebuild:secondarySources",
	"codebuild:serviceRole",
	"codebuild:environment.image",
	"codebuild:environment.type",
	"codebuild:environment.computeType",
	"codebuild:environment.privilegedMode",
	"codebuild:environment.certificate",
	"codebuild:environment.registryCredential",
	"codebuild:environment.imagePullCredentialsType",
	"codebuild:artifacts",
	"codebuild:secondaryArtifacts",
	"codebuild:cache",
	"codebuild:logsConfig",
	"codebuild:encryptionKey",
}

// startBuildDenies are the explicit denies that go with a StartBuild grant:
// one per override key (each Null condition must be its own statement: the
// keys of one condition are ANDed), and one for any environment variable
// but the function's (StartBuildVariables). They deny on every project ("*"), which is
// stricter than the granted ones and keeps the policy's size the same
// however many apps the configuration has (a role's inline policies share
// 10,240 characters).
func startBuildDenies(variables []string) []Statement {
	projects := []string{"*"}
	var out []Statement
	for _, k := range StartBuildOverrideKeys {
		out = append(out, Statement{
			Sid: "DenyStartBuildOverride" + sidPart(k), Deny: true,
			Actions: []string{"codebuild:StartBuild"}, Resources: projects,
			Conditions: map[string]map[string][]string{"Null": {k: {"false"}}},
		})
	}
	out = append(out, Statement{
		Sid: "DenyStartBuildOtherVariables", Deny: true,
		Actions: []string{"codebuild:StartBuild"}, Resources: projects,
		Conditions: map[string]map[string][]string{
			"ForAnyValue:StringNotEquals": {"codebuild:environment.environmentVariables.name": variables},
		},
	})
	return out
}

// StartBuildVariables are the environment variables a function's builds
// may be started with: the golden-image rebuild's, or the scrub build's.
func StartBuildVariables(function string) []string {
	if function == route.DBRefresh {
		return dbrefresh.ScrubVariables
	}
	return rebuild.BuildVariables
}

// sidPart turns "codebuild:environment.image" into "EnvironmentImage".
func sidPart(key string) string {
	var b strings.Builder
	up := true
	for _, r := range strings.TrimPrefix(key, "codebuild:") {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
