package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/shared/route"
)

// The approval evidence's reads: only promote may read alarms' states, and
// only the configured guard alarms' (DescribeAlarms takes alarm ARNs), and
// the AMIs' tags through the read-only fleet grant.
func TestEvidenceIAM(t *testing.T) {
	s := full(t)
	k := s.stacks.Kaizen
	all := statements(s.template(k.Stack))
	promote := logicalID(k.Functions[route.Promote].Role)
	var granted []string
	for _, st := range all {
		if !slices.Contains(st.actions, "cloudwatch:DescribeAlarms") {
			continue
		}
		if st.role != promote {
			t.Errorf("role %s may read alarms (%s)", st.role, st.sid)
		}
		for _, r := range st.resources {
			if r == "*" || !strings.Contains(r, ":alarm:") || strings.Contains(r, "*") {
				t.Errorf("DescribeAlarms on %q: want exact alarm ARNs", r)
			}
			granted = append(granted, r)
		}
	}
	for _, want := range []string{"shop-5xx-rate", "shop-p99-latency"} {
		if !slices.ContainsFunc(granted, func(r string) bool { return strings.HasSuffix(r, ":alarm:"+want) }) {
			t.Errorf("promote may not read guard alarm %s: %v", want, granted)
		}
	}
	if slices.ContainsFunc(granted, func(r string) bool { return strings.HasSuffix(r, ":alarm:shop-cpu-high") }) {
		t.Errorf("promote may read the capacity alarm shop-cpu-high, which the evidence does not show: %v", granted)
	}
	var images bool
	for _, st := range all {
		images = images || (st.role == promote && slices.Contains(st.actions, "ec2:DescribeImages"))
	}
	if !images {
		t.Error("promote may not read the AMIs' tags (ec2:DescribeImages)")
	}
}
