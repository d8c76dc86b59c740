package rebuild_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/fake"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
)

// inner is a fake rebuild.Rebuilder that counts starts.
type inner struct {
	mu      sync.Mutex
	running bool
	fail    int           // fail the next n starts
	gate    chan struct{} // if set, Start waits for it
	starts  [][]string
}

func (f *inner) Running(context.Context, *config.App) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running, nil
}

func (f *inner) Start(_ context.Context, _ *config.App, ids []string, _ string) (string, error) {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return "", errors.New("AccountLimitExceededException")
	}
	f.starts = append(f.starts, slices.Clone(ids))
	return fmt.Sprintf("web-image:build-%d", len(f.starts)), nil
}

func (f *inner) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.starts)
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newOnce(f *inner, claims rebuild.Claims, clk *clock) *rebuild.Once {
	return &rebuild.Once{
		Rebuilder: f, Claims: claims, Now: clk.Now, Log: slog.New(slog.DiscardHandler),
		Sleep: func(_ context.Context, d time.Duration) error { clk.Advance(d); return nil },
	}
}

func TestOnceWithinWindow(t *testing.T) {
	ctx := context.Background()
	app := codeBuildApp()
	ids := []string{"ALAS2-2024-2680", "ALAS2-2025-3025"}
	for _, tc := range []struct {
		name    string
		ids     []string
		release string
		want    string // build id, or "" for ErrBusy
	}{
		{"same advisories", []string{"ALAS2-2025-3025", "ALAS2-2024-2680"}, "", "web-image:build-1"},
		{"fewer advisories", []string{"ALAS2-2025-3025"}, "", "web-image:build-1"},
		{"an advisory the build lacks", []string{"ALAS2-2024-2680", "ALAS2-2025-3025", "ALAS2-2025-3100"}, "", ""},
		{"another release version", ids, "2023.6.20241111", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, clk := &inner{}, &clock{now: t0}
			o := newOnce(f, &fake.Claims{}, clk)
			if id, err := o.Start(ctx, app, ids, ""); err != nil || id != "web-image:build-1" {
				t.Fatalf("first start = %q, %v", id, err)
			}
			clk.Advance(time.Minute)
			id, err := o.Start(ctx, app, tc.ids, tc.release)
			switch {
			case tc.want == "" && !errors.Is(err, rebuild.ErrBusy):
				t.Fatalf("second start = %q, %v; want ErrBusy", id, err)
			case tc.want != "" && (err != nil || id != tc.want):
				t.Fatalf("second start = %q, %v; want %q", id, err, tc.want)
			}
			if f.count() != 1 {
				t.Fatalf("%d builds started within the window, want 1", f.count())
			}
			// After the window the slot is free again.
			clk.Advance(rebuild.DefaultWindow)
			if id, err := o.Start(ctx, app, tc.ids, tc.release); err != nil || id != "web-image:build-2" {
				t.Fatalf("start after the window = %q, %v", id, err)
			}
		})
	}
}

func TestOnceFailedStartFreesTheSlot(t *testing.T) {
	ctx := context.Background()
	f, clk := &inner{fail: 1}, &clock{now: t0}
	claims := &fake.Claims{}
	o := newOnce(f, claims, clk)
	if _, err := o.Start(ctx, codeBuildApp(), []string{"ALAS2-2025-3025"}, ""); err == nil {
		t.Fatal("failing start reported success")
	}
	if _, ok, _ := claims.StartClaim(ctx, "web"); ok {
		t.Fatal("a failed start left its claim")
	}
	if id, err := o.Start(ctx, codeBuildApp(), []string{"ALAS2-2025-3025"}, ""); err != nil || id != "web-image:build-1" {
		t.Fatalf("retry = %q, %v", id, err)
	}
	if c, _, _ := claims.StartClaim(ctx, "web"); c.BuildID != "web-image:build-1" {
		t.Fatalf("claim after start = %+v", c)
	}
}

func TestOnceWaitsForTheClaimingPoll(t *testing.T) {
	ctx := context.Background()
	app := codeBuildApp()
	ids := []string{"ALAS2-2025-3025"}
	f := &inner{gate: make(chan struct{})}
	claims := &fake.Claims{}
	winner := &rebuild.Once{Rebuilder: f, Claims: claims, Log: slog.New(slog.DiscardHandler)}
	type result struct {
		id  string
		err error
	}
	first := make(chan result, 1)
	go func() {
		id, err := winner.Start(ctx, app, ids, "")
		first <- result{id, err}
	}()
	for { // until the winner holds the claim and sits in Start
		if _, ok, _ := claims.StartClaim(ctx, "web"); ok {
			break
		}
		time.Sleep(time.Millisecond)
	}
	sleeps := 0
	loser := &rebuild.Once{Rebuilder: f, Claims: claims, Log: slog.New(slog.DiscardHandler),
		Sleep: func(context.Context, time.Duration) error {
			if sleeps++; sleeps == 1 {
				close(f.gate) // the winner's build starts while the loser waits
				if r := <-first; r.err != nil || r.id != "web-image:build-1" {
					t.Errorf("winner = %+v", r)
				}
			}
			return nil
		}}
	id, err := loser.Start(ctx, app, ids, "")
	if err != nil || id != "web-image:build-1" || f.count() != 1 {
		t.Fatalf("loser = %q, %v with %d builds; want the winner's build and 1 build", id, err, f.count())
	}
}

func TestOnceGivesUpWaiting(t *testing.T) {
	ctx := context.Background()
	f, clk := &inner{}, &clock{now: t0}
	claims := &fake.Claims{}
	// Another poll claimed and never reported a build (it died mid-start).
	if won, _ := claims.ClaimStart(ctx, "web", rebuild.Claim{Token: "other", Advisories: []string{"ALAS2-2025-3025"}, Expires: t0.Add(rebuild.DefaultWindow)}, t0); !won {
		t.Fatal("setup claim lost")
	}
	o := newOnce(f, claims, clk)
	o.Wait = 2 * time.Second
	if _, err := o.Start(ctx, codeBuildApp(), []string{"ALAS2-2025-3025"}, ""); !errors.Is(err, rebuild.ErrBusy) {
		t.Fatalf("start against a stuck claim = %v, want ErrBusy", err)
	}
	if f.count() != 0 {
		t.Fatal("started a build while another poll held the claim")
	}
	// Once the stuck claim expires the next poll builds.
	clk.Advance(rebuild.DefaultWindow)
	if id, err := o.Start(ctx, codeBuildApp(), []string{"ALAS2-2025-3025"}, ""); err != nil || id == "" {
		t.Fatalf("start after expiry = %q, %v", id, err)
	}
}

func TestOnceRunningAndWiring(t *testing.T) {
	ctx := context.Background()
	o := &rebuild.Once{Rebuilder: &inner{running: true}, Claims: &fake.Claims{}}
	if running, err := o.Running(ctx, codeBuildApp()); !running || err != nil {
		t.Fatalf("Running = %v, %v; want the inner answer", running, err)
	}
	if _, err := (&rebuild.Once{Rebuilder: &inner{}}).Start(ctx, codeBuildApp(), []string{"A"}, ""); err == nil {
		t.Fatal("Once without Claims started")
	}
}
