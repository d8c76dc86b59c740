package dbrefresh

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/limits"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// ErrConflict means another writer saved the app's refresh state first:
// reload and decide again. Stores return it.
var ErrConflict = errors.New("refresh state changed concurrently")

// ErrBusy means another invocation is applying a plan for the app now.
var ErrBusy = errors.New("another invocation is applying a refresh step for this app")

// ErrMalformed marks an event dbrefresh cannot read: route.ErrMalformed,
// the one error every kaizen function uses (logged and dropped at the
// Lambda edge, see lambdamain.Edge).
var ErrMalformed = route.ErrMalformed

// Store keeps each app's refresh state and ledger (store.Dynamo and
// store.Memory implement it), and the processed event ids.
type Store interface {
	// LoadRefresh returns the app's refresh state; a new app has Version 0.
	LoadRefresh(ctx context.Context, app string) (AppState, error)
	// SaveRefresh writes st if its Version is still the stored one (else
	// ErrConflict), bumps st.Version, and records the ledger entries with it.
	SaveRefresh(ctx context.Context, st *AppState, ledger ...Refresh) error
	// RefreshHistory lists the app's refreshes, newest first: the ledger,
	// and the refresh in flight.
	RefreshHistory(ctx context.Context, app string) ([]Refresh, error)
	Seen(ctx context.Context, id string, now time.Time) (bool, error)
	MarkSeen(ctx context.Context, id string, expires time.Time) error
}

// Handler runs the dbrefresh function's steps.
type Handler struct {
	Config *config.File
	Cloud  Cloud
	Store  Store
	Now    func() time.Time
	Log    *slog.Logger
	// DryRun plans without recording or applying anything.
	DryRun bool
	// EventTTL is how long processed event ids are remembered (default 24h).
	EventTTL time.Duration
}

