package route

import "testing"

// Every generic rule is either narrowed by the configuration or listed,
// with its reason, as account-wide: a new rule cannot go out to every event
// of the account unnoticed.
func TestEveryRuleIsNarrowedOrAccountWide(t *testing.T) {
	for _, r := range Rules() {
		_, narrowed := narrowers[r.Name]
		reason, wide := AccountWide[r.Name]
		switch {
		case narrowed && wide:
			t.Errorf("%s/%s is both narrowed and account-wide", r.Function, r.Name)
		case !narrowed && !wide:
			t.Errorf("%s/%s is neither narrowed by RulesFor nor listed in AccountWide", r.Function, r.Name)
		case wide && len(reason) < 20:
			t.Errorf("%s/%s: account-wide without a reason", r.Function, r.Name)
		}
	}
	for name := range narrowers {
		found := false
		for _, r := range Rules() {
			found = found || r.Name == name
		}
		if !found {
			t.Errorf("narrower for %q, which is no rule of Rules()", name)
		}
	}
}
