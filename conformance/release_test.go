package conformance

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// A whole release through the packaged stage, tick and promote functions
// against moto: the AMI is staged on green (a new launch template version,
// pinned), the office previews it, the approval gives green blue's capacity
// and moves the public once green is healthy, and with no bake blue retires
// to zero. Then `kaizen status` and `kaizen history` tell the story.
func TestReleaseOnMoto(t *testing.T) {
	t.Parallel()
	w := newWorld(t, spec{name: "shop", region: "us-east-1", floor: 2, previewSize: 1, bakeMinutes: 0})
	stage, promote, tick := w.start("stage"), w.start("promote"), w.start("tick")

	ami := w.newAMI("shop-golden-1", "exec-conf-1", nil)
	amiEvent := w.amiAvailable(ami)
	s := w.send(stage, "AMI available", amiEvent)
	if s.st.Active == nil || s.st.Active.AMI != ami || s.st.Active.State != release.Staged || s.st.Active.Color != config.Green {
		t.Fatalf("after stage: want %s staged on green, got %+v", ami, s.st.Active)
	}
	green := w.group(config.Green)
	pinned := aws.ToString(green.LaunchTemplate.Version)
	if pinned != "2" || w.templateImage(config.Green, pinned) != ami {
		t.Errorf("after stage: green must be pinned to a new launch template version (2) running %s; moto has version %q running %s", ami, pinned, w.templateImage(config.Green, pinned))
	}
	if got := aws.ToInt32(green.DesiredCapacity); int(got) != w.app.PreviewSize {
		t.Errorf("after stage: green's desired capacity is %d in moto, want the preview size %d", got, w.app.PreviewSize)
	}
	if got := w.public(); got != "blue" {
		t.Errorf("after stage: the listener forwards to %s, want blue", got)
	}
	if got := w.preview(); got != "green" {
		t.Errorf("after stage: the preview rule forwards to %s, want green", got)
	}
	if w.templateImage(config.Blue, aws.ToString(w.group(config.Blue).LaunchTemplate.Version)) != w.golden0 {
		t.Errorf("after stage: blue's launch template changed")
	}
	if m := s.mutations(); m["CreateLaunchTemplateVersion"] != 1 || m["UpdateAutoScalingGroup"] != 1 || m["ModifyListener"] != 0 {
		t.Errorf("stage made %s; want one CreateLaunchTemplateVersion, one UpdateAutoScalingGroup (pin and size in one call) and no ModifyListener", summary(m))
	}

	// A duplicate delivery changes nothing.
	if m := w.send(stage, "the same AMI event again", amiEvent).mutations(); len(m) != 0 {
		t.Errorf("a duplicate AMI event made mutating calls: %s", summary(m))
	}

	w.tickUntil(tick, "preview ready", 5, func(s step) bool {
		return s.st.Active != nil && !s.st.Active.PreviewReadyAt.IsZero()
	})

	s = w.send(promote, "approval action STARTED", w.approval("exec-conf-1", "STARTED"))
	if s.st.Active == nil || s.st.Active.ApprovalExecution != "exec-conf-1" {
		t.Fatalf("approval STARTED did not bind exec-conf-1 to the staged release: %+v", s.st.Active)
	}
	s = w.send(promote, "approval SUCCEEDED", w.approval("exec-conf-1", "SUCCEEDED"))
	if s.st.Active == nil || (s.st.Active.State != release.Promoting && s.st.Active.State != release.Baking) {
		t.Fatalf("after approval: want the release promoting, got %+v", s.st.Active)
	}
	if g, b := w.group(config.Green), w.group(config.Blue); aws.ToInt32(g.DesiredCapacity) != aws.ToInt32(b.DesiredCapacity) || aws.ToInt32(g.MinSize) != aws.ToInt32(b.MinSize) {
		t.Errorf("after approval: green must get blue's capacity first; moto has %s, %s", w.colorState(config.Green), w.colorState(config.Blue))
	}

	mark := w.rec.mark()
	s = w.tickUntil(tick, "cutover", 5, func(s step) bool { return s.obs.Weights[config.Green] == 100 })
	if got := w.public(); got != "green" {
		t.Errorf("after cutover: moto's listener forwards to %s, want green", got)
	}
	if m := mutations(w.rec.since(mark)); m["ModifyListener"] != 1 {
		t.Errorf("the cutover made %d ModifyListener calls, want 1 (all at once)", m["ModifyListener"])
	}
	s = w.tickUntil(tick, "release done", 5, func(s step) bool { return s.st.Active == nil })

	// Bake 0: the release is done and blue is retired to zero; green runs
	// the AMI at blue's former capacity and the office previews blue.
	b, g := w.group(config.Blue), w.group(config.Green)
	if aws.ToInt32(b.DesiredCapacity) != 0 || aws.ToInt32(b.MinSize) != 0 || len(b.Instances) != 0 {
		t.Errorf("after the bake: blue must be retired to zero; moto has %s", w.colorState(config.Blue))
	}
	if aws.ToString(g.LaunchTemplate.Version) != "2" || aws.ToInt32(g.DesiredCapacity) != int32(w.app.Floor) || len(g.Instances) != w.app.Floor {
		t.Errorf("after the bake: green must run version 2 at the floor %d; moto has %s", w.app.Floor, w.colorState(config.Green))
	}
	if got := w.preview(); got != "blue" {
		t.Errorf("after the release: the preview rule forwards to %s, want blue (the idle color)", got)
	}
	if got := w.public(); got != "green" {
		t.Errorf("after the release: the listener forwards to %s, want green", got)
	}
	if g := s.obs.Color(config.Green); g.AMI != ami || g.Healthy != w.app.Floor {
		t.Errorf("kaizen observes green as %+v, want %s with %d healthy", *g, ami, w.app.Floor)
	}

	// moto delivered kaizen's notifications to the topic's subscriber.
	got := strings.Join(w.inbox.subjects(), "\n")
	for _, want := range []string{"staged " + ami, "preview ready " + ami, "approved " + ami, "cut over to " + ami, "released " + ami} {
		if !strings.Contains(got, want) {
			t.Errorf("no notification %q reached the topic's subscriber; got:\n%s", want, got)
		}
	}

	// The operator's view.
	code, status, errs := w.kaizen("status")
	if code != 0 || !strings.Contains(status, "blue 0 / green 100 (live: green)") || !strings.Contains(status, ami+" (template v2)") ||
		!strings.Contains(status, "none in flight") || !strings.Contains(status, "healthy 2 of 2") {
		t.Errorf("kaizen status against moto: exit %d\n%s%s", code, status, errs)
	}
	code, history, errs := w.kaizen("history")
	if code != 0 || !regexp.MustCompile(`shop\s+`+ami+`\s+green\s.*\sdone\s`).MatchString(history) {
		t.Errorf("kaizen history against moto: exit %d\n%s%s", code, history, errs)
	}
	t.Logf("kaizen status:\n%s\nkaizen history:\n%s", status, history)
}

