package steps

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// Every field of release.AppState is weighed by idle: it either makes an
// app not idle (its tick then runs from a full observation) or is known
// not to make an idle app's planning read what a glance lacks or wait on
// time. A new field fails this test until it is placed in one list.
func TestIdleWeighsEveryStateField(t *testing.T) {
	notIdle := []string{"Active", "Queued", "Hold", "Pending", "Lease", "CapacityAlarms", "CapacityBase", "CapacityOKAt", "Recent"}
	irrelevant := []string{"App", "Version", "Newest", "NewestCreated", "Bindings", "CapacityStepAt", "Sized", "LastError", "UpdatedAt", "Alarms", "Stuck", "Told"}
	known := map[string]bool{}
	for _, f := range append(notIdle, irrelevant...) {
		known[f] = true
	}
	typ := reflect.TypeFor[release.AppState]()
	for i := range typ.NumField() {
		if f := typ.Field(i).Name; !known[f] {
			t.Errorf("release.AppState.%s is new: decide whether it makes an app not idle (steps/tick.go), and list it here", f)
		}
	}
	// Each field of notIdle, set alone, does make an app not idle.
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for _, st := range []release.AppState{
		{Active: &release.Release{}}, {Queued: &release.Candidate{}}, {Hold: &release.Hold{}}, {Pending: []string{"x"}},
		{Lease: &release.Lease{}}, {CapacityAlarms: []string{"a"}}, {CapacityBase: 3}, {CapacityOKAt: now}, {Recent: []string{""}},
	} {
		if idle(st) {
			t.Errorf("%+v counted idle", st)
		}
	}
	if !idle(release.AppState{Newest: "ami-1", Told: []string{"x"}, Stuck: "y", Bindings: []release.Binding{{}}}) {
		t.Error("an app with nothing in flight is not idle")
	}
}

// What a glance lacks (target health, and the AMI of a version not yet
// read) never makes an idle app's plan look empty when a full observation
// would change something: planning from a glance errs, if at all, towards
// running the step from a full observation.
func TestIdlePlanningNeedsNoHealthNorAMI(t *testing.T) {
	cfg, err := config.Load("../../examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	app := &cfg.Apps[0]
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	img := func(id string, created time.Time, public bool) *release.Image {
		return &release.Image{ID: id, State: "available", Created: created, Owner: app.Account, Public: public, Tags: map[string]string{app.ImageTag.Key: app.ImageTag.Value}}
	}
	states := []release.AppState{
		{App: app.Name},
		{App: app.Name, Newest: "ami-live", NewestCreated: now.Add(-24 * time.Hour)},
		{App: app.Name, Newest: "ami-live", NewestCreated: now.Add(-24 * time.Hour), Told: []string{"image-refused:ami-public"}},
		{App: app.Name, Newest: "ami-live", NewestCreated: now.Add(-24 * time.Hour), Stuck: "flapping"},
	}
	images := []*release.Image{nil, img("ami-live", now.Add(-24*time.Hour), false), img("ami-new", now, false),
		img("ami-old", now.Add(-48*time.Hour), false), img("ami-public", now, true)}
	checked, changed := 0, 0
	for range 3000 {
		st := states[rng.IntN(len(states))]
		if !idle(st) {
			t.Fatalf("test state not idle: %+v", st)
		}
		live := config.Colors[rng.IntN(2)]
		full := release.Observed{Weights: map[config.Color]int{live: 100, live.Other(): 0}, Preview: config.Colors[rng.IntN(2)],
			Colors: map[config.Color]*release.ColorView{}}
		for _, c := range config.Colors {
			mx := 6
			v := &release.ColorView{Capacity: release.Capacity{Min: rng.IntN(4), Desired: rng.IntN(5), Max: mx},
				Version: "1", AMI: []string{"ami-live", "ami-new", "ami-other"}[rng.IntN(3)]}
			v.Instances = v.Desired
			v.OnVersion = rng.IntN(v.Instances + 1)
			v.Healthy = rng.IntN(v.OnVersion + 1)
			if rng.IntN(2) == 0 {
				v.Suspended = append([]string(nil), release.ScalingProcesses...)
			}
			full.Colors[c] = v
		}
		glance := full.Clone()
		for _, c := range config.Colors {
			glance.Colors[c].Healthy = 0
			if rng.IntN(2) == 0 {
				glance.Colors[c].AMI = "" // a version not read yet
			}
		}
		ev := release.Event{Kind: release.EvTick, ID: "tick", Image: images[rng.IntN(len(images))]}
		fromGlance := release.Decide(app, st, glance, now, ev)
		if fromGlance.Changed(st) {
			changed++
			continue // the step runs from a full observation
		}
		checked++
		if fromFull := release.Decide(app, st, full, now, ev); fromFull.Changed(st) {
			t.Fatalf("a glance planned nothing where a full observation plans %v\nstate %+v\nobserved %s (glance %s)\nevent image %+v",
				fromFull.Actions, st, full.Summary(), glance.Summary(), ev.Image)
		}
	}
	if checked < 100 || changed < 100 {
		t.Fatalf("the cases exercised too little: %d planned nothing, %d something", checked, changed)
	}
}
