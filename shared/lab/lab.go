// Package lab wires kaizen's real handlers to the simulated AWS and an
// in-memory store: the demo, `kaizen replay` and the benchmarks run on it.
package lab

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	cwanalysis "github.com/kaizen-sre/kaizen/shared/analysis/cloudwatch"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
	"github.com/kaizen-sre/kaizen/shared/steps"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// Lab is one simulated account with every configured app seeded.
type Lab struct {
	Config *config.File
	Cloud  *sim.Cloud
	Store  store.Store
	Deps   *steps.Reconciler
	Maker  route.Maker
	// Seeded maps each app to the AMI its live color starts on.
	Seeded map[string]string
	// DB runs the database refresh (dbrefresh.go).
	DB  *dbrefresh.Handler
	seq int
}

// New seeds every app of cfg on a fresh simulated AWS whose clock starts at
// start. Logs go to logw (io.Discard to silence them).
func New(cfg *config.File, start time.Time, logw io.Writer) *Lab {
	c := sim.New(start)
	c.Account, c.Region = cfg.Account, cfg.Region
	for i := range cfg.Apps {
		if cfg.Apps[i].Analysis != nil {
			c.EnableMetrics() // metric analysis reads them (sim/metrics.go)
		}
	}
	l := &Lab{Config: cfg, Cloud: c, Store: store.NewMemory(), Seeded: map[string]string{}}
	for i := range cfg.Apps {
		l.Seeded[cfg.Apps[i].Name] = c.SeedApp(&cfg.Apps[i])
	}
	l.seedDBRefresh(logw)
	l.Maker = route.Maker{Account: cfg.Account, Region: cfg.Region, Next: func() string {
		l.seq++
		return fmt.Sprintf("lab-%06d", l.seq)
	}}
	l.Deps = &steps.Reconciler{
		Config: cfg,
		Fleet:  &cloud.Fleet{EC2: c.EC2(), ASG: c.AutoScaling(), ELB: c.ELBv2(), SNS: c.SNS(), CW: c.CloudWatch(), Attempts: 3, Versions: &cloud.VersionCache{}},
		Store:  l.Store,
		Now:    c.Now,
		Log:    logger(logw),
		// Metric analysis reads the simulated per target group metrics.
		Providers: steps.Providers{config.ProviderCloudWatch: &cwanalysis.Provider{API: c.CloudWatch()}},
	}
	return l
}

// Send runs an event through a function.
func (l *Lab) Send(ctx context.Context, function string, raw []byte) ([]steps.Outcome, error) {
	return l.Deps.Handle(ctx, function, raw)
}

// Tick sends the one-minute schedule.
func (l *Lab) Tick(ctx context.Context) ([]steps.Outcome, error) {
	return l.Send(ctx, route.Tick, l.Maker.Schedule("kaizen-tick", l.Cloud.Now()))
}

// Observe reads an app's fleet through the same adapter the functions use.
func (l *Lab) Observe(ctx context.Context, app *config.App) (release.Observed, error) {
	return l.Deps.Fleet.Observe(ctx, app)
}

// Violations checks every invariant of every app.
func (l *Lab) Violations(ctx context.Context) []error {
	var errs []error
	for i := range l.Config.Apps {
		app := &l.Config.Apps[i]
		st, err := l.Store.Load(ctx, app.Name)
		if err != nil {
			return append(errs, err)
		}
		obs, err := l.Observe(ctx, app)
		if err != nil {
			return append(errs, err)
		}
		for _, e := range release.Check(app, st, obs) {
			errs = append(errs, fmt.Errorf("%s: %w", app.Name, e))
		}
	}
	return errs
}

func logger(w io.Writer) *slog.Logger {
	if w == io.Discard {
		return slog.New(slog.DiscardHandler) // formats nothing
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
