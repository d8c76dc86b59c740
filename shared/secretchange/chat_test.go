package secretchange_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/secretchange"
)

// recorder keeps every notice whole and publishes it through the Fleet
// (to the simulated SNS), so both what was meant and what went out on the
// wire are checked.
type recorder struct {
	*cloud.Fleet
	mu      sync.Mutex
	notices []awsapi.Notice
}

func (r *recorder) NotifyNotice(ctx context.Context, app *config.App, n awsapi.Notice) error {
	r.mu.Lock()
	r.notices = append(r.notices, n)
	r.mu.Unlock()
	return r.Fleet.NotifyNotice(ctx, app, n)
}

func record(r *rig) *recorder {
	rec := &recorder{Fleet: &cloud.Fleet{SNS: r.cloud.SNS(), Attempts: 1}}
	r.handler.Notifier = rec
	return rec
}

const console = "https://eu-west-1.console.aws.amazon.com/codesuite/"

// checkSent checks the one notice of kind sent: the schema checks every
// notice passes, on the notice and on the published message, and no trace
// of a secret value or of the request's parameters anywhere.
func checkSent(t *testing.T, r *rig, rec *recorder, kind string) awsapi.Notice {
	t.Helper()
	var got []awsapi.Notice
	for _, n := range rec.notices {
		if n.EventType == "kaizen."+kind {
			got = append(got, n)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d %s notices, want 1: %+v", len(got), kind, rec.notices)
	}
	n := got[0]
	if err := awsapi.CheckNotice(n); err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	if !strings.Contains(n.Text, "\n\nNext steps:\n- ") || n.Thread != "kaizen-shop-secret" || n.Keywords[0] != "shop" {
		t.Errorf("%s: thread %q keywords %v text:\n%s", kind, n.Thread, n.Keywords, n.Text)
	}
	pub := r.cloud.Published()
	if len(pub) != len(rec.notices) {
		t.Fatalf("%d published, %d notices", len(pub), len(rec.notices))
	}
	for _, p := range pub {
		card, err := awsapi.CheckPublished(p.ByProtocol)
		if err != nil {
			t.Fatalf("published %s: %v", p.Subject, err)
		}
		raw, _ := json.Marshal(card)
		for _, s := range []string{p.Raw, p.Subject, string(raw)} {
			if strings.Contains(s, hidden) || strings.Contains(s, "tok-1") {
				t.Errorf("published message repeats the request's parameters:\n%s", s)
			}
		}
	}
	return n
}

func has(t *testing.T, n awsapi.Notice, want string) {
	t.Helper()
	for _, s := range n.Next {
		if strings.Contains(s, want) {
			return
		}
	}
	t.Errorf("%s: no next step contains %q:\n%s", n.EventType, want, strings.Join(n.Next, "\n"))
}

// putEvent is a PutSecretValue of shop's secret whose parameters carry
// CloudTrail's marker in place of the value.
func putEvent(id string) []byte {
	return ev(id, route.SourceSecretsManager, apiCall, account, region,
		trail("PutSecretValue", m{"secretId": shopARN, "clientRequestToken": "tok-1", "secretString": hidden}, m{"arn": shopARN, "versionId": "v2"}, nil))
}

func TestSecretNoticesHaveNextSteps(t *testing.T) {
	seen := map[string]bool{}
	saw := func(n awsapi.Notice) { seen[strings.TrimPrefix(n.EventType, "kaizen.")] = true }

	t.Run("rebuild started, images carry the previous version", func(t *testing.T) {
		cfg, err := config.Load("../../examples/kaizen.json")
		if err != nil {
			t.Fatal(err)
		}
		r := newRig(cfg)
		rec := record(r)
		shop, _ := cfg.App("shop")
		live := r.cloud.SeedApp(shop)
		r.handler.Images = &cloud.Fleet{EC2: r.cloud.EC2(), ASG: r.cloud.AutoScaling(), ELB: r.cloud.ELBv2(), Attempts: 1}
		outs, err := r.handler.Handle(t.Context(), putEvent("e-chat-1"))
		if err != nil || len(outs) != 1 || outs[0].BuildID == "" {
			t.Fatalf("outcomes %+v: %v", outs, err)
		}
		n := checkSent(t, r, rec, string(secretchange.NoticeRebuildStarted))
		saw(n)
		has(t, n, "Watch the build: "+rebuild.BuildLink(shop, outs[0].BuildID))
		if !strings.Contains(rebuild.BuildLink(shop, outs[0].BuildID), "/build/"+strings.ReplaceAll(outs[0].BuildID, ":", "%3A")+"/") {
			t.Errorf("build link %s", rebuild.BuildLink(shop, outs[0].BuildID))
		}
		has(t, n, "Keep the previous credential valid until an image with the new version is live on every color that serves the public; still on the previous version: blue (live) "+live)
		has(t, n, "`kaizen status --app shop`")
		if !strings.Contains(n.Description, "*Why:* secret "+shopARN+" got a new current value (PutSecretValue)") {
			t.Errorf("why:\n%s", n.Description)
		}
	})

	t.Run("a build runs, the rebuild follows", func(t *testing.T) {
		r := newRig(testConfig())
		rec := record(r)
		r.handler.Pending = r.events
		app := &r.handler.Config.Apps[0]
		running, err := (&rebuild.Builder{CodeBuild: r.cloud.CodeBuild()}).Start(t.Context(), app, []string{"ALAS2023-2024-771"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if outs, err := r.handler.Handle(t.Context(), putEvent("e-chat-2")); err != nil || !outs[0].Pending {
			t.Fatalf("outcomes %+v: %v", outs, err)
		}
		n := checkSent(t, r, rec, string(secretchange.NoticeRebuildPending))
		saw(n)
		has(t, n, "Watch the running build: "+console+"codebuild/projects/shop-golden-ami/history?region=eu-west-1")
		has(t, n, "Do not approve the release of the running build's image")

		r.cloud.FinishBuild(running, "SUCCEEDED")
		id, err := r.handler.StartPending(t.Context(), app)
		if err != nil || id == "" {
			t.Fatalf("pending rebuild: %q %v", id, err)
		}
		n = checkSent(t, r, rec, string(secretchange.NoticePendingStarted))
		saw(n)
		has(t, n, "Watch the build: "+rebuild.BuildLink(app, id))
		has(t, n, "Keep the previous credential valid until that image is live")
	})

	t.Run("a build runs, nothing remembers the change", func(t *testing.T) {
		r := newRig(testConfig())
		rec := record(r)
		if _, err := (&rebuild.Builder{CodeBuild: r.cloud.CodeBuild()}).Start(t.Context(), &r.handler.Config.Apps[0], []string{"ALAS2023-2024-771"}, ""); err != nil {
			t.Fatal(err)
		}
		if outs, err := r.handler.Handle(t.Context(), putEvent("e-chat-3")); err != nil || outs[0].BuildID != "" {
			t.Fatalf("outcomes %+v: %v", outs, err)
		}
		n := checkSent(t, r, rec, string(secretchange.NoticeRebuildByHand))
		saw(n)
		has(t, n, "When it ends, start the rebuild: `aws codebuild start-build --region eu-west-1 --project-name shop-golden-ami`")
		if !strings.Contains(n.Text, "When it ends, start the rebuild: aws codebuild start-build --region eu-west-1 --project-name shop-golden-ami\n") {
			t.Errorf("email:\n%s", n.Text)
		}
	})

	for _, k := range secretchange.AllNoticeKinds {
		if !seen[string(k)] {
			t.Errorf("no scenario sends a %s notice", k)
		}
	}
}
