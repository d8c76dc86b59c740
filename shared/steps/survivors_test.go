package steps_test

// Tests for mutants that survived a mutation run: each one fails when the
// bug it names is put back.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// The cutover waits while instances of an older version remain in the new
// color, even when enough instances of the new version are healthy: the
// public would otherwise reach the old version through the new color.
// (Mutant: reconcilePromoting's health test without
// `v.Instances == v.OnVersion`.)
func TestNoCutoverWhileOldInstancesRemainInTheNewColor(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	// Half the live color's desired capacity healthy is enough, so one new
	// instance next to one old one would pass the count.
	w.app.CutoverHealthyPercent = 50
	ami := w.stageAndPreview("shop-golden-1", "exec-1")
	// Before approving, an operator pins green back to the launch template
	// version blue runs and scales it up: two instances of the old version
	// join the healthy preview instance.
	green := w.app.Green.ASG
	if _, err := w.cloud.AutoScaling().UpdateAutoScalingGroup(context.Background(), &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(green), MinSize: aws.Int32(0), DesiredCapacity: aws.Int32(3), MaxSize: aws.Int32(6),
		LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(w.app.Green.LaunchTemplateID), Version: aws.String("1")},
	}); err != nil {
		t.Fatal(err)
	}
	w.cloud.Advance(time.Minute) // Auto Scaling launches them
	w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
	sawOld := false
	for i := 0; i < 10; i++ {
		obs := w.observe()
		g := obs.Color(config.Green)
		if g.Instances > g.OnVersion {
			sawOld = true
			if obs.Weights[config.Green] > 0 {
				t.Fatalf("minute %d: the public moved to green while %d of its %d instances run an older version: %s", i, g.Instances-g.OnVersion, g.Instances, obs.Summary())
			}
		}
		w.cloud.Advance(time.Minute)
		w.tick()
	}
	if !sawOld {
		t.Fatalf("the scenario never had old instances in green; it tests nothing: %s", w.observe().Summary())
	}
	if g := w.observe().Color(config.Green); g.AMI != ami {
		t.Fatalf("green runs %s, want the approved %s", g.AMI, ami)
	}
}

// A change window's To is exclusive: an approval that arrives, with the new
// color healthy, exactly at the window's end minute waits for the next
// window; one a minute earlier cuts over. (Mutant: the end minute treated
// as open.)
func TestApprovalAtTheWindowsEndMinuteWaits(t *testing.T) {
	// t0 is Tuesday 09:00 UTC = 10:00 in Berlin; staging and the preview
	// take 8 minutes, so the approval arrives at 10:08 Berlin.
	for _, c := range []struct {
		to      string
		cutover bool
	}{
		{"10:09", true},  // the last open minute
		{"10:08", false}, // the end minute
	} {
		t.Run("to "+c.to, func(t *testing.T) {
			w := newWorld(t, store.NewMemory())
			w.app.ChangeWindow = &config.ChangeWindow{Days: []string{"tue"}, From: "08:00", To: c.to, TimeZone: "Europe/Berlin"}
			w.app.PreviewSize = w.app.Floor // the preview is already the live color's size: healthy at approval
			w.stageAndPreview("shop-golden-1", "exec-1")
			if got := w.cloud.Now().In(w.app.ChangeWindow.Location()).Format("Mon 15:04:05"); got != "Tue 10:08:00" {
				t.Fatalf("the approval arrives at %s, want Tue 10:08:00 Berlin", got)
			}
			w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
			obs, st := w.observe(), w.state()
			if c.cutover {
				if obs.Weights[config.Green] != 100 {
					t.Fatalf("approved in the window's last minute with green healthy: no cutover: %s (%+v)", obs.Summary(), st.Active)
				}
				return
			}
			if obs.Weights[config.Blue] != 100 {
				t.Fatalf("cut over at the window's end minute %s: %s", c.to, obs.Summary())
			}
			if st.Active == nil || st.Active.State != release.WaitingForWindow {
				t.Fatalf("want the release waiting for the window, got %+v", st.Active)
			}
		})
	}
}

