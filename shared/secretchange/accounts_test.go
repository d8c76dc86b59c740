package secretchange_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/secretchange"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// sameName is the secret name both apps use, each in its own account: a
// name is unique only within an account and region.
const sameName = "app/production"

// twoAccounts is kaizen at home with shop, and billing in a member
// account reached through its role (examples/kaizen-multiaccount.json),
// both apps naming a secret "app/production" of their own account. Each
// account is its own simulated cloud; the fleets' calls are signed and
// each cloud records who signed them.
type twoAccounts struct {
	cfg              *config.File
	shop, billing    *config.App
	home, member     *sim.Cloud
	sts              *sim.STS
	handler          *secretchange.Handler
	shopAMI, billAMI string
	homeEv, memEv    route.Maker
	foreign          route.Maker
}

const homeKey = "AKIAHOMEFUNCTIONROLE"

func newTwoAccounts(t *testing.T) *twoAccounts {
	t.Helper()
	cfg, err := config.Load("../../examples/kaizen-multiaccount.json")
	if err != nil {
		t.Fatal(err)
	}
	w := &twoAccounts{cfg: cfg, sts: sim.NewSTS()}
	w.shop, _ = cfg.App("shop")
	w.billing, _ = cfg.App("billing")
	if w.billing == nil || !w.billing.Remote() || w.billing.Account == cfg.Account {
		t.Fatal("examples/kaizen-multiaccount.json: billing must live in a member account, through roleArn")
	}
	w.shop.Secret, w.billing.Secret = sameName, sameName
	if err := cfg.Validate(); err != nil {
		t.Fatalf("both apps naming %s: %v", sameName, err)
	}
	w.home, w.member = sim.New(t0), sim.New(t0)
	w.home.Account, w.home.Region = cfg.Account, cfg.Region
	w.member.Account, w.member.Region = w.billing.Account, w.billing.Region
	w.shopAMI = w.home.SeedApp(w.shop)
	w.billAMI = w.member.SeedApp(w.billing)
	// The golden-image build is central: billing's project is kaizen's.
	w.home.AddProject(w.billing.Rebuild.CodeBuildProject)
	w.sts.Trust(w.billing.RoleARN) // the member stack's role trusts kaizen

	clouds := map[string]*sim.Cloud{cfg.Account: w.home, w.billing.Account: w.member}
	homeCreds := credentials.NewStaticCredentialsProvider(homeKey, "home-secret", "")
	accounts := &cloud.Accounts{
		Home: cfg.Home(), STS: w.sts, Session: cloud.SessionName(route.SecretChange),
		New: func(p config.Place, creds aws.CredentialsProvider) *cloud.Fleet {
			c := clouds[p.Account]
			if c == nil {
				t.Fatalf("no simulated account %s", p.Account)
			}
			if creds == nil {
				creds = homeCreds
			}
			s := c.As(creds, w.sts)
			return &cloud.Fleet{EC2: s.EC2(), ASG: s.AutoScaling(), ELB: s.ELBv2(), SNS: s.SNS(), Attempts: 1}
		},
	}
	events := store.NewMemory()
	placed := cloud.Placed{Fleets: accounts}
	w.handler = &secretchange.Handler{
		Config:    cfg,
		Rebuilder: &rebuild.Builder{CodeBuild: w.home.CodeBuild(), CodePipeline: w.home.CodePipeline()},
		Notifier:  placed,
		Images:    placed,
		Store:     events,
		Changes:   events,
		Now:       w.home.Now,
		Log:       slog.New(slog.DiscardHandler),
	}
	seq := 0
	next := func() string { seq++; return fmt.Sprintf("ev-%04d", seq) }
	w.homeEv = route.Maker{Account: cfg.Account, Region: cfg.Region, Next: next}
	w.memEv = route.Maker{Account: w.billing.Account, Region: w.billing.Region, Next: next}
	w.foreign = route.Maker{Account: "999988887777", Region: w.billing.Region, Next: next}
	return w
}

