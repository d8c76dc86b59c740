package fake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// ALASStore is an in-memory alas.Store. The zero value is ready to use and
// safe for concurrent use.
type ALASStore struct {
	mu         sync.Mutex
	validators map[[2]string]alas.Validators
	records    map[string]map[string]*ALASRecord // app → advisory id
	lastDigest map[string]time.Time              // app → time
	writes     int
}

// ALASRecord is what ALASStore keeps per app and advisory.
type ALASRecord struct {
	Advisory alas.Advisory
	Action   alas.Action // ActionRebuild, ActionDigest or ActionKnown
	BuildID  string      // set by MarkRebuilt
	Digested time.Time   // set by MarkDigested
}

var _ alas.Store = (*ALASStore)(nil)

// FeedValidators implements alas.Store.
func (s *ALASStore) FeedValidators(_ context.Context, app, url string) (alas.Validators, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.validators[[2]string{app, url}], nil
}

// PutFeedValidators implements alas.Store.
func (s *ALASStore) PutFeedValidators(_ context.Context, app, url string, v alas.Validators) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.validators == nil {
		s.validators = map[[2]string]alas.Validators{}
	}
	s.validators[[2]string{app, url}] = v
	return nil
}

// RecordAdvisory implements alas.Store. Every call counts as a write, as a
// conditional put does in DynamoDB whether or not its condition holds.
func (s *ALASStore) RecordAdvisory(_ context.Context, app string, a alas.Advisory, action alas.Action) (bool, error) {
	if !action.Recordable() {
		return false, fmt.Errorf("record %s for %s: action %q is not rebuild, digest or known", a.ID, app, action)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.records == nil {
		s.records = map[string]map[string]*ALASRecord{}
	}
	m := s.records[app]
	if m == nil {
		m = map[string]*ALASRecord{}
		s.records[app] = m
	}
	if _, ok := m[a.ID]; ok {
		return false, nil
	}
	a.Packages = slices.Clone(a.Packages) // the caller keeps its slices
	a.CVEs = slices.Clone(a.CVEs)
	m[a.ID] = &ALASRecord{Advisory: a, Action: action}
	return true, nil
}

// PendingAdvisories implements alas.Store.
func (s *ALASStore) PendingAdvisories(_ context.Context, app string) ([]alas.Advisory, error) {
	return s.advisories(app, func(r *ALASRecord) bool { return r.Action == alas.ActionRebuild && r.BuildID == "" }), nil
}

// DigestAdvisories implements alas.Store.
func (s *ALASStore) DigestAdvisories(_ context.Context, app string) ([]alas.Advisory, error) {
	return s.advisories(app, func(r *ALASRecord) bool { return r.Action == alas.ActionDigest && r.Digested.IsZero() }), nil
}

func (s *ALASStore) advisories(app string, keep func(*ALASRecord) bool) []alas.Advisory {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []alas.Advisory
	for _, r := range s.records[app] {
		if keep(r) {
			a := r.Advisory
			a.Packages = slices.Clone(a.Packages)
			a.CVEs = slices.Clone(a.CVEs)
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b alas.Advisory) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// MarkRebuilt implements alas.Store.
func (s *ALASStore) MarkRebuilt(_ context.Context, app string, ids []string, buildID string) error {
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

// MarkDigested implements alas.Store. The time is kept to the millisecond, as
// the DynamoDB store keeps it.
func (s *ALASStore) MarkDigested(_ context.Context, app string, ids []string, at time.Time) error {
	at = at.Truncate(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	for _, id := range ids {
		if r, ok := s.records[app][id]; ok && r.Action == alas.ActionDigest {
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

// LastDigest implements alas.Store.
func (s *ALASStore) LastDigest(_ context.Context, app string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastDigest[app], nil
}

// Writes counts the write calls so far, so tests can assert that an
// unchanged feed costs none.
func (s *ALASStore) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Recorded returns copies of the app's records, sorted by advisory id.
func (s *ALASStore) Recorded(app string) []ALASRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ALASRecord, 0, len(s.records[app]))
	for _, r := range s.records[app] {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b ALASRecord) int { return strings.Compare(a.Advisory.ID, b.Advisory.ID) })
	return out
}

// ForgetRecordedIDs drops the recorded-id lists kept with the validators, as
// if they had been lost (tests show they are only a cache).
func (s *ALASStore) ForgetRecordedIDs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.validators {
		v.Recorded = ""
		s.validators[k] = v
	}
}

// AdvisoryNotes implements steps.AdvisoryBook, as store.Dynamo does.
func (s *ALASStore) AdvisoryNotes(_ context.Context, app string, ids []string) ([]release.AdvisoryNote, error) {
	return alas.Notes(s.advisories(app, func(*ALASRecord) bool { return true }), ids), nil
}