// An event id already processed is not planned again (the planner would
// change nothing, but it would read AWS and the store for nothing), for as
// long as it is remembered: 24 hours by default. (Mutants: the seen check
// or the MarkSeen call disabled, or the default TTL zero.)
func TestProcessedEventIDIsIgnoredFor24Hours(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	var logs bytes.Buffer
	w.deps.Log = slog.New(slog.NewTextHandler(&logs, nil))
	raw := w.amiEvent(w.cloud.NewAMI(w.app, "shop-golden-1", ""))
	if outs := w.must(route.Stage, raw); len(outs) != 1 {
		t.Fatalf("first delivery: %d outcomes, want 1", len(outs))
	}
	w.cloud.Advance(23*time.Hour + 59*time.Minute)
	if outs := w.must(route.Stage, raw); len(outs) != 0 {
		t.Fatalf("the same event id 23h59m later was planned again: %d outcome(s)", len(outs))
	}
	if !strings.Contains(logs.String(), "ignored: event already processed") {
		t.Fatalf("the log does not say the duplicate was ignored:\n%s", logs.String())
	}
	w.cloud.Advance(2 * time.Minute)
	if outs := w.must(route.Stage, raw); len(outs) != 1 {
		t.Fatalf("24h01m later the id is forgotten and the event planned (harmlessly) again: got %d outcomes", len(outs))
	}
}

// A tick keeps the id of its schedule event; a tick without one is named
// after its time.
func TestTickEventID(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	raw := w.tickEvent()
	if ids := eventIDs(w.must(route.Tick, raw)); len(ids) != 1 || ids[0] != "ev-0001" {
		t.Fatalf("tick outcomes for events %q: want one, for the schedule event ev-0001", ids)
	}
	outs, err := w.deps.Tick(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if want, ids := "tick@"+w.cloud.Now().UTC().Format(time.RFC3339), eventIDs(outs); len(ids) != 1 || ids[0] != want {
		t.Fatalf("tick without an id: outcomes for events %q, want one for %s", ids, want)
	}
}

// survivorStore fails chosen writes of a real store.
type survivorStore struct {
	store.Store
	mu       sync.Mutex
	saves    int
	failSave int   // the failSave-th Save fails (0: none)
	saveErr  error // with this error
	markErr  error // every MarkSeen fails with this
}

func (f *survivorStore) Save(ctx context.Context, st *release.AppState, ledger ...release.Release) error {
	f.mu.Lock()
	f.saves++
	n := f.saves
	f.mu.Unlock()
	if n == f.failSave {
		return f.saveErr
	}
	return f.Store.Save(ctx, st, ledger...)
}

func (f *survivorStore) MarkSeen(ctx context.Context, id string, expires time.Time) error {
	if f.markErr != nil {
		return f.markErr
	}
	return f.Store.MarkSeen(ctx, id, expires)
}

// A step whose record of the outcome cannot be written fails, so Lambda
// retries it; the conditional write is not the only error that counts.
// (Mutant: the final Save's error ignored.)
func TestFailedFinalSaveFailsTheStep(t *testing.T) {
	fs := &survivorStore{Store: store.NewMemory(), failSave: 2, saveErr: errors.New("dynamodb: InternalServerError")}
	w := newWorld(t, fs)
	w.skipCheck = true
	ami := w.cloud.NewAMI(w.app, "shop-golden-1", "")
	outs, err := w.send(route.Stage, w.amiEvent(ami))
	if err == nil || !strings.Contains(err.Error(), "InternalServerError") {
		t.Fatalf("the outcome was not recorded, yet the step returned %v (%d outcome(s))", err, len(outs))
	}
	if fs.saves != 2 {
		t.Fatalf("%d saves, want the write-ahead and the failed outcome", fs.saves)
	}
}

// Logs that page a person stay quiet on a normal day: no planner bug, no
// lost event id, no failed failure record. A lost event id is a warning
// and the step still succeeds; a failed action is logged as such and its
// failure recorded without complaint. (Mutants: each of these conditions
// negated, which only changes what is logged.)
func TestErrorLogsOnlyWhenSomethingWentWrong(t *testing.T) {
	loud := []string{"planner bug", "could not record the failed step", "could not remember the event id"}
	quiet := func(t *testing.T, logs string, except ...string) {
		t.Helper()
		for _, s := range loud {
			if strings.Contains(logs, s) && !survivorsContain(except, s) {
				t.Errorf("the log says %q:\n%s", s, logs)
			}
		}
	}
	t.Run("a release day", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		var logs bytes.Buffer
		w.deps.Log = slog.New(slog.NewTextHandler(&logs, nil))
		w.stageAndPreview("shop-golden-1", "exec-1")
		w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1"))
		w.wait(time.Duration(w.app.BakeMinutes+15) * time.Minute)
		if st := w.state(); st.Active != nil {
			t.Fatalf("the release did not finish: %+v", st.Active)
		}
		if !strings.Contains(logs.String(), "step applied") {
			t.Fatalf("no step was logged as applied:\n%s", logs.String())
		}
		quiet(t, logs.String())
	})
	t.Run("the event id cannot be remembered", func(t *testing.T) {
		fs := &survivorStore{Store: store.NewMemory(), markErr: errors.New("dynamodb: ProvisionedThroughputExceededException")}
		w := newWorld(t, fs)
		var logs bytes.Buffer
		w.deps.Log = slog.New(slog.NewTextHandler(&logs, nil))
		if outs := w.must(route.Stage, w.amiEvent(w.cloud.NewAMI(w.app, "shop-golden-1", ""))); len(outs) != 1 || len(outs[0].Applied) == 0 {
			t.Fatalf("the step did not apply its plan (%d outcome(s))", len(outs))
		}
		if !strings.Contains(logs.String(), "could not remember the event id") {
			t.Fatalf("the lost event id is not logged:\n%s", logs.String())
		}
		quiet(t, logs.String(), "could not remember the event id")
	})
	t.Run("an action fails", func(t *testing.T) {
		w := newWorld(t, store.NewMemory())
		var logs bytes.Buffer
		w.deps.Log = slog.New(slog.NewTextHandler(&logs, nil))
		w.cloud.Fail("UpdateAutoScalingGroup", sim.ServerError(), 100)
		if _, err := w.send(route.Stage, w.amiEvent(w.cloud.NewAMI(w.app, "shop-golden-1", ""))); err == nil {
			t.Fatal("want the step to fail")
		}
		if st := w.state(); len(st.Pending) == 0 || st.LastError == "" {
			t.Fatalf("the failure is not recorded: %+v", st)
		}
		if !strings.Contains(logs.String(), "step failed midway") {
			t.Fatalf("the failed action is not logged:\n%s", logs.String())
		}
		quiet(t, logs.String())
	})
}