// put is a PutSecretValue of secret, recorded in mk's account and region.
func put(mk route.Maker, secret, version string) []byte {
	return mk.Make(route.SourceSecretsManager, route.TypeCloudTrailAPICall, t0, nil, map[string]any{
		"eventVersion": "1.08", "eventSource": route.SecretsManagerEventSrc, "eventName": "PutSecretValue", "awsRegion": mk.Region,
		"requestParameters": map[string]any{"secretId": secret, "secretString": hidden},
		"responseElements": map[string]any{
			"arn":       "arn:aws:secretsmanager:" + mk.Region + ":" + mk.Account + ":secret:" + sameName + "-AbCdEf",
			"versionId": version,
		},
	})
}

func (w *twoAccounts) handle(t *testing.T, raw []byte) []secretchange.Outcome {
	t.Helper()
	outs, err := w.handler.Handle(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// builds counts the builds started per project in c.
func builds(c *sim.Cloud) map[string]int {
	out := map[string]int{}
	for _, b := range c.Builds() {
		out[b.Project]++
	}
	return out
}

func published(c *sim.Cloud, topic string) []sim.Published {
	var out []sim.Published
	for _, p := range c.Published() {
		if p.Topic == topic {
			out = append(out, p)
		}
	}
	return out
}

func TestMemberAccountSecretChange(t *testing.T) {
	w := newTwoAccounts(t)
	memberARN := fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-AbCdEf", w.billing.Region, w.billing.Account, sameName)

	// The member's secret changes: billing's image is rebuilt (in
	// kaizen's account), and the notice, published to billing's topic in
	// its account, names billing's live image, read through the role.
	outs := w.handle(t, put(w.memEv, memberARN, "v2"))
	if len(outs) != 1 || outs[0].App != "billing" || outs[0].BuildID == "" || !outs[0].Notified {
		t.Fatalf("member change: outcomes %+v, want billing rebuilt and notified", outs)
	}
	if got := builds(w.home); !maps.Equal(got, map[string]int{w.billing.Rebuild.CodeBuildProject: 1}) {
		t.Fatalf("home builds %v, want one of %s", got, w.billing.Rebuild.CodeBuildProject)
	}
	if got := builds(w.member); len(got) != 0 {
		t.Fatalf("builds started in the member account: %v", got)
	}
	if c := outs[0].Carrying; len(c) != 1 || c[0].Image.ID != w.billAMI || c[0].Role != "live" {
		t.Fatalf("carrying %+v, want billing's live %s", c, w.billAMI)
	}
	notices := published(w.member, w.billing.TopicARN)
	if len(notices) != 1 || !strings.Contains(notices[0].Message, "- blue (live): AMI "+w.billAMI) || !strings.Contains(notices[0].Message, "App: billing") {
		t.Fatalf("billing's notices in its account: %+v", notices)
	}
	if len(w.home.Published()) != 0 {
		t.Fatalf("published at home: %+v", w.home.Published())
	}
	var reads int
	for _, c := range w.member.Calls() {
		if c.Principal != w.billing.RoleARN {
			t.Fatalf("%s %s in the member account signed by %q, want the role %s", c.Service, c.Op, c.Principal, w.billing.RoleARN)
		}
		if c.Mutating && c.Op != "Publish" {
			t.Fatalf("secretchange changed the member account: %s %s", c.Service, c.Op)
		}
		if strings.HasPrefix(c.Op, "Describe") {
			reads++
		}
		in, _ := json.Marshal(c.Input)
		if strings.Contains(string(in), "shop") {
			t.Fatalf("member account call %s %s names shop: %s", c.Service, c.Op, in)
		}
	}
	if reads == 0 {
		t.Fatal("billing's images were not read in the member account")
	}
	for _, c := range w.home.Calls() {
		if c.Principal == w.billing.RoleARN {
			t.Fatalf("home call %s %s signed by the member role", c.Service, c.Op)
		}
	}

	// The same name changed at home: shop only. A home ARN sent from the
	// member account, and the member's ARN from home, reach nobody.
	memberCalls := len(w.member.Calls())
	outs = w.handle(t, put(w.homeEv, sameName, "v7"))
	if len(outs) != 1 || outs[0].App != "shop" || outs[0].BuildID == "" {
		t.Fatalf("home change: outcomes %+v, want shop rebuilt", outs)
	}
	if c := outs[0].Carrying; len(c) != 1 || c[0].Image.ID != w.shopAMI {
		t.Fatalf("home change: carrying %+v, want shop's %s", c, w.shopAMI)
	}
	homeARN := fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-AbCdEf", w.cfg.Region, w.cfg.Account, sameName)
	for name, raw := range map[string][]byte{
		"home ARN from the member": put(w.memEv, homeARN, "v8"),
		"member ARN from home":     put(w.homeEv, memberARN, "v9"),
		"unconfigured account":     put(w.foreign, sameName, "v10"),
		"unconfigured account ARN": put(w.foreign, strings.Replace(memberARN, w.billing.Account, w.foreign.Account, 1), "v11"),
	} {
		if outs := w.handle(t, raw); len(outs) != 0 {
			t.Errorf("%s: outcomes %+v, want none", name, outs)
		}
	}
	want := map[string]int{w.billing.Rebuild.CodeBuildProject: 1, w.shop.Rebuild.CodeBuildProject: 1}
	if got := builds(w.home); !maps.Equal(got, want) {
		t.Fatalf("home builds %v, want %v", got, want)
	}
	if n := len(w.member.Calls()); n != memberCalls {
		t.Fatalf("events for home touched the member account: %d calls after %d", n, memberCalls)
	}
	if n := len(published(w.member, w.billing.TopicARN)); n != 1 {
		t.Fatalf("billing notified %d times, want once", n)
	}

	// Another member change reuses the assumed role: one AssumeRole for
	// the container's life.
	w.home.FinishBuild(w.home.Builds()[0].ID, "SUCCEEDED")
	outs = w.handle(t, put(w.memEv, sameName, "v3"))
	if len(outs) != 1 || outs[0].App != "billing" || outs[0].BuildID == "" {
		t.Fatalf("second member change: outcomes %+v", outs)
	}
	if a := w.sts.Assumed(); len(a) != 1 || a[0].RoleARN != w.billing.RoleARN || a[0].Session != "kaizen-secretchange" {
		t.Fatalf("AssumeRole calls %+v, want one of %s as kaizen-secretchange", a, w.billing.RoleARN)
	}
}

// Matches takes an event only from where the app lives.
func TestMatchesIsPlaceAware(t *testing.T) {
	w := newTwoAccounts(t)
	home, member := w.cfg.Home(), w.billing.Place()
	memberARN := fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-AbCdEf", member.Region, member.Account, sameName)
	homeARN := fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-AbCdEf", home.Region, home.Account, sameName)
	for _, tc := range []struct {
		app  *config.App
		from config.Place
		got  string
		want bool
	}{
		{w.billing, member, sameName, true},
		{w.billing, member, memberARN, true},
		{w.billing, member, homeARN, false},
		{w.billing, home, sameName, false},
		{w.billing, home, memberARN, false},
		{w.billing, config.Place{Account: member.Account, Region: "us-east-1"}, sameName, false},
		{w.shop, home, sameName, true},
		{w.shop, home, homeARN, true},
		{w.shop, home, memberARN, false},
		{w.shop, member, sameName, false},
		{w.shop, member, homeARN, false},
	} {
		if got := secretchange.Matches(w.cfg, tc.app, tc.from, tc.got); got != tc.want {
			t.Errorf("Matches(%s, from %s, %q) = %v, want %v", tc.app.Name, tc.from, tc.got, got, tc.want)
		}
	}
}
