package steps

import (
	"context"
	"sync"
	"time"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// The guard's path to its listener call: at most three sequential AWS
// round trips.
//
//  1. Every read at once: the event id (Seen), the app's state (Load) and
//     the fleet (cloud.Fleet.Prefetch: groups, listener, preview rule,
//     target health, template versions);
//  2. the write-ahead record (one conditional PutItem: store.Dynamo
//     carries the previous item's uncopied ledger entries forward rather
//     than copying them first);
//  3. ModifyListener.
//
// The step itself is unchanged: it makes the same calls in the same order,
// answered from what was fetched at the start.

// forAlarm returns, for an alarm transition of a configured alarm, a
// Reconciler whose first reads of the event id, the app's state and its
// fleet are already on their way; otherwise d.
func (d *Reconciler) forAlarm(ctx context.Context, function string, e route.Event) *Reconciler {
	if function != route.Guard || e.Alarm == nil || e.Alarm.State.Value == e.Alarm.PreviousState.Value {
		return d
	}
	for i := range d.Config.Apps {
		app := &d.Config.Apps[i]
		if _, ok := app.Alarm(e.Alarm.AlarmName); !ok || !livesAt(app, e) {
			continue
		}
		c := d.withFleet(app, d.fleetFor(app).Prefetch(cloud.Urgent(ctx), app))
		c.Store = prefetchStore(ctx, d.Store, e.ID, d.now(), app.Name)
		return c
	}
	return d
}

// prefetchedStore answers one Seen of an event id and one Load of an app
// from reads started at once; everything else, and any later read, goes
// to the store.
type prefetchedStore struct {
	store.Store
	id, app string

	mu       sync.Mutex
	seenUsed bool
	loadUsed bool
	seenDone chan struct{}
	seen     bool
	seenErr  error
	loadDone chan struct{}
	st       release.AppState
	loadErr  error
}

func prefetchStore(ctx context.Context, s store.Store, id string, now time.Time, app string) *prefetchedStore {
	p := &prefetchedStore{Store: s, id: id, app: app, seenDone: make(chan struct{}), loadDone: make(chan struct{})}
	if id != "" {
		go func() {
			defer close(p.seenDone)
			p.seen, p.seenErr = s.Seen(ctx, id, now)
		}()
	} else {
		p.seenUsed = true
		close(p.seenDone)
	}
	go func() {
		defer close(p.loadDone)
		p.st, p.loadErr = s.Load(ctx, app)
	}()
	return p
}

func (p *prefetchedStore) Seen(ctx context.Context, id string, now time.Time) (bool, error) {
	p.mu.Lock()
	use := id == p.id && !p.seenUsed
	p.seenUsed = p.seenUsed || use
	p.mu.Unlock()
	if !use {
		return p.Store.Seen(ctx, id, now)
	}
	select {
	case <-p.seenDone:
		return p.seen, p.seenErr
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func (p *prefetchedStore) Load(ctx context.Context, app string) (release.AppState, error) {
	p.mu.Lock()
	use := app == p.app && !p.loadUsed
	p.loadUsed = p.loadUsed || use
	p.mu.Unlock()
	if !use {
		return p.Store.Load(ctx, app)
	}
	select {
	case <-p.loadDone:
		return p.st, p.loadErr
	case <-ctx.Done():
		return release.AppState{App: app}, ctx.Err()
	}
}
