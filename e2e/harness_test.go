package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/internal/rie"
	"github.com/kaizen-sre/kaizen/internal/testenv"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/simhttp"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// functions are the packaged functions, one bootstrap each.
var functions = route.Functions

// root is the repository root.
var root = rie.RepoRoot

// region is where every function runs (examples/kaizen.json's).
const region = "eu-west-1"

// world is one simulated account: the simulated AWS served over HTTP, a
// fresh DynamoDB table on dynalite, and a configuration file the functions
// read.
type world struct {
	t       *testing.T
	ctx     context.Context
	cfg     *config.File
	cfgPath string
	cloud   *sim.Cloud
	simURL  string
	dynURL  string
	table   string
	store   *store.Dynamo
	fleet   *cloud.Fleet
	mk      route.Maker
}

var eventSeq atomic.Int64

// newWorld seeds every app of examples/kaizen.json (after edit, if given)
// on a simulated AWS whose clock starts now: the functions compare the wall
// clock with what they record, so the virtual clock must start near it;
// instance launches and health checks then follow cloud.Advance.
func newWorld(t *testing.T, edit func(*config.File)) *world {
	t.Helper()
	rie.WarnStale(t, functions)
	rie.Bin(t)
	for _, fn := range functions {
		rie.Bootstrap(t, fn)
	}
	cfg, err := config.Load(filepath.Join(root(t), "examples", "kaizen.json"))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	w := &world{t: t, ctx: context.Background(), cfg: cfg, cfgPath: writeConfig(t, cfg)}
	w.cloud = sim.New(time.Now().UTC())
	for i := range cfg.Apps {
		w.cloud.SeedApp(&cfg.Apps[i])
	}
	srv := httptest.NewServer(simhttp.New(w.cloud, simhttp.WithConfig(cfg)))
	t.Cleanup(srv.Close)
	w.simURL = srv.URL
	if w.dynURL, err = testenv.DynamoEndpoint(); err != nil {
		t.Fatalf("e2e: DynamoDB API on loopback: %v", err)
	}
	db := testenv.DynamoClient(w.dynURL)
	w.table = testenv.NewTable(t, db)
	w.store = &store.Dynamo{DB: db, Table: w.table}
	c := w.cloud
	w.fleet = &cloud.Fleet{EC2: c.EC2(), ASG: c.AutoScaling(), ELB: c.ELBv2(), SNS: c.SNS(), Attempts: 1}
	w.mk = route.Maker{Account: cfg.Account, Region: cfg.Region, Next: func() string {
		return fmt.Sprintf("e2e-%d-%d", os.Getpid(), eventSeq.Add(1))
	}}
	return w
}

// writeConfig writes cfg where the functions read it (KAIZEN_CONFIG).
func writeConfig(t testing.TB, cfg *config.File) string {
	t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(b); err != nil {
		t.Fatalf("e2e: the edited configuration does not validate: %v", err)
	}
	p := filepath.Join(t.TempDir(), "kaizen.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *world) app() *config.App { return &w.cfg.Apps[0] }

// env is the environment of a function in this world.
func (w *world) env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":          w.simURL,
		"AWS_ENDPOINT_URL_DYNAMODB": w.dynURL,
		"KAIZEN_CONFIG":             w.cfgPath,
		"KAIZEN_TABLE":              w.table,
	}
}

// start runs fn's bootstrap under the emulator in this world.
func (w *world) start(fn string) *rie.Function { return rie.Start(w.t, fn, region, w.env()) }

// state is the app's record in DynamoDB.
func (w *world) state() release.AppState {
	w.t.Helper()
	st, err := w.store.Load(w.ctx, w.app().Name)
	if err != nil {
		w.t.Fatalf("load state: %v", err)
	}
	return st
}

// observe reads the fleet through the in-process simulation.
func (w *world) observe() release.Observed {
	w.t.Helper()
	obs, err := w.fleet.Observe(w.ctx, w.app())
	if err != nil {
		w.t.Fatalf("observe: %v", err)
	}
	return obs
}

// send invokes fn with an event, fails on a function error, then checks
// every invariant on what the store records and the simulation shows.
func (w *world) send(f *rie.Function, what string, event []byte) (release.AppState, release.Observed) {
	w.t.Helper()
	res := f.MustInvoke(w.t, event)
	if err := res.Err(); err != nil {
		w.t.Fatalf("%s: %s: %v\n%s log:\n%s", f.Name, what, err, f.Name, f.Log())
	}
	st, obs := w.state(), w.observe()
	for _, err := range release.Check(w.app(), st, obs) {
		w.t.Errorf("after %s (%s): %v [%s]", what, f.Name, err, obs.Summary())
	}
	return st, obs
}

// event reads a sample event from events/.
func event(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
