package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// editedExample writes examples/kaizen.json with edit applied to its first
// app, and returns the path.
func editedExample(t *testing.T, edit func(app map[string]any), tail string) string {
	t.Helper()
	b, err := os.ReadFile("examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	edit(raw["apps"].([]any)[0].(map[string]any))
	b, _ = json.MarshalIndent(raw, "", "  ")
	p := filepath.Join(t.TempDir(), "kaizen.json")
	if err := os.WriteFile(p, append(b, tail...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigCheck(t *testing.T) {
	t.Run("the example is valid", func(t *testing.T) {
		code, out, errs := kz(t, "config", "check", "--config", "examples/kaizen.json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		want := "shop: blue shop-blue, green shop-green; floor 2, preview 1, bake 60m, window any time, 3 alarms (2 guard, 1 capacity)\n"
		if !strings.Contains(out, want) || strings.Contains(out, "warning") {
			t.Errorf("output:\n%s\nwant the line\n%s", out, want)
		}
	})
	t.Run("default path and $KAIZEN_CONFIG", func(t *testing.T) {
		if code, out, _ := kz(t, "config", "check"); code != 0 || !strings.Contains(out, "examples/kaizen.json: valid, 1 app") {
			t.Errorf("default: exit %d\n%s", code, out)
		}
		p := editedExample(t, func(a map[string]any) { a["floor"] = 0 }, "")
		t.Setenv("KAIZEN_CONFIG", p)
		if code, _, errs := kz(t, "config", "check"); code != 2 || !strings.Contains(errs, p) {
			t.Errorf("$KAIZEN_CONFIG: exit %d\n%s", code, errs)
		}
	})
	t.Run("every error, each naming its field", func(t *testing.T) {
		p := editedExample(t, func(a map[string]any) {
			a["floor"] = 0
			delete(a, "bakeMinutes")
			a["blue"].(map[string]any)["ASG"] = a["blue"].(map[string]any)["asg"]
			delete(a["blue"].(map[string]any), "asg")
			a["preview"].(map[string]any)["officeCidrs"] = []any{"0.0.0.0/0", "203.0.113.10/24"}
			a["changeWindow"] = map[string]any{"days": []any{"tue"}, "from": "22:00", "to": "22:00", "timeZone": "Europe/Berlin"}
			a["listenerArn"] = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/*"
		}, "")
		code, out, errs := kz(t, "config", "check", "--config", p)
		if code != 2 {
			t.Fatalf("exit %d, want 2\n%s%s", code, out, errs)
		}
		for _, w := range []string{
			"is not valid (7 errors)",
			`  apps[0].blue.ASG: unknown key "ASG": the field is spelled "asg"`,
			"  apps[0].floor: must be at least 1",
			"  apps[0].bakeMinutes: required",
			`  apps[0].preview.officeCidrs[0]: "0.0.0.0/0" matches every address`,
			"  apps[0].preview.officeCidrs[1]: \"203.0.113.10/24\" has host bits set: the network is 203.0.113.0/24",
			"  apps[0].changeWindow.to: must differ from from",
			"  apps[0].listenerArn: must name one resource, not a wildcard",
		} {
			if !strings.Contains(errs, w) {
				t.Errorf("stderr lacks %q:\n%s", w, errs)
			}
		}
		if out != "" {
			t.Errorf("stdout: %q", out)
		}
	})
	t.Run("trailing data", func(t *testing.T) {
		p := editedExample(t, func(map[string]any) {}, "\n{}\n")
		if code, _, errs := kz(t, "config", "check", "--config", p); code != 2 || !strings.Contains(errs, "trailing data after the JSON document") {
			t.Errorf("exit %d\n%s", code, errs)
		}
	})
	t.Run("warnings do not fail the check", func(t *testing.T) {
		p := editedExample(t, func(a map[string]any) {
			a["bakeMinutes"] = 0
			a["changeWindow"] = map[string]any{"days": []any{"tue", "wed"}, "from": "22:00", "to": "01:00", "timeZone": "Europe/Berlin"}
		}, "")
		code, out, errs := kz(t, "config", "check", "--config", p)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		for _, w := range []string{"bake 0m, window tue,wed 22:00-01:00 Europe/Berlin,", "warning: apps[0].bakeMinutes: 0 retires the previous color at cutover"} {
			if !strings.Contains(out, w) {
				t.Errorf("stdout lacks %q:\n%s", w, out)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		code, out, _ := kz(t, "config", "check", "--json", "--config", "examples/kaizen.json")
		var res ConfigCheck
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || !res.Valid || len(res.Apps) != 1 || res.Apps[0].Blue != "shop-blue" || res.Apps[0].GuardAlarms != 2 {
			t.Errorf("exit %d, %v: %s", code, err, out)
		}
		p := editedExample(t, func(a map[string]any) { a["floor"] = 0; delete(a, "bakeMinutes"); a["BakeMinutes"] = 5 }, "")
		code, out, _ = kz(t, "config", "check", "--config", p, "--json")
		res = ConfigCheck{}
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 2 || res.Valid || len(res.Errors) != 2 {
			t.Fatalf("exit %d, %v: %s", code, err, out)
		}
		fields := map[string]bool{}
		for _, e := range res.Errors {
			fields[e.Field] = true
		}
		if !fields["apps[0].floor"] || !fields["apps[0].BakeMinutes"] {
			t.Errorf("error fields %v", fields)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if code, _, errs := kz(t, "config", "check", "--config", "no/such/kaizen.json"); code != 2 || !strings.Contains(errs, "no/such/kaizen.json") {
			t.Errorf("exit %d: %s", code, errs)
		}
	})
	t.Run("help and usage", func(t *testing.T) {
		for _, args := range [][]string{{"config", "check", "-h"}, {"config", "check", "--help"}, {"config", "--help"}} {
			code, out, _ := kz(t, args...)
			if code != 0 || !strings.Contains(out, "Usage: kaizen config check") {
				t.Errorf("%v: exit %d\n%s", args, code, out)
			}
		}
		for _, args := range [][]string{{"config"}, {"config", "lint"}, {"config", "check", "--bogus"}, {"config", "check", "extra"}} {
			if code, _, errs := kz(t, args...); code != 2 || !strings.Contains(errs, "Usage: kaizen config check") {
				t.Errorf("%v: exit %d\n%s", args, code, errs)
			}
		}
		if _, out, _ := kz(t, "help"); !strings.Contains(out, "kaizen config check") {
			t.Error("kaizen help does not list config check")
		}
	})
}
