package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/lab"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/steps"
)

// Scale targets (DESIGN.md §10).
const (
	targetIdleCalls    = 10
	targetTickWall     = 10 * time.Second
	targetRoundTrips   = 3
	benchLatency       = 30 * time.Millisecond
	benchInFlightShare = 10 // one app in this many has a release in flight
)

// scaleRow is one line of `kaizen bench --scale N,... --json`.
//
//   - idle_tick_calls: the AWS calls of the costliest idle tick over a
//     full cycle of idle shards (every app looked at once), fleet
//     (EC2, Auto Scaling, ELBv2) and DynamoDB together;
//   - in_flight_tick_calls: the same with one app in benchInFlightShare
//     (at least one) staged and waiting for its preview;
//   - tick_wall_ms: the idle tick's wall time, every call taking
//     benchLatency, AWS's request rates enforced (sim.AWSRates) and
//     kaizen's reads paced (cloud.Pacer);
//   - throttled: calls AWS's rates refused during those ticks and the
//     rollback;
//   - rollback_round_trips: the longest chain of sequential calls on the
//     guard's way to its ModifyListener, that call included.
type scaleRow struct {
	Apps               int   `json:"apps"`
	IdleTickCalls      int   `json:"idle_tick_calls"`
	InFlightTickCalls  int   `json:"in_flight_tick_calls"`
	TickWallMS         int64 `json:"tick_wall_ms"`
	Throttled          int   `json:"throttled"`
	RollbackRoundTrips int   `json:"rollback_round_trips"`
	// The parts, for the table.
	idleFleet, idleStore int
	inFlightApps         int
	inFlightWall         time.Duration
	rollbackPath         []string
}

