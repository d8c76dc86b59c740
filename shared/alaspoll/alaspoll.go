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
	"github.com/kaizen-sre/kaizen/shared/route"
)

// ErrMalformed marks input that is not an EventBridge event.
var ErrMalformed = errors.New("malformed alaspoll event")

// Handler polls every app on a scheduled event. Config and Poller are
// required.
type Handler struct {
	Config *config.File
	Poller *alas.Poller
	Log    *slog.Logger // default slog.Default()
	// Before, if set, runs for each app before its poll: the function uses
	// it to start a secret rebuild that waited for a running build (see
	// secretchange.Handler.StartPending). Its error is reported with the
	// app's and does not stop the poll.
	Before func(ctx context.Context, app *config.App) error
}

// Handle polls every app once for a `Scheduled Event` from the configured
// account and region; other events are logged and ignored, input that is
// no event at all is an error wrapping ErrMalformed. A failing app does
// not stop the others: the returned error joins every app's error (so the
// invocation counts as failed and can be alarmed on).
func (h *Handler) Handle(ctx context.Context, raw []byte) error {
	_, err := h.Process(ctx, raw)
	return err
}

// Process is Handle, returning each app's report.
func (h *Handler) Process(ctx context.Context, raw []byte) ([]alas.Report, error) {
	if h.Config == nil || h.Poller == nil {
		return nil, errors.New("alaspoll: Handler needs Config and Poller")
	}
	e, err := route.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	log := h.logger().With("function", route.ALASPoll, "event", e.ID, "source", e.Source, "detailType", e.DetailType)
	if e.Account != h.Config.Account || e.Region != h.Config.Region {
		log.Warn("ignored: event from another account or region", "account", e.Account, "region", e.Region)
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
		if h.Before != nil {
			errs = append(errs, forApp(app, h.Before(ctx, app))...)
		}
		rep, err := h.Poller.Poll(ctx, app)
		reps = append(reps, rep)
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
