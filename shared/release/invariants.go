package release

import (
	"fmt"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Check tests the invariants of DESIGN.md §4 that can be seen in one
// recorded state and one observation. Scenario tests call it after every
// step. Invariant 6 (duplicates change nothing) and 8 (approval correlation)
// are properties of sequences and are tested there. Under invariant 7 it
// also checks that the record says what was done: the release's state is
// one of the table's, and the data that state relies on is there.
func Check(app *config.App, st AppState, obs Observed) []error {
	var errs []error
	fail := func(n int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("invariant %d: %s", n, fmt.Sprintf(format, args...)))
	}
	b, g := obs.Weights[config.Blue], obs.Weights[config.Green]
	// A split is allowed during a shift, and during a rollback from a shift
	// until its listener call goes through.
	shifting := st.Active != nil && (st.Active.State == Shifting || st.Active.State == RollingBack && st.Active.Weight > 0)
	switch {
	case b+g != 100:
		fail(1, "weights must sum to 100, got %s", obs.Traffic())
	case b != 100 && g != 100 && !shifting:
		fail(1, "exactly one color must serve the public at 100%% outside a weighted shift, got %s", obs.Traffic())
	}
	for _, c := range config.Colors {
		if obs.Weights[c] == 0 {
			continue
		}
		v := obs.Color(c)
		if v.Desired < app.Floor || v.Min < app.Floor || v.Desired == 0 {
			fail(2, "%s serves the public with capacity %s, below the floor %d", c, v.Capacity, app.Floor)
		}
	}
	full := config.Color("")
	switch {
	case b == 100:
		full = config.Blue
	case g == 100:
		full = config.Green
	}
	if full != "" && obs.Preview == full && len(st.Pending) == 0 {
		fail(3, "the preview rule forwards to %s, which serves the public at 100%%", full)
	}
	if r := st.Active; r != nil {
		if r.State.Terminal() {
			fail(4, "release %s is %s but still in flight", r.ID, r.State)
		}
		if (r.State == Baking || r.State == RollingBack) && r.From != "" && obs.Color(r.From).Desired == 0 {
			fail(5, "previous color %s was emptied while %s is %s", r.From, r.AMI, r.State)
		}
		if r.State.BeforeApproval() && st.Queued != nil {
			fail(4, "AMI %s is queued behind a merely staged release %s", st.Queued.Image.ID, r.AMI)
		}
		for _, why := range recordGaps(r) {
			fail(7, "release %s is %s but %s", r.ID, r.State, why)
		}
	} else if st.Queued != nil && st.Hold == nil && len(st.Pending) == 0 {
		fail(4, "AMI %s is queued with no release in flight and no hold", st.Queued.Image.ID)
	}
	if len(st.Pending) > 0 && st.LastError == "" {
		fail(7, "actions pending (%v) without the error that stopped them", st.Pending)
	}
	return errs
}

// recordGaps lists what a release's state relies on that its record lacks.
func recordGaps(r *Release) []string {
	var gaps []string
	gap := func(ok bool, why string) {
		if !ok {
			gaps = append(gaps, why)
		}
	}
	gap(r.State.Known(), "that state is not in the state table")
	switch r.State {
	case PreviewReady:
		gap(!r.PreviewReadyAt.IsZero(), "the time its preview got ready is missing")
	case Unhealthy, RollingBack:
		gap(r.Reason != "", "the reason is missing")
	case Promoting, WaitingForWindow:
		gap(!r.ApprovedAt.IsZero(), "it was never approved")
	case Shifting:
		gap(r.Weight > 0 && r.Weight < 100 && r.From != "", fmt.Sprintf("its weight %d%% or the color it leaves (%q) is missing", r.Weight, r.From))
	case Baking:
		gap(!r.BakeUntil.IsZero() && r.From != "", "the end of its bake or the color it left is missing")
	}
	return gaps
}
