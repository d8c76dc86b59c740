package steps_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// Staging first: the staging app promotes on its own once its preview is
// healthy; production's notices say whether the AMI is live on staging.
func TestStagingFirst(t *testing.T) {
	cfg, err := config.Load("testdata/staging-first.json")
	if err != nil {
		t.Fatal(err)
	}
	c := sim.New(t0)
	stg, prod := &cfg.Apps[0], &cfg.Apps[1]
	c.SeedApp(stg)
	c.SeedApp(prod)
	w := &world{t: t, cfg: cfg, app: prod, cloud: c, store: store.NewMemory()}
	w.deps = &steps.Reconciler{Config: cfg, Store: w.store, Now: c.Now, Log: slog.New(slog.DiscardHandler),
		Fleet: &cloud.Fleet{EC2: c.EC2(), ASG: c.AutoScaling(), ELB: c.ELBv2(), SNS: c.SNS(), Attempts: 3}}

	ami := c.NewAMI(prod, "shop-golden-1", "exec-1")
	outs := w.must(route.Stage, w.amiEvent(ami))
	if len(outs) != 2 {
		t.Fatalf("an AMI tagged for both apps staged %d of them", len(outs))
	}
	w.wait(8 * time.Minute)
	notice := func(topic, subject string) string {
		for _, p := range c.Published() {
			if p.Topic == topic && strings.Contains(p.Subject, subject) {
				return p.Message
			}
		}
		return ""
	}
	if m := notice(prod.TopicARN, "preview ready"); !strings.Contains(m, "Staging (shop-staging): NOT live there yet") {
		t.Fatalf("production's preview notice = %q", m)
	}
	w.wait(10 * time.Minute)
	sst, _ := w.store.Load(t.Context(), stg.Name)
	if sst.Active == nil || sst.Active.State != release.Baking {
		t.Fatalf("staging did not promote on its own: %+v", sst.Active)
	}
	if st := w.state(); !st.Active.State.BeforeApproval() {
		t.Fatalf("production promoted without approval: %s", st.Active.State)
	}
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	if m := notice(prod.TopicARN, "approved"); !strings.Contains(m, "Staging (shop-staging): this AMI is live there since 2026-11-24T09:14:00Z, 2 of 2 healthy") {
		t.Fatalf("production's approval notice = %q", m)
	}
}
