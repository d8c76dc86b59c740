package secretchange_test

import (
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// The notice of a secret change names the images the colors run that still
// carry the previous version, says the previous credential must stay valid
// until a new image is live, and the change is recorded for kaizen status.
func TestNoticeNamesImagesCarryingThePreviousSecret(t *testing.T) {
	cfg, err := config.Load("../../examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(cfg)
	shop, _ := cfg.App("shop")
	live := r.cloud.SeedApp(shop) // blue runs an image built a day ago
	r.handler.Images = &cloud.Fleet{EC2: r.cloud.EC2(), ASG: r.cloud.AutoScaling(), ELB: r.cloud.ELBv2(), Attempts: 1}
	r.handler.Changes = r.events

	raw := ev("ev-secret-1", route.SourceSecretsManager, apiCall, account, region,
		trail("PutSecretValue", m{"secretId": shopARN}, m{"arn": shopARN, "versionId": "v2"}, nil))
	outs, err := r.handler.Handle(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || len(outs[0].Carrying) != 1 || outs[0].Carrying[0].Image.ID != live || outs[0].Carrying[0].Role != "live" {
		t.Fatalf("carrying = %+v, want blue's %s", outs, live)
	}
	var msg string
	for _, p := range r.cloud.Published() {
		if p.Topic == shop.TopicARN {
			msg = p.Message
		}
	}
	for _, want := range []string{
		"Images that still carry the previous secret version:",
		"- blue (live): AMI " + live,
		"The previous credential must stay valid until an image with the new version is live",
		"alternating users",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("notice lacks %q:\n%s", want, msg)
		}
	}
	c, err := r.events.LastSecretChange(t.Context(), "shop")
	if err != nil || c == nil || c.Version != "v2" || !c.At.Equal(t0) {
		t.Fatalf("recorded change = %+v, %v", c, err)
	}
}
