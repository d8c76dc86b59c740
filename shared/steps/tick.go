package steps

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/limits"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// The batched tick: one tick reconciles every app with as few AWS calls
// as the APIs allow, apps with nothing in flight nearly free.
//
//  1. The store is read once (store.LoadMany: BatchGetItem, 100 apps a
//     call) and the sweep for new AMIs is one DescribeImages for every
//     app (cloud.Fleet.NewestImages), in parallel.
//  2. An app with something in flight (see idle) runs its step as before,
//     alone: a full observation (target health, template versions) and
//     the planner. Its first Load, and its first reads of what the batch
//     below read, are answered from the batches.
//  3. The apps looked at or run this tick are read in one batch
//     (cloud.Fleet.Snapshot: groups, listeners, preview rules, and the
//     scaling policies when many steps need them). An idle app is planned
//     from that look (Snapshot.Glance); only if the plan would change
//     anything does it run its step alone, from a full observation. Idle
//     apps are looked at a shard a tick, at most TickLimits.IdleShard apps
//     (two DescribeAutoScalingGroups pages): with more apps, each one every
//     ceil(apps/IdleShard) ticks (a new AMI makes it due at once). That is
//     how long a change made outside kaizen to an idle app (a floor, a
//     suspended process, the preview rule) may wait to be put right: five
//     minutes at 500 apps.
//  4. Apps run concurrently (TickLimits.Concurrency), each with its own
//     deadline (AppTimeout); the tick starts no app it could not finish
//     before its own end (the function's timeout, limits.FunctionTimeout,
//     or the context's deadline) and names the apps it left for the next
//     tick.

// TickLimits bound a batched tick.
type TickLimits struct {
	// Concurrency is how many apps' steps run at once.
	Concurrency int
	// AppTimeout is each app's deadline: one app's slow or failing calls
	// never hold another's step.
	AppTimeout time.Duration
	// Budget is how long the tick may run; 0 means limits.FunctionTimeout.
	// The context's deadline, if sooner, wins.
	Budget time.Duration
	// Reserve is kept free at the end of the budget: the tick starts no
	// app later than Budget - Reserve - AppTimeout.
	Reserve time.Duration
	// IdleShard is how many idle apps a tick looks at (see above).
	IdleShard int
}

// DefaultTickLimits are the tick function's.
var DefaultTickLimits = TickLimits{Concurrency: 16, AppTimeout: 20 * time.Second, Reserve: 2 * time.Second, IdleShard: 100}

// ErrLeftForNextTick is the error of an app a tick had no time to start.
var ErrLeftForNextTick = errors.New("left for the next tick: the tick ran out of time")

// idle reports whether an app has nothing in flight: no release, no
// queued AMI, no hold, nothing pending or leased, no capacity-alarm
// episode, no corrective plan being watched for progress. Its tick plans
// only what a glance shows (floor, processes, the idle color, the preview
// rule, a new AMI), so a glance serves it; anything else runs its step
// from a full observation. A field added to release.AppState must be
// weighed here (TestIdleWeighsEveryStateField fails until it is).
func idle(st release.AppState) bool {
	return st.Active == nil && st.Queued == nil && st.Hold == nil && len(st.Pending) == 0 && st.Lease == nil &&
		len(st.CapacityAlarms) == 0 && st.CapacityBase == 0 && st.CapacityOKAt.IsZero() && len(st.Recent) == 0
}

// newImage reports whether img is an AMI the planner would act on for
// the app: not the newest already seen, nor older than it.
func newImage(st release.AppState, img *release.Image) bool {
	return img != nil && img.ID != st.Newest && !img.Created.Before(st.NewestCreated)
}

// TickWith is Tick within lim.
func (d *Reconciler) TickWith(ctx context.Context, id string, lim TickLimits) ([]Outcome, error) {
	if id == "" {
		id = "tick@" + d.now().Format(time.RFC3339)
	}
	return d.batchTick(ctx, id, release.EvTick, lim, nil)
}

