package steps_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// twoAccounts is kaizen in its home account with shop, and billing in a
// member account, reached through the role the member lends kaizen
// (examples/kaizen-multiaccount.json). Each account is its own simulated
// cloud; every call is signed, as the SDK signs it, and each cloud records
// who signed it.
type twoAccounts struct {
	t             *testing.T
	cfg           *config.File
	shop, billing *config.App
	home, member  *sim.Cloud
	sts           *sim.STS
	accounts      *cloud.Accounts
	store         store.Store
	deps          *steps.Reconciler
	homeEv, memEv route.Maker
	foreign       route.Maker
	homeKey       string
	seq           int
}

const homeAccessKey = "AKIAHOMEFUNCTIONROLE"

func newTwoAccounts(t *testing.T) *twoAccounts {
	t.Helper()
	cfg, err := config.Load("../../examples/kaizen-multiaccount.json")
	if err != nil {
		t.Fatal(err)
	}
	w := &twoAccounts{t: t, cfg: cfg, store: store.NewMemory(), sts: sim.NewSTS(), homeKey: homeAccessKey}
	w.shop, _ = cfg.App("shop")
	w.billing, _ = cfg.App("billing")
	if w.billing == nil || !w.billing.Remote() || w.billing.Account == cfg.Account {
		t.Fatal("examples/kaizen-multiaccount.json: billing must live in a member account, through roleArn")
	}
	w.home, w.member = sim.New(t0), sim.New(t0)
	w.home.Account, w.home.Region = cfg.Account, cfg.Region
	w.member.Account, w.member.Region = w.billing.Account, w.billing.Region
	w.home.SeedApp(w.shop)
	w.member.SeedApp(w.billing)
	w.home.Reset()
	w.member.Reset()
	w.sts.Trust(w.billing.RoleARN) // the member stack's role trusts kaizen

	clouds := map[string]*sim.Cloud{cfg.Account: w.home, w.billing.Account: w.member}
	homeCreds := credentials.NewStaticCredentialsProvider(homeAccessKey, "home-secret", "")
	w.accounts = &cloud.Accounts{
		Home: cfg.Home(), STS: w.sts, Session: cloud.SessionName("test"),
		New: func(p config.Place, creds aws.CredentialsProvider) *cloud.Fleet {
			c := clouds[p.Account]
			if c == nil {
				t.Fatalf("no simulated account %s", p.Account)
			}
			if creds == nil {
				creds = homeCreds
			}
			s := c.As(creds, w.sts)
			return &cloud.Fleet{EC2: s.EC2(), ASG: s.AutoScaling(), ELB: s.ELBv2(), SNS: s.SNS(), Attempts: 3, Versions: &cloud.VersionCache{}}
		},
	}
	w.deps = &steps.Reconciler{
		Config: cfg, Fleet: w.accounts.FleetFor(w.shop), Fleets: w.accounts, Store: w.store,
		Now: w.home.Now, Log: slog.New(slog.DiscardHandler),
	}
	next := func() string { w.seq++; return fmt.Sprintf("ev-%04d", w.seq) }
	w.homeEv = route.Maker{Account: cfg.Account, Region: cfg.Region, Next: next}
	w.memEv = route.Maker{Account: w.billing.Account, Region: w.billing.Region, Next: next}
	w.foreign = route.Maker{Account: "999988887777", Region: w.billing.Region, Next: next}
	return w
}

// send runs an event, then checks every invariant of both apps.
func (w *twoAccounts) send(function string, raw []byte) []steps.Outcome {
	w.t.Helper()
	outs, err := w.deps.Handle(context.Background(), function, raw)
	if err != nil {
		w.t.Fatalf("%s: %v", function, err)
	}
	for _, o := range outs {
		if o.Plan.Bug != "" {
			w.t.Fatalf("%s: %s", function, o.Plan.Bug)
		}
	}
	for _, a := range []*config.App{w.shop, w.billing} {
		if errs := release.Check(a, w.state(a), w.observe(a)); len(errs) > 0 {
			w.t.Fatalf("after %s: %s: %v", function, a.Name, errs)
		}
	}
	return outs
}