// A guard alarm during the bake sends the public back to blue in one
// ModifyListener call; blue kept its instances through the bake, so the
// rollback needs nothing else on its critical path.
func TestRollbackOnMoto(t *testing.T) {
	t.Parallel()
	w := newWorld(t, spec{name: "cart", region: "us-west-2", floor: 2, previewSize: 1, bakeMinutes: 60})
	stage, promote, tick, guard := w.start("stage"), w.start("promote"), w.start("tick"), w.start("guard")

	ami := w.newAMI("cart-golden-1", "exec-cart-1", nil)
	w.send(stage, "AMI available", w.amiAvailable(ami))
	w.tickUntil(tick, "preview ready", 5, func(s step) bool { return s.st.Active != nil && !s.st.Active.PreviewReadyAt.IsZero() })
	w.send(promote, "approval SUCCEEDED", w.approval("exec-cart-1", "SUCCEEDED"))
	w.tickUntil(tick, "baking", 5, func(s step) bool { return s.st.Active != nil && s.st.Active.State == release.Baking })
	if got := w.public(); got != "green" {
		t.Fatalf("during the bake: moto's listener forwards to %s, want green", got)
	}
	if b := w.group(config.Blue); aws.ToInt32(b.DesiredCapacity) != int32(w.app.Floor) || len(b.Instances) != w.app.Floor {
		t.Fatalf("during the bake blue must stay warm; moto has %s", w.colorState(config.Blue))
	}
	// Ticks during the bake change nothing.
	if m := w.send(tick, "tick during the bake", w.tick()).mutations(); len(m) != 0 {
		t.Errorf("a tick during the bake made mutating calls: %s", summary(m))
	}

	s := w.send(guard, "guard alarm ALARM", w.alarm("cart-5xx-rate", "ALARM", "OK", time.Now()))
	if got := w.public(); got != "blue" {
		t.Errorf("after the guard alarm: moto's listener forwards to %s, want blue", got)
	}
	m := s.mutations()
	if m["ModifyListener"] != 1 {
		t.Errorf("the rollback made %d ModifyListener calls, want exactly 1", m["ModifyListener"])
	}
	// The listener call comes first: nothing else mutates before it.
	var before []string
	for _, c := range s.calls {
		if mutating[c.Op] {
			if c.Op != "ModifyListener" {
				t.Errorf("the first mutating call of the rollback was %s, want ModifyListener", c.Op)
			}
			break
		}
		before = append(before, c.Op)
	}
	t.Logf("the rollback's calls before its ModifyListener: %s", strings.Join(before, ", "))
	if s.st.Active != nil || s.st.Hold == nil || s.st.Hold.Color != config.Green {
		t.Errorf("after the rollback: want no release in flight and green held for investigation, got active %+v hold %+v", s.st.Active, s.st.Hold)
	}
	if got := w.preview(); got != "green" {
		t.Errorf("after the rollback: the preview rule forwards to %s, want green (the office investigates the bad color)", got)
	}
	if g := w.group(config.Green); len(g.Instances) == 0 {
		t.Errorf("after the rollback: green must stay up for investigation; moto has %s", w.colorState(config.Green))
	}
	if !strings.Contains(strings.Join(w.inbox.subjects(), "\n"), "ROLLED BACK "+ami) {
		t.Errorf("no rollback notification reached the subscriber: %q", w.inbox.subjects())
	}
	// The same alarm event again changes nothing.
	if m := w.send(guard, "guard alarm ALARM again", w.alarm("cart-5xx-rate", "ALARM", "OK", time.Now())).mutations(); m["ModifyListener"] != 0 {
		t.Errorf("a repeated guard alarm moved the listener again: %s", summary(m))
	}
}

