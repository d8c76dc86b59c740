// Package alaspoll is the entry point of the alaspoll Lambda: on its
// schedule, poll the ALAS feeds of every configured app once (see package
// alas for what a poll does).
package alaspoll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/emf"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Handler polls every app on a scheduled event. Config and Poller are
// required.
type Handler struct {
	Config *config.File
	Poller *alas.Poller
	Log    *slog.Logger // default slog.Default()
	// Pending, if set, is asked before each app's poll to start a secret
	// rebuild that waited for a running build to end (secretchange.Handler
	// is one). Its error is reported with the app's and does not stop the
	// poll.
	Pending PendingRebuilds
	// Metrics receives kaizen's own metrics (advisories pending, rebuilds
	// started); nil writes none.
	Metrics *emf.Writer
}

// PendingRebuilds starts an app's rebuild that was left waiting, if it can
// start now; it returns the build id, or "" if nothing was started.
type PendingRebuilds interface {
	StartPending(ctx context.Context, app *config.App) (string, error)
}

// Handle decodes one EventBridge event (once, with route.Decode) and
// handles it: the shape every kaizen function shares.
func (h *Handler) Handle(ctx context.Context, raw []byte) ([]alas.Report, error) {
	e, err := route.Decode(raw)
	if err != nil {
		return nil, err
	}
	return h.HandleEvent(ctx, e)
}

// HandleEvent polls every app once for a `Scheduled Event` from the
// configured account and region, returning each app's report; other events
// are logged and ignored. A failing app does not stop the others: the
// returned error joins every app's error (so the invocation counts as
// failed and can be alarmed on).
func (h *Handler) HandleEvent(ctx context.Context, e route.Event) ([]alas.Report, error) {
	if h.Config == nil || h.Poller == nil {
		return nil, errors.New("alaspoll: Handler needs Config and Poller")
	}
	log := h.logger().With("function", route.ALASPoll, "event", e.ID, "source", e.Source, "detailType", e.DetailType)
	if e.AccountID != h.Config.Account || e.Region != h.Config.Region {
		log.Warn("ignored: event from another account or region", "account", e.AccountID, "region", e.Region)
		return nil, nil
	}
	if e.Source != route.SourceSchedule || e.DetailType != route.TypeScheduled {
		log.Warn("ignored: alaspoll runs on its schedule only")
		return nil, nil
	}
	var reps []alas.Report
	var errs []error
	for i := range h.Config.Apps {
		app := &h.Config.Apps[i]
		if h.Pending != nil {
			id, err := h.Pending.StartPending(ctx, app)
			errs = append(errs, forApp(app, err)...)
			if id != "" {
				h.Metrics.RebuildStarted(app.Name, "secret")
			}
		}
		rep, err := h.Poller.Poll(ctx, app)
		reps = append(reps, rep)
		h.pollMetrics(rep)
		errs = append(errs, forApp(app, err)...)
	}
	return reps, errors.Join(errs...)
}

// forApp names the app on each of err's errors (a poll joins one per
// failed feed or step), so every line of the joined error says which app
// it is about. Only this layer names the app: the ones below do not.
func forApp(app *config.App, err error) []error {
	if err == nil {
		return nil
	}
	each := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok && joined(err, j.Unwrap()) {
		each = j.Unwrap()
	}
	out := make([]error, 0, len(each))
	for _, e := range each {
		out = append(out, fmt.Errorf("alaspoll: app %s: %w", app.Name, e))
	}
	return out
}

// joined reports whether err is errs joined (errors.Join) and nothing more,
// unlike an error that wraps several with words of its own.
func joined(err error, errs []error) bool {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return err.Error() == strings.Join(msgs, "\n")
}

func (h *Handler) logger() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// pollMetrics writes an app's advisories waiting for a build (a gauge,
// written every poll) and the build the poll started.
func (h *Handler) pollMetrics(rep alas.Report) {
	h.Metrics.Put(emf.Dims{"App": rep.App}, emf.Metric{Name: emf.AdvisoriesPending, Unit: emf.Count, Value: float64(len(rep.Waiting))})
	if rep.RebuildID != "" {
		h.Metrics.RebuildStarted(rep.App, "alas")
	}
}
