package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/kaizen-sre/kaizen/infra/stacks"
	"github.com/kaizen-sre/kaizen/shared/access"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
)

const multiAccountConfig = "examples/kaizen-multiaccount.json"

var (
	multiOnce sync.Once
	multiApp  *synthesized
)

// multi is the multi-account example: shop at home, billing in a member
// account through its role.
func multi(t *testing.T) (*synthesized, *config.File) {
	t.Helper()
	multiOnce.Do(func() {
		multiApp = synth(t, inputs{name: "multiaccount", config: filepath.Join(repoRoot, multiAccountConfig), assets: fakeAssets(t, "assets-multi")})
	})
	if multiApp == nil {
		t.Fatal("the multi-account app failed to synthesize (see the first failing test)")
	}
	cfg, err := config.Load(filepath.Join(repoRoot, multiAccountConfig))
	if err != nil {
		t.Fatal(err)
	}
	return multiApp, cfg
}

func TestMemberAccounts(t *testing.T) {
	s, cfg := multi(t)
	billing, _ := cfg.App("billing")
	member := billing.Account
	if len(s.stacks.Members) != 1 {
		t.Fatalf("%d member stacks, want one for %s", len(s.stacks.Members), member)
	}
	m := s.stacks.Members[0]
	if got := *m.Stack.Account(); got != member {
		t.Errorf("member stack deploys to account %s, want %s", got, member)
	}
	if got := *m.Stack.Region(); got != billing.Region {
		t.Errorf("member stack deploys to region %s, want %s", got, billing.Region)
	}
	home := s.template(s.stacks.Kaizen.Stack)
	mtpl := s.template(m.Stack)
	busARN := stacks.BusARN(cfg)
	forwarded := stacks.ForwardedRules(cfg, billing.Place())

	t.Run("the kaizen stack's bus takes events from exactly the member accounts", func(t *testing.T) {
		buses := resources(home, "AWS::Events::EventBus")
		if len(buses) != 1 {
			t.Fatalf("%d event buses, want 1", len(buses))
		}
		for _, b := range buses {
			if name := props(b)["Name"]; name != stacks.BusName {
				t.Errorf("bus name %v, want %s", name, stacks.BusName)
			}
		}
		pols := resources(home, "AWS::Events::EventBusPolicy")
		if len(pols) != 1 {
			t.Fatalf("%d bus policies, want 1", len(pols))
		}
		for _, p := range pols {
			b, _ := json.Marshal(props(p)["Statement"])
			doc := string(b)
			if !strings.Contains(doc, `"events:PutEvents"`) || !strings.Contains(doc, ":iam::"+member+":root") {
				t.Errorf("bus policy does not let %s put events: %s", member, doc)
			}
			if strings.Count(doc, ":root") != 1 || strings.Contains(doc, `"*"`) {
				t.Errorf("bus policy lets more than the member account in: %s", doc)
			}
		}
	})

	t.Run("the bus's rules take the member's events for the release steps and secretchange only", func(t *testing.T) {
		var onBus []map[string]any
		for _, r := range resources(home, "AWS::Events::Rule") {
			if _, ok := props(r)["EventBusName"]; ok {
				onBus = append(onBus, r)
			}
		}
		if len(onBus) != len(forwarded) || len(forwarded) == 0 {
			t.Fatalf("%d rules on the bus, want %d (one per forwarded rule)", len(onBus), len(forwarded))
		}
		for _, r := range onBus {
			p := props(r)["EventPattern"].(map[string]any)
			if a := strs(p["account"]); !slices.Equal(a, []string{member}) {
				t.Errorf("bus rule pattern account %v, want [%s]", a, member)
			}
			if rg := strs(p["region"]); !slices.Equal(rg, []string{billing.Region}) {
				t.Errorf("bus rule pattern region %v, want [%s]", rg, billing.Region)
			}
		}
		for _, r := range forwarded {
			if !slices.Contains(stacks.ForwardedFunctions, r.Function) {
				t.Errorf("forwarded rule %s is %s's, not a release step's nor secretchange's", r.Name, r.Function)
			}
		}
	})

	// billing names a secret of its account: its CloudTrail events reach
	// secretchange through the bus, from that account only, narrowed to
	// that secret; secretchange reads billing's fleet and notifies it
	// through billing's role.
	t.Run("the member's secret changes reach secretchange", func(t *testing.T) {
		if billing.Secret == "" {
			t.Fatal("billing names no secret in " + multiAccountConfig)
		}
		var secretRules []route.Rule
		for _, r := range forwarded {
			if r.Function == route.SecretChange {
				secretRules = append(secretRules, r)
			}
		}
		if len(secretRules) < 2 {
			t.Fatalf("forwarded secretchange rules %v, want secret-write and secret-rotated", secretRules)
		}
		fn := logicalID(s.stacks.Kaizen.Functions[route.SecretChange].Lambda)
		count := func(tpl map[string]any, bus bool) int {
			n := 0
			for _, r := range resources(tpl, "AWS::Events::Rule") {
				p, _ := props(r)["EventPattern"].(map[string]any) // a schedule has none
				if _, ok := props(r)["EventBusName"]; !slices.Equal(strs(p["source"]), []string{route.SourceSecretsManager}) || (bus && !ok) {
					continue // not a secret rule, or the default bus's rule for shop's secret
				}
				n++
				b, _ := json.Marshal(p)
				if pat := string(b); !strings.Contains(pat, ":"+member+":secret:") || strings.Contains(pat, ":"+cfg.Account+":") {
					t.Errorf("secret rule is not narrowed to billing's secret in %s: %s", member, pat)
				}
				if !bus {
					continue
				}
				if !slices.Equal(strs(p["account"]), []string{member}) || !slices.Equal(strs(p["region"]), []string{billing.Region}) {
					t.Errorf("bus secret rule takes %v/%v, want %s/%s", p["account"], p["region"], member, billing.Region)
				}
				if tg, _ := json.Marshal(props(r)["Targets"]); !strings.Contains(string(tg), fn) {
					t.Errorf("bus secret rule targets %s, want secretchange (%s)", tg, fn)
				}
			}
			return n
		}
		if onBus, fwd := count(home, true), count(mtpl, false); onBus != len(secretRules) || fwd != len(secretRules) {
			t.Errorf("%d secret rules on the bus and %d forwarding, want %d each", onBus, fwd, len(secretRules))
		}
		// The member role allows what secretchange does there: read the
		// fleet and its images, publish to billing's topic.
		id := logicalID(m.Roles[billing.RoleARN])
		allowed := map[string][]string{}
		for _, st := range statements(mtpl) {
			if st.role == id {
				for _, a := range st.actions {
					allowed[a] = append(allowed[a], st.resources...)
				}
			}
		}
		for _, a := range access.Actions(route.SecretChange) {
			switch {
			case strings.HasPrefix(a, "dynamodb:"), strings.HasPrefix(a, "codebuild:"), strings.HasPrefix(a, "codepipeline:"):
				if _, ok := allowed[a]; ok {
					t.Errorf("member role allows %s, which stays in kaizen's account", a)
				}
			case a == "sns:Publish":
				if !slices.Contains(allowed[a], billing.TopicARN) {
					t.Errorf("member role may publish to %v, want %s", allowed[a], billing.TopicARN)
				}
			default:
				if len(allowed[a]) == 0 {
					t.Errorf("member role lacks %s, which secretchange needs to list billing's images", a)
				}
			}
		}
	})

	// alaspoll notifies billing from billing's account: it may assume
	// billing's role, and the role lets it publish to billing's topic (the
	// release steps' own statement, not a second one) and nothing else
	// alaspoll does, which stays in kaizen's account.
	t.Run("alaspoll notifies the member's app through its role", func(t *testing.T) {
		if r := stacks.ALASRoles(cfg); !slices.Equal(r, []string{billing.RoleARN}) {
			t.Errorf("ALASRoles %v, want [%s]", r, billing.RoleARN)
		}
		id := logicalID(m.Roles[billing.RoleARN])
		var publish []statement
		allowed := map[string]bool{}
		for _, st := range statements(mtpl) {
			if st.role != id {
				continue
			}
			for _, a := range st.actions {
				allowed[a] = true
			}
			if slices.Contains(st.actions, "sns:Publish") {
				publish = append(publish, st)
			}
		}
		if len(publish) != 1 || !slices.Equal(publish[0].resources, []string{billing.TopicARN}) {
			t.Errorf("member role's sns:Publish statements %+v, want one on %s", publish, billing.TopicARN)
		}
		for _, a := range access.Actions(route.ALASPoll) {
			// Its records, builds and the AL2023 release version are
			// kaizen's (the release steps read images in the member too).
			home := strings.HasPrefix(a, "dynamodb:") || strings.HasPrefix(a, "codebuild:") || strings.HasPrefix(a, "codepipeline:") || strings.HasPrefix(a, "ssm:")
			if home && allowed[a] {
				t.Errorf("member role allows alaspoll's %s, which stays in kaizen's account", a)
			}
		}
	})

	t.Run("only the release steps, secretchange and alaspoll may assume the member's role", func(t *testing.T) {
		all := statements(home)
		for _, fn := range route.Functions {
			role := logicalID(s.stacks.Kaizen.Functions[fn].Role)
			var assumes []string
			for _, st := range all {
				if st.role == role && slices.Contains(st.actions, "sts:AssumeRole") {
					assumes = append(assumes, st.resources...)
				}
			}
			want := []string(nil)
			if slices.Contains(stacks.MemberFunctions, fn) || fn == route.SecretChange || fn == route.ALASPoll {
				want = []string{billing.RoleARN}
			}
			if !slices.Equal(assumes, want) {
				t.Errorf("%s may assume %v, want %v", fn, assumes, want)
			}
		}
	})

	t.Run("the member forwards exactly the release steps' events to the bus", func(t *testing.T) {
		rules := resources(mtpl, "AWS::Events::Rule")
		if len(rules) != len(forwarded) {
			t.Fatalf("%d forwarding rules, want %d", len(rules), len(forwarded))
		}
		var sources []string
		for _, r := range rules {
			p := props(r)
			targets := p["Targets"].([]any)
			if len(targets) != 1 {
				t.Fatalf("forwarding rule with %d targets", len(targets))
			}
			tg := targets[0].(map[string]any)
			if tg["Arn"] != busARN || tg["RoleArn"] == nil || tg["DeadLetterConfig"] == nil {
				t.Errorf("forwarding target %v, want the bus %s with a role and a dead-letter queue", tg, busARN)
			}
			sources = append(sources, strs(p["EventPattern"].(map[string]any)["source"])...)
		}
		for _, r := range forwarded {
			if !slices.Contains(sources, r.Pattern.Source[0]) {
				t.Errorf("no forwarding rule for %s (%v)", r.Name, r.Pattern.Source)
			}
		}
		forward := logicalID(m.Forward)
		for _, st := range statements(mtpl) {
			if st.role == forward && (!slices.Equal(st.actions, []string{"events:PutEvents"}) || !slices.Equal(st.resources, []string{busARN})) {
				t.Errorf("the forwarding role may %v on %v, want only events:PutEvents on %s", st.actions, st.resources, busARN)
			}
		}
	})

	t.Run("the role kaizen assumes trusts kaizen's roles and allows the release steps on the member's resources", func(t *testing.T) {
		role, ok := m.Roles[billing.RoleARN]
		if !ok {
			t.Fatalf("no role %s in the member stack", billing.RoleARN)
		}
		id := logicalID(role)
		r := resources(mtpl, "AWS::IAM::Role")[id]
		p := props(r)
		if p["RoleName"] != "kaizen-member" {
			t.Errorf("role name %v, want kaizen-member", p["RoleName"])
		}
		trust, _ := json.Marshal(p["AssumeRolePolicyDocument"])
		for _, want := range []string{":iam::" + cfg.Account + ":root", `"aws:PrincipalArn":"arn:aws:iam::` + cfg.Account + `:role/Kaizen-*"`, `"sts:RoleSessionName":"kaizen-*"`} {
			if !strings.Contains(string(trust), want) {
				t.Errorf("trust policy lacks %s: %s", want, trust)
			}
		}
		var allowed []string
		for _, fn := range stacks.ForwardedFunctions {
			allowed = append(allowed, access.Actions(fn)...)
		}
		n := 0
		for _, st := range statements(mtpl) {
			if st.role != id {
				continue
			}
			n++
			for _, a := range st.actions {
				if !slices.Contains(allowed, a) || strings.HasPrefix(a, "dynamodb:") || strings.HasPrefix(a, "codebuild:") {
					t.Errorf("member role allows %s, which no release step does there", a)
				}
			}
			for _, res := range st.resources {
				if res == "*" {
					for _, a := range st.actions {
						if !slices.Contains(readOnlyExceptions, a) {
							t.Errorf("member role allows %s on *", a)
						}
					}
					continue
				}
				if strings.Contains(res, cfg.Account) || (!strings.Contains(res, ":"+member+":") && !strings.Contains(res, "::image/")) {
					t.Errorf("member role statement %s names %s, not a resource of account %s", st.sid, res, member)
				}
			}
		}
		if n == 0 {
			t.Fatal("the member role has no statements")
		}
	})

	for _, stack := range s.stacks.All() {
		name := *stack.StackName()
		t.Run(name+" has no unacknowledged AwsSolutions findings", func(t *testing.T) {
			a := assertions.Annotations_FromStack(stack)
			pattern := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
			for kind, found := range map[string]any{"error": a.FindError(jsii.String("*"), pattern), "warning": a.FindWarning(jsii.String("*"), pattern)} {
				for _, m := range findings(t, found) {
					t.Errorf("%s at %s: %v", kind, m.ID, m.Entry.Data)
				}
			}
		})
	}
}