func (w *twoAccounts) state(a *config.App) release.AppState {
	w.t.Helper()
	st, err := w.store.Load(context.Background(), a.Name)
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func (w *twoAccounts) observe(a *config.App) release.Observed {
	w.t.Helper()
	obs, err := w.accounts.FleetFor(a).Observe(context.Background(), a)
	if err != nil {
		w.t.Fatalf("observe %s: %v", a.Name, err)
	}
	return obs
}

// advance moves both accounts' clocks, ticking every minute (the
// schedule is the home account's).
func (w *twoAccounts) advance(d time.Duration) {
	w.t.Helper()
	for end := w.home.Now().Add(d); w.home.Now().Before(end); {
		w.home.Advance(time.Minute)
		w.member.Advance(time.Minute)
		w.send(route.Tick, w.homeEv.Schedule("kaizen-tick", w.home.Now()))
	}
}

func (w *twoAccounts) billingState() release.State {
	w.t.Helper()
	if r := w.state(w.billing).Active; r != nil {
		return r.State
	}
	return ""
}

// A release in a member account, driven by the events the member's rules
// forward to the central bus (their envelope names the member account),
// with every call to the member made through the assumed role, and none
// of them in the home account.
func TestReleaseInMemberAccount(t *testing.T) {
	w := newTwoAccounts(t)
	b := w.billing

	// The member's image build finished: its AMI event, forwarded.
	ami := w.member.NewAMI(b, "billing-golden-1", "exec-1")
	outs := w.send(route.Stage, w.memEv.AMI(ami, "available", w.home.Now()))
	if len(outs) != 1 || outs[0].App != b.Name {
		t.Fatalf("the member's AMI event ran %d steps (%v), want billing's only", len(outs), outs)
	}
	if st := w.billingState(); st != release.Staged {
		t.Fatalf("billing after its AMI: %q, want staged", st)
	}
	if w.state(w.shop).Active != nil {
		t.Fatal("the member's AMI event staged shop, an app of the home account")
	}
	w.advance(10 * time.Minute)
	if st := w.billingState(); st != release.PreviewReady {
		t.Fatalf("billing after the preview's health: %q, want preview_ready", st)
	}

	// The member's approval action, forwarded.
	w.send(route.Promote, w.memEv.Approval(b.Approval.Pipeline, b.Approval.Stage, b.Approval.Action, "exec-1", "STARTED", w.home.Now()))
	w.send(route.Promote, w.memEv.Approval(b.Approval.Pipeline, b.Approval.Stage, b.Approval.Action, "exec-1", "SUCCEEDED", w.home.Now()))
	w.advance(15 * time.Minute)
	if st := w.billingState(); st != release.Baking {
		t.Fatalf("billing after the approval: %q, want baking", st)
	}
	if live := w.observe(b).Live(); live != config.Green {
		t.Fatalf("the member's listener serves %s, want green", live)
	}

	// The member's guard alarm, forwarded: the public goes back.
	outs = w.send(route.Guard, w.memEv.Alarm("billing-5xx-rate", "ALARM", "OK", "5xx above 1%", w.home.Now()))
	if len(outs) != 1 || outs[0].App != b.Name || len(outs[0].Plan.Ended) != 1 || outs[0].Plan.Ended[0].State != release.RolledBack {
		t.Fatalf("billing's guard alarm: %+v, want billing's release rolled back", outs)
	}
	if live := w.observe(b).Live(); live != config.Blue {
		t.Fatalf("after the rollback the member's listener serves %s, want blue", live)
	}

	// Every call to the member went through the assumed role; kaizen
	// assumed it once (the credentials are cached), naming itself.
	mcalls := w.member.Calls()
	if len(mcalls) == 0 {
		t.Fatal("no calls reached the member account")
	}
	mutating := 0
	for _, c := range mcalls {
		if c.Principal != b.RoleARN {
			t.Fatalf("%s %s in the member account was signed by %q, want the assumed role %s", c.Service, c.Op, c.Principal, b.RoleARN)
		}
		if c.Mutating {
			mutating++
		}
	}
	if mutating == 0 {
		t.Fatal("no mutating call reached the member account")
	}
	assumed := w.sts.Assumed()
	if len(assumed) != 1 || assumed[0].RoleARN != b.RoleARN || assumed[0].Session != "kaizen-test" {
		t.Fatalf("AssumeRole calls = %+v, want one of %s with session kaizen-test", assumed, b.RoleARN)
	}
	// The home account saw none of them: only shop's own calls (the tick
	// keeps its idle color's processes suspended), signed by the
	// function's own role.
	for _, c := range w.home.Calls() {
		in, _ := json.Marshal(c.Input)
		if c.Principal != homeAccessKey || strings.Contains(string(in), "billing") {
			t.Fatalf("home account call %s %s by %q: %s", c.Service, c.Op, c.Principal, in)
		}
	}
}

// Events reach only the apps of the account and region they come from.
func TestEventsReachOnlyTheirAccountsApps(t *testing.T) {
	w := newTwoAccounts(t)
	b := w.billing
	ignored := func(name, function string, raw []byte) {
		t.Helper()
		before := len(w.home.Calls()) + len(w.member.Calls())
		if outs, err := w.deps.Handle(context.Background(), function, raw); err != nil || len(outs) != 0 {
			t.Fatalf("%s: ran %d steps (err %v), want none", name, len(outs), err)
		}
		if after := len(w.home.Calls()) + len(w.member.Calls()); after != before {
			t.Fatalf("%s: %d calls to AWS, want none", name, after-before)
		}
		if w.state(b).Active != nil || w.state(w.shop).Active != nil {
			t.Fatalf("%s: a release started", name)
		}
	}
	ami := w.member.NewAMI(b, "billing-golden-1", "")
	// Billing's AMI, approval and alarm from an account no app lives in.
	ignored("AMI from an unconfigured account", route.Stage, w.foreign.AMI(ami, "available", w.home.Now()))
	ignored("approval from an unconfigured account", route.Promote,
		w.foreign.Approval(b.Approval.Pipeline, b.Approval.Stage, b.Approval.Action, "exec-1", "SUCCEEDED", w.home.Now()))
	// Billing's approval action and alarm named in the home account.
	ignored("billing's approval from the home account", route.Promote,
		w.homeEv.Approval(b.Approval.Pipeline, b.Approval.Stage, b.Approval.Action, "exec-1", "SUCCEEDED", w.home.Now()))
	ignored("billing's alarm from the home account", route.Guard, w.homeEv.Alarm("billing-5xx-rate", "ALARM", "OK", "", w.home.Now()))
	// Shop's approval from the member account.
	s := w.shop
	ignored("shop's approval from the member account", route.Promote,
		w.memEv.Approval(s.Approval.Pipeline, s.Approval.Stage, s.Approval.Action, "exec-1", "SUCCEEDED", w.home.Now()))

	// An AMI of the member account tagged for shop never stages shop (shop
	// takes images of its own account and its image owners only).
	shopTagged := w.member.NewAMI(s, "shop-from-member", "")
	if outs := w.send(route.Stage, w.memEv.AMI(shopTagged, "available", w.home.Now())); len(outs) != 0 {
		t.Fatalf("the member's AMI tagged for shop ran %d steps", len(outs))
	}
	if w.state(s).Active != nil {
		t.Fatal("an AMI event of the member account staged shop")
	}
	for _, c := range w.home.Calls() {
		if c.Mutating {
			t.Fatalf("the home account changed: %s %s", c.Service, c.Op)
		}
	}
}

// A role the member does not lend kaizen stops at AssumeRole: nothing
// reaches the member account, and the step fails so Lambda retries.
func TestUntrustedRoleReachesNothing(t *testing.T) {
	w := newTwoAccounts(t)
	w.sts = sim.NewSTS() // trusts nothing
	w.accounts.STS = w.sts
	ami := w.member.NewAMI(w.billing, "billing-golden-1", "")
	_, err := w.deps.Handle(context.Background(), route.Stage, w.memEv.AMI(ami, "available", w.home.Now()))
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("stage with an untrusted role: err %v, want AccessDenied", err)
	}
	if n := len(w.member.Calls()); n != 0 {
		t.Fatalf("%d calls reached the member account without its role", n)
	}
}

