// Package rebuildtest holds the contract every rebuild.Claims must pass, so
// the in-memory claims of tests and the demo and the DynamoDB ones used in
// production cannot drift apart.
package rebuildtest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/rebuild"
)

// TestClaims runs the Claims contract. newClaims must return empty claims
// each time it is called.
func TestClaims(t *testing.T, newClaims func(t *testing.T) rebuild.Claims) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	claim := func(token string, expires time.Time, ids ...string) rebuild.Claim {
		return rebuild.Claim{Token: token, Advisories: ids, ReleaseVersion: "2023.6.20241111", Expires: expires}
	}

	t.Run("claim, read, update, drop", func(t *testing.T) {
		c := newClaims(t)
		if _, ok, err := c.StartClaim(ctx, "web"); ok || err != nil {
			t.Fatalf("StartClaim of a new app = %v, %v; want none", ok, err)
		}
		a := claim("a", t0.Add(5*time.Minute), "ALAS2-2024-0001", "ALAS2-2024-0002")
		if won, err := c.ClaimStart(ctx, "web", a, t0); !won || err != nil {
			t.Fatalf("first ClaimStart = %v, %v; want true", won, err)
		}
		got, ok, err := c.StartClaim(ctx, "web")
		if err != nil || !ok || got.Token != "a" || got.BuildID != "" || got.ReleaseVersion != a.ReleaseVersion ||
			!got.Expires.Equal(a.Expires) || !slices.Equal(got.Advisories, a.Advisories) {
			t.Fatalf("StartClaim = %+v, %v, %v; want %+v", got, ok, err, a)
		}
		if won, _ := c.ClaimStart(ctx, "web", claim("b", t0.Add(6*time.Minute)), t0.Add(time.Minute)); won {
			t.Fatal("a second claim before expiry must lose")
		}
		if won, _ := c.ClaimStart(ctx, "api", claim("b", t0.Add(6*time.Minute)), t0.Add(time.Minute)); !won {
			t.Fatal("claims of another app must not interfere")
		}
		a.BuildID = "web-image:build-1"
		if err := c.UpdateStartClaim(ctx, "web", a); err != nil {
			t.Fatalf("UpdateStartClaim by the holder: %v", err)
		}
		if got, _, _ := c.StartClaim(ctx, "web"); got.BuildID != a.BuildID {
			t.Fatalf("build id after update = %q, want %q", got.BuildID, a.BuildID)
		}
		if err := c.UpdateStartClaim(ctx, "web", claim("intruder", t0.Add(time.Hour))); !errors.Is(err, rebuild.ErrClaimLost) {
			t.Fatalf("UpdateStartClaim with another token = %v, want ErrClaimLost", err)
		}
		if err := c.DropStartClaim(ctx, "web", "intruder"); err != nil {
			t.Fatalf("DropStartClaim with another token: %v", err)
		}
		if _, ok, _ := c.StartClaim(ctx, "web"); !ok {
			t.Fatal("a drop with another token must leave the claim")
		}
		if err := c.DropStartClaim(ctx, "web", "a"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := c.StartClaim(ctx, "web"); ok {
			t.Fatal("claim still there after its holder dropped it")
		}
		if won, _ := c.ClaimStart(ctx, "web", claim("c", t0.Add(7*time.Minute)), t0.Add(2*time.Minute)); !won {
			t.Fatal("a dropped claim must free the slot")
		}
	})

	t.Run("expired claim is taken over", func(t *testing.T) {
		c := newClaims(t)
		if won, _ := c.ClaimStart(ctx, "web", claim("a", t0.Add(5*time.Minute)), t0); !won {
			t.Fatal("first claim lost")
		}
		if won, _ := c.ClaimStart(ctx, "web", claim("b", t0.Add(10*time.Minute)), t0.Add(5*time.Minute)); !won {
			t.Fatal("a claim at its expiry must be taken over")
		}
		if got, _, _ := c.StartClaim(ctx, "web"); got.Token != "b" {
			t.Fatalf("token after takeover = %q, want b", got.Token)
		}
		if err := c.UpdateStartClaim(ctx, "web", claim("a", t0.Add(time.Hour))); !errors.Is(err, rebuild.ErrClaimLost) {
			t.Fatalf("update by the expired holder = %v, want ErrClaimLost", err)
		}
	})

	t.Run("concurrent claims: exactly one wins", func(t *testing.T) {
		c := newClaims(t)
		const n = 16
		var wg sync.WaitGroup
		wins := make(chan bool, n)
		for i := range n {
			wg.Go(func() {
				won, err := c.ClaimStart(ctx, "web", claim(string(rune('a'+i)), t0.Add(5*time.Minute)), t0)
				if err != nil {
					t.Error(err)
				}
				wins <- won
			})
		}
		wg.Wait()
		close(wins)
		count := 0
		for w := range wins {
			if w {
				count++
			}
		}
		if count != 1 {
			t.Fatalf("%d callers won the claim, want exactly 1", count)
		}
	})
}
