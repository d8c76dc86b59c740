package steps_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// Capacity follows load both ways: a capacity alarm steps the live color
// up, and once it is OK and its cooldown has passed, back down to no less
// than before the alarm, the floor and what the group's own policies ask
// for. The floor holds on every path. Scaling policies are equal on both
// colors before the public moves.

const cpu = "shop-cpu-high" // the example's capacity alarm: step 2, cooldown 5

func (w *world) liveView() *release.ColorView {
	w.t.Helper()
	obs := w.observe()
	return obs.Color(obs.Live())
}

// setCapacity changes a group as something outside kaizen would (a person,
// a scheduled action, a scaling policy).
func (w *world) setCapacity(group string, mn, des, mx int32) {
	w.t.Helper()
	if _, err := w.cloud.AutoScaling().UpdateAutoScalingGroup(context.Background(), capacityInput(group, mn, des, mx)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) alarmNow(state, previous string) {
	w.t.Helper()
	w.cloud.Advance(time.Second) // a transition newer than the last one seen
	w.must(route.Guard, w.alarmAt(cpu, state, previous, w.cloud.Now(), nil, nil))
}

func TestCapacityScaleOut(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.tick()
	before := w.liveView()
	w.alarmNow("ALARM", "OK")
	if got := w.liveView().Desired; got != before.Desired+2 {
		t.Fatalf("live desired %d → %d, want +2", before.Desired, got)
	}
	// Within the cooldown nothing more; after it, the next step, then the
	// max and no further.
	w.wait(4 * time.Minute)
	if got := w.liveView().Desired; got != before.Desired+2 {
		t.Fatalf("stepped within the cooldown: %d", got)
	}
	w.wait(20 * time.Minute)
	if l := w.liveView(); l.Desired != l.Max || l.Max != before.Max {
		t.Fatalf("after 25 minutes in ALARM: %s, want desired at the max %d (never raised)", l.Capacity, before.Max)
	}
	if g := w.observe().Color(config.Green); g.Desired != 0 {
		t.Fatalf("idle color touched: %s", g.Capacity)
	}
}

func TestCapacityScaleInAfterOK(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	// Before the alarm the live color runs above the floor (3 > 2).
	w.setCapacity(w.app.Blue.ASG, 2, 3, 10)
	w.tick()
	w.alarmNow("ALARM", "OK")
	w.wait(6 * time.Minute)
	if got := w.liveView().Desired; got != 7 {
		t.Fatalf("after two steps desired = %d, want 7", got)
	}
	w.alarmNow("OK", "ALARM")
	w.wait(4 * time.Minute)
	if got := w.liveView().Desired; got != 7 {
		t.Fatalf("stepped down within the cooldown: %d", got)
	}
	down := w.mutations(func() { w.wait(2 * time.Minute) })
	if l := w.liveView(); l.Desired != 3 || l.Min != 2 {
		t.Fatalf("after the cooldown: %s, want back at 2/3 (what it was before the alarm)", l.Capacity)
	}
	if down["UpdateAutoScalingGroup"] != 1 {
		t.Fatalf("step down made %v, want one UpdateAutoScalingGroup", down)
	}
	// It stays down: no flapping, the episode is over.
	if m := w.mutations(func() { w.wait(30 * time.Minute) }); len(m) != 0 {
		t.Fatalf("after the step down: %v", m)
	}
	if st := w.state(); st.CapacityBase != 0 || !st.CapacityOKAt.IsZero() {
		t.Fatalf("episode not closed: base %d, OK at %s", st.CapacityBase, st.CapacityOKAt)
	}
	// An ALARM during the cooldown cancels the step down; the next OK starts
	// it again, to the same pre-alarm level.
	w.alarmNow("ALARM", "OK")
	w.wait(time.Minute)
	w.alarmNow("OK", "ALARM")
	w.wait(2 * time.Minute)
	w.alarmNow("ALARM", "OK")
	w.wait(4 * time.Minute)
	if got := w.liveView().Desired; got < 5 {
		t.Fatalf("a new ALARM in the cooldown still stepped down: %d", got)
	}
	w.alarmNow("OK", "ALARM")
	w.wait(6 * time.Minute)
	if got := w.liveView().Desired; got != 3 {
		t.Fatalf("after the second episode desired = %d, want 3", got)
	}
}

// The step down leaves what the group's own scaling (policies, scheduled
// actions, a person) asked for since kaizen's last step, never goes below
// MinSize, and waits for OK after INSUFFICIENT_DATA.
func TestCapacityScaleInRespectsTheGroupsOwnScaling(t *testing.T) {
	t.Run("desired moved by the policies", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		w.alarmNow("ALARM", "OK") // 2 → 4
		w.setCapacity(w.app.Blue.ASG, 2, 5, 6)
		w.alarmNow("OK", "ALARM")
		if m := w.mutations(func() { w.wait(10 * time.Minute) }); m["UpdateAutoScalingGroup"] != 0 {
			t.Fatalf("kaizen stepped down what the policies set: %v", m)
		}
		if got := w.liveView().Desired; got != 5 {
			t.Fatalf("desired = %d, want 5 (the policies' number)", got)
		}
	})
	t.Run("MinSize raised by a scheduled action", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		w.alarmNow("ALARM", "OK") // 2 → 4
		w.wait(5 * time.Minute)   // 4 → 6
		w.setCapacity(w.app.Blue.ASG, 5, 6, 6)
		w.alarmNow("OK", "ALARM")
		w.wait(6 * time.Minute)
		if l := w.liveView(); l.Desired != 5 || l.Min != 5 {
			t.Fatalf("after the step down: %s, want 5/5 (the group's MinSize)", l.Capacity)
		}
	})
	t.Run("INSUFFICIENT_DATA holds it", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		w.alarmNow("ALARM", "OK")
		w.alarmNow("INSUFFICIENT_DATA", "ALARM")
		w.wait(15 * time.Minute)
		if got := w.liveView().Desired; got != 4 {
			t.Fatalf("desired = %d without data, want 4 held", got)
		}
		w.alarmNow("OK", "INSUFFICIENT_DATA")
		w.wait(6 * time.Minute)
		if got := w.liveView().Desired; got != w.app.Floor {
			t.Fatalf("desired = %d after OK, want the floor %d", got, w.app.Floor)
		}
	})
}