func eventIDs(outs []steps.Outcome) []string {
	var ids []string
	for _, o := range outs {
		ids = append(ids, o.Event.ID)
	}
	return ids
}

func survivorsContain(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// A conditional write lost after the plan was applied leaves the app to
// the next step (applying again could repeat the actions); lost before
// anything was applied, the step decides again and records its change.
// (Mutants: the `len(out.Applied) > 0` test, made inclusive or negated.)
func TestConflictOnTheFinalSave(t *testing.T) {
	stage := func(st store.Store) (map[string]int, error) {
		w := newWorld(t, st)
		w.skipCheck = true
		var err error
		m := w.mutations(func() {
			_, err = w.send(route.Stage, w.amiEvent(w.cloud.NewAMI(w.app, "shop-golden-1", "")))
		})
		return m, err
	}
	want, err := stage(store.NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	got, err := stage(&survivorStore{Store: store.NewMemory(), failSave: 2, saveErr: store.ErrConflict})
	if err != nil {
		t.Fatalf("a conflict after the actions were applied: %v, want the step to succeed", err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("a conflict after the actions were applied: mutating calls %v, want %v (not repeated)", got, want)
	}

	// A guard alarm's OK while a release is staged is remembered (the
	// newest transition seen of that alarm): a change of the record only,
	// no action.
	fs := &survivorStore{Store: store.NewMemory()}
	w := newWorld(t, fs)
	w.stageAndPreview("shop-golden-1", "")
	fs.mu.Lock()
	fs.failSave, fs.saveErr = fs.saves+1, store.ErrConflict
	fs.mu.Unlock()
	outs := w.must(route.Guard, w.alarmEvent("shop-5xx-rate", "OK", "INSUFFICIENT_DATA"))
	if len(outs) != 1 || len(outs[0].Applied) != 0 {
		t.Fatalf("the alarm's OK applied %d action(s); this test needs a record-only change", len(outs[0].Applied))
	}
	if m, ok := w.state().Alarms["shop-5xx-rate"]; !ok || m.State != "OK" {
		t.Fatalf("a conflict before any action: the step did not decide again and record the alarm's OK (marks %v)", w.state().Alarms)
	}
}
