package steps_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/fake"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// stagingWorld is production (shop) with its staging app on one simulated
// account, the guard alarms in CloudWatch and the advisories kaizen
// recorded from the feed.
func stagingWorld(t *testing.T, soak int) (*world, *config.App) {
	t.Helper()
	cfg, err := config.Load("testdata/staging-first.json")
	if err != nil {
		t.Fatal(err)
	}
	c := sim.New(t0)
	stg, prod := &cfg.Apps[0], &cfg.Apps[1]
	prod.StagingSoakMinutes = soak
	prod.PreviewURL = "https://preview.shop.example.com/"
	c.SeedApp(stg)
	c.SeedApp(prod)
	book := &fake.ALASStore{}
	for _, a := range []alas.Advisory{
		{ID: "ALAS2023-2025-800", Severity: "critical", CVEs: []string{"CVE-2024-6387"}, Packages: []string{"openssh"}},
		{ID: "ALAS2023-2024-700", Severity: "important", CVEs: []string{"CVE-2024-6232", "CVE-2024-7592"}, Packages: []string{"python3.11"}},
	} {
		if _, err := book.RecordAdvisory(context.Background(), prod.Name, a, alas.ActionRebuild); err != nil {
			t.Fatal(err)
		}
	}
	w := &world{t: t, cfg: cfg, app: prod, cloud: c, store: store.NewMemory()}
	w.deps = &steps.Reconciler{Config: cfg, Store: w.store, Now: c.Now, Log: slog.New(slog.DiscardHandler), Advisories: book,
		Fleet: &cloud.Fleet{EC2: c.EC2(), ASG: c.AutoScaling(), ELB: c.ELBv2(), SNS: c.SNS(), CW: c.CloudWatch(), Attempts: 3}}
	return w, stg
}

// securityAMI is what the release pipeline's build makes after a
// security rebuild: the advisories it verified, the secret version and
// the source revision, as tags.
func securityAMI(w *world, exec string) string {
	return w.cloud.AddImage("shop-golden-sec-1", w.cloud.Now(), map[string]string{
		w.app.ImageTag.Key:        w.app.ImageTag.Value,
		w.app.PipelineTag:         exec,
		release.TagAdvisories:     "ALAS2023-2024-700 ALAS2023-2025-800",
		release.TagSecretVersion:  "3f2a9c1e-v2",
		release.TagCodeRevision:   "9c1e2f7",
		release.TagReleaseVersion: "2023.6.20241121",
	})
}

func published(c *sim.Cloud, topic, subject string) []string {
	var out []string
	for _, p := range c.Published() {
		if p.Topic == topic && strings.Contains(p.Subject, subject) {
			out = append(out, p.Message)
		}
	}
	return out
}