// An episode that spans a release ends on the color that is live by then:
// the new color copied the stepped-up need at approval, and steps down
// after OK.
func TestCapacityScaleInAfterCutover(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.alarmNow("ALARM", "OK")
	w.toBake()
	obs := w.observe()
	if obs.Live() != config.Green || obs.Color(config.Green).Desired != 6 || obs.Color(config.Green).Min != w.app.Floor {
		t.Fatalf("after cutover in ALARM: %s, want green live at blue's need 6, MinSize %d", obs.Summary(), w.app.Floor)
	}
	w.alarmNow("OK", "ALARM")
	w.wait(6 * time.Minute)
	if g := w.observe().Color(config.Green); g.Desired != w.app.Floor {
		t.Fatalf("green after OK: %s, want back at the floor", g.Capacity)
	}
}

// Approval copies the live color's current need, not its peak minimum: a
// scheduled action that raised blue's MinSize for the morning is blue's,
// and green starts from the floor.
func TestApprovalCopiesTheCurrentNeed(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	w.setCapacity(w.app.Blue.ASG, 4, 4, 6)
	w.stageAndPreview("shop-golden-1", "exec-1")
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	if g := w.observe().Color(config.Green); g.Capacity != (release.Capacity{Min: w.app.Floor, Desired: 4, Max: 6}) {
		t.Fatalf("green after approval: %s, want %d/4/6", g.Capacity, w.app.Floor)
	}
	if st := w.state(); st.Active.Capacity == nil || st.Active.Capacity.Desired != 4 {
		t.Fatalf("recorded capacity: %+v", st.Active.Capacity)
	}
}

// The floor holds on every path: a hand change below it is restored and
// told once; a raised floor is a lower bound of the step down too.
func TestFloorUnderEveryPath(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	count := func() int {
		n := 0
		for _, p := range w.cloud.Published() {
			if strings.Contains(p.Subject, "restored the floor") {
				n++
			}
		}
		return n
	}
	w.skipCheck = true
	w.setCapacity(w.app.Blue.ASG, 0, 1, 6)
	w.tick()
	w.check("after the tick")
	if b := w.liveView(); b.Min != 2 || b.Desired != 2 {
		t.Fatalf("floor not restored: %s", b.Capacity)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d floor notices, want 1", n)
	}
	msg := w.cloud.Published()[len(w.cloud.Published())-1].Message
	if !strings.Contains(msg, "0/1/6") || !strings.Contains(msg, "shop-blue") {
		t.Fatalf("notice does not say what was found: %s", msg)
	}
	// The same change again is the same standing condition: restored, not
	// told again.
	w.setCapacity(w.app.Blue.ASG, 0, 1, 6)
	w.tick()
	if n := count(); n != 1 {
		t.Fatalf("%d floor notices after the same change, want still 1", n)
	}
	w.skipCheck = false
	// A floor raised during an episode bounds the step down.
	w.alarmNow("ALARM", "OK")
	w.app.Floor = 3
	w.alarmNow("OK", "ALARM")
	w.wait(6 * time.Minute)
	if l := w.liveView(); l.Desired != 3 || l.Min != 3 {
		t.Fatalf("after the step down with floor 3: %s", l.Capacity)
	}
	// Through a release, the new live color starts at the floor.
	w.toBake()
	if g := w.observe().Color(config.Green); g.Min != 3 || g.Desired != 3 {
		t.Fatalf("green after cutover: %s, want 3/3", g.Capacity)
	}
}

