package stacks_test

import (
	"testing"

	"github.com/kaizen-sre/kaizen/infra/stacks"
	"github.com/kaizen-sre/kaizen/shared/limits"
)

// A release step's lease must outlast the invocation that holds it: a
// function that could run past the lease could still be applying its plan
// when the next invocation takes the app over.
func TestNoFunctionOutlivesTheLease(t *testing.T) {
	if limits.Lease <= limits.FunctionTimeout {
		t.Fatalf("lease %s does not outlast the function timeout %s", limits.Lease, limits.FunctionTimeout)
	}
	for _, s := range stacks.Specs {
		if s.Timeout <= 0 || s.Timeout > limits.FunctionTimeout {
			t.Errorf("%s: timeout %s, want within limits.FunctionTimeout (%s), which the lease (%s) outlasts", s.Name, s.Timeout, limits.FunctionTimeout, limits.Lease)
		}
	}
}
