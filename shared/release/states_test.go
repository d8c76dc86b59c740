package release

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// oldJSON writes r as kaizen wrote records before the sub-states were
// explicit: "staged", "promoting" or "baking", with flags for the rest.
func oldJSON(t *testing.T, r Release) []byte {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "reason")
	oldName := func(s State) string {
		switch {
		case s == RollingBack && r.Weight > 0:
			return string(Promoting)
		case s == RollingBack:
			return string(Baking)
		}
		return string(s.Phase())
	}
	m["state"] = oldName(r.State)
	switch r.State {
	case Unhealthy:
		m["unhealthy"] = r.Reason
	case RollingBack:
		m["rollbackPending"] = r.Reason
	}
	for _, tr := range m["history"].([]any) {
		tr := tr.(map[string]any)
		delete(tr, "by")
		for _, k := range []string{"from", "to"} {
			if s, ok := tr[k].(string); ok {
				tr[k] = oldName(State(s))
			}
		}
	}
	b, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Records written by the old code load into the state they meant, and the
// planner carries on from them.
func TestOldRecordsLoad(t *testing.T) {
	app := shopApp(t)
	app.WeightSteps, app.StepMinutes = []int{10, 50, 100}, 10
	for _, s := range append(slices.Clone(States), "rolling_back from a shift") {
		st, obs := fleet(s)
		if s == "rolling_back from a shift" {
			st, obs = fleet(Shifting)
			st.Active.State, st.Active.Reason = RollingBack, "rollback by operator alice"
		}
		if s.Terminal() {
			st, obs = fleet(Baking)
			st.Active.State = s
		}
		t.Run(string(s), func(t *testing.T) {
			raw := oldJSON(t, *st.Active)
			if strings.Contains(string(raw), `"`+string(PreviewReady)+`"`) || strings.Contains(string(raw), `"shifting"`) {
				t.Fatalf("not an old record: %s", raw)
			}
			var got Release
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			want := st.Active.State
			if want == WaitingForWindow {
				want = Promoting // the next step sees the window closed again
			}
			if s == "rolling_back from a shift" {
				want = RollingBack
			}
			if got.State != want || got.Reason != st.Active.Reason {
				t.Fatalf("old %s record loads as %s (reason %q), want %s (reason %q)", st.Active.State.Phase(), got.State, got.Reason, want, st.Active.Reason)
			}
			if want.Terminal() {
				return
			}
			old := st.Clone()
			old.Active = &got
			if errs := Check(app, old, obs); len(errs) > 0 {
				t.Fatalf("an old record breaks the invariants: %v", errs)
			}
			if p := Decide(app, old, obs, t0, tick); p.Bug != "" {
				t.Fatalf("the planner cannot carry on from an old record: %s", p.Bug)
			}
		})
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	for _, s := range States {
		st, _ := fleet(s)
		if s.Terminal() {
			st, _ = fleet(Baking)
			st.Active.State = s
		}
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"unhealthy"`) && s != Unhealthy || strings.Contains(string(b), "rollbackPending") {
			t.Errorf("%s: old flags written: %s", s, b)
		}
		var got AppState
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, st) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", s, got.Active, st.Active)
		}
	}
}

// Phase maps every state to what people (and old records) call it.
func TestPhase(t *testing.T) {
	old := []State{Staged, Promoting, Baking, Done, Abandoned, Superseded, Failed, RolledBack}
	for _, s := range States {
		if p := s.Phase(); !slices.Contains(old, p) && s != RollingBack {
			t.Errorf("%s is in phase %s, which old records do not know", s, p)
		}
		if s.BeforeApproval() != (s.Phase() == Staged) {
			t.Errorf("%s: BeforeApproval %v but phase %s", s, s.BeforeApproval(), s.Phase())
		}
	}
}

func TestDiagrams(t *testing.T) {
	m := Mermaid()
	if !strings.HasPrefix(m, "stateDiagram-v2\n") || strings.Count(m, "-->") != len(Table)+5 {
		t.Fatalf("mermaid:\n%s", m)
	}
	if !strings.Contains(m, "    preview_ready --> promoting: approval\n") || !strings.Contains(m, "    [*] --> staged: image\n") {
		t.Fatalf("mermaid:\n%s", m)
	}
	d := Dot()
	if !strings.Contains(d, `    baking -> rolling_back [label="guard, analysis, operator"];`) || !strings.HasSuffix(d, "}\n") {
		t.Fatalf("dot:\n%s", d)
	}
}
