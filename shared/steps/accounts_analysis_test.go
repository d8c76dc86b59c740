package steps_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kaizen-sre/kaizen/shared/analysis"
	cwanalysis "github.com/kaizen-sre/kaizen/shared/analysis/cloudwatch"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/steps"
)

// twoAccountsAnalysis is twoAccounts with metric analysis on billing (the
// member's app, in weighted steps) and CloudWatch clients in every fleet,
// signed as the rest: home's with the function's own credentials, the
// member's with the assumed role's.
func twoAccountsAnalysis(t *testing.T) *twoAccounts {
	t.Helper()
	w := newTwoAccounts(t)
	w.billing.WeightSteps, w.billing.StepMinutes = []int{10, 50, 100}, 10
	w.billing.Analysis = &config.Analysis{}
	if err := w.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clouds := map[string]*sim.Cloud{w.cfg.Account: w.home, w.billing.Account: w.member}
	homeCreds := credentials.NewStaticCredentialsProvider(homeAccessKey, "home-secret", "")
	w.accounts = &cloud.Accounts{
		Home: w.cfg.Home(), STS: w.sts, Session: cloud.SessionName("test"),
		New: func(p config.Place, creds aws.CredentialsProvider) *cloud.Fleet {
			if creds == nil {
				creds = homeCreds
			}
			s := clouds[p.Account].As(creds, w.sts)
			return &cloud.Fleet{EC2: s.EC2(), ASG: s.AutoScaling(), ELB: s.ELBv2(), SNS: s.SNS(), CW: s.CloudWatch(), Attempts: 3, Versions: &cloud.VersionCache{}}
		},
	}
	w.deps.Fleet, w.deps.Fleets = w.accounts.FleetFor(w.shop), w.accounts
	// As stepmain wires it: one CloudWatch provider over home's client.
	w.deps.Providers = steps.Providers{config.ProviderCloudWatch: &cwanalysis.Provider{API: w.home.As(homeCreds, w.sts).CloudWatch()}}
	w.member.MetricsSeed(7)
	w.home.MetricsSeed(7)
	return w
}

func countOp(calls []sim.Call, op sim.Op) int {
	n := 0
	for _, c := range calls {
		if c.Op == string(op) {
			n++
		}
	}
	return n
}

// A member app's bad AMI is caught by analysis reading the member
// account's metrics, through the role the member lends (assumed once),
// in one GetMetricData call a tick; the home account is never asked for
// them.
func TestAnalysisReadsMemberAccountMetrics(t *testing.T) {
	w := twoAccountsAnalysis(t)
	b := w.billing
	ami := w.member.NewAMI(b, "billing-golden-bad", "exec-1")
	w.member.BadAMI(ami, 4)
	w.send(route.Stage, w.memEv.AMI(ami, "available", w.home.Now()))
	w.advance(10 * time.Minute)
	if st := w.billingState(); st != release.PreviewReady {
		t.Fatalf("billing after the preview's health: %q, want preview_ready", st)
	}
	w.send(route.Promote, w.memEv.Approval(b.Approval.Pipeline, b.Approval.Stage, b.Approval.Action, "exec-1", "STARTED", w.home.Now()))
	w.send(route.Promote, w.memEv.Approval(b.Approval.Pipeline, b.Approval.Stage, b.Approval.Action, "exec-1", "SUCCEEDED", w.home.Now()))

	var weight int
	for i := 0; i < 30 && w.state(b).Active != nil; i++ {
		if r := w.state(b).Active; r.State == release.Shifting {
			weight = r.Weight
		}
		before := countOp(w.member.Calls(), sim.OpGetMetricData)
		w.advance(time.Minute)
		if got := countOp(w.member.Calls(), sim.OpGetMetricData) - before; got > 1 {
			t.Fatalf("a tick made %d GetMetricData calls in the member account, want at most 1", got)
		}
	}
	h, err := w.store.History(t.Context(), b.Name)
	if err != nil || len(h) == 0 {
		t.Fatalf("billing's history: %v (%d releases)", err, len(h))
	}
	r := h[len(h)-1]
	if r.State != release.RolledBack || r.Analysis == nil || r.Analysis.Latest.Outcome != analysis.Fail {
		t.Fatalf("billing's bad AMI ended %s with analysis %+v, want rolled back by a failing verdict", r.State, r.Analysis)
	}
	if weight != 10 {
		t.Fatalf("stopped at %d%%, want at the first weighted step (10%%)", weight)
	}
	if live := w.observe(b).Live(); live != config.Blue {
		t.Fatalf("after the rollback the member's listener serves %s, want blue", live)
	}

	// The metrics were the member's, read with the member's role.
	n := 0
	for _, c := range w.member.Calls() {
		if c.Op != string(sim.OpGetMetricData) {
			continue
		}
		n++
		if c.Principal != b.RoleARN {
			t.Fatalf("GetMetricData in the member account signed by %q, want the assumed role %s", c.Principal, b.RoleARN)
		}
	}
	if n == 0 {
		t.Fatal("no GetMetricData reached the member account")
	}
	if got := countOp(w.home.Calls(), sim.OpGetMetricData); got != 0 {
		t.Fatalf("the home account answered %d GetMetricData calls for billing, want none", got)
	}
	if assumed := w.sts.Assumed(); len(assumed) != 1 {
		t.Fatalf("AssumeRole calls = %+v, want one: the metrics reuse the fleet's cached credentials", assumed)
	}
	if !strings.Contains(r.Analysis.Latest.Summary(), "error-ratio") {
		t.Fatalf("the verdict does not name the failing metric: %s", r.Analysis.Latest.Summary())
	}
	t.Logf("billing (member account) stopped at %d%%: %s; %d GetMetricData calls in the member account", weight, r.Analysis.Latest.Summary(), n)
}

// Without a CloudWatch client for the member's place the member app's
// verdict is inconclusive and says why; home's client is never asked in
// its stead.
func TestAnalysisMemberWithoutMetricsClientIsInconclusive(t *testing.T) {
	w := twoAccountsAnalysis(t)
	newFleet := w.accounts.New
	w.accounts = &cloud.Accounts{Home: w.cfg.Home(), STS: w.sts, Session: cloud.SessionName("test"),
		New: func(p config.Place, creds aws.CredentialsProvider) *cloud.Fleet {
			f := newFleet(p, creds)
			if p.Account != w.cfg.Account {
				f.CW = nil
			}
			return f
		}}
	w.deps.Fleet, w.deps.Fleets = w.accounts.FleetFor(w.shop), w.accounts
	b := w.billing
	ami := w.member.NewAMI(b, "billing-golden-1", "exec-1")
	w.send(route.Stage, w.memEv.AMI(ami, "available", w.home.Now()))
	w.advance(2 * time.Minute)
	v, ok := w.deps.Analyze(t.Context(), b, w.state(b), 0)
	if !ok || v == nil {
		t.Fatal("no verdict for billing's preview")
	}
	if v.Outcome != analysis.Inconclusive || !strings.Contains(v.Error, "cannot read CloudWatch metrics") || !strings.Contains(v.Error, b.Account) {
		t.Fatalf("verdict %s %q, want inconclusive naming the member's place", v.Outcome, v.Error)
	}
	if got := countOp(w.home.Calls(), sim.OpGetMetricData); got != 0 {
		t.Fatalf("home answered %d GetMetricData calls for billing", got)
	}
}
