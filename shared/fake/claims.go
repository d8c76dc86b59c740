package fake

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kaizen-sre/kaizen/shared/rebuild"
)

// Claims is an in-memory rebuild.Claims. The zero value is ready and safe
// for concurrent use.
type Claims struct {
	mu     sync.Mutex
	claims map[string]rebuild.Claim
}

var _ rebuild.Claims = (*Claims)(nil)

// ClaimStart implements rebuild.Claims.
func (m *Claims) ClaimStart(_ context.Context, app string, c rebuild.Claim, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.claims[app]; ok && now.Before(old.Expires) {
		return false, nil
	}
	if m.claims == nil {
		m.claims = map[string]rebuild.Claim{}
	}
	c.Advisories = slices.Clone(c.Advisories)
	m.claims[app] = c
	return true, nil
}

// StartClaim implements rebuild.Claims.
func (m *Claims) StartClaim(_ context.Context, app string) (rebuild.Claim, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.claims[app]
	c.Advisories = slices.Clone(c.Advisories)
	return c, ok, nil
}

// UpdateStartClaim implements rebuild.Claims.
func (m *Claims) UpdateStartClaim(_ context.Context, app string, c rebuild.Claim) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.claims[app]; !ok || old.Token != c.Token {
		return fmt.Errorf("update start claim of %s: %w", app, rebuild.ErrClaimLost)
	}
	c.Advisories = slices.Clone(c.Advisories)
	m.claims[app] = c
	return nil
}

// DropStartClaim implements rebuild.Claims.
func (m *Claims) DropStartClaim(_ context.Context, app, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.claims[app]; ok && old.Token == token {
		delete(m.claims, app)
	}
	return nil
}