// A member whose apps name no secret forwards no secret events, and
// secretchange may assume no role; its role lends nothing more than the
// release steps need.
func TestMemberWithoutSecret(t *testing.T) {
	cfg, err := config.Load(filepath.Join(repoRoot, multiAccountConfig))
	if err != nil {
		t.Fatal(err)
	}
	billing, _ := cfg.App("billing")
	if billing.Secret == "" || len(stacks.SecretRoles(cfg)) != 1 {
		t.Fatalf("the example's billing names secret %q, secret roles %v: want one", billing.Secret, stacks.SecretRoles(cfg))
	}
	_, withSecret := stacks.MemberStatements(cfg, billing.Account)
	billing.Secret = ""
	if r := stacks.SecretRoles(cfg); len(r) != 0 {
		t.Errorf("secretchange may assume %v though no member app names a secret", r)
	}
	for _, r := range stacks.ForwardedRules(cfg, billing.Place()) {
		if r.Function == route.SecretChange {
			t.Errorf("forwards %s for secretchange though billing names no secret: %v", r.Name, r.Pattern)
		}
	}
	_, without := stacks.MemberStatements(cfg, billing.Account)
	actions := func(sts []stacks.Statement) []string {
		var out []string
		for _, st := range sts {
			out = append(out, st.Actions...)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	// secretchange's reads and publish are the release steps' own.
	if a, b := actions(withSecret), actions(without); !slices.Equal(a, b) {
		t.Errorf("member role actions with a secret %v, without %v", a, b)
	}
}
