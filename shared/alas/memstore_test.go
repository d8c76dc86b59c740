package alas_test

import (
	"testing"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/alas/alastest"
)

func TestMemStoreContract(t *testing.T) {
	alastest.TestStore(t, func(*testing.T) alas.Store { return &alas.MemStore{} })
}
