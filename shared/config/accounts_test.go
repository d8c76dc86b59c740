package config

import (
	"os"
	"strings"
	"testing"
)

const (
	homeAccount   = "111122223333"
	memberAccount = "444455556666"
	memberRole    = "arn:aws:iam::444455556666:role/kaizen-member"
)

// multiAccount is examples/kaizen-multiaccount.json: shop in the home
// account, billing in a member account reached through roleArn.
func multiAccount(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/kaizen-multiaccount.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// member returns the multi-account file with edit applied to the text of
// the member app only (apps[1]).
func member(t *testing.T, edit func(app string) string) []byte {
	t.Helper()
	s := multiAccount(t)
	i := strings.Index(s, `"name": "billing"`)
	if i < 0 {
		t.Fatal("no billing app in examples/kaizen-multiaccount.json")
	}
	return []byte(s[:i] + edit(s[i:]))
}

func TestMemberAppLivesInTheRolesAccount(t *testing.T) {
	f, err := Parse([]byte(multiAccount(t)))
	if err != nil {
		t.Fatal(err)
	}
	shop, _ := f.App("shop")
	billing, _ := f.App("billing")
	if got := shop.Place(); got != (Place{homeAccount, "eu-west-1"}) {
		t.Errorf("shop lives in %v, want the home account and region", got)
	}
	if got := billing.Place(); got != (Place{memberAccount, "eu-west-1"}) {
		t.Errorf("billing lives in %v, want the role's account %s", got, memberAccount)
	}
	if !billing.Remote() || shop.Remote() {
		t.Errorf("Remote: billing %v, shop %v; want true, false", billing.Remote(), shop.Remote())
	}
	if got := f.Members(); len(got) != 1 || got[0] != memberAccount {
		t.Errorf("Members() = %v, want [%s]", got, memberAccount)
	}
	if got := f.Places(); len(got) != 2 || got[0] != f.Home() {
		t.Errorf("Places() = %v, want the home first and the member", got)
	}
	if got := f.AppsIn(memberAccount); len(got) != 1 || got[0].Name != "billing" {
		t.Errorf("AppsIn(member) = %v, want billing", got)
	}
}

func TestMemberRegionDefaultsToTheFiles(t *testing.T) {
	b := member(t, func(app string) string {
		return strings.ReplaceAll(strings.Replace(app, `"roleArn"`, `"region": "eu-central-1", "roleArn"`, 1), ":eu-west-1:", ":eu-central-1:")
	})
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	billing, _ := f.App("billing")
	if billing.Region != "eu-central-1" {
		t.Errorf("billing region %q, want eu-central-1", billing.Region)
	}
	if shop, _ := f.App("shop"); shop.Region != "eu-west-1" {
		t.Errorf("shop region %q, want the file's eu-west-1", shop.Region)
	}
}

func TestAccountsRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(app string) string
		// want are substrings of one error: the field and what it says.
		want []string
	}{
		{"wildcard role", func(a string) string {
			return strings.Replace(a, "role/kaizen-member", "role/kaizen-*", 1)
		}, []string{"apps[1].roleArn: must name one role, not a wildcard"}},
		{"instance profile, not a role", func(a string) string {
			return strings.Replace(a, "role/kaizen-member", "instance-profile/kaizen-member", 1)
		}, []string{"apps[1].roleArn: must be an IAM role ARN"}},
		{"role account not 12 digits", func(a string) string {
			return strings.Replace(a, "iam::444455556666:role", "iam::4444:role", 1)
		}, []string{"apps[1].roleArn: must be an IAM role ARN"}},
		{"bad region", func(a string) string {
			return strings.Replace(a, `"roleArn"`, `"region": "Europe", "roleArn"`, 1)
		}, []string{"apps[1].region: must be an AWS region"}},
		{"listener in the home account", func(a string) string {
			return strings.Replace(a, "eu-west-1:444455556666:listener/", "eu-west-1:111122223333:listener/", 1)
		}, []string{"apps[1].listenerArn:", "account 444455556666", "apps[1].roleArn"}},
		{"target group in a third account", func(a string) string {
			return strings.Replace(a, "444455556666:targetgroup/billing-green", "777788889999:targetgroup/billing-green", 1)
		}, []string{"apps[1].green.targetGroupArn:", "account 444455556666", "apps[1].roleArn"}},
		{"region set, ARNs in the file's region", func(a string) string {
			return strings.Replace(a, `"roleArn"`, `"region": "eu-central-1", "roleArn"`, 1)
		}, []string{"apps[1].listenerArn:", "region eu-central-1", "apps[1].roleArn and apps[1].region"}},
		{"member app without roleArn", func(a string) string {
			return strings.Replace(a, `"roleArn": "arn:aws:iam::444455556666:role/kaizen-member",`, "", 1)
		}, []string{"apps[1].listenerArn:", "account 111122223333", "needs roleArn"}},
		{"secret in the home account", func(a string) string {
			return strings.Replace(a, "secretsmanager:eu-west-1:444455556666", "secretsmanager:eu-west-1:111122223333", 1)
		}, []string{"apps[1].secret:", "account 444455556666"}},
		{"topic in the home account", func(a string) string {
			return strings.Replace(a, "sns:eu-west-1:444455556666", "sns:eu-west-1:111122223333", 1)
		}, []string{"apps[1].topicArn:", "account 444455556666"}},
		{"instance role of the home account", func(a string) string {
			return strings.Replace(a, "iam::444455556666:role/billing-instance", "iam::111122223333:role/billing-instance", 1)
		}, []string{"apps[1].instanceRoleArn:", "account 444455556666", "apps[1].roleArn"}},
		{"names reused in one account", func(a string) string {
			return strings.ReplaceAll(strings.ReplaceAll(a, "billing-blue\"", "billing-green\""), "billing-5xx-rate", "billing-p99-latency")
		}, []string{"apps[1].green.asg:", "already apps[1].blue.asg"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(member(t, c.edit))
			if err == nil {
				t.Fatal("accepted")
			}
			found := false
			for _, line := range strings.Split(err.Error(), "\n") {
				all := true
				for _, w := range c.want {
					all = all && strings.Contains(line, w)
				}
				found = found || all
			}
			if !found {
				t.Errorf("no error has all of %q:\n%v", c.want, err)
			}
		})
	}
}

