package rebuild

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Where people follow a build: console links and the AWS CLI command that
// starts one by hand, for the notices of the ALAS poller and the
// secret-change function.

// Region is the region of app's build in links and commands: the app's
// region, else the one its topic's ARN names, else us-east-1.
func Region(app *config.App) string {
	if app.Region != "" {
		return app.Region
	}
	if p := strings.Split(app.TopicARN, ":"); len(p) > 3 && p[3] != "" {
		return p[3]
	}
	return "us-east-1"
}

// Target names what builds app's image: "CodeBuild project NAME" or
// "pipeline NAME".
func Target(app *config.App) string {
	if app.Rebuild.CodeBuildProject != "" {
		return "CodeBuild project " + app.Rebuild.CodeBuildProject
	}
	return "pipeline " + app.Rebuild.Pipeline
}

// BuildLink is the console page of build id (a CodeBuild build id or a
// pipeline execution id), or of the project's build history or the
// pipeline when id is empty.
func BuildLink(app *config.App, id string) string {
	region := Region(app)
	if p := app.Rebuild.CodeBuildProject; p != "" {
		base := fmt.Sprintf("https://%s.console.aws.amazon.com/codesuite/codebuild/projects/%s", region, url.PathEscape(p))
		if id == "" {
			return base + "/history?region=" + region
		}
		// A build id is PROJECT:UUID; the console wants the colon escaped.
		return base + "/build/" + strings.ReplaceAll(url.PathEscape(id), ":", "%3A") + "/?region=" + region
	}
	return PipelineLink(app, app.Rebuild.Pipeline, id)
}

// PipelineLink is the console page of pipeline name in app's region, or
// of its execution id when id is set.
func PipelineLink(app *config.App, name, id string) string {
	region := Region(app)
	base := fmt.Sprintf("https://%s.console.aws.amazon.com/codesuite/codepipeline/pipelines/%s", region, url.PathEscape(name))
	if id == "" {
		return base + "/view?region=" + region
	}
	return base + "/executions/" + url.PathEscape(id) + "/timeline?region=" + region
}

// maxCommandIDs bounds the advisory ids StartCommand spells out: past it
// the command names the variable and the notice lists the ids.
const maxCommandIDs = 300

// StartCommand is the AWS CLI command that starts app's build by hand,
// with the advisory ids in the variable kaizen sets (CodeBuild
// SECURITY_ADVISORIES, or the pipeline's variable) when there are any and
// they fit in a line; otherwise the ids are left as IDS for people to fill
// in from the notice.
func StartCommand(app *config.App, advisories []string) string {
	region := Region(app)
	ids := strings.Join(advisories, ",")
	if len(ids) > maxCommandIDs {
		ids = "IDS"
	}
	if p := app.Rebuild.CodeBuildProject; p != "" {
		cmd := fmt.Sprintf("aws codebuild start-build --region %s --project-name %s", region, p)
		if len(advisories) > 0 {
			// Shorthand syntax: a value holding commas is quoted.
			cmd += fmt.Sprintf(` --environment-variables-override 'name=%s,value="%s",type=PLAINTEXT'`, EnvAdvisories, ids)
		}
		return cmd
	}
	cmd := fmt.Sprintf("aws codepipeline start-pipeline-execution --region %s --name %s", region, app.Rebuild.Pipeline)
	if len(advisories) > 0 {
		name := app.Rebuild.PipelineVariable
		if name == "" {
			name = EnvAdvisories
		}
		cmd += fmt.Sprintf(` --variables 'name=%s,value="%s"'`, name, ids)
	}
	return cmd
}
