package main

import (
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/internal/testenv"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/simhttp"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// httpWorld is the example's first app on the simulated AWS served over
// HTTP, with its state in a fresh dynalite table: what the operator
// commands run against. d runs the functions' handlers on the same world.
type httpWorld struct {
	cfg       *config.File
	app       *config.App
	cloud     *sim.Cloud
	srv       *httptest.Server
	ep, table string
	d         *steps.Reconciler
	mk        route.Maker
}

func newHTTPWorld(t *testing.T) *httpWorld {
	t.Helper()
	cfg, err := config.Load("examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	app := &cfg.Apps[0]
	c := sim.New(time.Now().UTC().Add(-3 * time.Hour))
	c.SeedApp(app)
	srv := httptest.NewServer(simhttp.New(c, simhttp.WithConfig(cfg)))
	t.Cleanup(srv.Close)
	ep, err := testenv.DynamoEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	db := testenv.DynamoClient(ep)
	table := testenv.NewTable(t, db)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "eu-west-1",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"} {
		t.Setenv(k, v)
	}
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	url := aws.String(srv.URL)
	d := &steps.Reconciler{
		Config: cfg,
		Fleet: &cloud.Fleet{
			EC2: ec2.New(ec2.Options{Region: cfg.Region, Credentials: creds, BaseEndpoint: url}),
			ASG: autoscaling.New(autoscaling.Options{Region: cfg.Region, Credentials: creds, BaseEndpoint: url}),
			ELB: elbv2.New(elbv2.Options{Region: cfg.Region, Credentials: creds, BaseEndpoint: url}),
			SNS: sns.New(sns.Options{Region: cfg.Region, Credentials: creds, BaseEndpoint: url}), Attempts: 1,
		},
		Store: &store.Dynamo{DB: db, Table: table},
		Now:   func() time.Time { return time.Now().UTC() },
		Log:   slog.New(slog.DiscardHandler),
	}
	mk := route.Maker{Account: cfg.Account, Region: cfg.Region, Next: func() string { return time.Now().Format("150405.000000000") }}
	return &httpWorld{cfg: cfg, app: app, cloud: c, srv: srv, ep: ep, table: table, d: d, mk: mk}
}