// The approval request posts its evidence when the approval action
// starts, and an approval before the AMI has soaked on staging is refused
// with the reason in the ledger and the notice; after the soak it goes.
func TestApprovalEvidenceAndStagingSoak(t *testing.T) {
	w, stg := stagingWorld(t, 30)
	prod := w.app
	w.cloud.SetAlarm("shop-p99-latency", "ALARM", "Threshold Crossed: p99 1.9 s > 1.5 s", false)
	ami := securityAMI(w, "exec-1")
	w.must(route.Stage, w.amiEvent(ami))
	w.wait(20 * time.Minute) // staging promotes itself and cuts over

	w.must(route.Promote, w.approvalEvent("STARTED", "exec-1"))
	reqs := published(w.cloud, prod.TopicARN, "approval requested")
	if len(reqs) != 1 {
		t.Fatalf("approval requests published: %d, want 1", len(reqs))
	}
	msg := reqs[0]
	for _, want := range []string{
		"AMI " + ami + " (shop-golden-sec-1), built by pipeline execution exec-1",
		"Security advisories fixed: 2",
		"ALAS2023-2024-700 (important): CVE-2024-6232, CVE-2024-7592",
		"ALAS2023-2025-800 (critical): CVE-2024-6387",
		"Secret: version 3f2a9c1e-v2 (not recorded on the live AMI)",
		"Code: revision 9c1e2f7 (not recorded on the live AMI)",
		"Staging (shop-staging): this AMI is live there since ",
		"Staging soak: NOT met",
		"shop-5xx-rate OK since",
		"shop-p99-latency ALARM since",
		"Preview (from the office): https://preview.shop.example.com/",
		"https://eu-west-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/shop-release/view?region=eu-west-1",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the approval request lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "Not available") {
		t.Errorf("evidence incomplete:\n%s", msg)
	}
	st := w.state()
	if st.Active == nil || st.Active.Evidence == nil || len(st.Active.Evidence.Fixed) != 2 || st.Active.Evidence.Execution != "exec-1" {
		t.Fatalf("the release does not keep its evidence: %+v", st.Active)
	}

	// Too early: refused, with the reason in the ledger and a notice.
	outs := w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	if outs[0].Plan.Refused == "" || !strings.Contains(outs[0].Plan.Refused, "staging first") {
		t.Fatalf("an approval before the soak was not refused: %+v", outs[0].Plan)
	}
	if st := w.state(); !st.Active.State.BeforeApproval() {
		t.Fatalf("refused approval moved the release to %s", st.Active.State)
	}
	if got := published(w.cloud, prod.TopicARN, "approval refused"); len(got) != 1 || !strings.Contains(got[0], "stagingSoakMinutes") {
		t.Fatalf("refusal notice: %q", got)
	}
	var logged bool
	for _, tr := range w.state().Active.History {
		logged = logged || strings.Contains(tr.Cause, "refused: staging first")
	}
	if !logged {
		t.Fatalf("the ledger does not say why: %+v", w.state().Active.History)
	}
	sst, _ := w.store.Load(t.Context(), stg.Name)
	if sst.Active == nil || sst.Active.CutoverAt.IsZero() {
		t.Fatalf("staging never cut over: %+v", sst.Active)
	}

	// After the soak: approved.
	w.wait(sst.Active.CutoverAt.Add(31 * time.Minute).Sub(w.cloud.Now()))
	outs = w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	if outs[0].Plan.Refused != "" {
		t.Fatalf("approval after the soak refused: %s", outs[0].Plan.Refused)
	}
	if st := w.state(); st.Active.State != release.Promoting {
		t.Fatalf("after the soak the release is %s, want promoting", st.Active.State)
	}
}

// Without a soak (0), the approval goes as soon as the preview is healthy,
// even while the AMI is not yet live on staging.
func TestNoSoakKeepsTodaysBehaviour(t *testing.T) {
	w, _ := stagingWorld(t, 0)
	ami := securityAMI(w, "exec-1")
	w.must(route.Stage, w.amiEvent(ami))
	w.wait(8 * time.Minute)
	outs := w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	if outs[0].Plan.Refused != "" || w.state().Active.State != release.Promoting {
		t.Fatalf("soak 0 refused or held the approval: %q, %s", outs[0].Plan.Refused, w.state().Active.State)
	}
}

// An image kaizen rebuilt through a CodeBuild project, outside the
// pipeline, never gets the pipeline's approval request: the staged notice
// says to use kaizen promote. One the pipeline built says the pipeline.
func TestStagedNoticeSaysHowToApprove(t *testing.T) {
	for _, tc := range []struct {
		exec, want, not string
	}{
		{"", "Approve with: kaizen promote --app shop", "Approve or reject in pipeline"},
		{"exec-9", "Approve or reject in pipeline shop-release, stage Approve, action ProductionApproval", "kaizen promote"},
	} {
		w, _ := stagingWorld(t, 0)
		ami := w.cloud.AddImage("shop-golden-x", w.cloud.Now(), map[string]string{w.app.ImageTag.Key: w.app.ImageTag.Value, w.app.PipelineTag: tc.exec})
		if tc.exec == "" {
			ami = w.cloud.AddImage("shop-golden-y", w.cloud.Now().Add(time.Second), map[string]string{w.app.ImageTag.Key: w.app.ImageTag.Value})
		}
		w.must(route.Stage, w.amiEvent(ami))
		got := published(w.cloud, w.app.TopicARN, "staged")
		if len(got) != 1 || !strings.Contains(got[0], tc.want) || strings.Contains(got[0], tc.not) {
			t.Errorf("exec %q: staged notice %q, want %q and not %q", tc.exec, got, tc.want, tc.not)
		}
	}
}