// policies reads a group's policies as AWS reports them.
func (w *world) policies(group string) []astypes.ScalingPolicy {
	w.t.Helper()
	out, err := w.cloud.AutoScaling().DescribePolicies(context.Background(), &autoscaling.DescribePoliciesInput{AutoScalingGroupName: aws.String(group)})
	if err != nil {
		w.t.Fatal(err)
	}
	return out.ScalingPolicies
}

func (w *world) scalingOf(c config.Color) []release.ScalingItem {
	w.t.Helper()
	obs := w.observe()
	if err := w.deps.Fleet.ObserveScaling(context.Background(), w.app, &obs); err != nil {
		w.t.Fatal(err)
	}
	return obs.Color(c).Scaling.Items
}

// specs are a color's scaling definitions, names aside.
func specs(items []release.ScalingItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Kind+" "+it.Spec)
	}
	return sorted(out)
}

func sorted(xs []string) []string {
	for i := range xs {
		for j := i + 1; j < len(xs); j++ {
			if xs[j] < xs[i] {
				xs[i], xs[j] = xs[j], xs[i]
			}
		}
	}
	return xs
}

// unequalScaling gives blue a tighter CPU target, a morning schedule and a
// step policy; green keeps the reference CPU policy and an old schedule.
func unequalScaling(t *testing.T, w *world) {
	t.Helper()
	c := w.cloud
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.AddScalingPolicy(&autoscaling.PutScalingPolicyInput{AutoScalingGroupName: aws.String(w.app.Blue.ASG), PolicyName: aws.String(w.app.Blue.ASG + "-Cpu"),
		PolicyType: aws.String("TargetTrackingScaling"), TargetTrackingConfiguration: &astypes.TargetTrackingConfiguration{TargetValue: aws.Float64(40),
			PredefinedMetricSpecification: &astypes.PredefinedMetricSpecification{PredefinedMetricType: astypes.MetricTypeASGAverageCPUUtilization}}}))
	must(c.AddScalingPolicy(&autoscaling.PutScalingPolicyInput{AutoScalingGroupName: aws.String(w.app.Blue.ASG), PolicyName: aws.String("latency-steps"),
		PolicyType: aws.String("StepScaling"), AdjustmentType: aws.String("ChangeInCapacity"), EstimatedInstanceWarmup: aws.Int32(420),
		StepAdjustments: []astypes.StepAdjustment{{MetricIntervalLowerBound: aws.Float64(0), ScalingAdjustment: aws.Int32(2)}}}))
	must(c.AddScheduledAction(&autoscaling.PutScheduledUpdateGroupActionInput{AutoScalingGroupName: aws.String(w.app.Blue.ASG), ScheduledActionName: aws.String("morning"),
		Recurrence: aws.String("30 7 * * 1-5"), MinSize: aws.Int32(4), TimeZone: aws.String("Europe/Berlin")}))
	must(c.AddScheduledAction(&autoscaling.PutScheduledUpdateGroupActionInput{AutoScalingGroupName: aws.String(w.app.Green.ASG), ScheduledActionName: aws.String("old-night"),
		Recurrence: aws.String("0 22 * * *"), MaxSize: aws.Int32(2)}))
}

