package steps

import (
	"context"
	"fmt"
	"slices"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// AdvisoryBook looks up what kaizen recorded from the ALAS feed about an
// app's advisories (severity, CVEs); store.Dynamo implements it.
type AdvisoryBook interface {
	AdvisoryNotes(ctx context.Context, app string, ids []string) ([]release.AdvisoryNote, error)
}

// advisories is the configured AdvisoryBook, or the store when it is one.
func (d *Reconciler) advisories() AdvisoryBook {
	if d.Advisories != nil {
		return d.Advisories
	}
	b, _ := d.Store.(AdvisoryBook)
	return b
}

// wantsEvidence: an approval action that starts while a release is staged
// gets its evidence gathered (and posted by the planner).
func wantsEvidence(st release.AppState, ev release.Event) bool {
	return ev.Kind == release.EvApproval && ev.Approval != nil && ev.Approval.State == "STARTED" &&
		st.Active != nil && st.Active.State.BeforeApproval()
}

// wantsStagingRecord: an approval (or kaizen promote) checks how long the
// AMI has been live on staging, which only staging's records say.
func wantsStagingRecord(ev release.Event) bool {
	return ev.Kind == release.EvApproval || (ev.Kind == release.EvOperator && ev.Operator != nil && ev.Operator.Command == "promote")
}

// evidence gathers what an approval request shows: both AMIs' tags, what
// kaizen knows of the advisories the new one fixed, and the guard alarms'
// states. Nothing here stops the step: what cannot be read is listed as
// missing in the evidence.
func (d *Reconciler) evidence(ctx context.Context, app *config.App, rel *release.Release, obs release.Observed) *release.Evidence {
	e := &release.Evidence{Image: release.Image{ID: rel.AMI, Name: rel.AMIName}}
	miss := func(what string, err error) {
		d.log().Warn("approval evidence incomplete", "app", app.Name, "missing", what, "error", err)
		e.Missing = append(e.Missing, fmt.Sprintf("%s (%v)", what, err))
	}
	ids := []string{rel.AMI}
	live := obs.Color(rel.Color.Other()).AMI
	if live != "" && live != rel.AMI {
		ids = append(ids, live)
	}
	imgs, err := d.fleetFor(app).ImagesByID(ctx, ids)
	if err != nil {
		miss("the AMIs' tags", err)
	}
	for _, img := range imgs {
		switch img.ID {
		case rel.AMI:
			e.Image = img
		case live:
			l := img
			e.Live = &l
		}
	}
	if fixed := release.FixedSince(&e.Image, e.Live); len(fixed) > 0 {
		notes := map[string]release.AdvisoryNote{}
		if b := d.advisories(); b != nil {
			got, err := b.AdvisoryNotes(ctx, app.Name, fixed)
			if err != nil {
				miss("the advisories' severities", err)
			}
			for _, n := range got {
				notes[n.ID] = n
			}
		}
		for _, id := range fixed {
			n, ok := notes[id]
			if !ok {
				n = release.AdvisoryNote{ID: id}
			}
			e.Fixed = append(e.Fixed, n)
		}
	}
	if names := release.GuardAlarms(app); len(names) > 0 {
		if d.fleetFor(app).CW == nil {
			e.Missing = append(e.Missing, "the guard alarms' states (no CloudWatch client)")
		} else if states, err := d.fleetFor(app).AlarmStates(ctx, names); err != nil {
			miss("the guard alarms' states", err)
		} else {
			e.Alarms = states
		}
	}
	return e
}

// stagingRecord completes the staging view from staging's own records:
// when its live AMI took all of its public traffic, and which of its guard
// alarms kaizen last saw in ALARM.
func (d *Reconciler) stagingRecord(ctx context.Context, sa *config.App, v *release.StagingView) {
	st, err := d.Store.Load(ctx, sa.Name)
	if err != nil {
		d.log().Warn("could not read the staging app's state", "app", sa.Name, "error", err)
		return
	}
	for name, m := range st.Alarms {
		if al, ok := sa.Alarm(name); ok && al.Role == config.RoleGuard && m.State == "ALARM" {
			v.Alarming = append(v.Alarming, name)
		}
	}
	slices.Sort(v.Alarming)
	if r := st.Active; r != nil && r.AMI == v.AMI && !r.CutoverAt.IsZero() {
		v.LiveSince = r.CutoverAt
		return
	}
	hist, err := d.Store.History(ctx, sa.Name)
	if err != nil {
		d.log().Warn("could not read the staging app's ledger", "app", sa.Name, "error", err)
		return
	}
	for _, r := range hist { // newest first
		if r.AMI == v.AMI && !r.CutoverAt.IsZero() && r.State == release.Done {
			v.LiveSince = r.CutoverAt
			return
		}
	}
}
