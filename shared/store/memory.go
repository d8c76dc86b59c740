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
	// Writes counts successful writes, for tests and benchmarks.
	Writes int
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
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	m.states[st.App] = b
	st.Version = next.Version
	m.Writes++
	for _, r := range ledger {
		rb, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if m.ledger[r.App] == nil {
			m.ledger[r.App] = map[string][]byte{}
		}
		m.ledger[r.App][r.ID] = rb
		m.Writes++
	}
	return nil
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