// Copy (the default): at staging green's policies and scheduled actions
// are made equal to blue's, with green's own target group in the metrics,
// and they are equal when the public moves.
func TestScalingPoliciesCopied(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	unequalScaling(t, w)
	if a, b := specs(w.scalingOf(config.Blue)), specs(w.scalingOf(config.Green)); strings.Join(a, "\n") == strings.Join(b, "\n") {
		t.Fatal("the colors' scaling starts equal; the test needs a difference")
	}
	// An idle app reads no policies.
	w.tick()
	w.cloud.Reset()
	w.cloud.Advance(time.Minute)
	w.tick()
	for _, c := range w.cloud.Calls() {
		if c.Op == "DescribePolicies" || c.Op == "DescribeScheduledActions" {
			t.Fatalf("an idle tick called %s", c.Op)
		}
	}
	ami := w.cloud.NewAMI(w.app, "shop-golden-1", "exec-1")
	m := w.mutations(func() { w.must(route.Stage, w.amiEvent(ami)) })
	// Green's CPU policy is replaced under its name (shop-green-Cpu, as
	// blue's shop-blue-Cpu), the step policy and the schedule added, the
	// old schedule deleted.
	if m["PutScalingPolicy"] != 2 || m["PutScheduledUpdateGroupAction"] != 1 || m["DeleteScheduledAction"] != 1 || m["DeletePolicy"] != 0 {
		t.Fatalf("staging made %v: want 2 policies and 1 schedule put, the old schedule deleted", m)
	}
	if a, b := specs(w.scalingOf(config.Blue)), specs(w.scalingOf(config.Green)); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("after staging the colors' scaling differs:\nblue  %v\ngreen %v", a, b)
	}
	// Green's request-count policies track green's own target group.
	greenLabel := sim.ResourceLabel(w.app, config.Green)
	for _, p := range w.policies(w.app.Green.ASG) {
		b, _ := json.Marshal(p)
		if strings.Contains(string(b), "shop-blue") {
			t.Errorf("green policy %s names blue: %s", aws.ToString(p.PolicyName), b)
		}
		if tt := p.TargetTrackingConfiguration; tt != nil && tt.PredefinedMetricSpecification != nil && tt.PredefinedMetricSpecification.PredefinedMetricType == astypes.MetricTypeALBRequestCountPerTarget &&
			aws.ToString(tt.PredefinedMetricSpecification.ResourceLabel) != greenLabel {
			t.Errorf("green's request-count policy tracks %s, want %s", aws.ToString(tt.PredefinedMetricSpecification.ResourceLabel), greenLabel)
		}
	}
	// Someone changes blue's schedule while green is previewed: the copy
	// follows before the cutover.
	w.wait(8 * time.Minute)
	if err := w.cloud.AddScheduledAction(&autoscaling.PutScheduledUpdateGroupActionInput{AutoScalingGroupName: aws.String(w.app.Blue.ASG), ScheduledActionName: aws.String("morning"),
		Recurrence: aws.String("0 7 * * 1-5"), MinSize: aws.Int32(4), TimeZone: aws.String("Europe/Berlin")}); err != nil {
		t.Fatal(err)
	}
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	for i := 0; i < 15 && w.observe().Weights[config.Green] != 100; i++ {
		if a, b := specs(w.scalingOf(config.Blue)), specs(w.scalingOf(config.Green)); strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Fatal("the changed schedule was not copied before the cutover")
		}
		w.cloud.Advance(time.Minute)
		w.tick()
	}
	if w.observe().Weights[config.Green] != 100 {
		t.Fatal("no cutover")
	}
	if a, b := specs(w.scalingOf(config.Blue)), specs(w.scalingOf(config.Green)); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("at cutover the colors' scaling differs:\nblue  %v\ngreen %v", a, b)
	}
	// While baking and after, nothing more is read or put.
	w.cloud.Reset()
	w.wait(5 * time.Minute)
	for _, c := range w.cloud.Calls() {
		if c.Op == "DescribePolicies" || c.Op == "PutScalingPolicy" {
			t.Fatalf("%s during the bake", c.Op)
		}
	}
}

