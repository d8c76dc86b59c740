// Package steps holds the handlers behind kaizen's functions. Each one
// validates its event, finds the app, and runs one reconcile step: load the
// intent, observe the fleet, ask the pure planner for a plan, record what
// will be done, apply it, record the outcome.
package steps

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kaizen-sre/kaizen/shared/access"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/emf"
	"github.com/kaizen-sre/kaizen/shared/limits"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// Reconciler runs kaizen's release steps: for one event and one app it
// observes the fleet, asks the pure planner for a plan, writes ahead,
// applies and records. Every release-step function (stage, promote, guard,
// tick) and the operator CLI use it.
type Reconciler struct {
	Config *config.File
	Fleet  *cloud.Fleet
	// Fleets, if set, gives each app the fleet of the account and region
	// it lives in (accounts.go); nil: Fleet serves every app.
	Fleets cloud.Fleets
	Store  store.Store
	Now    func() time.Time
	Log    *slog.Logger
	// DryRun plans without recording or applying anything.
	DryRun bool
	// EventTTL is how long processed event ids are remembered (default 24h).
	EventTTL time.Duration
	// Advisories looks up recorded advisories for approval evidence; nil
	// uses the Store when it is an AdvisoryBook (evidence.go).
	Advisories AdvisoryBook
	// Metrics receives kaizen's own metrics (metrics.go); nil writes none.
	Metrics *emf.Writer
	// Providers fetch the series metric analysis judges (analysis.go);
	// nil: no app is judged by its metrics.
	Providers Providers
	// verdicts are the tick's metric verdicts by app, made in one fetch
	// before the apps' steps.
	verdicts map[string]*release.Verdict
}

// Outcome is what one step did, for logs, the CLI and tests.
type Outcome struct {
	App      string           `json:"app"`
	At       time.Time        `json:"at"`
	Event    release.Event    `json:"event"`
	Observed release.Observed `json:"observed"`
	Plan     release.Plan     `json:"plan"`
	Applied  []release.Action `json:"applied"`
	Err      string           `json:"error,omitempty"`
}

func (d *Reconciler) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Reconciler) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// conflictRetries bounds how often a step re-decides after losing an
// optimistic-locking race or finding another invocation at work.
const conflictRetries = 25

// ErrBusy means another invocation is applying a plan for the app right
// now; the event is retried (by Lambda, or by the next tick).
var ErrBusy = errors.New("another invocation is applying a plan for this app")

// inProgress explains, for people, the pending actions of a write-ahead
// record: seen after its lease (release.AppState.Lease, limits.Lease long)
// has ended, it means the invocation crashed or timed out midway.
const inProgress = "interrupted while applying the plan"

