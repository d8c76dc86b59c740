package route_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/route/ebtest"
	"github.com/kaizen-sre/kaizen/shared/secretchange"
)

const (
	account = "111122223333"
	region  = "eu-west-1"
	shopARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/production-AbCdEf"
	apiARN  = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:api/prod" // partial
)

// scopedConfig has three apps that name their resources every way the
// configuration allows: a secret by full ARN, by name and by partial ARN,
// a rebuild project by name and by ARN, a pipeline rebuild.
func scopedConfig() *config.File {
	listener := func(app string) string {
		return "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/" + app + "/50dc6c495c0c9188/f2f7dc8efc522ab2"
	}
	return &config.File{Account: account, Region: region, Apps: []config.App{
		{
			Name: "shop", ListenerARN: listener("shop"), BakeMinutes: 60,
			Approval: config.Approval{Pipeline: "shop-release", Stage: "Approve", Action: "ProductionApproval"},
			Rebuild:  config.Rebuild{CodeBuildProject: "shop-golden-ami"},
			Alarms:   []config.Alarm{{Name: "shop-5xx-rate", Role: config.RoleGuard}, {Name: "shop-cpu-high", Role: config.RoleCapacity, Step: 2}},
			Secret:   shopARN,
		},
		{
			Name: "blog", ListenerARN: listener("blog"), BakeMinutes: 30,
			Approval: config.Approval{Pipeline: "blog-release", Stage: "Approve", Action: "Go"},
			Rebuild:  config.Rebuild{Pipeline: "blog-image"},
			Alarms:   []config.Alarm{{Name: "blog-5xx", Role: config.RoleGuard}},
			Secret:   "blog/production",
		},
		{
			Name: "api", ListenerARN: listener("api"), BakeMinutes: 15,
			Approval: config.Approval{Pipeline: "api-release", Stage: "Approve", Action: "ProductionApproval"},
			Rebuild:  config.Rebuild{CodeBuildProject: "arn:aws:codebuild:eu-west-1:111122223333:project/api-golden"},
			Secret:   apiARN,
		},
		{
			// Staging's database refreshes from production's snapshots: no
			// rebuild, alarm or secret of its own here.
			Name: "shop-staging", ListenerARN: listener("shop-staging"), BakeMinutes: 10,
			Approval: config.Approval{Pipeline: "shop-staging-release", Stage: "Approve", Action: "ProductionApproval"},
			DBRefresh: &config.DBRefresh{
				Source: config.DBSource{DBInstance: "shop-prod-db"}, Target: "shop-staging-db", OnAutomatedSnapshot: true,
				SnapshotType: config.SnapshotAutomated, Scrub: config.Scrub{CodeBuildProject: "shop-staging-db-scrub"},
			},
		},
	}}
}

func rulesOf(rules []route.Rule, name string) []route.Rule {
	var out []route.Rule
	for _, r := range rules {
		if r.Name == name || strings.HasPrefix(r.Name, name+"-") && strings.Trim(r.Name[len(name)+1:], "0123456789") == "" {
			out = append(out, r)
		}
	}
	return out
}

// field renders the pattern and reads a field's list at a dotted path of
// its detail, as EventBridge will see it.
func field(t *testing.T, p route.Pattern, path string) []any {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range strings.Split("detail."+path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: no object at %q in %s", path, k, b)
		}
		v = m[k]
	}
	xs, ok := v.([]any)
	if !ok {
		t.Fatalf("%s: not a list in %s", path, b)
	}
	return xs
}

