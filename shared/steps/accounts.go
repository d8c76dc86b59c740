package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Apps across accounts and regions. Each app's calls go through the fleet
// of the account and region it lives in (Reconciler.Fleets; an assumed
// role's clients for a member account, cloud.Accounts). Events arrive from
// the home account and, through the central event bus, from the member
// accounts: an event is taken only from a place some app lives in, and
// reaches only the apps that live there, so an alarm, approval or AMI of
// account B never moves an app of account A that reuses its name. The
// tick observes each place's apps in one batch of its own.

// fleetFor is the fleet of the account and region app lives in.
func (d *Reconciler) fleetFor(app *config.App) *cloud.Fleet {
	if d.Fleets != nil {
		return d.Fleets.FleetFor(app)
	}
	return d.Fleet
}

// fleetAt is the fleet of place: that of an app living there, or the
// home's.
func (d *Reconciler) fleetAt(p config.Place) *cloud.Fleet {
	for i := range d.Config.Apps {
		if a := &d.Config.Apps[i]; a.Place() == p {
			return d.fleetFor(a)
		}
	}
	return d.Fleet
}

// at is d acting on app: its Fleet is the app's.
func (d *Reconciler) at(app *config.App) *Reconciler {
	if d.Fleets == nil {
		return d
	}
	c := *d
	c.Fleet = d.Fleets.FleetFor(app)
	return &c
}

func eventPlace(e route.Event) config.Place {
	return config.Place{Account: e.AccountID, Region: e.Region}
}

// serves reports whether an event comes from where kaizen runs or where a
// configured app lives.
func (d *Reconciler) serves(e route.Event) bool {
	p := eventPlace(e)
	if p == d.Config.Home() {
		return true
	}
	for i := range d.Config.Apps {
		if d.Config.Apps[i].Place() == p {
			return true
		}
	}
	return false
}

// livesAt reports whether app lives where the event comes from: only then
// may the event's alarm, approval action or build concern it.
func livesAt(app *config.App, e route.Event) bool { return app.Place() == eventPlace(e) }

// takesImagesFrom reports whether an image event of place may stage app:
// the app lives there, or the place's account is one of the app's image
// accounts (a central image account sharing its AMIs) in the app's region.
func takesImagesFrom(app *config.App, p config.Place) bool {
	return app.Place() == p || (app.Region == p.Region && slices.Contains(app.ImageOwners, p.Account))
}

// placedFleets answers each place's apps with one fleet (a tick's
// snapshot, a guard's prefetch) and any other app from base.
type placedFleets struct {
	fleets map[config.Place]*cloud.Fleet
	base   cloud.Fleets
}

func (p placedFleets) FleetFor(app *config.App) *cloud.Fleet {
	if f, ok := p.fleets[app.Place()]; ok {
		return f
	}
	return p.base.FleetFor(app)
}

// single serves every app from one fleet.
type single struct{ f *cloud.Fleet }

func (s single) FleetFor(*config.App) *cloud.Fleet { return s.f }

func (d *Reconciler) baseFleets() cloud.Fleets {
	if d.Fleets != nil {
		return d.Fleets
	}
	return single{d.Fleet}
}

// withFleet is d with app's place answered by f (guardpath.go's prefetch).
func (d *Reconciler) withFleet(app *config.App, f *cloud.Fleet) *Reconciler {
	c := *d
	c.Fleet = f
	if d.Fleets != nil {
		c.Fleets = placedFleets{fleets: map[config.Place]*cloud.Fleet{app.Place(): f}, base: d.Fleets}
	}
	return &c
}

// byPlace groups apps by where they live, in the order places first
// appear.
func byPlace(apps []*config.App) ([]config.Place, map[config.Place][]*config.App) {
	var order []config.Place
	m := map[config.Place][]*config.App{}
	for _, a := range apps {
		p := a.Place()
		if _, ok := m[p]; !ok {
			order = append(order, p)
		}
		m[p] = append(m[p], a)
	}
	return order, m
}

// newestImages is the tick's sweep: one batched DescribeImages per place
// (an account's "self" is its own images), the places in parallel.
func (d *Reconciler) newestImages(ctx context.Context, apps []*config.App) (map[string]*release.Image, error) {
	order, groups := byPlace(apps)
	res := make([]map[string]*release.Image, len(order))
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for i, p := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := groups[p]
			res[i], errs[i] = d.fleetFor(g[0]).NewestImages(ctx, g)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%s: %w", p, errs[i])
			}
		}()
	}
	wg.Wait()
	out := map[string]*release.Image{}
	for _, m := range res {
		for k, v := range m {
			out[k] = v
		}
	}
	return out, errors.Join(errs...)
}

// placedSnapshot is a tick's batched look at every place's apps: one
// cloud.Snapshot per place, each through that place's fleet.
type placedSnapshot struct {
	snaps map[config.Place]*cloud.Snapshot
	home  *cloud.Fleet
	placedFleets
}

// snapshot reads the apps of each place in a batch of its own, the
// places in parallel; scaling names the apps whose steps read scaling
// policies.
func (d *Reconciler) snapshot(ctx context.Context, apps []*config.App, scaling map[string]bool) *placedSnapshot {
	order, groups := byPlace(apps)
	s := &placedSnapshot{snaps: map[config.Place]*cloud.Snapshot{}, placedFleets: placedFleets{fleets: map[config.Place]*cloud.Fleet{}, base: d.baseFleets()}}
	snaps := make([]*cloud.Snapshot, len(order))
	var wg sync.WaitGroup
	for i, p := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for _, a := range groups[p] {
				if scaling[a.Name] {
					n++
				}
			}
			snaps[i] = d.fleetFor(groups[p][0]).Snapshot(ctx, groups[p], n)
		}()
	}
	wg.Wait()
	for i, p := range order {
		s.snaps[p] = snaps[i]
		s.fleets[p] = snaps[i].Fleet()
	}
	s.home = d.Fleet
	if f, ok := s.fleets[d.Config.Home()]; ok {
		s.home = f
	}
	return s
}

// Glance is the app's place's Snapshot.Glance.
func (s *placedSnapshot) Glance(a *config.App) (release.Observed, error) {
	snap, ok := s.snaps[a.Place()]
	if !ok {
		return release.Observed{}, fmt.Errorf("%s was not in the batch", a.Name)
	}
	return snap.Glance(a)
}

// FleetFor is the fleet of the account and region app lives in (for the
// operator commands).
func (d *Reconciler) FleetFor(app *config.App) *cloud.Fleet { return d.fleetFor(app) }
