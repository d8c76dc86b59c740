package simhttp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh/awscloud"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// stagingApp is the staging example's app whose database refreshes.
func stagingApp(t *testing.T) (*config.File, *config.App) {
	t.Helper()
	cfg, err := config.Load("../../examples/kaizen-staging.json")
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Apps {
		if cfg.Apps[i].DBRefresh != nil {
			return cfg, &cfg.Apps[i]
		}
	}
	t.Fatal("examples/kaizen-staging.json has no app with dbRefresh")
	return nil, nil
}

// A whole refresh through the real SDK clients over HTTP: RDS (awsQuery,
// through the SDK's own schemas), CodeBuild and SNS.
func TestRefreshThroughSDK(t *testing.T) {
	ctx := context.Background()
	cfg, app := stagingApp(t)
	sunday := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC) // 03:00 Berlin
	c := sim.New(sunday)
	c.SeedDBRefresh(cfg, app)
	c.AddTopic(app.TopicARN)
	srv := httptest.NewServer(New(c))
	defer srv.Close()
	ep, creds := aws.String(srv.URL), credentials.NewStaticCredentialsProvider("sim", "sim", "")
	api := rds.New(rds.Options{Region: region, BaseEndpoint: ep, Credentials: creds, RetryMaxAttempts: 1})
	h := &dbrefresh.Handler{Config: cfg, Store: store.NewMemory(), Now: c.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cloud: &awscloud.Cloud{
			RDS:      api,
			Scrub:    codebuild.New(codebuild.Options{Region: region, BaseEndpoint: ep, Credentials: creds, RetryMaxAttempts: 1}),
			Secrets:  secretsmanager.New(secretsmanager.Options{Region: region, BaseEndpoint: ep, Credentials: creds, RetryMaxAttempts: 1}),
			Notifier: awsapi.SNSNotifier{SNS: sns.New(sns.Options{Region: region, BaseEndpoint: ep, Credentials: creds, RetryMaxAttempts: 1})},
		}}
	mk := route.Maker{Account: cfg.Account, Region: cfg.Region, Next: func() string { return fmt.Sprint(time.Now().UnixNano()) }}
	tick := func() {
		t.Helper()
		if _, err := h.Handle(ctx, mk.Schedule("kaizen-dbrefresh-schedule", c.Now())); err != nil {
			t.Fatal(err)
		}
	}
	state := func() dbrefresh.State {
		st, _ := h.Store.LoadRefresh(ctx, app.Name)
		if st.Active == nil {
			return ""
		}
		return st.Active.State
	}
	tick()
	if state() != dbrefresh.Copying {
		t.Fatalf("after the first tick: %q", state())
	}
	for i := 0; i < 20 && state() != dbrefresh.Scrubbing; i++ {
		c.Advance(5 * time.Minute)
		tick()
	}
	if state() != dbrefresh.Scrubbing {
		t.Fatalf("not scrubbing: %q", state())
	}
	b := c.Builds()[0]
	if b.Env[dbrefresh.EnvIdentifier] == "" || b.Env[dbrefresh.EnvEndpoint] == "" {
		t.Fatalf("scrub build env %v", b.Env)
	}
	c.FinishBuild(b.ID, "SUCCEEDED")
	for i := 0; i < 10 && state() != dbrefresh.KeepingOld; i++ {
		c.Advance(5 * time.Minute)
		tick()
	}
	if state() != dbrefresh.KeepingOld {
		t.Fatalf("not swapped: %q", state())
	}
	// The restored instance answers under the target's name, with the
	// endpoint staging had.
	out, err := api.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(app.DBRefresh.Target)})
	if err != nil || len(out.DBInstances) != 1 || aws.ToString(out.DBInstances[0].DBInstanceStatus) != "available" ||
		out.DBInstances[0].Endpoint == nil || aws.ToString(out.DBInstances[0].Endpoint.Address) == "" || len(out.DBInstances[0].TagList) != 2 {
		t.Fatalf("target: %+v, %v", out, err)
	}
	// RDS's error codes arrive as RDS sends them.
	_, err = api.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("nope")})
	if !awscloud.IsNotFound(err) {
		t.Fatalf("describe of a missing instance: %v", err)
	}
	_, err = api.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(app.DBRefresh.Target),
		NewDBInstanceIdentifier: aws.String(app.DBRefresh.Target), ApplyImmediately: aws.Bool(true)})
	if !awscloud.IsAlreadyExists(err) {
		t.Fatalf("rename onto an existing name: %v", err)
	}
}

// Secrets Manager's two calls over HTTP keep the secret's other keys.
func TestSecretsThroughSDK(t *testing.T) {
	ctx := context.Background()
	c := sim.New(time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC))
	c.AddSecret("shop/staging-db", `{"host":"old","password":"p"}`)
	srv := httptest.NewServer(New(c))
	defer srv.Close()
	sm := secretsmanager.New(secretsmanager.Options{Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("sim", "sim", ""), RetryMaxAttempts: 1})
	cloud := &awscloud.Cloud{Secrets: sm}
	app := &config.App{Name: "shop-staging", DBRefresh: &config.DBRefresh{Endpoint: "secret", Secret: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/staging-db-AbCdEf", SecretHostKey: "host"}}
	if _, err := cloud.Apply(ctx, &config.File{}, app, dbrefresh.Action{Kind: dbrefresh.SetSecretHost, Host: "new.rds"}); err != nil {
		t.Fatal(err)
	}
	if got := c.Secret("shop/staging-db"); got != `{"host":"new.rds","password":"p"}` {
		t.Fatalf("secret %s", got)
	}
	_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
	if code := errorCode(t, err); code != "ResourceNotFoundException" {
		t.Fatalf("missing secret: %v", err)
	}
}