// Warm assumes each member role once, at start-up; the steps after it
// reuse the cached credentials.
func TestWarmAssumesEachRoleOnce(t *testing.T) {
	w := newTwoAccounts(t)
	if err := w.accounts.Warm(context.Background(), w.cfg.Apps); err != nil {
		t.Fatal(err)
	}
	if got := w.sts.Assumed(); len(got) != 1 || got[0].RoleARN != w.billing.RoleARN {
		t.Fatalf("after Warm: AssumeRole calls %+v, want one of %s", got, w.billing.RoleARN)
	}
	if len(w.member.Calls()) != 0 {
		t.Fatal("Warm called the member account")
	}
	w.advance(2 * time.Minute)
	if got := w.sts.Assumed(); len(got) != 1 {
		t.Fatalf("ticks after Warm assumed the role again: %+v", got)
	}
	w.sts = sim.NewSTS()
	w.accounts.STS = w.sts
	if err := (&cloud.Accounts{Home: w.cfg.Home(), STS: w.sts, Session: "kaizen-test", New: w.accounts.New}).Warm(context.Background(), w.cfg.Apps); err == nil || !strings.Contains(err.Error(), w.billing.RoleARN) {
		t.Fatalf("Warm with an untrusted role: %v, want an error naming the role", err)
	}
}
