package steps_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/limits"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// recordingStore keeps a copy of every save.
type recordingStore struct {
	store.Store
	mu    sync.Mutex
	saves []recordedSave
}

type recordedSave struct {
	st     release.AppState
	ledger []release.Release
}

func (r *recordingStore) Save(ctx context.Context, st *release.AppState, ledger ...release.Release) error {
	r.mu.Lock()
	r.saves = append(r.saves, recordedSave{st.Clone(), slices.Clone(ledger)})
	r.mu.Unlock()
	return r.Store.Save(ctx, st, ledger...)
}

func (r *recordingStore) take() []recordedSave {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.saves
	r.saves = nil
	return s
}

// The first save of a step that acts is its write-ahead record: it lists
// every action about to be applied and holds the lease, which the outcome
// gives back.
func TestWriteAheadRecordsThePlanAndTheLease(t *testing.T) {
	rec := &recordingStore{Store: store.NewMemory()}
	w := newWorld(t, rec)
	w.tick()
	ami := w.cloud.NewAMI(w.app, "shop-golden-1", "")
	rec.take()
	outs := w.must(route.Stage, w.amiEvent(ami))
	saves := rec.take()
	if len(outs) != 1 || len(outs[0].Plan.Actions) == 0 || len(saves) != 2 {
		t.Fatalf("stage: %d outcomes, %d saves; want one outcome with actions, a write-ahead save and the outcome's", len(outs), len(saves))
	}
	out := outs[0]
	var want []string
	for _, a := range out.Plan.Actions {
		want = append(want, a.String())
	}
	ahead := saves[0]
	if !slices.Equal(ahead.st.Pending, want) {
		t.Errorf("write-ahead pending = %q, want every action of the plan %q", ahead.st.Pending, want)
	}
	if l := ahead.st.Lease; l == nil || l.Token == "" || !l.Until.Equal(out.At.Add(limits.Lease)) {
		t.Errorf("write-ahead lease = %+v, want a token until %s (now + %s)", l, out.At.Add(limits.Lease), limits.Lease)
	}
	if ahead.st.LastError == "" {
		t.Error("write-ahead record without the reason its actions are pending (if it is all that remains)")
	}
	if len(ahead.ledger) != 0 {
		t.Errorf("write-ahead ledger entries %+v: the ledger waits for the outcome", ahead.ledger)
	}
	done := saves[1]
	if done.st.Lease != nil || len(done.st.Pending) != 0 || done.st.LastError != "" {
		t.Errorf("outcome save: lease %+v, pending %q, error %q; want the lease given back and nothing pending", done.st.Lease, done.st.Pending, done.st.LastError)
	}
	if st := w.state(); st.Lease != nil {
		t.Errorf("stored lease after the step: %+v", st.Lease)
	}
}

// A live lease of another invocation keeps a step off the app (ErrBusy,
// nothing applied); an expired one is a crashed invocation's, and the next
// step takes over.
func TestAnotherInvocationsLeaseKeepsTheStepOff(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, store.NewMemory())
	w.tick()
	ami := w.cloud.NewAMI(w.app, "shop-golden-1", "")
	st := w.state()
	lease := &release.Lease{Token: "another-invocation", Until: w.cloud.Now().Add(time.Minute)}
	st.Lease = lease
	if err := w.store.Save(ctx, &st); err != nil {
		t.Fatal(err)
	}
	var err error
	got := w.mutations(func() { _, err = w.deps.Handle(ctx, route.Stage, w.amiEvent(ami)) })
	if !errors.Is(err, steps.ErrBusy) {
		t.Fatalf("stage under another invocation's live lease = %v, want ErrBusy", err)
	}
	if len(got) != 0 {
		t.Fatalf("stage under another invocation's live lease changed AWS: %v", got)
	}
	if after := w.state(); after.Version != st.Version || after.Lease == nil || after.Lease.Token != lease.Token || !after.Lease.Until.Equal(lease.Until) || after.Active != nil {
		t.Fatalf("stage under another invocation's live lease changed the state: %+v", after)
	}

	w.cloud.Advance(time.Minute) // the lease ends: its holder is gone
	w.must(route.Stage, w.amiEvent(ami))
	after := w.state()
	if after.Active == nil || after.Active.AMI != ami || after.Lease != nil {
		t.Fatalf("after the lease ended: active %+v, lease %+v; want the AMI staged and no lease", after.Active, after.Lease)
	}
}
