package main

import (
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// The security loop end to end: advisories in the feed → the release
// pipeline started with the full list → the AMI staged on staging and
// live there → production's approval action starts and posts the
// evidence (advisories, staging health, alarm states) → an approval
// before the soak is refused → approved after it → live.
func TestDemoSecurityLoop(t *testing.T) {
	cfg, err := config.Load(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	s, err := securityLoop(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		t.Fatal("the demo configuration has no staging app: no security loop")
	}
	if got := s.Variables["SECURITY_ADVISORIES"]; got != "ALAS2023-2026-1101,ALAS2023-2026-1102" {
		t.Errorf("pipeline started with SECURITY_ADVISORIES=%q, want both new advisories", got)
	}
	if got := s.Variables["AL2023_RELEASE_VERSION"]; got != "2023.9.20261120" {
		t.Errorf("pipeline started with AL2023_RELEASE_VERSION=%q", got)
	}
	for _, want := range []string{
		"built by pipeline execution " + s.Execution,
		"ALAS2023-2026-1101 (critical): CVE-2026-21401, CVE-2026-21402",
		"ALAS2023-2026-1102 (important): CVE-2026-30177",
		"Staging (shop-staging): this AMI is live there since",
		"1 of 1 healthy",
		"Guard alarms: shop-5xx-rate OK since",
		"shop-p99-latency OK since",
		"Approve or reject: https://",
	} {
		if !strings.Contains(s.Evidence, want) {
			t.Errorf("the approval request lacks %q:\n%s", want, s.Evidence)
		}
	}
	if !strings.Contains(s.Refused, "staging first") {
		t.Errorf("the early approval was not refused for the soak: %q", s.Refused)
	}
	if s.Live != s.AMI || s.State != release.Baking {
		t.Errorf("at the end production's public reaches %s (release %s), want %s baking", s.Live, s.State, s.AMI)
	}
	if s.Violations != 0 {
		t.Errorf("%d invariant violations", s.Violations)
	}
	var out strings.Builder
	printSecurityLoop(&out, s)
	for _, want := range []string{"security loop (Monday;", "shop-staging: release", "approval request posted to shop's topic:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the timeline lacks %q:\n%s", want, out.String())
		}
	}
}
