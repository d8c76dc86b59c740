package store

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/kaizen-sre/kaizen/shared/release"
)

// Memory is an in-memory Store. It stores JSON, as DynamoDB does, so state
// never aliases between callers.
type Memory struct {
	mu      sync.Mutex
	states  map[string][]byte
	ledger  map[string]map[string][]byte
	events  map[string]time.Time
	pending map[string]pending
	refresh *refreshMemory                  // the database refresh's state and ledger (dbrefresh.go)
	secrets map[string]release.SecretChange // last secret change per app (secret.go)
	// Writes counts successful writes, for tests and benchmarks.
	Writes int
	// FailWrite, if set, is asked about each write of a Save (1 is the
	// state, 2 and on its ledger entries, in order) before any is made; an
	// error it returns fails the Save, which then writes nothing. Tests
	// inject storage failures with it.
	FailWrite func(write int) error
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{states: map[string][]byte{}, ledger: map[string]map[string][]byte{}, events: map[string]time.Time{}}
}

var _ Store = (*Memory)(nil)

func (m *Memory) Load(_ context.Context, app string) (release.AppState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := release.AppState{App: app}
	if b, ok := m.states[app]; ok {
		if err := json.Unmarshal(b, &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (m *Memory) Save(_ context.Context, st *release.AppState, ledger ...release.Release) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var cur int64
	if b, ok := m.states[st.App]; ok {
		var old release.AppState
		if err := json.Unmarshal(b, &old); err != nil {
			return err
		}
		cur = old.Version
	}
	if cur != st.Version {
		return ErrConflict
	}
	next := *st
	next.Version++
	entries := make([]entry, len(ledger))
	for i, r := range ledger {
		entries[i] = entry{app: r.App, id: r.ID, v: r}
	}
	if err := m.commit(m.states, m.ledger, st.App, next, entries); err != nil {
		return err
	}
	st.Version = next.Version
	return nil
}

// entry is one ledger entry to write.
type entry struct {
	app, id string
	v       any
}

// commit writes an app's state and its ledger entries into the given
// maps. Every write is prepared (and may fail, see FailWrite) before any
// is applied: the state and its ledger entries change together or not at
// all.
func (m *Memory) commit(states map[string][]byte, ledgers map[string]map[string][]byte, app string, state any, ledger []entry) error {
	b, err := json.Marshal(state)
	if err != nil {
		return err
	}
	if err := m.fail(1); err != nil {
		return err
	}
	bodies := make([][]byte, len(ledger))
	for i, e := range ledger {
		if bodies[i], err = json.Marshal(e.v); err != nil {
			return err
		}
		if err := m.fail(i + 2); err != nil {
			return err
		}
	}
	states[app] = b
	m.Writes++
	for i, e := range ledger {
		if ledgers[e.app] == nil {
			ledgers[e.app] = map[string][]byte{}
		}
		ledgers[e.app][e.id] = bodies[i]
		m.Writes++
	}
	return nil
}

func (m *Memory) fail(write int) error {
	if m.FailWrite == nil {
		return nil
	}
	return m.FailWrite(write)
}

func (m *Memory) History(_ context.Context, app string) ([]release.Release, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []release.Release
	for _, b := range m.ledger[app] {
		var r release.Release
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

func (m *Memory) Seen(_ context.Context, id string, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	exp, ok := m.events[id]
	return ok && now.Before(exp), nil
}

func (m *Memory) MarkSeen(_ context.Context, id string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events[id] = expires
	m.Writes++
	return nil
}