func TestRulesForNarrowsToTheConfiguredResources(t *testing.T) {
	cfg := scopedConfig()
	rules := route.RulesFor(cfg)
	generic := route.Rules()

	t.Run("every function keeps its rules, under the same names", func(t *testing.T) {
		var got, want []string
		for _, r := range rules {
			got = append(got, r.Function+"/"+r.Name)
		}
		for _, r := range generic {
			want = append(want, r.Function+"/"+r.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("RulesFor = %v, want %v", got, want)
		}
	})

	t.Run("AMI and Image Builder events stay account-wide", func(t *testing.T) {
		for _, name := range []string{"ami-available", "imagebuilder-available"} {
			g, s := rulesOf(generic, name), rulesOf(rules, name)
			if len(s) != 1 || !equalJSON(t, g[0].Pattern, s[0].Pattern) {
				t.Errorf("%s: narrowed to %+v", name, s)
			}
			if route.AccountWide[name] == "" {
				t.Errorf("%s: no reason in route.AccountWide", name)
			}
		}
	})

	exact := func(xs ...string) []any {
		out := make([]any, len(xs))
		for i, x := range xs {
			out[i] = x
		}
		return out
	}
	for _, c := range []struct {
		rule, path string
		want       []any
	}{
		{"alarm", "alarmName", exact("shop-5xx-rate", "shop-cpu-high", "blog-5xx")},
		{"approval", "pipeline", exact("shop-release", "blog-release", "api-release", "shop-staging-release")},
		{"approval", "stage", exact("Approve")},
		{"approval", "action", exact("ProductionApproval", "Go")},
		{"codebuild-succeeded", "project-name", exact("shop-golden-ami", "api-golden")},
		{"secret-write", "requestParameters.secretId", []any{
			"shop/production", "shop/production-AbCdEf",
			"arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/production",
			map[string]any{"prefix": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/production-"},
			"blog/production",
			"arn:aws:secretsmanager:eu-west-1:111122223333:secret:blog/production",
			map[string]any{"prefix": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:blog/production-"},
			"api/prod", apiARN, map[string]any{"prefix": apiARN + "-"},
		}},
	} {
		t.Run(c.rule+" takes "+c.path, func(t *testing.T) {
			rs := rulesOf(rules, c.rule)
			if len(rs) != 1 {
				t.Fatalf("%d %s rules, want 1", len(rs), c.rule)
			}
			got := field(t, rs[0].Pattern, c.path)
			if !jsonEqual(got, c.want) {
				t.Errorf("%s.%s = %v, want %v", c.rule, c.path, got, c.want)
			}
			// The generic rule's own filters stay.
			g := rulesOf(generic, c.rule)[0]
			for k := range g.Pattern.Detail {
				if _, ok := rs[0].Pattern.Detail[k]; !ok {
					t.Errorf("%s lost the generic filter on %s", c.rule, k)
				}
			}
		})
	}

	t.Run("a rotation is matched by either field that names its secret", func(t *testing.T) {
		rs := rulesOf(rules, "secret-rotated")
		if len(rs) != 1 {
			t.Fatalf("%d secret-rotated rules", len(rs))
		}
		write := field(t, rulesOf(rules, "secret-write")[0].Pattern, "requestParameters.secretId")
		b, _ := json.Marshal(rs[0].Pattern)
		var p struct {
			Detail struct {
				Or []map[string]map[string][]any `json:"$or"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Detail.Or) != 2 || !jsonEqual(p.Detail.Or[0]["additionalEventData"]["SecretId"], write) ||
			!jsonEqual(p.Detail.Or[1]["serviceEventDetails"]["secretId"], write) {
			t.Errorf("secret-rotated pattern %s", b)
		}
	})
}

func TestRulesForLeavesOutWhatNothingConfigures(t *testing.T) {
	cfg := &config.File{Account: account, Region: region, Apps: []config.App{{
		Name: "static", BakeMinutes: 10,
		Approval: config.Approval{Pipeline: "static-release", Stage: "Approve", Action: "Go"},
		Rebuild:  config.Rebuild{Pipeline: "static-image"},
	}}}
	var names []string
	for _, r := range route.RulesFor(cfg) {
		names = append(names, r.Function+"/"+r.Name)
	}
	want := []string{"stage/ami-available", "stage/imagebuilder-available", "promote/approval"}
	if !slices.Equal(names, want) {
		t.Errorf("RulesFor = %v, want %v (no alarm, CodeBuild rebuild or secret: no guard, codebuild or secretchange rule)", names, want)
	}
}

func TestRulesForSplitsWhatDoesNotFitOneRule(t *testing.T) {
	cfg := &config.File{Account: account, Region: region}
	var names []string
	for i := range 300 {
		app := fmt.Sprintf("app-%03d", i)
		name := fmt.Sprintf("%s-target-5xx-rate-above-threshold", app)
		names = append(names, name)
		cfg.Apps = append(cfg.Apps, config.App{Name: app, BakeMinutes: 10, Alarms: []config.Alarm{{Name: name, Role: config.RoleGuard}},
			Secret: "team/" + app + "/production"})
	}
	rules := route.RulesFor(cfg)
	for _, rule := range []string{"alarm", "secret-write", "secret-rotated"} {
		rs := rulesOf(rules, rule)
		if len(rs) < 2 {
			t.Fatalf("%s: %d rules for 300 apps, want several", rule, len(rs))
		}
		for i, r := range rs {
			if want := rule; i > 0 {
				want = fmt.Sprintf("%s-%d", rule, i+1)
				if r.Name != want {
					t.Errorf("rule %d is named %q, want %q", i, r.Name, want)
				}
			}
			b, _ := json.Marshal(r.Pattern)
			if err := ebtest.Valid(b); err != nil {
				t.Errorf("%s: %v", r.Name, err)
			}
			if n := route.PatternSize(r.Pattern); n > route.MaxPatternSize {
				t.Errorf("%s: %d characters", r.Name, n)
			}
		}
	}
	// Every alarm is in exactly one rule.
	seen := map[string]int{}
	for _, r := range rulesOf(rules, "alarm") {
		for _, v := range field(t, r.Pattern, "alarmName") {
			seen[v.(string)]++
		}
	}
	for _, n := range names {
		if seen[n] != 1 {
			t.Errorf("alarm %s is in %d rules", n, seen[n])
		}
	}
	if len(seen) != len(names) {
		t.Errorf("%d alarm names in the rules, want %d", len(seen), len(names))
	}
}

// TestMatcherAndRenderedPatternAgree evaluates every rule of RulesFor and
// Rules() on a corpus of events twice: with route.Pattern.Match (what the
// functions and `kaizen route` use) and with ebtest.Match on the rendered
// JSON (what the CDK app deploys, read independently). They must agree on
// every event, and every rendered pattern must be valid EventBridge syntax.
func TestMatcherAndRenderedPatternAgree(t *testing.T) {
	cfg := scopedConfig()
	rules := append(route.RulesFor(cfg), route.Rules()...)
	corpus := eventCorpus(t, cfg)
	for _, r := range rules {
		b, err := json.Marshal(r.Pattern)
		if err != nil {
			t.Fatal(err)
		}
		if err := ebtest.Valid(b); err != nil {
			t.Errorf("%s/%s: invalid pattern %s: %v", r.Function, r.Name, b, err)
			continue
		}
		matched, missed := 0, 0
		for _, raw := range corpus {
			e, err := route.DecodeEnvelope(raw)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Pattern.Match(e)
			want, err := ebtest.Match(b, raw)
			if err != nil {
				t.Fatalf("%s/%s: %v", r.Function, r.Name, err)
			}
			if got != want {
				t.Errorf("%s/%s: Pattern.Match = %v, EventBridge reading of %s = %v, for\n%s", r.Function, r.Name, got, b, want, raw)
			}
			if want {
				matched++
			} else {
				missed++
			}
		}
		// The corpus must test both sides of every rule.
		if matched == 0 || missed == 0 {
			t.Errorf("%s/%s: the corpus has %d matching and %d other events; want both", r.Function, r.Name, matched, missed)
		}
	}
}

// TestRulesForTakesWhatTheFunctionsTake: narrowing never drops an event a
// function would act on. For secrets the function's own matcher
// (secretchange.Matches) decides, over every way to name a secret.
func TestRulesForTakesWhatTheFunctionsTake(t *testing.T) {
	cfg := scopedConfig()
	rules := route.RulesFor(cfg)
	takes := func(fn string, raw []byte) bool {
		e, err := route.DecodeEnvelope(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			if r.Function == fn && r.Pattern.Match(e) {
				return true
			}
		}
		return false
	}
	base := loadEvents(t)

	for _, a := range cfg.Apps {
		for _, al := range a.Alarms {
			if !takes(route.Guard, with(t, base["alarm-guard.json"], "detail.alarmName", al.Name)) {
				t.Errorf("guard rules drop alarm %s", al.Name)
			}
		}
		ap := with(t, base["approval-succeeded.json"], "detail.pipeline", a.Approval.Pipeline)
		ap = with(t, ap, "detail.stage", a.Approval.Stage)
		ap = with(t, ap, "detail.action", a.Approval.Action)
		if !takes(route.Promote, ap) {
			t.Errorf("promote rules drop the approval of %s", a.Name)
		}
	}
	if takes(route.Guard, with(t, base["alarm-guard.json"], "detail.alarmName", "someone-elses-alarm")) {
		t.Error("guard rules take an alarm no app configures")
	}
	if takes(route.Stage, with(t, base["codebuild-succeeded.json"], "detail.project-name", "someone-elses-build")) {
		t.Error("stage rules take a build of a project no app rebuilds with")
	}
	if !takes(route.Stage, with(t, base["codebuild-succeeded.json"], "detail.project-name", "api-golden")) {
		t.Error("stage rules drop the build of a project configured by ARN")
	}

	n := 0
	for _, id := range secretIDs() {
		put := with(t, base["secret-put-value.json"], "detail.requestParameters.secretId", id)
		rot := with(t, base["secret-rotation-succeeded.json"], "detail.additionalEventData.SecretId", id)
		svc := without(t, with(t, base["secret-rotation-succeeded.json"], "detail.serviceEventDetails.secretId", id), "detail.additionalEventData")
		ours := false
		for i := range cfg.Apps {
			ours = ours || secretchange.Matches(cfg, &cfg.Apps[i], cfg.Home(), id)
		}
		if ours {
			n++
			for name, raw := range map[string][]byte{"PutSecretValue": put, "RotationSucceeded": rot, "RotationSucceeded (serviceEventDetails)": svc} {
				if !takes(route.SecretChange, raw) {
					t.Errorf("secretchange rules drop %s of %q, which secretchange.Matches takes", name, id)
				}
			}
		} else if strings.Contains(id, "other") || strings.Contains(id, "999999999999") || strings.Contains(id, "us-east-1") {
			// Foreign secrets stay out; prefix look-alikes ("-old") may
			// pass the rule and are ignored by the function.
			if takes(route.SecretChange, put) || takes(route.SecretChange, rot) {
				t.Errorf("secretchange rules take %q", id)
			}
		}
	}
	if n < 9 {
		t.Errorf("only %d secret ids are the apps'; the corpus is too thin", n)
	}
}

// secretIDs are ways to name the configured secrets and others like them.
func secretIDs() []string {
	arn := func(acct, reg, res string) string {
		return "arn:aws:secretsmanager:" + reg + ":" + acct + ":secret:" + res
	}
	var out []string
	for _, name := range []string{"shop/production", "blog/production", "api/prod", "other/production"} {
		out = append(out,
			name, name+"-AbCdEf", name+"-Zz9Yy8", name+"2", name+"-old", name+"-old-Qq1Ww2",
			arn(account, region, name), arn(account, region, name+"-AbCdEf"), arn(account, region, name+"-Zz9Yy8"),
			arn(account, region, name+"-old-Qq1Ww2"), arn(account, region, name+"2-AbCdEf"),
			arn("999999999999", region, name+"-AbCdEf"), arn(account, "us-east-1", name+"-AbCdEf"),
		)
	}
	return out
}

// eventCorpus is every sample event of events/, and variants of them that
// name configured and foreign resources in every field a rule tests.
func eventCorpus(t *testing.T, cfg *config.File) [][]byte {
	t.Helper()
	base := loadEvents(t)
	var out [][]byte
	for _, name := range sortedKeys(base) {
		out = append(out, base[name])
	}
	add := func(file, path string, values ...any) {
		for _, v := range values {
			out = append(out, with(t, base[file], path, v))
		}
	}
	alarms := []any{"someone-elses-alarm", []any{"blog-5xx", "x"}, []any{"x"}, 42, nil}
	for _, a := range cfg.Apps {
		for _, al := range a.Alarms {
			alarms = append(alarms, al.Name)
		}
		ap := with(t, base["approval-succeeded.json"], "detail.pipeline", a.Approval.Pipeline)
		ap = with(t, ap, "detail.action", a.Approval.Action)
		out = append(out, ap, with(t, ap, "detail.stage", "Deploy"), with(t, ap, "detail.state", "STARTED"),
			with(t, ap, "detail.type.category", "Build"))
	}
	add("alarm-guard.json", "detail.alarmName", alarms...)
	add("alarm-capacity.json", "detail.alarmName", "blog-5xx", "nobody")
	add("approval-succeeded.json", "detail.pipeline", "blog-release", "api-release", "other-release")
	add("approval-succeeded.json", "detail.action", "Go", "Other")
	add("codebuild-succeeded.json", "detail.project-name", "api-golden", "blog-image", "other",
		"arn:aws:codebuild:eu-west-1:111122223333:project/api-golden")
	add("codebuild-failed.json", "detail.project-name", "api-golden")
	for _, id := range secretIDs() {
		add("secret-put-value.json", "detail.requestParameters.secretId", id)
		add("secret-rotation-succeeded.json", "detail.additionalEventData.SecretId", id)
		out = append(out, without(t, with(t, base["secret-rotation-succeeded.json"], "detail.serviceEventDetails.secretId", id), "detail.additionalEventData"))
	}
	add("secret-put-value.json", "detail.requestParameters", nil, map[string]any{})
	add("secret-put-value.json", "detail.eventName", "GetSecretValue")
	add("secret-rotation-succeeded.json", "detail.eventName", "RotationFailed")
	return out
}

func loadEvents(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := route.Decode(b); err != nil {
			continue // the samples of malformed envelopes
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// with returns the event with the field at a dotted path set to v
// (creating objects on the way).
func with(t *testing.T, raw []byte, path string, v any) []byte {
	t.Helper()
	return edit(t, raw, path, func(m map[string]any, k string) { m[k] = v })
}

// without returns the event without the field at a dotted path.
func without(t *testing.T, raw []byte, path string) []byte {
	t.Helper()
	return edit(t, raw, path, func(m map[string]any, k string) { delete(m, k) })
}

func edit(t *testing.T, raw []byte, path string, f func(map[string]any, string)) []byte {
	t.Helper()
	if raw == nil {
		t.Fatalf("no sample event for %s", path)
	}
	var e map[string]any
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	keys := strings.Split(path, ".")
	m := e
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	f(m, keys[len(keys)-1])
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sortedKeys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func equalJSON(t *testing.T, a, b route.Pattern) bool {
	t.Helper()
	return jsonEqual(a, b)
}
