package steps_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// cloudWatchTime is how CloudWatch writes detail.state.timestamp.
const cloudWatchTime = "2006-01-02T15:04:05.000-0700"

// alarmAt is an alarm state change whose transition happened at `at`,
// delivered now; extra fields go into detail.state (actionsSuppressedBy)
// or detail (muteDetail).
func (w *world) alarmAt(name, state, previous string, at time.Time, stateExtra, detailExtra map[string]any) []byte {
	st := map[string]any{"value": state, "reason": "Threshold Crossed: 3 datapoints were greater than the threshold.", "timestamp": at.UTC().Format(cloudWatchTime)}
	for k, v := range stateExtra {
		st[k] = v
	}
	detail := map[string]any{
		"alarmName":     name,
		"state":         st,
		"previousState": map[string]any{"value": previous, "reason": "", "timestamp": at.Add(-10 * time.Minute).UTC().Format(cloudWatchTime)},
		"configuration": map[string]any{"metrics": []any{map[string]any{"id": "m1", "returnData": true}}},
	}
	for k, v := range detailExtra {
		detail[k] = v
	}
	return w.envelope(route.SourceCloudWatch, route.TypeAlarmStateChange, detail)
}

func mustRead(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// operate runs a person's command as the CLI does.
func (w *world) operate(command, by string) (steps.Outcome, error) {
	w.t.Helper()
	return w.deps.Run(context.Background(), w.app, release.Event{Kind: release.EvOperator, ID: "cli-" + command, Operator: &release.Operator{Command: command, By: by}})
}

func lastCause(r *release.Release) string {
	if r == nil || len(r.History) == 0 {
		return ""
	}
	return r.History[len(r.History)-1].Cause
}

// Item 1: an ALARM that happened before the cutover, delivered late, is
// about the previous color and must not roll back the healthy new one.
func TestStaleAlarmFromBeforeCutoverDoesNotRollBack(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.toBake()
	cut := w.state().Active.PublicAt
	if cut.IsZero() {
		t.Fatal("the bake records no PublicAt")
	}
	stale := w.alarmAt("shop-5xx-rate", "ALARM", "OK", cut.Add(-5*time.Minute), nil, nil)
	if m := w.mutations(func() { w.must(route.Guard, stale) }); m["ModifyListener"] != 0 {
		t.Fatalf("a stale alarm moved the public: %v", m)
	}
	st := w.state()
	if st.Active == nil || st.Active.State != release.Baking {
		t.Fatalf("release = %+v, want still baking", st.Active)
	}
	if c := lastCause(st.Active); !strings.Contains(c, "before AMI") || !strings.Contains(c, "shop-5xx-rate") {
		t.Fatalf("the ledger does not say why the alarm was ignored: %q", c)
	}
	// Within the allowed clock skew it still counts as newer.
	fresh := w.alarmAt("shop-5xx-rate", "ALARM", "OK", cut.Add(-time.Duration(w.app.AlarmSkewSeconds-5)*time.Second), nil, nil)
	if m := w.mutations(func() { w.must(route.Guard, fresh) }); m["ModifyListener"] != 1 {
		t.Fatalf("an alarm inside the clock skew did not roll back: %v", m)
	}
}

// Item 1: an OK that arrives before an older ALARM wins.
func TestOlderAlarmAfterNewerOKIsIgnored(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.toBake()
	now := w.cloud.Now()
	ok := w.alarmAt("shop-5xx-rate", "OK", "ALARM", now.Add(-time.Second), nil, nil)
	alarm := w.alarmAt("shop-5xx-rate", "ALARM", "OK", now.Add(-2*time.Second), nil, nil)
	w.must(route.Guard, ok)
	if m := w.mutations(func() { w.must(route.Guard, alarm) }); m["ModifyListener"] != 0 {
		t.Fatalf("an ALARM older than the OK already seen rolled back: %v", m)
	}
	st := w.state()
	if c := lastCause(st.Active); !strings.Contains(c, "older than the transition to OK") {
		t.Fatalf("ledger cause = %q", c)
	}
	if got := st.Alarms["shop-5xx-rate"]; got.State != "OK" {
		t.Fatalf("newest transition seen = %+v, want the OK", got)
	}
	// A newer ALARM still acts.
	if m := w.mutations(func() {
		w.must(route.Guard, w.alarmAt("shop-5xx-rate", "ALARM", "OK", now.Add(time.Second), nil, nil))
	}); m["ModifyListener"] != 1 {
		t.Fatalf("a newer ALARM did not roll back: %v", m)
	}
}

// Item 2: suppressed (composite actionsSuppressedBy) and muted alarms take
// no action; one notice says so, and its duplicate says nothing more.
func TestSuppressedAndMutedAlarmsTakeNoAction(t *testing.T) {
	at := func(w *world) time.Time { return w.cloud.Now().Add(-time.Second) }
	cases := []struct {
		name                    string
		stateExtra, detailExtra func(time.Time) map[string]any
		want                    string
	}{
		{"suppressed by alarm", func(time.Time) map[string]any {
			return map[string]any{"actionsSuppressedBy": "Alarm", "actionsSuppressedReason": "Alarm shop-maintenance is in ALARM"}
		}, nil, "suppressed (Alarm)"},
		{"suppressed in wait period", func(time.Time) map[string]any { return map[string]any{"actionsSuppressedBy": "WaitPeriod"} }, nil, "suppressed (WaitPeriod)"},
		{"muted by a rule", nil, func(t time.Time) map[string]any {
			return map[string]any{"muteDetail": map[string]any{"mutedBy": []any{map[string]any{
				"muteRuleName": "tuesday-release", "muteWindowStart": t.Add(-time.Hour).Format(time.RFC3339), "muteWindowEnd": t.Add(time.Hour).Format(time.RFC3339),
			}}}}
		}, "muted by tuesday-release"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, store.NewMemory())
			w.toBake()
			var se, de map[string]any
			if c.stateExtra != nil {
				se = c.stateExtra(at(w))
			}
			if c.detailExtra != nil {
				de = c.detailExtra(at(w))
			}
			raw := w.alarmAt("shop-5xx-rate", "ALARM", "OK", at(w), se, de)
			m := w.mutations(func() { w.must(route.Guard, raw) })
			if m["ModifyListener"] != 0 || m["Publish"] != 1 {
				t.Fatalf("mutations = %v: want no rollback and exactly one notice", m)
			}
			pubs := w.cloud.Published()
			if last := pubs[len(pubs)-1]; !strings.Contains(last.Message, c.want) || !strings.Contains(last.Subject, "suppressed or muted") {
				t.Fatalf("notice = %+v, want it to say %q", last, c.want)
			}
			// The same transition delivered again under a new event id is
			// not told twice.
			again := w.alarmAt("shop-5xx-rate", "ALARM", "OK", at(w), se, de)
			if m := w.mutations(func() { w.must(route.Guard, again) }); len(m) != 0 {
				t.Fatalf("duplicate made %v", m)
			}
			if st := w.state(); st.Active == nil || st.Active.State != release.Baking {
				t.Fatalf("release = %+v", st.Active)
			}
		})
	}
	// A mute window that did not hold the transition does not mute it.
	t.Run("mute window over", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		w.toBake()
		now := at(w)
		raw := w.alarmAt("shop-5xx-rate", "ALARM", "OK", now, nil, map[string]any{"muteDetail": map[string]any{"mutedBy": []any{map[string]any{
			"muteRuleName": "last-week", "muteWindowStart": now.Add(-48 * time.Hour).Format(time.RFC3339), "muteWindowEnd": now.Add(-47 * time.Hour).Format(time.RFC3339),
		}}}})
		if m := w.mutations(func() { w.must(route.Guard, raw) }); m["ModifyListener"] != 1 {
			t.Fatalf("an alarm outside its mute window did not roll back: %v", m)
		}
	})
	// A suppressed capacity alarm does not step the live color up.
	t.Run("capacity suppressed", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		raw := w.alarmAt("shop-cpu-high", "ALARM", "OK", at(w), map[string]any{"actionsSuppressedBy": "ExtensionPeriod"}, nil)
		if m := w.mutations(func() { w.must(route.Guard, raw) }); m["UpdateAutoScalingGroup"] != 0 {
			t.Fatalf("a suppressed capacity alarm stepped capacity: %v", m)
		}
		w.wait(10 * time.Minute)
		if d := w.observe().Color(config.Blue).Desired; d != w.app.Floor {
			t.Fatalf("live desired = %d after a suppressed capacity alarm, want %d", d, w.app.Floor)
		}
	})
}

