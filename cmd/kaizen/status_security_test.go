package main

import (
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/release"
)

// kaizen status shows the approval request's evidence and the images that
// still carry a superseded secret version.
func TestPrintSecurity(t *testing.T) {
	at := time.Date(2026, 11, 23, 14, 34, 0, 0, time.UTC)
	s := AppStatus{App: "shop", State: release.AppState{Active: &release.Release{AMI: "ami-new", Evidence: &release.Evidence{
		At: at, Execution: "exec-17",
		Fixed:   []release.AdvisoryNote{{ID: "ALAS2023-2026-1101", Severity: "critical"}},
		Alarms:  []release.AlarmStatus{{Name: "shop-5xx-rate", State: "OK"}},
		Staging: &release.StagingView{App: "shop-staging", AMI: "ami-new", Healthy: 2, Desired: 2, LiveSince: at.Add(-time.Hour)},
	}}}, Secret: &SecretStatus{
		Changed:  release.SecretChange{At: at, Version: "v8"},
		Carrying: []release.ColorImage{{Color: "blue", Role: "live", Image: release.Image{ID: "ami-old", Tags: map[string]string{release.TagSecretVersion: "v7"}}}},
	}}
	var b strings.Builder
	printSecurity(&b, s)
	for _, want := range []string{
		"approval\trequested 2026-11-23T14:34:00Z (exec-17); advisories fixed: ALAS2023-2026-1101 (critical)",
		"guard alarms then: shop-5xx-rate OK",
		"Staging (shop-staging): this AMI is live there since 2026-11-23T13:34:00Z, 2 of 2 healthy.",
		"SECRET\tchanged to v8 at 2026-11-23T14:34:00Z",
		"blue (live) AMI ami-old, secret version v7",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	printSecurity(&b, AppStatus{App: "shop"})
	if b.Len() != 0 {
		t.Errorf("nothing to show printed %q", b.String())
	}
}
