package main

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// `kaizen bench --scale N,... --json` prints one JSON object per scale,
// with exactly the contract's keys, and meets the targets at small scales.
func TestBenchScaleJSON(t *testing.T) {
	var out, errw bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--scale", "1,12", "--json"}, nil, &out, &errw); code != 0 {
		t.Fatalf("exit %d: %s", code, errw.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one per scale:\n%s", len(lines), out.String())
	}
	want := []string{"apps", "idle_tick_calls", "in_flight_tick_calls", "rollback_round_trips", "throttled", "tick_wall_ms"}
	for i, line := range lines {
		var m map[string]float64
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !reflect.DeepEqual(keys, want) {
			t.Fatalf("keys %v, want %v", keys, want)
		}
		if m["apps"] != []float64{1, 12}[i] {
			t.Fatalf("line %d is for %v apps", i, m["apps"])
		}
		if m["idle_tick_calls"] > 10 || m["throttled"] != 0 || m["rollback_round_trips"] < 1 || m["rollback_round_trips"] > 3 || m["tick_wall_ms"] >= 10000 {
			t.Fatalf("targets missed: %s", line)
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"bench", "--scale", "1"}, nil, &out, &errw); code != 0 || !strings.Contains(out.String(), "target") {
		t.Fatalf("table: exit %d, %s%s", code, out.String(), errw.String())
	}
	if code := run(context.Background(), []string{"bench", "--scale", "0"}, nil, &out, &errw); code != 2 {
		t.Fatalf("--scale 0: exit %d, want 2", code)
	}
}