// Verify: kaizen changes no policy; it says at staging how they differ,
// refuses to cut over while they do, and cuts over once a person made
// them equal.
func TestScalingPoliciesVerify(t *testing.T) {
	cfg := testConfig(t)
	cfg.Apps[0].ScalingPolicies = config.ScalingVerify
	w := newWorldWith(t, cfg, store.NewMemory())
	unequalScaling(t, w)
	ami := w.cloud.NewAMI(w.app, "shop-golden-1", "exec-1")
	m := w.mutations(func() { w.must(route.Stage, w.amiEvent(ami)) })
	if m["PutScalingPolicy"]+m["DeletePolicy"]+m["PutScheduledUpdateGroupAction"]+m["DeleteScheduledAction"] != 0 {
		t.Fatalf("verify changed policies: %v", m)
	}
	told := func() []string {
		var out []string
		for _, p := range w.cloud.Published() {
			if strings.Contains(p.Subject, "scaling of green differs") {
				out = append(out, p.Message)
			}
		}
		return out
	}
	if n := told(); len(n) != 1 || !strings.Contains(n[0], `green lacks blue's scheduled-action "morning"`) || !strings.Contains(n[0], `"old-night"`) || !strings.Contains(n[0], "put-scaling-policy") {
		t.Fatalf("notices at staging: %q", n)
	}
	w.wait(8 * time.Minute)
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	var notes []string
	for range 12 {
		w.cloud.Advance(time.Minute)
		for _, o := range w.tick() {
			notes = append(notes, o.Plan.Notes...)
		}
	}
	if obs := w.observe(); obs.Weights[config.Blue] != 100 || obs.Color(config.Green).Healthy < 2 {
		t.Fatalf("cut over while the policies differ (or green never healthy): %s", obs.Summary())
	}
	if !strings.Contains(strings.Join(notes, "\n"), "cutover refused: the scaling of green differs") {
		t.Fatalf("notes do not say why: %q", notes)
	}
	if n := told(); len(n) != 1 {
		t.Fatalf("%d notices, want the one from staging", len(n))
	}
	// A person makes green's scaling equal blue's: the cutover follows.
	for _, p := range w.policies(w.app.Blue.ASG) {
		in := &autoscaling.PutScalingPolicyInput{AutoScalingGroupName: aws.String(w.app.Green.ASG), PolicyName: p.PolicyName, PolicyType: p.PolicyType,
			AdjustmentType: p.AdjustmentType, EstimatedInstanceWarmup: p.EstimatedInstanceWarmup, StepAdjustments: p.StepAdjustments,
			TargetTrackingConfiguration: p.TargetTrackingConfiguration, PredictiveScalingConfiguration: p.PredictiveScalingConfiguration}
		in.PolicyName = aws.String(strings.Replace(aws.ToString(p.PolicyName), "blue", "green", 1))
		for _, pm := range []*astypes.PredefinedMetricSpecification{ttMetric(in)} {
			if pm != nil && pm.ResourceLabel != nil {
				pm.ResourceLabel = aws.String(sim.ResourceLabel(w.app, config.Green))
			}
		}
		if ps := in.PredictiveScalingConfiguration; ps != nil {
			ps.MetricSpecifications[0].PredefinedMetricPairSpecification.ResourceLabel = aws.String(sim.ResourceLabel(w.app, config.Green))
		}
		w.cloud.RemoveScalingPolicy(w.app.Green.ASG, aws.ToString(in.PolicyName))
		if err := w.cloud.AddScalingPolicy(in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.cloud.AutoScaling().DeleteScheduledAction(context.Background(), &autoscaling.DeleteScheduledActionInput{AutoScalingGroupName: aws.String(w.app.Green.ASG), ScheduledActionName: aws.String("old-night")}); err != nil {
		t.Fatal(err)
	}
	if err := w.cloud.AddScheduledAction(&autoscaling.PutScheduledUpdateGroupActionInput{AutoScalingGroupName: aws.String(w.app.Green.ASG), ScheduledActionName: aws.String("morning"),
		Recurrence: aws.String("30 7 * * 1-5"), MinSize: aws.Int32(4), TimeZone: aws.String("Europe/Berlin")}); err != nil {
		t.Fatal(err)
	}
	w.cloud.Advance(time.Minute)
	w.tick()
	if obs := w.observe(); obs.Weights[config.Green] != 100 {
		t.Fatalf("no cutover once the policies are equal: %s", obs.Summary())
	}
}

func ttMetric(in *autoscaling.PutScalingPolicyInput) *astypes.PredefinedMetricSpecification {
	if in.TargetTrackingConfiguration == nil {
		return nil
	}
	return in.TargetTrackingConfiguration.PredefinedMetricSpecification
}

// Under verify, a difference nobody fixes fails the release at the cutover
// timeout, saying so; the public never moves.
func TestScalingPoliciesVerifyTimesOut(t *testing.T) {
	cfg := testConfig(t)
	cfg.Apps[0].ScalingPolicies = config.ScalingVerify
	w := newWorldWith(t, cfg, store.NewMemory())
	w.cloud.RemoveScalingPolicy(w.app.Green.ASG, w.app.Green.ASG+"-Predictive")
	w.stageAndPreview("shop-golden-1", "exec-1")
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	w.wait(time.Duration(w.app.CutoverTimeoutMinutes+1) * time.Minute)
	h, _ := w.store.History(context.Background(), w.app.Name)
	if len(h) == 0 || h[0].State != release.Failed || !strings.Contains(h[0].History[len(h[0].History)-1].Cause, "scaling of green still differed") {
		t.Fatalf("history: %+v", h)
	}
	if w.observe().Weights[config.Blue] != 100 {
		t.Fatal("the public moved")
	}
}