// A capacity alarm steps the live color up by the alarm's step; the idle
// color is not touched; within the cooldown nothing more happens; the
// alarm's OK ends the stepping.
func TestCapacityStepOnMoto(t *testing.T) {
	t.Parallel()
	w := newWorld(t, spec{name: "search", region: "eu-west-1", floor: 2, previewSize: 1, bakeMinutes: 0, maxSize: 6})
	guard, tick := w.start("guard"), w.start("tick")

	// kaizen first settles the idle color (scaling processes suspended).
	w.send(tick, "first tick", w.tick())

	at := time.Now()
	s := w.send(guard, "capacity alarm ALARM", w.alarm("search-cpu-high", "ALARM", "OK", at))
	b := w.group(config.Blue)
	// The alarm's step is 2: from the floor 2 to 4, min and max unchanged.
	if aws.ToInt32(b.DesiredCapacity) != 4 || aws.ToInt32(b.MinSize) != 2 || aws.ToInt32(b.MaxSize) != 6 || len(b.Instances) != 4 {
		t.Errorf("after the capacity alarm: blue must step up from 2 to 4 (min 2, max 6 unchanged); moto has %s", w.colorState(config.Blue))
	}
	if m := s.mutations(); m["UpdateAutoScalingGroup"] != 1 || m["ModifyListener"] != 0 {
		t.Errorf("the capacity step made %s; want one UpdateAutoScalingGroup", summary(m))
	}
	if g := w.group(config.Green); aws.ToInt32(g.DesiredCapacity) != 0 || len(g.Instances) != 0 {
		t.Errorf("the capacity alarm touched the idle color: moto has %s", w.colorState(config.Green))
	}
	if got := w.public(); got != "blue" {
		t.Errorf("the capacity alarm moved the public: %s", got)
	}
	// Within the alarm's cooldown a tick adds nothing.
	if m := w.send(tick, "tick while in ALARM", w.tick()).mutations(); m["UpdateAutoScalingGroup"] != 0 {
		t.Errorf("a tick within the cooldown stepped blue again: %s (%s)", summary(m), w.colorState(config.Blue))
	}
	s = w.send(guard, "capacity alarm OK", w.alarm("search-cpu-high", "OK", "ALARM", at.Add(time.Second)))
	if m := s.mutations(); len(m) != 0 {
		t.Errorf("the alarm's OK made mutating calls: %s", summary(m))
	}
	if len(s.st.CapacityAlarms) != 0 {
		t.Errorf("after OK the alarm is still recorded in ALARM: %v", s.st.CapacityAlarms)
	}
}
