// Package limits holds the time bounds that the functions' code and the CDK
// app must agree on, in one place: the app sets each function's timeout from
// FunctionTimeout, and a release step's lease is derived from it.
package limits

import "time"

// FunctionTimeout is the longest any kaizen function may run: no function's
// Lambda timeout exceeds it (infra/stacks sets them from it and its tests
// check every one).
const FunctionTimeout = time.Minute

// Lease is how long a release step's write-ahead record keeps other
// invocations off the app. It outlasts any invocation (twice the longest
// timeout, so a step that times out has been stopped well before its lease
// ends): a lease still live means its holder may still be applying the
// plan; an expired one means the holder crashed or timed out, and the next
// step takes over.
const Lease = 2 * FunctionTimeout