// parseScales reads "1,10,100,500".
func parseScales(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--scale: %q is not a positive number of apps", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// newScaleLab is a lab of cfg whose store stands for DynamoDB
// (lab.TimedStore).
//
// It is settled first, unpaced (set-up, not measured): the first ticks
// suspend the idle colors' scaling on every app, and the planner then
// watches the next ticks for progress (noProgressTicks) before the apps
// are idle: settled is a tick that changes neither AWS nor the store.
func newScaleLab(ctx context.Context, cfg *config.File) (*lab.Lab, *lab.TimedStore, error) {
	l := lab.New(cfg, demoDay, io.Discard)
	ts := &lab.TimedStore{Store: l.Store}
	l.Store, l.Deps.Store = ts, ts
	for i := 0; ; i++ {
		if i == 40 {
			return nil, nil, fmt.Errorf("%d apps did not settle in 40 ticks", len(cfg.Apps))
		}
		l.Cloud.Advance(time.Minute)
		l.Cloud.Reset()
		ts.Reset()
		if _, err := l.Tick(ctx); err != nil {
			return nil, nil, fmt.Errorf("settling: %w", err)
		}
		writes := 0
		for _, c := range ts.Calls() {
			if c.Mutating {
				writes++
			}
		}
		if l.Cloud.MutationCount() == 0 && writes == 0 {
			break
		}
	}
	return l, ts, nil
}

// paced paces the lab's reads from now on, as the functions' are.
func paced(l *lab.Lab) { l.Deps.Fleet = l.Deps.Fleet.Paced(cloud.NewPacer()) }

func (r *scaleRow) slow(l *lab.Lab, ts *lab.TimedStore, on bool) {
	d := time.Duration(0)
	if on {
		d = benchLatency
	}
	l.Cloud.Latency, ts.Latency = d, d
	if on {
		l.Cloud.Throttle(sim.AWSRates())
	} else {
		l.Cloud.Throttle(nil)
	}
}

// tick runs one tick a minute after the last and returns its calls, fleet
// and store, and its wall time.
func tick(ctx context.Context, l *lab.Lab, ts *lab.TimedStore) (fleet, db int, muts int, wall time.Duration, throttled int, err error) {
	l.Cloud.Advance(time.Minute)
	l.Cloud.Reset()
	ts.Reset()
	t0 := time.Now()
	if _, err := l.Tick(ctx); err != nil {
		return 0, 0, 0, 0, 0, err
	}
	wall = time.Since(t0)
	return len(l.Cloud.Calls()), len(ts.Calls()), l.Cloud.MutationCount(), wall, l.Cloud.Throttled(), nil
}

// measureScale runs the scale benchmark for n apps.
func measureScale(ctx context.Context, base *config.File, n int) (scaleRow, error) {
	r := scaleRow{Apps: n}
	cfg, err := lab.Scaled(base, n)
	if err != nil {
		return r, err
	}
	l, ts, err := newScaleLab(ctx, cfg)
	if err != nil {
		return r, err
	}
	paced(l)
	// A full cycle of idle shards: every idle app looked at once.
	cycle := (n + steps.DefaultTickLimits.IdleShard - 1) / steps.DefaultTickLimits.IdleShard
	for range cycle {
		f, db, muts, _, _, err := tick(ctx, l, ts)
		if err != nil {
			return r, err
		}
		if muts != 0 {
			return r, fmt.Errorf("%d apps: an idle tick changed AWS (%s)", n, l.Cloud.MutationSummary())
		}
		if f+db > r.IdleTickCalls {
			r.IdleTickCalls, r.idleFleet, r.idleStore = f+db, f, db
		}
	}
	r.slow(l, ts, true)
	for range cycle {
		_, _, _, wall, thr, err := tick(ctx, l, ts)
		if err != nil {
			return r, err
		}
		r.TickWallMS = max(r.TickWallMS, wall.Milliseconds())
		r.Throttled += thr
	}
	r.slow(l, ts, false)

	// Releases in flight: every benchInFlightShare-th app gets a new AMI,
	// which the next tick stages; the tick after waits for the previews.
	for i := 0; i < n; i += benchInFlightShare {
		app := &l.Config.Apps[i]
		l.Cloud.NewAMI(app, app.Name+"-golden-bench", "")
		r.inFlightApps++
	}
	if _, _, _, _, _, err := tick(ctx, l, ts); err != nil {
		return r, err
	}
	f, db, _, _, _, err := tick(ctx, l, ts)
	if err != nil {
		return r, err
	}
	r.InFlightTickCalls = f + db
	r.slow(l, ts, true)
	_, _, _, wall, thr, err := tick(ctx, l, ts)
	if err != nil {
		return r, err
	}
	r.inFlightWall, r.Throttled = wall, r.Throttled+thr
	r.slow(l, ts, false)

	// A rollback, on a fresh lab of n apps: the first app baking.
	rl, rts, err := newScaleLab(ctx, cfg)
	if err != nil {
		return r, err
	}
	if err := rl.ToBake(ctx); err != nil {
		return r, fmt.Errorf("%d apps: to the bake: %w", n, err)
	}
	paced(rl)
	r.slow(rl, rts, true)
	rl.Cloud.Reset()
	rts.Reset()
	app := rl.App()
	alarm := ""
	for _, a := range app.Alarms {
		if a.Role == config.RoleGuard {
			alarm = a.Name
			break
		}
	}
	if _, err := rl.Send(ctx, route.Guard, rl.Maker.Alarm(alarm, "ALARM", "OK", "5xx above threshold", rl.Cloud.Now())); err != nil {
		return r, fmt.Errorf("%d apps: rollback: %w", n, err)
	}
	r.RollbackRoundTrips, r.rollbackPath = sim.PathTo(append(rl.Cloud.Calls(), rts.Calls()...), string(sim.OpModifyListener))
	r.Throttled += rl.Cloud.Throttled()
	if r.RollbackRoundTrips == 0 {
		return r, fmt.Errorf("%d apps: the guard alarm made no ModifyListener call", n)
	}
	return r, nil
}

// runScale prints the scale benchmark: JSON lines, or a table beside the
// targets.
func runScale(ctx context.Context, cfg *config.File, scales []int, asJSON bool, stdout io.Writer) error {
	var tw *tabwriter.Writer
	if !asJSON {
		tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "apps\tidle tick calls (fleet+store)\tidle tick wall\tin-flight tick calls\tin-flight tick wall\tthrottled\trollback round trips\t\n")
	}
	for _, n := range scales {
		r, err := measureScale(ctx, cfg, n)
		if err != nil {
			return err
		}
		if asJSON {
			b, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(b))
			continue
		}
		fmt.Fprintf(tw, "%d\t%d (%d+%d)\t%s\t%d (%d apps)\t%s\t%d\t%d (%s)\t\n", n, r.IdleTickCalls, r.idleFleet, r.idleStore,
			time.Duration(r.TickWallMS)*time.Millisecond, r.InFlightTickCalls, r.inFlightApps, r.inFlightWall.Round(time.Millisecond),
			r.Throttled, r.RollbackRoundTrips, strings.Join(r.rollbackPath, " → "))
	}
	if tw != nil {
		fmt.Fprintf(tw, "target\t<= %d at 500\t< %s at 500 (%s a call)\t\t\t0\t<= %d\t\n", targetIdleCalls, targetTickWall, benchLatency, targetRoundTrips)
		tw.Flush()
	}
	return nil
}
