package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// frames collects what --watch writes, one Write per frame, and lets the
// test change the world between frames.
type frames struct {
	all     []string
	onFrame func(n int)
}

func (f *frames) Write(p []byte) (int, error) {
	f.all = append(f.all, string(p))
	f.onFrame(len(f.all))
	return len(p), nil
}

// `kaizen status --watch` against the simulated AWS over HTTP and
// dynalite: the world changes between redraws (an AMI is staged, then its
// preview comes up) and each frame shows it; cancelling stops it cleanly.
func TestStatusWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newHTTPWorld(t)
	app, c, srv, ep, table, d, mk := w.app, w.cloud, w.srv, w.ep, w.table, w.d, w.mk
	send := func(fn string, raw []byte) {
		if _, err := d.Handle(ctx, fn, raw); err != nil {
			t.Error(err)
		}
	}
	ami := c.NewAMI(app, "shop-golden-1", "exec-1")
	out := &frames{onFrame: func(n int) {
		switch n {
		case 1: // an image build finishes
			send(route.Stage, mk.AMI(ami, "available", time.Now()))
		case 2: // time passes: the preview comes up
			for range 8 {
				c.Advance(time.Minute)
				send(route.Tick, mk.Schedule("kaizen-tick", time.Now()))
			}
		case 3:
			cancel()
		}
	}}
	var errb bytes.Buffer
	args := []string{"status", "--watch", "--interval", "150ms", "--config", "examples/kaizen.json", "--endpoint", srv.URL, "--dynamodb-endpoint", ep, "--table", table, "--app", "shop"}
	done := make(chan int)
	go func() { done <- run(ctx, args, strings.NewReader(""), out, &errb) }()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("status --watch: exit %d %s", code, errb.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("status --watch did not stop when its context was cancelled")
	}
	if len(out.all) != 3 {
		t.Fatalf("%d frames, want 3:\n%s", len(out.all), strings.Join(out.all, "\n=====\n"))
	}
	for i, want := range [][]string{
		{"kaizen status, every 150ms", "shop  public blue 100 / green 0  live blue", "release  none in flight", "waits    nothing"},
		{"release  " + ami + " (shop-golden-1) staged on green", "waits    health: the preview on green since"},
		{"preview_ready on green", "waits    approval since"},
	} {
		f := out.all[i]
		if strings.HasPrefix(f, clearScreen) || !strings.HasPrefix(f, "\n") {
			t.Errorf("frame %d: not a terminal, so no clear screen, a blank line between frames: %q", i+1, f[:min(len(f), 20)])
		}
		for _, s := range want {
			if !strings.Contains(f, s) {
				t.Errorf("frame %d lacks %q:\n%s", i+1, s, f)
			}
		}
	}
	if !regexp.MustCompile(`\n  green +0% +` + ami + ` +v2 +0/1/6 +0 of 0 `).MatchString(out.all[1]) {
		t.Errorf("frame 2 lacks green's row with the AMI and the preview's capacity:\n%s", out.all[1])
	}
	if strings.Contains(out.all[0], ami) {
		t.Errorf("frame 1 shows the AMI before it was staged:\n%s", out.all[0])
	}
	if errb.Len() != 0 {
		t.Errorf("stderr: %s", errb.String())
	}

	for _, bad := range [][]string{{"--interval", "10ms"}, {"--json"}} {
		code, _, errs := kz(t, append(append([]string{"status", "--watch"}, bad...), args[4:]...)...)
		if code != 2 || !strings.Contains(errs, "status: --") {
			t.Errorf("status --watch %v: exit %d, %s; want 2 and why", bad, code, errs)
		}
	}
}

// On a terminal each frame clears the screen; a failed read is shown and
// tried again at the next frame.
func TestWatchLoop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	snap := func(context.Context) ([]AppStatus, error) {
		calls++
		if calls == 1 {
			return nil, errors.New("throttled")
		}
		return []AppStatus{{App: "shop", Live: "blue", Observed: release.Observed{Weights: map[config.Color]int{config.Blue: 100}}}}, nil
	}
	out := &frames{onFrame: func(n int) {
		if n == 2 {
			cancel()
		}
	}}
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	watchLoop(ctx, out, 10*time.Millisecond, true, func() time.Time { return now }, snap)
	if len(out.all) != 2 || calls != 2 {
		t.Fatalf("%d frames, %d reads; want 2 of each", len(out.all), calls)
	}
	if !strings.HasPrefix(out.all[0], clearScreen) || !strings.Contains(out.all[0], "error: throttled") {
		t.Errorf("frame 1: %q", out.all[0])
	}
	if !strings.HasPrefix(out.all[1], clearScreen) || !strings.Contains(out.all[1], "shop  public") || strings.Contains(out.all[1], "error") {
		t.Errorf("frame 2: %q", out.all[1])
	}
}

func TestWaitsFor(t *testing.T) {
	at := func(mm int) time.Time { return time.Date(2026, 11, 24, 10, mm, 0, 0, time.UTC) }
	hist := []release.Transition{{At: at(1), To: release.Staged}, {At: at(7), To: release.PreviewReady}}
	for _, c := range []struct {
		st           release.AppState
		what         string
		since, until time.Time
	}{
		{release.AppState{}, "nothing", time.Time{}, time.Time{}},
		{release.AppState{Hold: &release.Hold{Color: config.Blue, Until: at(50)}}, "the hold of blue (kept for investigation)", time.Time{}, at(50)},
		{release.AppState{Active: &release.Release{State: release.PreviewReady, PreviewReadyAt: at(7), History: hist}}, "approval", at(7), time.Time{}},
		{release.AppState{Active: &release.Release{State: release.WaitingForWindow, WindowWaitSince: at(9), History: hist}}, "the change window", at(9), time.Time{}},
		{release.AppState{Active: &release.Release{State: release.Shifting, Color: config.Green, Weight: 10, StepUntil: at(20), History: hist}}, "step: 10% on green", at(7), at(20)},
		{release.AppState{Active: &release.Release{State: release.Baking, From: config.Blue, CutoverAt: at(11), BakeUntil: at(41), History: hist}}, "bake: blue stays warm", at(11), at(41)},
	} {
		what, since, until := waitsFor(c.st)
		if what != c.what || !since.Equal(c.since) || !until.Equal(c.until) {
			t.Errorf("%+v: %q %s %s, want %q %s %s", c.st.Active, what, since, until, c.what, c.since, c.until)
		}
	}
}

func TestUnwatched(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"--watch", "--app", "shop"}, []string{"--app", "shop"}},
		{[]string{"-watch=true", "--interval", "5s", "--table", "t"}, []string{"--table", "t"}},
		{[]string{"--interval=5s", "--watch", "--json"}, []string{"--json"}},
	} {
		if got := unwatched(c.in); !slices.Equal(got, c.want) {
			t.Errorf("unwatched(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