// Outcome is what one step did for one app.
type Outcome struct {
	App      string    `json:"app"`
	At       time.Time `json:"at"`
	Event    Event     `json:"event"`
	Needs    Needs     `json:"needs"`
	Observed Observed  `json:"observed"`
	Plan     Plan      `json:"plan"`
	Applied  []Action  `json:"applied"`
	Err      string    `json:"error,omitempty"`
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// Handle runs one EventBridge event: the schedule (a step for every app
// with a dbRefresh block), production's automated snapshot (a step for the
// apps that refresh from it), or a scrub build's end (a step for its app).
// Foreign and irrelevant events are logged and ignored; a malformed one
// returns an error wrapping ErrMalformed; AWS failures return an error, so
// Lambda retries.
func (h *Handler) Handle(ctx context.Context, raw []byte) ([]Outcome, error) {
	e, err := route.Decode(raw)
	if err != nil {
		return nil, err
	}
	return h.HandleEvent(ctx, e)
}

// HandleEvent is Handle on an event decoded once at the edge.
func (h *Handler) HandleEvent(ctx context.Context, e route.Event) ([]Outcome, error) {
	outs, ignored, err := h.Dispatch(ctx, e.Envelope)
	if ignored != "" {
		h.log().Info("ignored: "+ignored, "function", route.DBRefresh, "event", e.ID, "source", e.Source, "detailType", e.DetailType)
	}
	return outs, err
}

// Dispatch is Handle on a decoded event; ignored says why an event
// changed nothing without a step.
func (h *Handler) Dispatch(ctx context.Context, e route.Envelope) ([]Outcome, string, error) {
	cfg := h.Config
	if e.Region != cfg.Region {
		return nil, fmt.Sprintf("event from region %s; kaizen serves %s", e.Region, cfg.Region), nil
	}
	var apps []*config.App
	var ev Event
	switch {
	case e.Source == route.SourceSchedule && e.DetailType == route.TypeScheduled:
		if e.AccountID != cfg.Account {
			return nil, "schedule of another account", nil
		}
		fn, _ := route.Match(e)
		if fn != route.DBRefresh {
			return nil, "the schedule is " + fn + "'s, not dbrefresh's", nil
		}
		for i := range cfg.Apps {
			if cfg.Apps[i].DBRefresh != nil {
				apps = append(apps, &cfg.Apps[i])
			}
		}
		ev = Event{Kind: EvTick, ID: e.ID}
	case e.Source == route.SourceRDS && (e.DetailType == route.TypeDBSnapshotEvent || e.DetailType == route.TypeDBClusterSnapshotEvent):
		as, d, why, err := route.SnapshotEvent(cfg, e)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if why != "" {
			return nil, why, nil
		}
		apps, ev = as, Event{Kind: EvSnapshot, ID: e.ID, Snapshot: d.SourceIdentifier}
	case e.Source == route.SourceCodeBuild && e.DetailType == route.TypeCodeBuildState:
		if e.AccountID != cfg.Account {
			return nil, "build of another account", nil
		}
		var d route.CodeBuildDetail
		if err := route.DecodeDetail(e, &d); err != nil {
			return nil, "", fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		apps = route.ScrubApps(cfg, d.ProjectName)
		if len(apps) == 0 {
			return nil, "build of " + d.ProjectName + ", which is no app's scrub project", nil
		}
		if !slices.Contains([]string{BuildSucceeded, BuildFailed, BuildFault, BuildStopped, BuildTimedOut}, d.BuildStatus) {
			return nil, fmt.Sprintf("scrub build %s is %s: nothing to do until it ends", d.BuildID, d.BuildStatus), nil
		}
		if d.BuildID == "" {
			return nil, "", fmt.Errorf("%w: build state change without build-id", ErrMalformed)
		}
		ev = Event{Kind: EvBuild, ID: e.ID, Build: &Build{ID: buildID(d.BuildID), Status: d.BuildStatus}}
	default:
		return nil, fmt.Sprintf("dbrefresh does not take %q events from %s", e.DetailType, e.Source), nil
	}
	if ev.Kind != EvTick && e.ID != "" {
		seen, err := h.Store.Seen(ctx, seenKey(e.ID), h.now())
		if err != nil {
			return nil, "", err
		}
		if seen {
			return nil, "event already processed", nil
		}
	}
	var outs []Outcome
	var errs []error
	for _, app := range apps {
		out, err := h.Run(ctx, app, ev)
		outs = append(outs, out)
		if err != nil {
			errs = append(errs, fmt.Errorf("dbrefresh: app %s: %w", app.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return outs, "", err
	}
	if ev.Kind != EvTick && e.ID != "" && !h.DryRun {
		ttl := h.EventTTL
		if ttl == 0 {
			ttl = 24 * time.Hour
		}
		if err := h.Store.MarkSeen(ctx, seenKey(e.ID), h.now().Add(ttl)); err != nil {
			h.log().Warn("could not remember the event id; a duplicate plans nothing anyway", "error", err)
		}
	}
	return outs, "", nil
}

// seenKey keeps dbrefresh's processed ids apart from the release steps'.
func seenKey(id string) string { return "dbrefresh#" + id }

// buildID takes the build id ("PROJECT:UUID", as StartBuild returns it)
// from the event's build-id, which is the build's ARN
// ("arn:aws:codebuild:REGION:ACCOUNT:build/PROJECT:UUID").
func buildID(s string) string {
	if _, id, ok := strings.Cut(s, ":build/"); ok {
		return id
	}
	return s
}

// conflictRetries bounds how often a step decides again after losing a
// race for the app's record.
const conflictRetries = 25

const inProgress = "interrupted while applying the step"

// Run performs one reconcile step of the app's refresh.
func (h *Handler) Run(ctx context.Context, app *config.App, ev Event) (Outcome, error) {
	token := rand.Text()
	var out Outcome
	var err error
	for range conflictRetries {
		out, err = h.runOnce(ctx, app, ev, token)
		if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrBusy) {
			break
		}
		h.log().Info("refresh state busy or changed concurrently; deciding again", "app", app.Name, "event", ev.ID, "reason", err)
		if errors.Is(err, ErrBusy) {
			select {
			case <-ctx.Done():
				return out, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	if err != nil {
		out.Err = err.Error()
	}
	return out, err
}

func (h *Handler) runOnce(ctx context.Context, app *config.App, ev Event, token string) (Outcome, error) {
	out := Outcome{App: app.Name, Event: ev}
	log := h.log().With("function", route.DBRefresh, "app", app.Name, "event", ev.ID, "kind", ev.Kind)
	st, err := h.Store.LoadRefresh(ctx, app.Name)
	if err != nil {
		return out, err
	}
	now := h.now()
	out.At = now
	if l := st.Lease; l != nil && l.Token != token && now.Before(l.Until) {
		return out, ErrBusy
	}
	out.Needs = Wants(app, st, ev, now)
	obs, err := h.Cloud.Observe(ctx, h.Config, app, out.Needs)
	if err != nil {
		return out, fmt.Errorf("observe: %w", err)
	}
	out.Observed = obs
	plan := Decide(h.Config, app, st, obs, now, ev)
	out.Plan = plan
	if plan.Bug != "" {
		log.Error("planner bug: nothing applied", "bug", plan.Bug, "observed", obs.Summary())
		return out, nil
	}
	if !plan.Changed() {
		log.Info("nothing to do", "observed", obs.Summary(), "notes", plan.Notes)
		return out, nil
	}
	if h.DryRun {
		log.Info("dry run", "observed", obs.Summary(), "plan", actionStrings(plan.Actions), "notes", plan.Notes)
		return out, nil
	}
	next := plan.Next.Clone()
	next.UpdatedAt, next.Lease, next.Pending, next.LastError = now, nil, nil, ""
	version := st.Version
	if len(plan.Actions) > 0 {
		// Write ahead: the record says what is about to be done, and the
		// conditional write makes this the only step acting on the app.
		ahead := plan.Ahead.Clone()
		ahead.UpdatedAt, ahead.Version = now, st.Version
		ahead.Pending, ahead.LastError = actionStrings(plan.Actions), inProgress
		ahead.Lease = &Lease{Token: token, Until: now.Add(limits.Lease)}
		if err := h.Store.SaveRefresh(ctx, &ahead); err != nil {
			return out, err
		}
		version = ahead.Version
		build := "" // the scrub build started, kept even if a later action fails
		for i, a := range plan.Actions {
			res, err := h.Cloud.Apply(ctx, h.Config, app, a)
			if err != nil {
				if a.Kind == Notify {
					log.Warn("notification failed", "subject", a.Subject, "error", err)
					continue
				}
				failed := plan.Ahead.Clone()
				failed.UpdatedAt, failed.Version, failed.Lease = now, version, nil
				if build != "" && failed.Active != nil {
					failed.Active.Build = build
				}
				failed.Pending, failed.LastError = actionStrings(plan.Actions[i:]), err.Error()
				if serr := h.Store.SaveRefresh(ctx, &failed); serr != nil {
					log.Error("could not record the failed step", "error", serr)
				}
				log.Error("step failed midway", "applied", actionStrings(out.Applied), "pending", failed.Pending, "error", err)
				return out, err
			}
			if a.Kind == StartScrub && next.Active != nil {
				build = res
				next.Active.Build = res
				out.Plan.Next.Active.Build = res
			}
			out.Applied = append(out.Applied, a)
		}
	}
	next.Version = version
	if err := h.Store.SaveRefresh(ctx, &next, plan.Ended...); err != nil {
		if errors.Is(err, ErrConflict) && len(out.Applied) > 0 {
			log.Warn("refresh state changed while applying; the next step reconciles", "applied", actionStrings(out.Applied))
			return out, nil
		}
		return out, err
	}
	log.Info("step applied", "observed", obs.Summary(), "applied", actionStrings(out.Applied), "transitions", plan.Transitions, "notes", plan.Notes)
	return out, nil
}

func actionStrings(as []Action) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}