// Apps in different accounts may reuse names (groups, templates, alarms,
// approval actions, image tags): each account has its own.
func TestAppsInDifferentAccountsReuseNames(t *testing.T) {
	same := member(t, func(a string) string {
		for _, r := range [][2]string{
			{"billing-blue\"", "shop-blue\""}, {"billing-green\"", "shop-green\""},
			{"lt-0b1e0000000000011", "lt-0b1e0000000000001"}, {"lt-06e0000000000012", "lt-06e0000000000002"},
			{"billing-5xx-rate", "shop-5xx-rate"}, {"billing-release", "shop-release"},
			{`"name": "billing",`, `"name": "billing", "imageTag": {"key": "kaizen:app", "value": "shop"},`},
		} {
			if !strings.Contains(a, r[0]) {
				t.Fatalf("the member app has no %s", r[0])
			}
			a = strings.ReplaceAll(a, r[0], r[1])
		}
		return a
	})
	if _, err := Parse(same); err != nil {
		t.Fatalf("names reused across accounts refused: %v", err)
	}
	// The same names in one account are refused, every one of them.
	home := strings.ReplaceAll(strings.ReplaceAll(string(same), `"roleArn": "arn:aws:iam::444455556666:role/kaizen-member",`, ""), "444455556666", "111122223333")
	_, err := Parse([]byte(home))
	if err == nil {
		t.Fatal("the same names in one account accepted")
	}
	for _, f := range []string{"apps[1].blue.asg", "apps[1].blue.launchTemplateId", "apps[1].alarms[0].name", "apps[1].approval", "apps[1].imageTag"} {
		if !strings.Contains(err.Error(), f+":") {
			t.Errorf("no error names %s:\n%v", f, err)
		}
	}
}
