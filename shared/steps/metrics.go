package steps

import (
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/emf"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// kaizen's own metrics (shared/emf/names.go), as EMF lines on the
// function's log.

// stepMetrics writes what one applied step did: releases started and
// ended (by outcome), the time from approval to the public moving, from
// an alarm's transition to its rollback done, and alarms that moved
// nothing (by reason).
func (d *Reconciler) stepMetrics(app *config.App, out Outcome) {
	m := d.Metrics
	if m == nil {
		return
	}
	dims := emf.Dims{"App": app.Name}
	started := 0
	for _, t := range out.Plan.Transitions {
		if strings.HasSuffix(t, " "+string(release.Staged)) {
			started++
		}
	}
	if started > 0 {
		m.Put(dims, emf.Metric{Name: emf.ReleasesStarted, Unit: emf.Count, Value: float64(started)})
	}
	for _, r := range out.Plan.Ended {
		m.Put(emf.Dims{"App": app.Name, "Outcome": string(r.State)}, emf.Metric{Name: emf.ReleasesEnded, Unit: emf.Count, Value: 1})
	}
	rels := append([]release.Release(nil), out.Plan.Ended...)
	if a := out.Plan.Next.Active; a != nil {
		rels = append(rels, *a)
	}
	for _, r := range rels {
		// The public moved in this step: PublicAt is its time.
		if !r.ApprovedAt.IsZero() && !r.PublicAt.IsZero() && r.PublicAt.Equal(out.At) {
			m.Put(dims, emf.Metric{Name: emf.ApprovalToPublicSeconds, Unit: emf.Seconds, Value: r.PublicAt.Sub(r.ApprovedAt).Seconds()})
		}
	}
	if al := out.Event.Alarm; al != nil {
		if rolledBack(out) {
			ms := float64(d.now().Sub(al.At).Milliseconds())
			m.Put(dims, emf.Metric{Name: emf.AlarmToRollbackMilliseconds, Unit: emf.Milliseconds, Value: max(ms, 0)})
		}
		if why := out.Plan.IgnoredAlarm; why != "" {
			m.Put(emf.Dims{"App": app.Name, "Reason": why}, emf.Metric{Name: emf.AlarmsIgnored, Unit: emf.Count, Value: 1})
		}
	}
}

// rolledBack reports whether the step ended a release rolled back with
// its listener call applied.
func rolledBack(out Outcome) bool {
	shifted := false
	for _, a := range out.Applied {
		shifted = shifted || a.Kind == release.Shift
	}
	for _, r := range out.Plan.Ended {
		if r.State == release.RolledBack && shifted {
			return true
		}
	}
	return false
}

// tickMetrics writes one line per completed tick: that it completed (the
// "no tick in 5 minutes" alarm reads it), how long it took, how many apps
// it reconciled and how many failed, and how many releases sit in a state
// past its bound.
func (d *Reconciler) tickMetrics(took time.Duration, outs []Outcome) {
	m := d.Metrics
	if m == nil {
		return
	}
	ok, failed, stuck := 0, 0, 0
	now := d.now()
	for _, o := range outs {
		if o.Err != "" {
			failed++
		} else {
			ok++
		}
		app, found := d.Config.App(o.App)
		if a := o.Plan.Next.Active; a != nil && found {
			if _, over := PastBound(app, *a, now); over {
				stuck++
			}
		}
	}
	m.Put(nil,
		emf.Metric{Name: emf.TicksCompleted, Unit: emf.Count, Value: 1},
		emf.Metric{Name: emf.TickDurationMilliseconds, Unit: emf.Milliseconds, Value: float64(took.Milliseconds())},
		emf.Metric{Name: emf.AppsReconciled, Unit: emf.Count, Value: float64(ok)},
		emf.Metric{Name: emf.AppsFailed, Unit: emf.Count, Value: float64(failed)},
		emf.Metric{Name: emf.ReleasesPastBound, Unit: emf.Count, Value: float64(stuck)})
}

// boundGrace is what a state may overrun its bound by before it counts as
// stuck: the tick that acts on a timer runs up to a minute late, and a
// failed step is retried by the next ones.
const boundGrace = 5 * time.Minute

// PastBound says how long a release may stay in its state (the app's own
// timers: cutover timeout, window wait, weight steps, bake; a rollback is
// one tick) and whether it has stayed longer, by more than boundGrace.
// States that wait on people or on a new AMI (preview ready, unhealthy)
// have no bound.
func PastBound(app *config.App, r release.Release, now time.Time) (time.Duration, bool) {
	minutes := func(n int) time.Duration { return time.Duration(n) * time.Minute }
	var bound time.Duration
	switch r.State {
	case release.Staged, release.Promoting:
		bound = minutes(app.CutoverTimeoutMinutes)
	case release.WaitingForWindow:
		bound = time.Duration(app.WindowWaitHours) * time.Hour
	case release.Shifting:
		bound = minutes(max(1, len(app.WeightSteps)) * app.StepMinutes)
	case release.Baking:
		bound = minutes(app.BakeMinutes)
	case release.RollingBack:
		bound = time.Minute
	default:
		return 0, false
	}
	if bound <= 0 {
		return 0, false
	}
	return bound, now.Sub(enteredState(r)) > bound+boundGrace
}

// enteredState is when the release last entered its state.
func enteredState(r release.Release) time.Time {
	for i := len(r.History) - 1; i >= 0; i-- {
		if t := r.History[i]; t.To == r.State && t.From != r.State {
			return t.At
		}
	}
	return r.StagedAt
}
