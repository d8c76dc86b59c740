package steps_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/emf"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// metric finds the lines carrying name, with the given dimension values.
func metric(lines []emf.Parsed, name string, dims map[string]string) []float64 {
	var out []float64
next:
	for _, l := range lines {
		v, ok := l.Values[name]
		if !ok {
			continue
		}
		for k, want := range dims {
			if l.Root[k] != want {
				continue next
			}
		}
		out = append(out, v)
	}
	return out
}

// A release day as the metrics tell it: one release started, the time from
// approval to the public moving, one line per tick, and a guard alarm's
// rollback with the time from the alarm's transition to the listener call.
func TestStepsWriteTheirMetrics(t *testing.T) {
	w := newWorld(t, store.NewMemory())
	var out bytes.Buffer
	w.deps.Metrics = emf.New(&out, "test")
	w.deps.Metrics.Now = w.cloud.Now

	w.toBake()
	alarm := w.alarmEvent("shop-5xx-rate", "ALARM", "OK") // stamped now
	w.cloud.Advance(1500 * time.Millisecond)
	w.must(route.Guard, alarm)

	lines, err := emf.Lines(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if n := metric(lines, emf.ReleasesStarted, map[string]string{"App": "shop"}); len(n) != 1 || n[0] != 1 {
		t.Errorf("releases started %v", n)
	}
	if s := metric(lines, emf.ApprovalToPublicSeconds, map[string]string{"App": "shop"}); len(s) != 1 || s[0] <= 0 || s[0] > 600 {
		t.Errorf("approval to public %v seconds", s)
	}
	if ms := metric(lines, emf.AlarmToRollbackMilliseconds, map[string]string{"App": "shop"}); len(ms) != 1 || ms[0] < 1000 || ms[0] > 2500 {
		t.Errorf("alarm to rollback %v ms (the alarm is stamped to the second, 1.5 s before)", ms)
	}
	if n := metric(lines, emf.ReleasesEnded, map[string]string{"App": "shop", "Outcome": string(release.RolledBack)}); len(n) != 1 {
		t.Errorf("releases ended rolled back %v", n)
	}
	ticks := metric(lines, emf.TicksCompleted, nil)
	if len(ticks) < 10 {
		t.Errorf("%d tick lines over the day", len(ticks))
	}
	for _, l := range lines {
		if _, ok := l.Values[emf.TicksCompleted]; ok {
			if l.Values[emf.AppsReconciled] < 1 || l.Values[emf.ReleasesPastBound] != 0 || l.Values[emf.AppsFailed] != 0 {
				t.Errorf("tick line %v", l.Values)
			}
		}
	}

	// The alarm fires again after the rollback: nothing is in flight, so it
	// moves nothing, and is counted by reason.
	out.Reset()
	w.must(route.Guard, w.alarmEvent("shop-5xx-rate", "ALARM", "OK"))
	lines, _ = emf.Lines(out.Bytes())
	if n := metric(lines, emf.AlarmsIgnored, map[string]string{"App": "shop", "Reason": release.IgnoredNoRelease}); len(n) != 1 {
		t.Errorf("ignored alarm %v in %s", n, out.String())
	}
}

func TestPastBound(t *testing.T) {
	app := &config.App{CutoverTimeoutMinutes: 15, BakeMinutes: 30, WindowWaitHours: 24, WeightSteps: []int{10, 50}, StepMinutes: 5}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rel := func(s release.State, since time.Duration) release.Release {
		return release.Release{State: s, StagedAt: at.Add(-48 * time.Hour),
			History: []release.Transition{{At: at.Add(-48 * time.Hour), To: release.Staged}, {At: at.Add(-since), From: release.Staged, To: s}}}
	}
	for _, c := range []struct {
		r    release.Release
		over bool
	}{
		{rel(release.Baking, 30*time.Minute), false},
		{rel(release.Baking, 36*time.Minute), true},
		{rel(release.Shifting, 16*time.Minute), true}, // two steps of 5 minutes, 5 minutes' grace
		{rel(release.Promoting, 10*time.Minute), false},
		{rel(release.RollingBack, 7*time.Minute), true},
		{rel(release.PreviewReady, 72*time.Hour), false}, // waits on people: no bound
		{rel(release.WaitingForWindow, 23*time.Hour), false},
	} {
		if _, over := steps.PastBound(app, c.r, at); over != c.over {
			t.Errorf("%s for %s: past bound %v, want %v", c.r.State, at.Sub(c.r.History[1].At), over, c.over)
		}
	}
}
