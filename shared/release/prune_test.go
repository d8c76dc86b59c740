package release

import (
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

func TestPlanPrune(t *testing.T) {
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	img := func(id string, age time.Duration) Image { return Image{ID: id, Created: now.Add(-age)} }
	images := []Image{
		img("ami-old-blue", 90*day), // pinned on blue (rollback target)
		img("ami-a", 60*day),
		img("ami-b", 50*day),
		img("ami-queued", 40*day),
		img("ami-young", 2*day),
		img("ami-active", 30*day),
		img("ami-newest", 1*day),
		img("ami-c", 45*day),
	}
	app := &config.App{MinImageAgeDays: 7}
	st := AppState{Active: &Release{ID: "r1", AMI: "ami-active", State: Baking}, Queued: &Candidate{Image: Image{ID: "ami-queued"}}}
	obs := Observed{Colors: map[Color]*ColorView{config.Blue: {AMI: "ami-old-blue"}, config.Green: {AMI: "ami-active"}}}
	got := map[string]bool{}
	for _, d := range PlanPrune(app, images, st, obs, 1, now) {
		got[d.Image.ID] = d.Delete
		if d.Reason == "" {
			t.Errorf("%s: no reason", d.Image.ID)
		}
	}
	want := map[string]bool{
		"ami-newest": false, "ami-young": false, "ami-active": false, "ami-queued": false, "ami-old-blue": false,
		"ami-a": true, "ami-b": true, "ami-c": true,
	}
	for id, del := range want {
		if got[id] != del {
			t.Errorf("%s: delete=%v, want %v", id, got[id], del)
		}
	}
	// keep covers the newest N only.
	n := 0
	for _, d := range PlanPrune(app, images, AppState{}, Observed{}, 3, now) {
		if !d.Delete {
			n++
		}
	}
	if n != 3 { // newest, young (also < 7 days), c
		t.Errorf("with keep=3 and nothing in use: %d kept, want 3", n)
	}
}
