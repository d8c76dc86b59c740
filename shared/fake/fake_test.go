package fake_test

import (
	"testing"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/alas/alastest"
	"github.com/kaizen-sre/kaizen/shared/fake"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/rebuild/rebuildtest"
)

// The DynamoDB adapters run the same suites in package store.

func TestALASStoreContract(t *testing.T) {
	alastest.TestStore(t, func(*testing.T) alas.Store { return &fake.ALASStore{} })
}

func TestClaimsContract(t *testing.T) {
	rebuildtest.TestClaims(t, func(*testing.T) rebuild.Claims { return &fake.Claims{} })
}
