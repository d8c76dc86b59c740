package alas

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemStore is an in-memory Store for tests and the local demo. The zero
// value is ready to use and safe for concurrent use.
type MemStore struct {
	mu         sync.Mutex
	validators map[[2]string]Validators
	records    map[string]map[string]*Record // app → advisory id
	lastDigest map[string]time.Time          // app → time
	writes     int
}

// Record is what MemStore keeps per app and advisory.
type Record struct {
	Advisory Advisory
	Action   Action    // ActionRebuild, ActionDigest or ActionKnown
	BuildID  string    // set by MarkRebuilt
	Digested time.Time // set by MarkDigested
}

var _ Store = (*MemStore)(nil)

// FeedValidators implements Store.
func (s *MemStore) FeedValidators(_ context.Context, app, url string) (Validators, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.validators[[2]string{app, url}], nil
}

// PutFeedValidators implements Store.
func (s *MemStore) PutFeedValidators(_ context.Context, app, url string, v Validators) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.validators == nil {
		s.validators = map[[2]string]Validators{}
	}
	s.validators[[2]string{app, url}] = v
	return nil
}

// RecordAdvisory implements Store. Every call counts as a write, as a
// conditional put does in DynamoDB whether or not its condition holds.
func (s *MemStore) RecordAdvisory(_ context.Context, app string, a Advisory, action Action) (bool, error) {
	if !action.Recordable() {
		return false, fmt.Errorf("record %s for %s: action %q is not rebuild, digest or known", a.ID, app, action)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.records == nil {
		s.records = map[string]map[string]*Record{}
	}
	m := s.records[app]
	if m == nil {
		m = map[string]*Record{}
		s.records[app] = m
	}
	if _, ok := m[a.ID]; ok {
		return false, nil
	}
	a.Packages = slices.Clone(a.Packages) // the caller keeps its slices
	a.CVEs = slices.Clone(a.CVEs)
	m[a.ID] = &Record{Advisory: a, Action: action}
	return true, nil
}

// PendingAdvisories implements Store.
func (s *MemStore) PendingAdvisories(_ context.Context, app string) ([]Advisory, error) {
	return s.advisories(app, func(r *Record) bool { return r.Action == ActionRebuild && r.BuildID == "" }), nil
}

// DigestAdvisories implements Store.
func (s *MemStore) DigestAdvisories(_ context.Context, app string) ([]Advisory, error) {
	return s.advisories(app, func(r *Record) bool { return r.Action == ActionDigest && r.Digested.IsZero() }), nil
}

func (s *MemStore) advisories(app string, keep func(*Record) bool) []Advisory {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Advisory
	for _, r := range s.records[app] {
		if keep(r) {
			a := r.Advisory
			a.Packages = slices.Clone(a.Packages)
			a.CVEs = slices.Clone(a.CVEs)
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Advisory) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// MarkRebuilt implements Store.
func (s *MemStore) MarkRebuilt(_ context.Context, app string, ids []string, buildID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	for _, id := range ids {
		if r, ok := s.records[app][id]; ok {
			r.BuildID = buildID
		}
	}
	return nil
}

// MarkDigested implements Store. The time is kept to the millisecond, as
// the DynamoDB store keeps it.
func (s *MemStore) MarkDigested(_ context.Context, app string, ids []string, at time.Time) error {
	at = at.Truncate(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	for _, id := range ids {
		if r, ok := s.records[app][id]; ok && r.Action == ActionDigest {
			r.Digested = at
		}
	}
	if s.lastDigest == nil {
		s.lastDigest = map[string]time.Time{}
	}
	if at.After(s.lastDigest[app]) {
		s.lastDigest[app] = at
	}
	return nil
}

// LastDigest implements Store.
func (s *MemStore) LastDigest(_ context.Context, app string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastDigest[app], nil
}

// Writes counts the write calls so far, so tests can assert that an
// unchanged feed costs none.
func (s *MemStore) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Recorded returns copies of the app's records, sorted by advisory id.
func (s *MemStore) Recorded(app string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, 0, len(s.records[app]))
	for _, r := range s.records[app] {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a.Advisory.ID, b.Advisory.ID) })
	return out
}

// ForgetRecordedIDs drops the recorded-id lists kept with the validators, as
// if they had been lost (tests show they are only a cache).
func (s *MemStore) ForgetRecordedIDs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.validators {
		v.Recorded = ""
		s.validators[k] = v
	}
}
