package secretchange_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/secretchange"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/store"
)

const (
	account  = "111122223333"
	region   = "eu-west-1"
	shopARN  = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/production-AbCdEf"
	blogARN  = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:blog/production-Zz9Yy8"
	shopSNS  = "arn:aws:sns:eu-west-1:111122223333:kaizen-shop"
	blogSNS  = "arn:aws:sns:eu-west-1:111122223333:kaizen-blog"
	apiCall  = "AWS API Call via CloudTrail"
	svcEvent = "AWS Service Event via CloudTrail"
	// hidden is what CloudTrail writes in place of a value; it must never
	// reach a message.
	hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"
)

var t0 = time.Date(2026, 11, 24, 9, 5, 0, 0, time.UTC)

func testConfig() *config.File {
	return &config.File{Account: account, Region: region, Apps: []config.App{
		{Name: "shop", Secret: shopARN, TopicARN: shopSNS, Rebuild: config.Rebuild{CodeBuildProject: "shop-golden-ami"}},
		{Name: "blog", Secret: "blog/production", TopicARN: blogSNS, Rebuild: config.Rebuild{Pipeline: "blog-image", PipelineVariable: "SECURITY_ADVISORIES"}},
		{Name: "static"}, // no secret
	}}
}

type rig struct {
	cloud   *sim.Cloud
	events  *store.Memory
	handler *secretchange.Handler
}

func newRig(cfg *config.File) *rig {
	c := sim.New(t0)
	for i := range cfg.Apps {
		c.SeedServices(&cfg.Apps[i]) // their topics, projects and pipelines
	}
	r := &rig{cloud: c, events: store.NewMemory()}
	r.handler = &secretchange.Handler{
		Config:    cfg,
		Rebuilder: &rebuild.Builder{CodeBuild: c.CodeBuild(), CodePipeline: c.CodePipeline()},
		Notifier:  &cloud.Fleet{SNS: c.SNS(), Attempts: 1},
		Store:     r.events,
		Now:       c.Now,
		Log:       slog.New(slog.DiscardHandler),
	}
	return r
}

// ev builds an EventBridge event; detail is marshalled unless it is a
// json.RawMessage.
func ev(id, source, detailType, acct, reg string, detail any) []byte {
	raw, ok := detail.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(detail); err != nil {
			panic(err)
		}
	}
	b, err := json.Marshal(map[string]any{
		"version": "0", "id": id, "detail-type": detailType, "source": source,
		"account": acct, "time": t0.Format(time.RFC3339), "region": reg, "resources": []string{}, "detail": raw,
	})
	if err != nil {
		panic(err)
	}
	return b
}

type m = map[string]any

