// Package store keeps kaizen's intent: the per-app current item (written with
// optimistic locking), the release ledger, and processed event ids. Two
// implementations pass one contract suite: DynamoDB (production; tested
// against dynalite) and memory (the simulation and the demo).
package store

import (
	"context"
	"errors"
	"time"

	"github.com/kaizen-sre/kaizen/shared/release"
)

// ErrConflict means another writer saved the app's state first: reload and
// decide again.
var ErrConflict = errors.New("app state changed concurrently")

// Store is the port the handlers use.
type Store interface {
	// Load returns the app's state; a new app has Version 0.
	Load(ctx context.Context, app string) (release.AppState, error)
	// Save writes st if its Version is still the stored one, then bumps
	// st.Version. It also writes the given releases to the ledger, in the
	// same commit: Load and History never show the state without its
	// ledger entries or the entries without the state.
	Save(ctx context.Context, st *release.AppState, ledger ...release.Release) error
	// History lists the app's releases, newest first.
	History(ctx context.Context, app string) ([]release.Release, error)
	// Seen reports whether an event id was processed and has not expired.
	Seen(ctx context.Context, id string, now time.Time) (bool, error)
	// MarkSeen records a processed event id until expires.
	MarkSeen(ctx context.Context, id string, expires time.Time) error
}
