package release

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

func TestImageAdvisoriesAndFixedSince(t *testing.T) {
	img := &Image{Tags: map[string]string{TagAdvisories: "ALAS2023-2024-700 ALAS2023-2025-800 +3"}}
	live := &Image{Tags: map[string]string{TagAdvisories: "ALAS2023-2024-700"}}
	if got := ImageAdvisories(img); !slices.Equal(got, []string{"ALAS2023-2024-700", "ALAS2023-2025-800"}) {
		t.Fatalf("ImageAdvisories = %v", got)
	}
	if got := ImageAdvisories(&Image{Tags: map[string]string{TagAdvisories: "none"}}); got != nil {
		t.Fatalf("none gave %v", got)
	}
	if got := FixedSince(img, live); !slices.Equal(got, []string{"ALAS2023-2025-800"}) {
		t.Fatalf("FixedSince = %v", got)
	}
	if got := FixedSince(img, nil); len(got) != 2 {
		t.Fatalf("FixedSince without a live AMI = %v", got)
	}
}

func TestSoak(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	app := &config.App{Name: "shop", StagingApp: "shop-staging", StagingSoakMinutes: 30}
	live := func(ami string, since time.Duration, healthy, desired int, alarming ...string) *StagingView {
		return &StagingView{App: "shop-staging", AMI: ami, Healthy: healthy, Desired: desired, LiveSince: now.Add(-since), Alarming: alarming}
	}
	for _, tc := range []struct {
		name string
		soak int
		s    *StagingView
		ok   bool
		why  string
	}{
		{"no gate", 0, nil, true, ""},
		{"staging not observed", 30, nil, false, "could not be observed"},
		{"another AMI on staging", 30, live("ami-old", time.Hour, 2, 2), false, "not live on staging"},
		{"unhealthy", 30, live("ami-1", time.Hour, 1, 2), false, "only 1 of 2"},
		{"no instances", 30, live("ami-1", time.Hour, 0, 0), false, "only 0 of 0"},
		{"alarming", 30, live("ami-1", time.Hour, 2, 2, "shop-staging-5xx"), false, "shop-staging-5xx"},
		{"unknown since", 30, &StagingView{App: "shop-staging", AMI: "ami-1", Healthy: 2, Desired: 2}, false, "no record"},
		{"too short", 30, live("ami-1", 29*time.Minute, 2, 2), false, "29m0s of the 30 minutes"},
		{"exactly the soak", 30, live("ami-1", 30*time.Minute, 2, 2), true, "for 30m0s"},
		{"long enough", 30, live("ami-1", 2*time.Hour, 2, 2), true, "for 2h0m0s"},
	} {
		app.StagingSoakMinutes = tc.soak
		ok, why := Soak(app, tc.s, "ami-1", now)
		if ok != tc.ok || !strings.Contains(why, tc.why) {
			t.Errorf("%s: Soak = %v, %q; want %v and %q", tc.name, ok, why, tc.ok, tc.why)
		}
	}
}

func TestChanged(t *testing.T) {
	for _, tc := range []struct{ now, live, want string }{
		{"", "", "not recorded on either AMI"},
		{"v1", "v1", "unchanged (version v1)"},
		{"v2", "v1", "CHANGED to version v2 (live: v1)"},
		{"v2", "", "version v2 (not recorded on the live AMI)"},
		{"", "v1", "not recorded (live: version v1)"},
	} {
		if got := changed(tc.now, tc.live, "version"); got != tc.want {
			t.Errorf("changed(%q, %q) = %q, want %q", tc.now, tc.live, got, tc.want)
		}
	}
}

func TestConsoleURL(t *testing.T) {
	app := &config.App{ListenerARN: "arn:aws:elasticloadbalancing:eu-central-1:111122223333:listener/app/shop/1/2", Approval: config.Approval{Pipeline: "shop release"}}
	want := "https://eu-central-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/shop%20release/view?region=eu-central-1"
	if got := ConsoleURL(app); got != want {
		t.Fatalf("ConsoleURL = %q, want %q", got, want)
	}
}

// A release marked unhealthy while staged gets no "preview ready: approve
// it" prompt when its preview becomes healthy: it was told its approval
// will be refused. A staged one does.
func TestUnhealthyPreviewIsNotOfferedForApproval(t *testing.T) {
	app := shopApp(t)
	for _, tc := range []struct {
		s    State
		want bool
	}{{Staged, true}, {Unhealthy, false}} {
		st, obs := fleet(tc.s)
		st.Active.State = tc.s
		obs.Colors[config.Green].Healthy = 1
		plan := Decide(app, st, obs, t0, Event{Kind: EvTick})
		got := false
		for _, a := range plan.Actions {
			got = got || a.Notice == NoticePreviewReady
		}
		if got != tc.want {
			t.Errorf("%s: preview-ready notice %v, want %v (actions %v)", tc.s, got, tc.want, plan.Actions)
		}
	}
}