// batchTick is the tick and the sweep: every app (or those keep keeps),
// with event kind. Each account and region's apps are read in batches
// of their own, through their own fleet (accounts.go).
func (d *Reconciler) batchTick(ctx context.Context, id string, kind release.EventKind, lim TickLimits, keep func(*config.App) bool) ([]Outcome, error) {
	def := DefaultTickLimits
	if lim.Concurrency <= 0 {
		lim.Concurrency = def.Concurrency
	}
	if lim.AppTimeout <= 0 {
		lim.AppTimeout = def.AppTimeout
	}
	if lim.IdleShard <= 0 {
		lim.IdleShard = def.IdleShard
	}
	budget := lim.Budget
	if budget <= 0 {
		budget = limits.FunctionTimeout
	}
	end := time.Now().Add(budget)
	if dl, ok := ctx.Deadline(); ok && dl.Before(end) {
		end = dl
	}
	log := d.log().With("event", id)

	var apps []*config.App
	var names []string
	for i := range d.Config.Apps {
		if a := &d.Config.Apps[i]; keep == nil || keep(a) {
			apps, names = append(apps, a), append(names, a.Name)
		}
	}
	var (
		states        map[string]release.AppState
		images        map[string]*release.Image
		stErr, imgErr error
		wg            sync.WaitGroup
	)
	wg.Add(2)
	go func() { defer wg.Done(); states, stErr = store.LoadMany(ctx, d.Store, names) }()
	go func() { defer wg.Done(); images, imgErr = d.newestImages(ctx, apps) }()
	wg.Wait()
	if stErr != nil {
		return nil, stErr
	}
	var errs []error
	if imgErr != nil {
		// The sweep failed, not the tick: what waits on time still goes on.
		errs = append(errs, fmt.Errorf("sweep: %w", imgErr))
		images = map[string]*release.Image{}
	}

	now := d.now()
	outs := make([]*Outcome, len(apps))
	event := func(i int) release.Event {
		return release.Event{Kind: kind, ID: id, Image: images[apps[i].Name]}
	}
	// Which apps run a step alone, and which idle ones a glance serves.
	// Idle apps are looked at a shard a tick: the shard of the i-th app is
	// i mod shards, so no shard holds more than IdleShard apps.
	shards := max(1, (len(apps)+lim.IdleShard-1)/lim.IdleShard)
	slot := int(now.Unix()/60) % shards
	var run, glance []int
	for i, a := range apps {
		st := states[a.Name]
		switch {
		case !idle(st):
			run = append(run, i)
		case newImage(st, images[a.Name]) || i%shards == slot:
			glance = append(glance, i)
		}
	}
	// One batched read of every app looked at or run: groups, listeners,
	// rules and, when many steps need them, scaling policies.
	var batch []*config.App
	scaling := map[string]bool{}
	for _, i := range run {
		batch = append(batch, apps[i])
		if wantScaling(states[apps[i].Name], event(i), now) {
			scaling[apps[i].Name] = true
		}
	}
	for _, i := range glance {
		batch = append(batch, apps[i])
		if newImage(states[apps[i].Name], images[apps[i].Name]) {
			scaling[apps[i].Name] = true
		}
	}
	snap := d.snapshot(ctx, batch, scaling)
	for _, i := range glance {
		a := apps[i]
		obs, err := snap.Glance(a)
		if err != nil {
			log.Info("glance failed; observing the app alone", "app", a.Name, "reason", err)
			run = append(run, i)
			continue
		}
		st := states[a.Name]
		ev := event(i)
		plan := release.Decide(a, st, obs, now, ev)
		if plan.Changed(st) {
			run = append(run, i) // decided again from a full observation
			continue
		}
		outs[i] = &Outcome{App: a.Name, At: now, Event: ev, Observed: obs, Plan: plan}
	}

	// Steps alone: concurrently, each with its own deadline, in an order
	// that turns each minute so that no app is always last.
	sort.Ints(run)
	if len(run) > 0 {
		k := int(now.Unix()/60) % len(run)
		run = append(run[k:], run[:k]...)
	}
	pre := &preloaded{Store: d.Store, states: states}
	alone := *d
	alone.Store, alone.Fleet, alone.Fleets = pre, snap.home, snap.placedFleets
	if kind == release.EvTick {
		// One metrics fetch for every app run alone (analysis.go).
		alone.verdicts = d.tickVerdicts(ctx, pick(apps, run), states, now)
	}
	var (
		mu   sync.Mutex
		left []string
		sem  = make(chan struct{}, lim.Concurrency)
	)
	for _, i := range run {
		// A step started now must end before the tick does.
		if time.Until(end) < lim.AppTimeout+lim.Reserve {
			left = append(left, apps[i].Name)
			outs[i] = &Outcome{App: apps[i].Name, At: now, Event: event(i), Err: ErrLeftForNextTick.Error()}
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			left = append(left, apps[i].Name)
			outs[i] = &Outcome{App: apps[i].Name, At: now, Event: event(i), Err: ErrLeftForNextTick.Error()}
			continue
		}
		if time.Until(end) < lim.AppTimeout+lim.Reserve {
			<-sem
			left = append(left, apps[i].Name)
			outs[i] = &Outcome{App: apps[i].Name, At: now, Event: event(i), Err: ErrLeftForNextTick.Error()}
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			actx, cancel := context.WithTimeout(ctx, lim.AppTimeout)
			defer cancel()
			out, err := alone.Run(actx, apps[i], event(i))
			mu.Lock()
			defer mu.Unlock()
			outs[i] = &out
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", apps[i].Name, err))
			}
		}(i)
	}
	wg.Wait()
	if len(left) > 0 {
		log.Warn("tick out of time: apps left for the next tick", "apps", left, "count", len(left))
	}
	res := make([]Outcome, 0, len(outs))
	for _, o := range outs {
		if o != nil {
			res = append(res, *o)
		}
	}
	return res, errors.Join(errs...)
}

// preloaded answers each app's first Load from the tick's batch load; any
// later Load (a step deciding again after a conflict) reads the store.
// The batch is as fresh as a Load at the tick's start, and a Save from a
// state that changed since fails on its version, as any Save does.
type preloaded struct {
	store.Store
	mu     sync.Mutex
	states map[string]release.AppState
}

func (p *preloaded) Load(ctx context.Context, app string) (release.AppState, error) {
	p.mu.Lock()
	st, ok := p.states[app]
	delete(p.states, app)
	p.mu.Unlock()
	if ok {
		return st, nil
	}
	return p.Store.Load(ctx, app)
}
