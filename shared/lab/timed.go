package lab

import (
	"context"
	"sync"
	"time"

	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// TimedStore stands for DynamoDB in measurements: each call the state
// store would make to DynamoDB (store.Dynamo's calls: GetItem for Load and
// Seen, PutItem for a save and for each ledger entry it copies,
// BatchGetItem per store.BatchGetKeys apps of a batch load, in parallel)
// takes Latency and is recorded as a sim.Call of service "dynamodb", so
// that a critical path (sim.PathTo) spans the store and the fleet.
type TimedStore struct {
	store.Store
	Latency time.Duration

	mu    sync.Mutex
	calls []sim.Call
}

var _ store.BatchLoader = (*TimedStore)(nil)

func (t *TimedStore) call(ctx context.Context, op string) func() {
	began := time.Now()
	if t.Latency > 0 {
		tm := time.NewTimer(t.Latency)
		select {
		case <-ctx.Done():
		case <-tm.C:
		}
		tm.Stop()
	}
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.calls = append(t.calls, sim.Call{Service: "dynamodb", Op: op, Mutating: op == "PutItem", Began: began, Ended: time.Now()})
	}
}

// Calls returns the recorded calls.
func (t *TimedStore) Calls() []sim.Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]sim.Call(nil), t.calls...)
}

// Reset forgets the recorded calls.
func (t *TimedStore) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = nil
}

func (t *TimedStore) Load(ctx context.Context, app string) (release.AppState, error) {
	done := t.call(ctx, "GetItem")
	defer done()
	return t.Store.Load(ctx, app)
}

func (t *TimedStore) Save(ctx context.Context, st *release.AppState, ledger ...release.Release) error {
	done := t.call(ctx, "PutItem")
	err := t.Store.Save(ctx, st, ledger...)
	done()
	if err == nil {
		for range ledger {
			t.call(ctx, "PutItem")()
		}
	}
	return err
}

func (t *TimedStore) Seen(ctx context.Context, id string, now time.Time) (bool, error) {
	done := t.call(ctx, "GetItem")
	defer done()
	return t.Store.Seen(ctx, id, now)
}

func (t *TimedStore) MarkSeen(ctx context.Context, id string, expires time.Time) error {
	done := t.call(ctx, "PutItem")
	defer done()
	return t.Store.MarkSeen(ctx, id, expires)
}

func (t *TimedStore) History(ctx context.Context, app string) ([]release.Release, error) {
	done := t.call(ctx, "Query")
	defer done()
	return t.Store.History(ctx, app)
}

// LoadAll implements store.BatchLoader: one BatchGetItem per
// store.BatchGetKeys apps, all at once.
func (t *TimedStore) LoadAll(ctx context.Context, apps []string) (map[string]release.AppState, error) {
	var wg sync.WaitGroup
	for i := 0; i < len(apps); i += store.BatchGetKeys {
		wg.Add(1)
		go func() { defer wg.Done(); t.call(ctx, "BatchGetItem")() }()
	}
	wg.Wait()
	return store.LoadMany(ctx, t.Store, apps)
}
