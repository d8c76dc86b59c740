// Package fake holds in-memory implementations of kaizen's storage ports,
// for tests: ALASStore (alas.Store) and Claims (rebuild.Claims). Each passes
// the same contract suite as its DynamoDB adapter in package store
// (alastest.TestStore, rebuildtest.TestClaims), so the two cannot drift
// apart. The simulated AWS APIs live in package sim.
package fake
