package alas_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
)

// cardNotifier records whole notices; a text-only Notify is a failure.
type cardNotifier struct {
	mu      sync.Mutex
	notices []awsapi.Notice
	text    int
}

func (c *cardNotifier) Notify(context.Context, *config.App, string, string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.text++
	return nil
}

func (c *cardNotifier) NotifyNotice(_ context.Context, _ *config.App, n awsapi.Notice) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notices = append(c.notices, n)
	return nil
}

func (c *cardNotifier) kind(t *testing.T, kind string) awsapi.Notice {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var got []awsapi.Notice
	for _, n := range c.notices {
		if n.EventType == "kaizen."+kind {
			got = append(got, n)
		}
	}
	if len(got) != 1 || c.text != 0 {
		t.Fatalf("%d %s notices (%d text-only), want 1 with its card; all: %+v", len(got), kind, c.text, c.notices)
	}
	return got[0]
}

// chatRig is a rig whose app builds with CodeBuild in eu-west-1 and whose
// notices are recorded whole.
func chatRig(t *testing.T) (*rig, *cardNotifier) {
	srv := newFeedServer(t, withETag, testdata(t, "al2.rss"))
	r := newRig(srv.URL)
	r.app.Region = "eu-west-1"
	r.app.Rebuild = config.Rebuild{CodeBuildProject: "web-golden"}
	r.app.Approval = config.Approval{Pipeline: "web-release", Stage: "Approve", Action: "Approve"}
	cn := &cardNotifier{}
	r.poller.Notifier = cn
	return r, cn
}

const console = "https://eu-west-1.console.aws.amazon.com/codesuite/"

// has fails unless one of the card's next steps contains want.
func has(t *testing.T, n awsapi.Notice, want string) {
	t.Helper()
	for _, s := range n.Next {
		if strings.Contains(s, want) {
			return
		}
	}
	t.Errorf("%s: no next step contains %q:\n%s", n.EventType, want, strings.Join(n.Next, "\n"))
}

// check runs the schema checks every notice passes, and that the email
// reader gets the next steps too (each scenario checks its why).
func check(t *testing.T, n awsapi.Notice) {
	t.Helper()
	if err := awsapi.CheckNotice(n); err != nil {
		t.Fatalf("%s: %v", n.EventType, err)
	}
	if !strings.Contains(n.Text, "\n\nNext steps:\n- ") {
		t.Errorf("%s: email text lacks the next steps:\n%s", n.EventType, n.Text)
	}
	if !slices.Contains(n.Keywords, "web") || n.Thread != "kaizen-web-alas" || n.Title == "" || n.Title != n.Subject {
		t.Errorf("%s: keywords %v thread %q title %q", n.EventType, n.Keywords, n.Thread, n.Title)
	}
}

