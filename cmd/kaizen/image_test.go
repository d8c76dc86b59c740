package main

import (
	"strings"
	"testing"
)

// The contract the image build's scripts rely on: a dry run prints the
// package manager's commands, one per line, and exits 0.
func TestImagePrepareDryRun(t *testing.T) {
	for osName, want := range map[string][]string{
		"al2023": {
			"dnf -q updateinfo list --installed ALAS2023-2024-001 ALAS2023-2024-002",
			"dnf -q updateinfo list --available ALAS2023-2024-001 ALAS2023-2024-002",
			"dnf upgrade -y --releasever=2023.6.20241121 --advisory=ALAS2023-2024-001 --advisory=ALAS2023-2024-002",
			"dnf -q updateinfo list --installed --releasever=2023.6.20241121 ALAS2023-2024-001 ALAS2023-2024-002",
			"dnf -q updateinfo list --available --releasever=2023.6.20241121 ALAS2023-2024-001 ALAS2023-2024-002",
			"rpm -q system-release",
		},
		"al2": {
			"yum -q updateinfo list installed ALAS2023-2024-001 ALAS2023-2024-002",
			"yum -q updateinfo list available ALAS2023-2024-001 ALAS2023-2024-002",
			"yum update -y --advisory=ALAS2023-2024-001 --advisory=ALAS2023-2024-002",
			"yum -q updateinfo list installed ALAS2023-2024-001 ALAS2023-2024-002",
			"yum -q updateinfo list available ALAS2023-2024-001 ALAS2023-2024-002",
			"rpm -q system-release",
		},
	} {
		args := []string{"image", "prepare", "--dry-run", "--os", osName, "--advisories", "ALAS2023-2024-001,ALAS2023-2024-002"}
		if osName == "al2023" {
			args = append(args, "--releasever", "2023.6.20241121")
		}
		code, out, errs := kz(t, args...)
		if code != 0 || errs != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
		if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", osName, got, want)
		}
	}
	if code, _, errs := kz(t, "image", "bake"); code != 2 || !strings.Contains(errs, "image prepare") {
		t.Errorf("image bake: exit %d, %q", code, errs)
	}
}
