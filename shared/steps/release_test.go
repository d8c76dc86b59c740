package steps_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/internal/testenv"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/store"
)

func TestReleaseDay(t *testing.T) { releaseDay(t, store.NewMemory()) }

// The same day against a real DynamoDB API (dynalite on loopback).
func TestReleaseDayDynamoDB(t *testing.T) {
	db := testenv.DynamoDB(t)
	releaseDay(t, &store.Dynamo{DB: db, Table: testenv.NewTable(t, db)})
}

func releaseDay(t *testing.T, s store.Store) {
	w := newWorld(t, s)
	w.tick() // first sweep: the live AMI is known, nothing to do
	ami := w.cloud.NewAMI(w.app, "shop-golden-1", "")

	got := w.mutations(func() { w.must(route.Stage, w.amiEvent(ami)) })
	want := map[string]int{"CreateLaunchTemplateVersion": 1, "UpdateAutoScalingGroup": 1, "Publish": 1}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stage mutations = %v, want %v", got, want)
	}
	st := w.state()
	if st.Active == nil || st.Active.State != release.Staged || st.Active.Color != config.Green || st.Active.AMI != ami {
		t.Fatalf("after stage: %+v", st.Active)
	}
	obs := w.observe()
	if g := obs.Color(config.Green); g.AMI != ami || g.Desired != w.app.PreviewSize {
		t.Fatalf("green after stage: %+v", g)
	}
	if obs.Preview != config.Green || obs.Live() != config.Blue {
		t.Fatalf("routing after stage: %s", obs.Summary())
	}

	w.wait(8 * time.Minute)
	if w.state().Active.PreviewReadyAt.IsZero() {
		t.Fatalf("preview never became ready: %s", w.observe().Summary())
	}
	w.must(route.Promote, w.approvalEvent("STARTED", "exec-1"))
	got = w.mutations(func() { w.must(route.Promote, w.approvalEvent("SUCCEEDED", "exec-1")) })
	if got["UpdateAutoScalingGroup"] != 1 || got["ModifyListener"] != 0 {
		t.Fatalf("approval mutations = %v: want the capacity matched and no cutover yet", got)
	}
	if g, b := w.observe().Color(config.Green), w.observe().Color(config.Blue); g.Capacity != b.Capacity {
		t.Fatalf("green capacity %s != blue %s", g.Capacity, b.Capacity)
	}

	var cutover map[string]int
	for i := 0; i < 15 && w.state().Active.State == release.Promoting; i++ {
		w.cloud.Advance(time.Minute)
		m := w.mutations(func() { w.tick() })
		if m["ModifyListener"] > 0 {
			cutover = m
		}
	}
	if st := w.state(); st.Active == nil || st.Active.State != release.Baking {
		t.Fatalf("not baking after approval: %+v", st.Active)
	}
	if cutover["ModifyListener"] != 1 || cutover["ModifyRule"] != 1 || cutover["UpdateAutoScalingGroup"] != 0 {
		t.Fatalf("cutover mutations = %v, want one listener and one rule call", cutover)
	}
	obs = w.observe()
	if obs.Live() != config.Green || obs.Preview != config.Blue || obs.Color(config.Blue).Desired == 0 {
		t.Fatalf("after cutover: %s", obs.Summary())
	}

	w.wait(time.Duration(w.app.BakeMinutes) * time.Minute)
	st = w.state()
	if st.Active != nil {
		t.Fatalf("still in flight after bake: %+v", st.Active)
	}
	obs = w.observe()
	if b := obs.Color(config.Blue); b.Desired != 0 || b.Min != 0 {
		t.Fatalf("blue not retired: %s", obs.Summary())
	}
	h, _ := w.store.History(t.Context(), w.app.Name)
	if len(h) != 1 || h[0].State != release.Done || h[0].AMI != ami {
		t.Fatalf("ledger = %+v", h)
	}
	var states []release.State
	for _, tr := range h[0].History {
		states = append(states, tr.To)
	}
	if !reflect.DeepEqual(states, []release.State{release.Staged, release.PreviewReady, release.Promoting, release.Baking, release.Done}) {
		t.Fatalf("history = %v", states)
	}
	// Settled: a further tick does nothing at all.
	w.cloud.Advance(time.Minute)
	if m := w.mutations(func() { w.tick() }); len(m) != 0 {
		t.Fatalf("settled tick mutated %v", m)
	}

	// A second AMI, rejected at approval.
	ami2 := w.cloud.NewAMI(w.app, "shop-golden-2", "exec-2")
	w.must(route.Stage, w.amiEvent(ami2))
	if c := w.state().Active.Color; c != config.Blue {
		t.Fatalf("second release staged on %s, want blue (idle)", c)
	}
	w.wait(10 * time.Minute)
	w.must(route.Promote, w.approvalEvent("FAILED", "exec-2"))
	st = w.state()
	if st.Active != nil {
		t.Fatalf("rejected release still active: %+v", st.Active)
	}
	if b := w.observe().Color(config.Blue); b.Desired != 0 {
		t.Fatalf("rejected color not scaled to zero: %+v", b)
	}
	pubs := w.cloud.Published()
	if !strings.Contains(pubs[len(pubs)-1].Subject, "rejected") {
		t.Fatalf("last notification = %q", pubs[len(pubs)-1].Subject)
	}
}

// Two promote invocations for one approval race (EventBridge delivers at
// least once; Lambda may run both at the same time). With the DynamoDB
// store's conditional write exactly one acts.
func TestConcurrentPromoteOneWins(t *testing.T) {
	db := testenv.DynamoDB(t)
	w := newWorld(t, &store.Dynamo{DB: db, Table: testenv.NewTable(t, db)})
	w.stageAndPreview("shop-golden-1", "exec-1")
	a := w.approvalEvent("SUCCEEDED", "exec-1")
	b := bytes.Replace(a, []byte(`"id":"ev-`), []byte(`"id":"dup-ev-`), 1)
	before := w.cloud.Mutations()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, raw := range [][]byte{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.deps.Handle(context.Background(), route.Promote, raw)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	after := w.cloud.Mutations()
	if n := after["UpdateAutoScalingGroup"] - before["UpdateAutoScalingGroup"]; n != 1 {
		t.Fatalf("capacity was set %d times, want exactly once", n)
	}
	if n := after["Publish"] - before["Publish"]; n != 1 {
		t.Fatalf("%d approval notices, want 1", n)
	}
	st := w.state()
	promoting := 0
	for _, tr := range st.Active.History {
		if tr.To == release.Promoting {
			promoting++
		}
	}
	if st.Active.State != release.Promoting || promoting != 1 {
		t.Fatalf("want one promotion, got state %s with %d promoting transitions", st.Active.State, promoting)
	}
	w.check("after the race")
}
