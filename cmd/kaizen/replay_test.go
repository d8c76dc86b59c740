package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// replayJSON runs `kaizen replay --json args...` and decodes its result.
func replayJSON(t *testing.T, args ...string) ReplayResult {
	t.Helper()
	code, out, errs := kz(t, append([]string{"replay", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("replay %v: exit %d %s\n%s", args, code, errs, out)
	}
	var res ReplayResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("replay %v: output is not a result: %v\n%s", args, err, out)
	}
	if len(res.Final) == 0 {
		t.Fatalf("replay %v: no final state\n%s", args, out)
	}
	return res
}

// bakeConfig writes examples/kaizen.json with the first app's bake set.
func bakeConfig(t *testing.T, minutes int) string {
	t.Helper()
	b, err := os.ReadFile("examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	f["apps"].([]any)[0].(map[string]any)["bakeMinutes"] = minutes
	p := filepath.Join(t.TempDir(), "kaizen.json")
	if b, err = json.Marshal(f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var releaseDay = []string{
	"--event", "events/ami-available.json", // 09:05
	"--event", "events/approval-started.json", // 11:00
	"--event", "events/approval-succeeded.json", // 11:00
	"--event", "events/tick-1130.json", // 11:30
}

// A whole release from the sample files on one account: the public ends on
// the new color.
func TestReplayRelease(t *testing.T) {
	res := replayJSON(t, releaseDay...)
	if n := countEvents(&res); n != 4 {
		t.Errorf("%d event steps, want 4", n)
	}
	if res.Violations != 0 || !res.End.Equal(time.Date(2026, 11, 24, 11, 30, 0, 0, time.UTC)) {
		t.Errorf("violations %d, end %s", res.Violations, res.End)
	}
	a := res.Final[0]
	if a.App != "shop" || a.Live != config.Green || a.Weights[config.Green] != 100 || a.Weights[config.Blue] != 0 || a.AMI[config.Green] != FixtureAMI {
		t.Fatalf("final: %+v", a)
	}
	if c := a.Capacity[config.Green]; c.Desired != 2 || c.Min != 2 {
		t.Errorf("green capacity %s, want blue's 2/2/6", c)
	}
	if a.Releases.Active == nil || a.Releases.Active.State != release.Baking || a.Releases.Active.AMI != FixtureAMI || a.Releases.Active.ID == "" {
		t.Errorf("active release: %+v", a.Releases.Active)
	}

	// A short bake: by 11:30 the release is done, blue retired, and the
	// ledger shows it ended.
	res = replayJSON(t, append([]string{"--config", bakeConfig(t, 15)}, releaseDay...)...)
	a = res.Final[0]
	if a.Live != config.Green || a.Releases.Active != nil || len(a.Releases.Ended) != 1 || a.Releases.Ended[0].State != release.Done ||
		a.Releases.Ended[0].EndedAt == nil || a.Capacity[config.Blue].Desired != 0 {
		t.Fatalf("after the bake: %+v", a)
	}

	// The same without --json: a timeline and the final state.
	code, out, errs := kz(t, append([]string{"replay"}, releaseDay...)...)
	if code != 0 {
		t.Fatalf("exit %d %s\n%s", code, errs, out)
	}
	for _, s := range []string{"events/approval-succeeded.json", "promoting", "shift public to blue 0 / green 100", "final state at 2026-11-24 11:30:00 UTC",
		"public blue 0 / green 100 (live green)", "baking on green", "invariants: all held"} {
		if !strings.Contains(out, s) {
			t.Errorf("timeline lacks %q:\n%s", s, out)
		}
	}
	if strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Errorf("timeline is JSON without --json:\n%s", out)
	}
}

// Between two events the clock runs the tick function every minute: the
// preview becomes ready at 09:12, long before the approval at 11:00.
func TestReplayTicksBetweenEvents(t *testing.T) {
	res := replayJSON(t, "--event", "events/ami-available.json", "--event", "events/approval-started.json")
	var ready *ReplayStep
	for i, s := range res.Steps {
		if s.Event == "tick" && strings.Contains(strings.Join(s.Changes, ";"), "preview ready") {
			ready = &res.Steps[i]
		}
		if s.Event == "tick" && len(s.Changes) == 0 && len(s.MutatingCalls) == 0 {
			t.Errorf("a tick that changed nothing is on the timeline: %+v", s)
		}
	}
	if ready == nil || !ready.At.Equal(time.Date(2026, 11, 24, 9, 12, 0, 0, time.UTC)) {
		t.Fatalf("no tick made the preview ready at 09:12: %+v", res.Steps)
	}
	last := res.Steps[len(res.Steps)-1]
	if last.Event != "events/approval-started.json" || !last.At.Equal(time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)) ||
		!strings.Contains(strings.Join(last.Changes, ";"), "approval requested") || last.Late != "" {
		t.Fatalf("approval: %+v", last)
	}
	if res.Final[0].Releases.Active == nil || res.Final[0].Releases.Active.State != release.PreviewReady {
		t.Fatalf("final: %+v", res.Final[0].Releases)
	}

	// No ticks in a dry run (nothing is applied), and an event earlier than
	// the clock is applied at the clock's time, saying so.
	res = replayJSON(t, "--dry-run", "--event", "events/approval-started.json", "--event", "events/ami-available.json")
	if len(res.Steps) != 2 || !strings.Contains(res.Steps[1].Late, "before the clock") || !res.Steps[1].At.Equal(res.Steps[0].At) {
		t.Fatalf("late event: %+v", res.Steps)
	}
	code, out, _ := kz(t, "replay", "--event", "events/approval-started.json", "--event", "events/ami-available.json")
	if code != 0 || !strings.Contains(out, "late: event time 2026-11-24T09:05:00Z is before the clock (2026-11-24T11:00:00Z)") {
		t.Fatalf("exit %d, late event not said:\n%s", code, out)
	}

	// --until keeps ticking after the last event.
	res = replayJSON(t, "--event", "events/ami-available.json", "--until", "10m")
	if !res.End.Equal(time.Date(2026, 11, 24, 9, 15, 0, 0, time.UTC)) || len(res.Steps) != 2 {
		t.Fatalf("--until 10m: end %s, steps %+v", res.End, res.Steps)
	}
}

// When nothing is planned the replay says why: the router's reason, the
// handler's "ignored: ..." or the planner's notes.
func TestReplayReasons(t *testing.T) {
	for file, want := range map[string]string{
		"events/ami-available-other-account.json": "ignored: event from another account or region",
		"events/ami-available-foreign-app.json":   "ignored: AMI carries no configured app's tag",
		"events/approval-other-pipeline.json":     "ignored: not a configured approval action",
		"events/ami-failed.json":                  "routed nowhere",
	} {
		res := replayJSON(t, "--event", file)
		if len(res.Steps) != 1 || !strings.Contains(res.Steps[0].Reason, want) {
			t.Errorf("%s: reason %q, want %q", file, res.Steps[0].Reason, want)
		}
		code, out, errs := kz(t, "replay", "--event", file)
		if code != 0 || !strings.Contains(out, "reason: "+want) {
			t.Errorf("%s: exit %d %s, timeline lacks the reason:\n%s", file, code, errs, out)
		}
	}
	// A duplicate, and a tick with nothing to do (the planner's notes).
	res := replayJSON(t, "--event", "events/ami-available.json", "--event", "events/ami-available.json", "--event", "events/tick.json")
	if len(res.Steps) != 3 || res.Steps[0].Reason != "" || res.Steps[1].Reason != "ignored: event already processed" {
		t.Fatalf("duplicate: %+v", res.Steps)
	}
	if s := res.Steps[2]; s.Reason == "" || strings.HasPrefix(s.Reason, "ignored") || len(s.Plan) != 0 {
		t.Fatalf("idle tick: reason %q, plan %v", s.Reason, s.Plan)
	}
}

// usageCommands lists every subcommand the usage text names ("kaizen
// images prune ...": images prune; "kaizen promote|rollback|abort": three).
func usageCommands(t *testing.T) [][]string {
	t.Helper()
	word := regexp.MustCompile(`^[a-z][a-z-]*(\|[a-z][a-z-]*)*$`)
	var cmds [][]string
	cols := regexp.MustCompile(`\s{2,}`) // the synopsis, then its description
	for _, line := range strings.Split(usage, "\n") {
		f := strings.Fields(cols.Split(strings.TrimSpace(line), 2)[0])
		if len(f) < 2 || f[0] != "kaizen" {
			continue
		}
		prefixes := [][]string{nil}
		for _, w := range f[1:] {
			if !word.MatchString(w) {
				break
			}
			var next [][]string
			for _, p := range prefixes {
				for _, alt := range strings.Split(w, "|") {
					next = append(next, append(append([]string(nil), p...), alt))
				}
			}
			prefixes = next
		}
		if len(prefixes[0]) > 0 {
			cmds = append(cmds, prefixes...)
		}
	}
	return cmds
}

// Every subcommand in the usage text takes -h and --help: its usage on
// stdout, exit 0, and nothing else done.
func TestHelp(t *testing.T) {
	cmds := usageCommands(t)
	seen := map[string]bool{}
	for _, c := range cmds {
		seen[strings.Join(c, " ")] = true
	}
	for _, want := range []string{"demo", "route", "replay", "sim serve", "status", "history", "promote", "rollback", "abort",
		"images prune", "envfile render", "alas parse", "alas check", "bench", "help"} {
		if !seen[want] {
			t.Errorf("usage parsed without %q: %v", want, cmds)
		}
	}
	usageLine := regexp.MustCompile(`(?im)^usage:`)
	for _, c := range cmds {
		for _, h := range []string{"--help", "-h"} {
			args := append(append([]string(nil), c...), h)
			code, out, errs := kz(t, args...)
			if code != 0 || !usageLine.MatchString(out) || errs != "" {
				t.Errorf("kaizen %s: exit %d, stdout %q, stderr %q; want exit 0 and a Usage line on stdout", strings.Join(args, " "), code, out, errs)
			}
		}
	}
	// A command that has subcommands, asked for help before naming one.
	for _, group := range []string{"sim", "images", "envfile", "alas"} {
		if code, out, _ := kz(t, group, "--help"); code != 0 || !usageLine.MatchString(out) {
			t.Errorf("kaizen %s --help: exit %d, %q", group, code, out)
		}
	}
	// A bad flag is still a usage error, on stderr.
	if code, out, errs := kz(t, "route", "--nope"); code != 2 || out != "" || !usageLine.MatchString(errs) {
		t.Errorf("route --nope: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
