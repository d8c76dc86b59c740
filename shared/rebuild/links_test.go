package rebuild_test

import (
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
)

func TestLinksAndCommands(t *testing.T) {
	project := &config.App{Name: "web", Region: "eu-west-1", Rebuild: config.Rebuild{CodeBuildProject: "web-golden"}}
	pipeline := &config.App{Name: "blog", TopicARN: "arn:aws:sns:ap-southeast-2:111122223333:blog",
		Rebuild: config.Rebuild{Pipeline: "blog-image", PipelineVariable: "ADVISORIES"}}
	ids := []string{"ALAS2-2024-2650", "ALAS2-2025-3025"}
	for _, tc := range []struct{ name, got, want string }{
		{"build", rebuild.BuildLink(project, "web-golden:0b1c-42"),
			"https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/projects/web-golden/build/web-golden%3A0b1c-42/?region=eu-west-1"},
		{"project history", rebuild.BuildLink(project, ""),
			"https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/projects/web-golden/history?region=eu-west-1"},
		{"execution, region from the topic", rebuild.BuildLink(pipeline, "4f0e-77"),
			"https://ap-southeast-2.console.aws.amazon.com/codesuite/codepipeline/pipelines/blog-image/executions/4f0e-77/timeline?region=ap-southeast-2"},
		{"pipeline", rebuild.PipelineLink(project, "web-release", ""),
			"https://eu-west-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/web-release/view?region=eu-west-1"},
		{"start build", rebuild.StartCommand(project, ids),
			`aws codebuild start-build --region eu-west-1 --project-name web-golden --environment-variables-override 'name=SECURITY_ADVISORIES,value="ALAS2-2024-2650,ALAS2-2025-3025",type=PLAINTEXT'`},
		{"start build, no advisories", rebuild.StartCommand(project, nil), "aws codebuild start-build --region eu-west-1 --project-name web-golden"},
		{"start pipeline", rebuild.StartCommand(pipeline, ids),
			`aws codepipeline start-pipeline-execution --region ap-southeast-2 --name blog-image --variables 'name=ADVISORIES,value="ALAS2-2024-2650,ALAS2-2025-3025"'`},
		{"default region", rebuild.Region(&config.App{}), "us-east-1"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
	// Too many ids for one line: the command leaves them to be filled in.
	many := make([]string, 40)
	for i := range many {
		many[i] = "ALAS2-2024-2650"
	}
	if got := rebuild.StartCommand(project, many); !strings.Contains(got, `value="IDS"`) || len(got) > 200 {
		t.Errorf("long command %q", got)
	}
}