// Run performs one reconcile step for app.
func (d *Reconciler) Run(ctx context.Context, app *config.App, ev release.Event) (Outcome, error) {
	d = d.at(app) // the clients of the app's account and region
	var out Outcome
	var err error
	// The lease token names this invocation: a lease with another token is
	// another invocation's.
	token := rand.Text()
	for range conflictRetries {
		out, err = d.runOnce(ctx, app, ev, token)
		if !errors.Is(err, store.ErrConflict) && !errors.Is(err, ErrBusy) {
			break
		}
		d.log().Info("app busy or changed concurrently; deciding again", "app", app.Name, "event", ev.ID, "reason", err)
		if errors.Is(err, ErrBusy) {
			select {
			case <-ctx.Done():
				return out, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	if err != nil {
		out.Err = err.Error()
	} else if !d.DryRun {
		d.stepMetrics(app, out)
	}
	return out, err
}

func (d *Reconciler) runOnce(ctx context.Context, app *config.App, ev release.Event, token string) (Outcome, error) {
	out := Outcome{App: app.Name, Event: ev}
	log := d.log().With("app", app.Name, "event", ev.ID, "kind", ev.Kind)
	st, err := d.Store.Load(ctx, app.Name)
	if err != nil {
		return out, err
	}
	if l := st.Lease; l != nil && l.Token != token && d.now().Before(l.Until) {
		return out, ErrBusy
	}
	obs, err := d.Fleet.Observe(ctx, app)
	if err != nil {
		return out, fmt.Errorf("observe: %w", err) // the caller names the app
	}
	if app.StagingApp != "" && (st.Active == nil || st.Active.State.BeforeApproval()) {
		// Only while a notification may need it: an approval prompt says
		// whether the AMI is already live on staging.
		obs.Staging = d.staging(ctx, app.StagingApp, wantsStagingRecord(ev))
	}
	if wantsEvidence(st, ev) {
		obs.Evidence = d.evidence(ctx, app, st.Active, obs)
	}
	obs.Analysis = d.verdicts[app.Name] // the tick's (analysis.go)
	if wantScaling(st, ev, d.now()) {
		if err := d.Fleet.ObserveScaling(ctx, app, &obs); err != nil {
			return out, fmt.Errorf("observe: %w", err)
		}
	}
	out.Observed = obs
	now := d.now()
	out.At = now
	plan := release.Decide(app, st, obs, now, ev)
	if plan.Bug != "" {
		log.Error("planner bug: nothing applied", "bug", plan.Bug, "observed", obs.Summary())
	}
	cut := false
	if fn := functionOf(ctx); fn != "" {
		plan, cut = leaveForTick(plan, fn)
	}
	out.Plan = plan
	if !plan.Changed(st) {
		log.Info("nothing to do", "observed", obs.Summary(), "notes", plan.Notes)
		return out, nil
	}
	if d.DryRun {
		log.Info("dry run", "observed", obs.Summary(), "plan", actionStrings(plan.Actions), "notes", plan.Notes)
		return out, nil
	}
	next := plan.Next
	next.UpdatedAt = now
	next.Lease = nil
	if !cut {
		next.Pending, next.LastError = nil, ""
	}
	ledger := func(s release.AppState) []release.Release {
		l := append([]release.Release(nil), plan.Ended...)
		if s.Active != nil {
			l = append(l, *s.Active)
		}
		return l
	}
	if len(plan.Actions) > 0 {
		// Write ahead: the record says what is about to be done, and the
		// conditional write makes this step the only one acting on the app.
		// It holds the state as planned before the first action, so an
		// interruption never records a transition that depends on an
		// action (a cutover) as done.
		ahead := plan.States[0].Clone()
		ahead.UpdatedAt = now
		ahead.Version = st.Version
		ahead.Pending = actionStrings(plan.Actions)
		ahead.LastError = inProgress
		ahead.Lease = &release.Lease{Token: token, Until: now.Add(limits.Lease)}
		// The ledger waits for the outcome (or the failure record): writing
		// it here too would double every step's ledger writes.
		if err := d.Store.Save(ctx, &ahead); err != nil {
			return out, err
		}
		version := ahead.Version
		for i, a := range plan.Actions {
			if err := d.Fleet.Apply(ctx, app, obs, a); err != nil {
				if a.Kind == release.Notify {
					// A lost notification must not stop a release step.
					log.Warn("notification failed", "subject", a.Subject, "error", err)
					continue
				}
				failed := plan.States[i].Clone()
				failed.UpdatedAt = now
				failed.Version = version
				failed.Pending = actionStrings(plan.Actions[i:])
				failed.LastError = err.Error()
				failed.Lease = nil
				if serr := d.Store.Save(ctx, &failed, ledger(failed)...); serr != nil {
					log.Error("could not record the failed step", "error", serr)
				}
				log.Error("step failed midway", "applied", actionStrings(out.Applied), "pending", failed.Pending, "error", err)
				return out, err
			}
			out.Applied = append(out.Applied, a)
		}
		next.Version = version
	}
	if err := d.Store.Save(ctx, &next, ledger(next)...); err != nil {
		if errors.Is(err, store.ErrConflict) && len(out.Applied) > 0 {
			// Another step saved after our write-ahead; its record wins and
			// the next tick reconciles from what is really there.
			log.Warn("state changed while applying; leaving it to the next step", "applied", actionStrings(out.Applied))
			return out, nil
		}
		return out, err
	}
	log.Info("step applied", "observed", obs.Summary(), "applied", actionStrings(out.Applied), "notes", plan.Notes)
	return out, nil
}

type functionKey struct{}

// withFunction tells the step which function runs it: each function's
// role allows only the action kinds shared/access lists for it.
func withFunction(ctx context.Context, function string) context.Context {
	return context.WithValue(ctx, functionKey{}, function)
}

func functionOf(ctx context.Context) string {
	s, _ := ctx.Value(functionKey{}).(string)
	return s
}

// leaveForTick cuts a plan before the first action the function's role may
// not make (guard never creates launch-template versions or passes roles):
// what comes before is applied, the rest is left, recorded as pending, for
// the next tick, which replans it from what it observes.
func leaveForTick(plan release.Plan, function string) (release.Plan, bool) {
	for i, a := range plan.Actions {
		if access.Allowed(function, a.Kind) {
			continue
		}
		why := fmt.Sprintf("left for tick: %s may not %s", function, a.Kind)
		next := plan.States[i].Clone()
		next.Pending = actionStrings(plan.Actions[i:])
		next.LastError = why
		plan.Notes = append(plan.Notes, why)
		plan.Actions, plan.States, plan.Next = plan.Actions[:i], plan.States[:i], next
		return plan, true
	}
	return plan, false
}

func actionStrings(as []release.Action) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// staging observes the staging app's public color; a failure only loses
// the line in the notification.
func (d *Reconciler) staging(ctx context.Context, name string, record bool) *release.StagingView {
	sa, ok := d.Config.App(name)
	if !ok {
		return nil
	}
	so, err := d.fleetFor(sa).Observe(ctx, sa)
	if err != nil {
		d.log().Warn("could not observe the staging app", "app", name, "error", err)
		return nil
	}
	v := so.Color(so.Live())
	view := &release.StagingView{App: name, AMI: v.AMI, Healthy: v.Healthy, Desired: v.Desired}
	if record {
		d.stagingRecord(ctx, sa, view)
	}
	return view
}

// wantScaling says whether a step reads the colors' scaling policies and
// scheduled actions: while a release is on its way to the public (staged
// or approved, not yet shifting), or may be staged in this step (a new
// AMI, a queued one no hold keeps waiting). Idle apps and the rollback
// path spend no calls on them.
func wantScaling(st release.AppState, ev release.Event, now time.Time) bool {
	if r := st.Active; r != nil {
		return r.State.BeforeApproval() || r.State == release.Promoting || r.State == release.WaitingForWindow
	}
	if img := ev.Image; img != nil && img.ID != st.Newest && !img.Created.Before(st.NewestCreated) {
		return true
	}
	return st.Queued != nil && (st.Hold == nil || !now.Before(st.Hold.Until))
}