// Item 3: a window that crosses midnight opens; days name the day it
// starts; an approved release that never sees its window fails, bounded.
func TestOvernightChangeWindow(t *testing.T) {
	cfg := testConfig(t)
	app := &cfg.Apps[0]
	// Tuesday 22:00 to 01:00 in Berlin; 2026-11-24 is a Tuesday.
	win, err := config.Parse([]byte(strings.Replace(mustRead(t, "../../examples/kaizen.json"), `"bakeMinutes": 60,`,
		`"bakeMinutes": 60, "changeWindow": {"days": ["tue"], "from": "22:00", "to": "01:00", "timeZone": "Europe/Berlin"},`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	*app = win.Apps[0]
	w := newWorldWith(t, cfg, store.NewMemory())
	ami := w.stageAndPreview("shop-golden-1", "exec-1")
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	w.wait(30 * time.Minute) // 09:38 UTC Tuesday: 10:38 in Berlin, closed
	if obs := w.observe(); obs.Weights[config.Blue] != 100 {
		t.Fatalf("the public moved outside the window: %s", obs.Summary())
	}
	// To Wednesday 00:30 Berlin (23:30 UTC Tuesday): open, though it is
	// Wednesday there and only Tuesday is listed.
	w.wait(time.Date(2026, 11, 24, 23, 30, 0, 0, time.UTC).Sub(w.cloud.Now()))
	obs := w.observe()
	if obs.Weights[config.Green] != 100 || obs.Color(config.Green).AMI != ami {
		t.Fatalf("the public did not move inside the overnight window: %s", obs.Summary())
	}
	h, _ := w.store.History(context.Background(), "shop")
	// 22:00 in Berlin is 21:00 UTC: the first minute the window is open.
	if len(h) == 0 || !h[0].CutoverAt.Equal(time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC)) {
		t.Fatalf("cut over at the wrong time: %+v", h)
	}
}

func TestWindowWaitIsBounded(t *testing.T) {
	cfg := testConfig(t)
	win, err := config.Parse([]byte(strings.Replace(mustRead(t, "../../examples/kaizen.json"), `"bakeMinutes": 60,`,
		`"bakeMinutes": 60, "windowWaitHours": 2, "changeWindow": {"days": ["sun"], "from": "03:00", "to": "04:00", "timeZone": "UTC"},`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Apps[0] = win.Apps[0]
	w := newWorldWith(t, cfg, store.NewMemory())
	w.stageAndPreview("shop-golden-1", "exec-1")
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	w.wait(2*time.Hour + 5*time.Minute)
	h, _ := w.store.History(context.Background(), "shop")
	if len(h) == 0 || h[0].State != release.Failed || !strings.Contains(lastCause(&h[0]), "waited 2 hours") {
		t.Fatalf("ledger = %+v, want the release failed after waiting 2 hours", h)
	}
	if g := w.observe().Color(config.Green); g.Desired != 0 {
		t.Fatalf("the failed release still holds %d instances", g.Desired)
	}
	found := false
	for _, p := range w.cloud.Published() {
		found = found || strings.Contains(p.Message, "windowWaitHours")
	}
	if !found {
		t.Fatal("no notice names windowWaitHours")
	}
}

// Item 7: something outside kaizen undoes its change every minute; kaizen
// stops after noProgressTicks, notifies once, and a person resumes it.
func TestNotConvergingStopsAndResumes(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.stageAndPreview("shop-golden-1", "exec-1")
	ctx := context.Background()
	fight := func() {
		// Another automation points the preview rule back at blue.
		in := &elbv2.ModifyRuleInput{RuleArn: aws.String(w.app.Preview.RuleARN), Actions: []elbtypes.Action{{
			Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(w.app.Blue.TargetGroupARN),
		}}}
		if _, err := w.cloud.ELBv2().ModifyRule(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	w.skipCheck = true // the fight breaks invariant 3 on purpose
	modifies := 0
	for i := 0; i < 3*w.app.NoProgressTicks; i++ {
		fight()
		m := w.mutations(func() { w.cloud.Advance(time.Minute); w.tick() })
		modifies += m["ModifyRule"]
	}
	if modifies != w.app.NoProgressTicks-1 {
		t.Fatalf("kaizen fought back %d times, want %d then stop", modifies, w.app.NoProgressTicks-1)
	}
	st := w.state()
	if !strings.Contains(st.Stuck, "point preview at green") {
		t.Fatalf("stuck = %q", st.Stuck)
	}
	n := 0
	for _, p := range w.cloud.Published() {
		if strings.Contains(p.Message, "kaizen is not converging on shop") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d not-converging notices, want 1", n)
	}
	// A person fixes the fight and resumes kaizen, which repairs at once.
	if m := w.mutations(func() {
		if _, err := w.operate("resume", "alice"); err != nil {
			t.Fatal(err)
		}
	}); m["ModifyRule"] != 1 {
		t.Fatalf("resume did not repair the preview rule: %v", m)
	}
	if st := w.state(); st.Stuck != "" || len(st.Recent) != 0 {
		t.Fatalf("still stuck after resume: %q %v", st.Stuck, st.Recent)
	}
	if m := w.mutations(func() { w.cloud.Advance(time.Minute); w.tick() }); len(m) != 0 {
		t.Fatalf("after resume the next tick still changes %v", m)
	}
	w.skipCheck = false
	w.check("after resume")
}

// Item 8: a refused operator command changes nothing, not even an
// unrelated repair the next tick would make.
func TestRefusedOperatorCommandChangesNothing(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	ctx := context.Background()
	// Something to repair: the live color below the floor.
	if _, err := w.cloud.AutoScaling().UpdateAutoScalingGroup(ctx, capacityInput(w.app.Blue.ASG, 1, 1, 10)); err != nil {
		t.Fatal(err)
	}
	v := w.state().Version
	var out steps.Outcome
	m := w.mutations(func() {
		o, err := w.operate("rollback", "alice")
		if err != nil {
			t.Fatal(err)
		}
		out = o
		if o.Plan.Refused == "" {
			t.Fatalf("rollback with nothing to roll back was not refused: %+v", o.Plan)
		}
	})
	if len(m) != 0 || w.state().Version != v {
		t.Fatalf("a refused rollback changed AWS %v or the record (%d → %d): %+v", m, v, w.state().Version, out)
	}
}

// Item 8: an approval that started for another pipeline execution than the
// one that built the staged AMI is "not bound".
func TestApprovalStartedForAnotherExecutionIsNotBound(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.stageAndPreview("shop-golden-1", "exec-1")
	outs := w.must(route.Promote, w.approvalEvent("STARTED", "exec-9"))
	notes := strings.Join(outs[0].Plan.Notes, "\n")
	if !strings.Contains(notes, "not bound") || strings.Contains(notes, ": bound to") {
		t.Fatalf("notes = %s", notes)
	}
	if st := w.state(); st.Active.ApprovalExecution != "" {
		t.Fatalf("bound to %s", st.Active.ApprovalExecution)
	}
}

// Item 9: a public AMI, or another account's, that carries the app's tag
// is refused and told once; one from a listed image account is staged.
func TestForeignAndPublicAMIsAreRefused(t *testing.T) {
	for _, c := range []struct {
		name   string
		owner  string
		public bool
		want   string
	}{
		{"public", sim.DefaultAccount, true, "it is public"},
		{"another account", "444455556666", false, "owned by account 444455556666"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, store.NewMemory())
			ami := w.cloud.NewAMI(w.app, "evil-golden", "")
			w.cloud.SetImageOwner(ami, c.owner, c.public)
			m := w.mutations(func() { w.must(route.Stage, w.amiEvent(ami)) })
			if m["CreateLaunchTemplateVersion"] != 0 || m["Publish"] != 1 {
				t.Fatalf("mutations = %v: want no staging and one notice", m)
			}
			pubs := w.cloud.Published()
			if last := pubs[len(pubs)-1]; !strings.Contains(last.Message, c.want) {
				t.Fatalf("notice = %q, want %q", last.Message, c.want)
			}
			if m := w.mutations(func() { w.must(route.Stage, w.amiEvent(ami)); w.wait(3 * time.Minute) }); len(m) != 0 {
				t.Fatalf("the refused AMI came back: %v", m)
			}
		})
	}
	t.Run("image account", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Apps[0].ImageOwners = []string{"777788889999"}
		w := newWorldWith(t, cfg, store.NewMemory())
		ami := w.cloud.NewAMI(w.app, "central-golden", "")
		w.cloud.SetImageOwner(ami, "777788889999", false)
		w.must(route.Stage, w.amiEvent(ami))
		if st := w.state(); st.Active == nil || st.Active.AMI != ami {
			t.Fatalf("an AMI of a listed image account was not staged: %+v", st.Active)
		}
	})
}

// kaizen never raises an operator's MaxSize: a preview larger than the
// idle group's max runs at the max, and says so once.
func TestPreviewNeverRaisesMaxSize(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.app.PreviewSize = 500 // the seeded group's MaxSize is far lower
	max := w.observe().Color(config.Green).Max
	w.stageAndPreview("shop-golden-1", "")
	g := w.observe().Color(config.Green)
	if g.Max != max || g.Desired != max {
		t.Fatalf("green = %s, want desired %d and MaxSize left at %d", g.Capacity, max, max)
	}
	n := 0
	for _, p := range w.cloud.Published() {
		if strings.Contains(p.Message, "never raises an operator's MaxSize") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d MaxSize notices, want 1", n)
	}
}

// Item 9: guard's role cannot create launch-template versions; a plan that
// needs one is cut there, and the next tick finishes it.
func TestGuardLeavesPutAMIToTick(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.stageAndPreview("shop-golden-1", "")
	ctx := context.Background()
	// By hand, someone pins green back to the template's first version.
	if _, err := w.cloud.AutoScaling().UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(w.app.Green.ASG),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(w.app.Green.LaunchTemplateID), Version: aws.String("1")},
	}); err != nil {
		t.Fatal(err)
	}
	w.skipCheck = true
	m := w.mutations(func() {
		w.must(route.Guard, w.alarmAt("shop-cpu-high", "ALARM", "OK", w.cloud.Now(), nil, nil))
	})
	if m["CreateLaunchTemplateVersion"] != 0 || m["UpdateAutoScalingGroup"] != 1 {
		t.Fatalf("guard made %v: want the capacity step only", m)
	}
	st := w.state()
	if !strings.Contains(st.LastError, "left for tick: guard may not put-ami") || len(st.Pending) == 0 {
		t.Fatalf("state = %q %v: the put-ami must be recorded as left for tick", st.LastError, st.Pending)
	}
	w.skipCheck = false
	w.tick()
	// The version was created at staging; the tick's idempotent create
	// (same client token) finds it and pins green to it again.
	if g := w.observe().Color(config.Green); g.AMI != st.Active.AMI {
		t.Fatalf("after the tick green runs %s, want %s", g.AMI, st.Active.AMI)
	}
	if st := w.state(); st.LastError != "" || len(st.Pending) != 0 {
		t.Fatalf("after the tick: %q %v", st.LastError, st.Pending)
	}
}