func TestPollNoticesHaveNextSteps(t *testing.T) {
	seen := map[string]bool{}
	saw := func(n awsapi.Notice) { seen[strings.TrimPrefix(n.EventType, "kaizen.")] = true }

	t.Run("rebuild started, and the digest", func(t *testing.T) {
		r, cn := chatRig(t)
		rep, err := r.poll(t)
		if err != nil || rep.RebuildID != "build-1" {
			t.Fatalf("report %+v: %v", rep, err)
		}
		n := cn.kind(t, string(alas.NoticeRebuildStarted))
		check(t, n)
		saw(n)
		has(t, n, "Watch the build: "+console+"codebuild/projects/web-golden/build/build-1/?region=eu-west-1")
		has(t, n, console+"codepipeline/pipelines/web-release/view?region=eu-west-1")
		has(t, n, "`kaizen status --app web`")
		for _, want := range []string{"8 new advisories at or above important (highest critical)", "started build build-1 of the CodeBuild project web-golden",
			"Watch the build: " + console, "See where the app stands: kaizen status --app web"} {
			if !strings.Contains(n.Text, want) {
				t.Errorf("email lacks %q:\n%s", want, n.Text)
			}
		}
		if !slices.Contains(n.Keywords, "critical") {
			t.Errorf("keywords %v", n.Keywords)
		}

		d := cn.kind(t, string(alas.NoticeDigest))
		check(t, d)
		saw(d)
		// By severity, highest first, each with its ALAS page.
		medium, low := strings.Index(d.Description, "*medium*"), strings.Index(d.Description, "*low*")
		if medium < 0 || low < medium || !strings.Contains(d.Description, "• ALAS2-2024-2650 (curl, libcurl) https://alas.aws.amazon.com/AL2/ALAS2-2024-2650.html") ||
			strings.Index(d.Description, "ALAS2-2024-2601") < low {
			t.Errorf("digest card:\n%s", d.Description)
		}
		if !strings.Contains(d.Description, "*Why:* 3 medium, 1 low: below the minimum severity (important), so no rebuild; kaizen lists them every 24 hours") {
			t.Errorf("digest why:\n%s", d.Description)
		}
		has(t, d, "Read ALAS2-2024-2650 (medium, curl, libcurl): https://alas.aws.amazon.com/AL2/ALAS2-2024-2650.html")
		has(t, d, "`aws codebuild start-build --region eu-west-1 --project-name web-golden --environment-variables-override 'name=SECURITY_ADVISORIES,value=\"ALAS2-2024-2650,ALAS2NGINX1-2024-005,ALAS2NITRO-ENCLAVES-2024-010,ALAS2-2024-2601\",type=PLAINTEXT'`")
		if !strings.Contains(d.Text, "https://alas.aws.amazon.com/AL2/ALAS2-2024-2601.html") {
			t.Errorf("digest email lacks a link:\n%s", d.Text)
		}
	})

	t.Run("a build runs", func(t *testing.T) {
		r, cn := chatRig(t)
		r.rebuild.running = true
		if _, err := r.poll(t); err != nil {
			t.Fatal(err)
		}
		n := cn.kind(t, string(alas.NoticeRebuildWaiting))
		check(t, n)
		saw(n)
		has(t, n, "Watch the running build: "+console+"codebuild/projects/web-golden/history?region=eu-west-1")
		if why := "a golden-image build is already running"; !strings.Contains(n.Description, why) || !strings.Contains(n.Text, why) {
			t.Errorf("why:\ncard %s\nemail %s", n.Description, n.Text)
		}
	})

	t.Run("the build could not start", func(t *testing.T) {
		r, cn := chatRig(t)
		r.app.Rebuild = config.Rebuild{Pipeline: "web-image", PipelineVariable: "ADVISORIES"}
		r.rebuild.startErr = errors.New("AccessDeniedException: not authorized to perform codepipeline:StartPipelineExecution")
		if _, err := r.poll(t); err == nil {
			t.Fatal("no error")
		}
		n := cn.kind(t, string(alas.NoticeRebuildFailed))
		check(t, n)
		saw(n)
		// The exact reason, and the exact command that starts it by hand.
		for _, want := range []string{"the build failed to start", "AccessDeniedException: not authorized to perform codepipeline:StartPipelineExecution"} {
			if !strings.Contains(n.Description, want) || !strings.Contains(n.Text, want) {
				t.Errorf("lacks %q:\ncard %s\nemail %s", want, n.Description, n.Text)
			}
		}
		cmd := "aws codepipeline start-pipeline-execution --region eu-west-1 --name web-image --variables 'name=ADVISORIES,value=\"" + strings.Join(al2Rebuild, ",") + "\"'"
		has(t, n, "Start the build by hand: `"+cmd+"`")
		if !strings.Contains(n.Text, "Start the build by hand: "+cmd+"\n") {
			t.Errorf("email lacks the command:\n%s", n.Text)
		}
		has(t, n, console+"codepipeline/pipelines/web-image/view?region=eu-west-1")
	})

	t.Run("first poll, nothing new", func(t *testing.T) {
		r, cn := chatRig(t)
		r.poller.FirstPollWindow = 0
		r.now = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) // every advisory is older than the window
		rep, err := r.poll(t)
		if err != nil || rep.Known != 12 || rep.RebuildID != "" {
			t.Fatalf("report %+v: %v", rep, err)
		}
		n := cn.kind(t, string(alas.NoticeNoRebuild))
		check(t, n)
		saw(n)
		if !strings.Contains(n.Text, "Why: first poll of the feed") || !strings.Contains(n.Description, "*Why:* first poll of the feed: its 12 older advisories are taken to be in the image's base AMI") {
			t.Errorf("why:\n%s", n.Description)
		}
	})

	for _, k := range alas.AllNoticeKinds {
		if !seen[string(k)] {
			t.Errorf("no scenario sends a %s notice", k)
		}
	}
}

// A notifier that takes only text (the release of an older one) still
// gets the why and the next steps.
func TestPollNoticeTextOnly(t *testing.T) {
	r, _ := chatRig(t)
	r.poller.Notifier = r.notifier
	if _, err := r.poll(t); err != nil {
		t.Fatal(err)
	}
	msg := r.notifier.sent()[0].Message
	if !strings.Contains(msg, "\n\nNext steps:\n- Watch the build: "+console) || strings.Contains(msg, "`") {
		t.Errorf("message:\n%s", msg)
	}
}