// trail is a CloudTrail detail of a Secrets Manager call.
func trail(name string, req, resp any, extra m) m {
	d := m{
		"eventVersion": "1.08", "eventSource": "secretsmanager.amazonaws.com", "eventName": name, "awsRegion": region,
		"requestParameters": req, "responseElements": resp,
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

func TestHandle(t *testing.T) {
	put := func(secretID string) m {
		return m{"secretId": secretID, "clientRequestToken": "tok-1", "secretString": hidden}
	}
	for _, tc := range []struct {
		name      string
		event     []byte
		malformed bool
		builds    map[string]int // CodeBuild project or pipeline → starts
	}{
		{name: "PutSecretValue by ARN",
			event:  ev("e-put-arn", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", put(shopARN), m{"arn": shopARN, "versionId": "v2"}, nil)),
			builds: map[string]int{"shop-golden-ami": 1}},
		{name: "UpdateSecret by name, configured ARN",
			event:  ev("e-upd-name", "aws.secretsmanager", apiCall, account, region, trail("UpdateSecret", put("shop/production"), m{"arn": shopARN, "name": "shop/production"}, nil)),
			builds: map[string]int{"shop-golden-ami": 1}},
		{name: "UpdateSecret by name, configured name, pipeline",
			event:  ev("e-upd-blog", "aws.secretsmanager", apiCall, account, region, trail("UpdateSecret", put("blog/production"), nil, nil)),
			builds: map[string]int{"blog-image": 1}},
		{name: "partial ARN",
			event:  ev("e-partial", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", put("arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/production"), nil, nil)),
			builds: map[string]int{"shop-golden-ami": 1}},
		{name: "RotationSucceeded, additionalEventData",
			event:  ev("e-rot", "aws.secretsmanager", svcEvent, account, region, trail("RotationSucceeded", nil, nil, m{"additionalEventData": m{"SecretId": blogARN}, "eventType": "AwsServiceEvent"})),
			builds: map[string]int{"blog-image": 1}},
		{name: "RotationSucceeded, serviceEventDetails",
			event:  ev("e-rot2", "aws.secretsmanager", svcEvent, account, region, trail("RotationSucceeded", nil, nil, m{"serviceEventDetails": m{"secretId": shopARN}})),
			builds: map[string]int{"shop-golden-ami": 1}},
		{name: "null requestParameters, aRN in responseElements",
			event:  ev("e-null", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", nil, m{"aRN": shopARN}, nil)),
			builds: map[string]int{"shop-golden-ami": 1}},
		{name: "PutSecretValue made current explicitly",
			event:  ev("e-cur", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", m{"secretId": shopARN, "versionStages": []string{"AWSCURRENT"}}, nil, nil)),
			builds: map[string]int{"shop-golden-ami": 1}},
		{name: "rotation step staged AWSPENDING",
			event: ev("e-pending", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", m{"secretId": shopARN, "versionStages": []string{"AWSPENDING"}}, nil, nil))},
		{name: "failed call",
			event: ev("e-denied", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", put(shopARN), nil, m{"errorCode": "AccessDeniedException", "errorMessage": "denied"}))},
		{name: "failed call without request parameters",
			event: ev("e-denied2", "aws.secretsmanager", apiCall, account, region, trail("UpdateSecret", nil, nil, m{"errorCode": "ResourceNotFoundException"}))},
		{name: "other secret",
			event: ev("e-other", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", put("billing/api"), nil, nil))},
		{name: "configured name, ARN of another account",
			event: ev("e-xacct", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", put("arn:aws:secretsmanager:eu-west-1:999999999999:secret:blog/production-Zz9Yy8"), nil, nil))},
		{name: "other account",
			event: ev("e-acct", "aws.secretsmanager", apiCall, "999999999999", region, trail("PutSecretValue", put(shopARN), nil, nil))},
		{name: "other region",
			event: ev("e-region", "aws.secretsmanager", apiCall, account, "us-east-1", trail("PutSecretValue", put(shopARN), nil, nil))},
		{name: "event name the rules do not take",
			event: ev("e-get", "aws.secretsmanager", apiCall, account, region, trail("GetSecretValue", put(shopARN), nil, nil))},
		{name: "custom source spoofing the detail",
			event: ev("e-spoof", "my.app", apiCall, account, region, trail("PutSecretValue", put(shopARN), nil, nil))},
		{name: "malformed detail",
			event:     ev("e-bad", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", "oops", nil, nil)),
			malformed: true},
		{name: "detail names no secret",
			event:     ev("e-nosecret", "aws.secretsmanager", apiCall, account, region, trail("UpdateSecret", m{}, nil, nil)),
			malformed: true},
		{name: "no event id",
			event:     ev("", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", put(shopARN), nil, nil)),
			malformed: true},
		{name: "not an event", event: []byte(`{"hello":`), malformed: true},
		{name: "no detail", event: ev("e-nodetail", "aws.secretsmanager", apiCall, account, region, json.RawMessage(`null`)), malformed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(testConfig())
			outs, err := r.handler.Handle(context.Background(), tc.event)
			if tc.malformed {
				if !errors.Is(err, route.ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, b := range r.cloud.Builds() {
				got[b.Project]++
			}
			if n := r.cloud.Mutations()["StartPipelineExecution"]; n > 0 {
				got["blog-image"] += n
			}
			if len(got) != len(tc.builds) {
				t.Fatalf("builds = %v, want %v", got, tc.builds)
			}
			for k, v := range tc.builds {
				if got[k] != v {
					t.Fatalf("builds = %v, want %v", got, tc.builds)
				}
			}
			pub := r.cloud.Published()
			if len(pub) != len(tc.builds) || len(outs) != len(tc.builds) {
				t.Fatalf("%d messages, %d outcomes; want %d", len(pub), len(outs), len(tc.builds))
			}
			for i, p := range pub {
				o := outs[i]
				if o.BuildID == "" || !o.Notified || o.Skipped != "" {
					t.Errorf("outcome %+v", o)
				}
				for _, want := range []string{"App: " + o.App, "Secret: " + o.Secret, o.Event + " at 2026-11-24T09:05:00Z", o.BuildID} {
					if !strings.Contains(p.Message, want) {
						t.Errorf("message lacks %q:\n%s", want, p.Message)
					}
				}
				if strings.Contains(p.Message+p.Subject, hidden) || strings.Contains(p.Message, "tok-1") {
					t.Errorf("message repeats request parameters:\n%s", p.Message)
				}
				if !strings.Contains(p.Subject, "image rebuild started") {
					t.Errorf("subject %q", p.Subject)
				}
			}
		})
	}
}

func TestCodeBuildInputs(t *testing.T) {
	r := newRig(testConfig())
	raw := ev("3c4d5e6f-7081-4293-a4b5-c6d7e8f9a001", "aws.secretsmanager", apiCall, account, region,
		trail("PutSecretValue", m{"secretId": shopARN}, m{"arn": shopARN}, nil))
	if _, err := r.handler.Handle(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	var in *codebuild.StartBuildInput
	for _, c := range r.cloud.Calls() {
		if c.Op == "StartBuild" {
			in = c.Input.(*codebuild.StartBuildInput)
		}
	}
	if in == nil {
		t.Fatal("no StartBuild")
	}
	if aws.ToString(in.ProjectName) != "shop-golden-ami" || aws.ToString(in.IdempotencyToken) != rebuild.Token("shop", "3c4d5e6f-7081-4293-a4b5-c6d7e8f9a001", nil, "") {
		t.Fatalf("StartBuild input %+v", in)
	}
	if len(in.EnvironmentVariablesOverride) != 1 || aws.ToString(in.EnvironmentVariablesOverride[0].Name) != rebuild.EnvReason ||
		aws.ToString(in.EnvironmentVariablesOverride[0].Value) != "secret "+shopARN+" changed by PutSecretValue" {
		t.Fatalf("environment = %+v", in.EnvironmentVariablesOverride)
	}
	if p := r.cloud.Published(); len(p) != 1 || p[0].Topic != shopSNS {
		t.Fatalf("published = %+v", p)
	}
}

func TestDuplicateEventStartsOneBuild(t *testing.T) {
	r := newRig(testConfig())
	raw := ev("e-dup", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", m{"secretId": shopARN}, nil, nil))
	ctx := context.Background()
	if _, err := r.handler.Handle(ctx, raw); err != nil {
		t.Fatal(err)
	}
	// The build finished in between: only the event id stops a second one.
	r.cloud.FinishBuild(r.cloud.Builds()[0].ID, "SUCCEEDED")
	outs, err := r.handler.Handle(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.cloud.Builds()); n != 1 {
		t.Fatalf("%d builds after a duplicate event, want 1", n)
	}
	if len(outs) != 1 || outs[0].Skipped != "event already processed" || outs[0].Notified {
		t.Fatalf("duplicate outcome = %+v", outs)
	}
	if n := len(r.cloud.Published()); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

func TestRunningBuildNoSecondStart(t *testing.T) {
	r := newRig(testConfig())
	ctx := context.Background()
	if _, err := (&rebuild.Builder{CodeBuild: r.cloud.CodeBuild()}).Start(ctx, &r.handler.Config.Apps[0], []string{"ALAS2023-2024-771"}, ""); err != nil {
		t.Fatal(err)
	}
	outs, err := r.handler.Handle(ctx, ev("e-run", "aws.secretsmanager", svcEvent, account, region,
		trail("RotationSucceeded", nil, nil, m{"additionalEventData": m{"SecretId": shopARN}})))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.cloud.Builds()); n != 1 {
		t.Fatalf("%d builds, want only the running one", n)
	}
	if len(outs) != 1 || outs[0].BuildID != "" || outs[0].Skipped == "" || !outs[0].Notified {
		t.Fatalf("outcome = %+v", outs)
	}
	p := r.cloud.Published()
	if len(p) != 1 || !strings.Contains(p[0].Subject, "no new build") || !strings.Contains(p[0].Message, "start a new build when it ends") {
		t.Fatalf("published = %+v", p)
	}
	if seen, _ := r.events.Seen(ctx, "e-run#shop", t0); !seen {
		t.Fatal("event not marked processed")
	}
}

func TestSharedSecretBuildsEveryApp(t *testing.T) {
	cfg := testConfig()
	cfg.Apps[2] = config.App{Name: "jobs", Secret: "shop/production", TopicARN: "arn:aws:sns:eu-west-1:111122223333:kaizen-jobs",
		Rebuild: config.Rebuild{CodeBuildProject: "jobs-golden-ami"}}
	r := newRig(cfg)
	outs, err := r.handler.Handle(context.Background(), ev("e-shared", "aws.secretsmanager", apiCall, account, region,
		trail("UpdateSecret", m{"secretId": shopARN}, nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 || outs[0].App != "shop" || outs[1].App != "jobs" || len(r.cloud.Builds()) != 2 || len(r.cloud.Published()) != 2 {
		t.Fatalf("outcomes %+v, builds %+v", outs, r.cloud.Builds())
	}
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	raw := ev("e-fail", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", m{"secretId": shopARN}, nil, nil))

	t.Run("running check fails: nothing recorded, the retry builds", func(t *testing.T) {
		r := newRig(testConfig())
		r.cloud.Fail(sim.OpListBuildsForProject, sim.ServerError(), 1)
		if _, err := r.handler.Handle(ctx, raw); err == nil || errors.Is(err, route.ErrMalformed) {
			t.Fatalf("err = %v, want an AWS error", err)
		}
		if _, err := r.handler.Handle(ctx, raw); err != nil {
			t.Fatal(err)
		}
		if len(r.cloud.Builds()) != 1 || len(r.cloud.Published()) != 1 {
			t.Fatalf("builds %d, messages %d; want 1 and 1", len(r.cloud.Builds()), len(r.cloud.Published()))
		}
	})

	t.Run("start fails: no message, the retry builds", func(t *testing.T) {
		r := newRig(testConfig())
		r.cloud.Fail(sim.OpStartBuild, sim.Throttle(), 1)
		if _, err := r.handler.Handle(ctx, raw); err == nil {
			t.Fatal("start failure not returned")
		}
		if len(r.cloud.Published()) != 0 {
			t.Fatal("a failed start was notified")
		}
		if _, err := r.handler.Handle(ctx, raw); err != nil || len(r.cloud.Builds()) != 1 {
			t.Fatalf("retry: %v, %d builds", err, len(r.cloud.Builds()))
		}
	})

	t.Run("notify fails: error returned, the retry starts nothing", func(t *testing.T) {
		r := newRig(testConfig())
		r.cloud.Fail(sim.OpPublish, sim.ServerError(), 1)
		if _, err := r.handler.Handle(ctx, raw); err == nil || !strings.Contains(err.Error(), "notify") {
			t.Fatalf("err = %v, want the notify failure", err)
		}
		if _, err := r.handler.Handle(ctx, raw); err != nil || len(r.cloud.Builds()) != 1 {
			t.Fatalf("retry: %v, %d builds; want 1 build", err, len(r.cloud.Builds()))
		}
	})

	t.Run("handler without ports", func(t *testing.T) {
		if _, err := (&secretchange.Handler{}).Handle(ctx, raw); err == nil {
			t.Fatal("empty handler succeeded")
		}
	})
}

// Each layer names only what it adds: the handler the app, the rebuild
// the operation and project, the SDK the AWS error.
func TestErrorsNameTheAppOnce(t *testing.T) {
	ctx := context.Background()
	raw := ev("e-once", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", m{"secretId": shopARN}, nil, nil))
	r := newRig(testConfig())
	r.cloud.Fail(sim.OpStartBuild, sim.Throttle(), 1)
	const want = "secretchange: app shop: start build of project shop-golden-ami: api error Throttling: Rate exceeded"
	if _, err := r.handler.Handle(ctx, raw); err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}

	// StartPending runs per app under alaspoll, which names the app.
	r = newRig(testConfig())
	r.handler.Pending = r.events
	if err := r.events.SetPending(ctx, "shop", "secret shop/production changed by PutSecretValue", t0); err != nil {
		t.Fatal(err)
	}
	r.cloud.Fail(sim.OpListBuildsForProject, sim.Throttle(), 1)
	const wantPending = "secretchange: list builds of project shop-golden-ami: api error Throttling: Rate exceeded"
	if _, err := r.handler.StartPending(ctx, &r.handler.Config.Apps[0]); err == nil || err.Error() != wantPending {
		t.Fatalf("StartPending err = %v\nwant  %s", err, wantPending)
	}
}

func TestMatches(t *testing.T) {
	cfg := testConfig()
	const (
		arn     = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/production-AbCdEf"
		partial = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/production"
	)
	for _, tc := range []struct {
		conf, got string
		want      bool
	}{
		{arn, arn, true},
		{arn, partial, true},
		{partial, arn, true},
		{arn, "shop/production", true},
		{arn, "shop/production-AbCdEf", true}, // a partial name in the event is rare but harmless
		{"shop/production", "shop/production", true},
		{"shop/production", arn, true},
		{"shop/production", partial, true},
		{arn, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/production-XyZ123", false}, // recreated secret: another ARN
		{arn, "arn:aws:secretsmanager:eu-west-1:999999999999:secret:shop/production-AbCdEf", false},
		{arn, "arn:aws-cn:secretsmanager:eu-west-1:111122223333:secret:shop/production-AbCdEf", false},
		{"shop/production", "arn:aws:secretsmanager:us-east-1:111122223333:secret:shop/production-AbCdEf", false},
		{"shop/production", "arn:aws:secretsmanager:eu-west-1:999999999999:secret:shop/production-AbCdEf", false},
		{arn, "shop/production-old", false},
		{arn, "Shop/Production", false},
		{"shop/production", "shop/production/extra", false},
		{"shop", "shop/production", false},
		{"", "", false},
		{arn, "", false},
		{"", "shop/production", false},
	} {
		app := &config.App{Name: "shop", Secret: tc.conf}
		if got := secretchange.Matches(cfg, app, cfg.Home(), tc.got); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tc.conf, tc.got, got, tc.want)
		}
		// An event from another account or region never concerns an
		// app at home, whatever it names.
		for _, from := range []config.Place{{Account: "999999999999", Region: region}, {Account: account, Region: "us-east-1"}} {
			if secretchange.Matches(cfg, app, from, tc.got) {
				t.Errorf("Matches(%q, %q) from %s = true, want false: the app lives at %s", tc.conf, tc.got, from, cfg.Home())
			}
		}
	}
}

// A change during a running build is remembered; once the build ends, the
// next alaspoll run starts the rebuild, once.
func TestPendingRebuildFollowsTheRunningBuild(t *testing.T) {
	r := newRig(testConfig())
	r.handler.Pending = r.events
	ctx := context.Background()
	app := &r.handler.Config.Apps[0]
	running, err := (&rebuild.Builder{CodeBuild: r.cloud.CodeBuild()}).Start(ctx, app, []string{"ALAS2023-2024-771"}, "")
	if err != nil {
		t.Fatal(err)
	}
	outs, err := r.handler.Handle(ctx, ev("e-pend", "aws.secretsmanager", apiCall, account, region, trail("PutSecretValue", m{"secretId": shopARN}, nil, nil)))
	if err != nil || len(outs) != 1 || !outs[0].Pending || len(r.cloud.Builds()) != 1 {
		t.Fatalf("outcome %+v, %d builds, err %v", outs, len(r.cloud.Builds()), err)
	}
	if p := r.cloud.Published(); !strings.Contains(p[0].Subject, "rebuild follows") {
		t.Fatalf("message = %q", p[0].Subject)
	}
	// Still running: nothing starts.
	if id, err := r.handler.StartPending(ctx, app); err != nil || id != "" {
		t.Fatalf("started %q while a build runs (%v)", id, err)
	}
	r.cloud.FinishBuild(running, "SUCCEEDED")
	id, err := r.handler.StartPending(ctx, app)
	if err != nil || id == "" {
		t.Fatalf("pending rebuild not started: %q %v", id, err)
	}
	builds := r.cloud.Builds()
	if len(builds) != 2 || !strings.Contains(builds[1].Env["KAIZEN_REASON"], "PutSecretValue") {
		t.Fatalf("builds = %+v", builds)
	}
	r.cloud.FinishBuild(id, "SUCCEEDED")
	if id, _ := r.handler.StartPending(ctx, app); id != "" {
		t.Fatalf("the pending rebuild started twice: %s", id)
	}
}
