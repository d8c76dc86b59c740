package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Handle decodes one EventBridge event (once, with route.Decode) and runs
// it through the named function: the shape every kaizen function shares.
func (d *Reconciler) Handle(ctx context.Context, function string, raw []byte) ([]Outcome, error) {
	e, err := route.Decode(raw)
	if err != nil {
		return nil, err
	}
	return d.HandleEvent(ctx, function, e)
}

// HandleEvent runs one decoded event through the named function. Foreign
// events (another account or region, a pattern the function does not take,
// an AMI or approval of no configured app) are logged and ignored; AWS
// failures return an error so Lambda retries.
func (d *Reconciler) HandleEvent(ctx context.Context, function string, e route.Event) ([]Outcome, error) {
	ctx = withFunction(ctx, function)
	log := d.log().With("function", function, "event", e.ID, "source", e.Source, "detailType", e.DetailType)
	if !d.serves(e) {
		log.Warn("ignored: event from another account or region, where no configured app lives", "account", e.AccountID, "region", e.Region)
		return nil, nil
	}
	if !takes(function, e) {
		log.Warn("ignored: this function does not take the event", "route", e.Function)
		return nil, nil
	}
	var err error
	d = d.forAlarm(ctx, function, e) // the guard's reads, all at once (guardpath.go)
	if e.ID != "" && function != route.Tick {
		seen, err := d.Store.Seen(ctx, e.ID, d.now())
		if err != nil {
			return nil, err
		}
		if seen {
			log.Info("ignored: event already processed")
			return nil, nil
		}
	}
	var outs []Outcome
	switch function {
	case route.Stage:
		outs, err = d.stage(ctx, e)
	case route.Promote:
		outs, err = d.promote(ctx, e)
	case route.Tick:
		outs, err = d.Tick(ctx, e.ID)
	case route.Guard:
		outs, err = d.guard(ctx, e)
	default:
		return nil, fmt.Errorf("function %q is not a release step", function)
	}
	if err != nil {
		return outs, err
	}
	if e.ID != "" && function != route.Tick && !d.DryRun {
		ttl := d.EventTTL
		if ttl == 0 {
			ttl = 24 * time.Hour
		}
		if err := d.Store.MarkSeen(ctx, e.ID, d.now().Add(ttl)); err != nil {
			log.Warn("could not remember the event id; a duplicate will be reconciled harmlessly", "error", err)
		}
	}
	return outs, nil
}

// takes reports whether function takes the event: the one whose pattern
// matched it at decoding (schedules go to tick unless they are another
// scheduled function's).
func takes(function string, e route.Event) bool {
	if function == route.Tick {
		return e.Source == route.SourceSchedule && e.DetailType == route.TypeScheduled
	}
	return e.Function == function
}

func (d *Reconciler) stage(ctx context.Context, e route.Event) ([]Outcome, error) {
	log := d.log().With("event", e.ID)
	var amiID string
	switch {
	case e.AMI != nil:
		amiID = e.AMI.ImageID
	case e.CodeBuild != nil:
		amiID = e.CodeBuild.Exported(route.DefaultAMIExportVarName)
		if amiID == "" {
			log.Info("ignored: the build exported no " + route.DefaultAMIExportVarName)
			return nil, nil
		}
	default:
		// An Image Builder event names the Image Builder image, not the
		// AMI: sweep for each app's newest tagged AMI instead.
		return d.sweep(ctx, e.ID, release.EvImage, func(a *config.App) bool { return takesImagesFrom(a, eventPlace(e)) })
	}
	img, err := d.fleetAt(eventPlace(e)).Image(ctx, amiID)
	if err != nil {
		return nil, err
	}
	if img == nil {
		log.Warn("ignored: AMI not found in this account", "ami", amiID)
		return nil, nil
	}
	// Staging and production may share their images: every app whose tag
	// the AMI carries gets it.
	var outs []Outcome
	var errs []error
	for i := range d.Config.Apps {
		app := &d.Config.Apps[i]
		if takesImagesFrom(app, eventPlace(e)) && cloud.Ours(app, img) {
			out, err := d.Run(ctx, app, release.Event{Kind: release.EvImage, ID: e.ID, Image: img})
			outs = append(outs, out)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", app.Name, err))
			}
		}
	}
	if len(outs) == 0 {
		log.Info("ignored: AMI carries no configured app's tag", "ami", amiID, "tags", img.Tags)
	}
	return outs, errors.Join(errs...)
}

func (d *Reconciler) promote(ctx context.Context, e route.Event) ([]Outcome, error) {
	det := *e.Approval
	app := d.approvalApp(det, e)
	if app == nil {
		d.log().Info("ignored: not a configured approval action", "event", e.ID, "pipeline", det.Pipeline, "stage", det.Stage, "action", det.Action)
		return nil, nil
	}
	out, err := d.Run(ctx, app, release.Event{Kind: release.EvApproval, ID: e.ID, Approval: &release.Approval{Execution: det.ExecutionID, State: det.State}})
	if err != nil {
		err = fmt.Errorf("%s: %w", app.Name, err)
	}
	return []Outcome{out}, err
}

func (d *Reconciler) approvalApp(det route.ApprovalDetail, e route.Event) *config.App {
	for i := range d.Config.Apps {
		a := &d.Config.Apps[i]
		if livesAt(a, e) && a.Approval.Pipeline == det.Pipeline && a.Approval.Stage == det.Stage && a.Approval.Action == det.Action {
			return a
		}
	}
	return nil
}

// Tick finishes what waits on time or on AWS for every app, and sweeps for
// AMIs that no event announced (AMI events are best effort).
func (d *Reconciler) Tick(ctx context.Context, id string) ([]Outcome, error) {
	if id == "" {
		id = "tick@" + d.now().Format(time.RFC3339)
	}
	start := time.Now()
	outs, err := d.sweep(ctx, id, release.EvTick, nil)
	if outs != nil || err == nil {
		d.tickMetrics(time.Since(start), outs) // metrics.go
	}
	return outs, err
}

// sweep runs the step of every app (or those keep keeps), batched
// (tick.go).
func (d *Reconciler) sweep(ctx context.Context, id string, kind release.EventKind, keep func(*config.App) bool) ([]Outcome, error) {
	return d.batchTick(ctx, id, kind, DefaultTickLimits, keep)
}

// guard handles CloudWatch alarm state changes of configured alarms.
// Metric, metric-math and composite alarms all carry the alarm's name and
// state; their configurations differ and are not needed.
func (d *Reconciler) guard(ctx context.Context, e route.Event) ([]Outcome, error) {
	det := *e.Alarm
	log := d.log().With("event", e.ID, "alarm", det.AlarmName, "state", det.State.Value, "previous", det.PreviousState.Value, "alarmKind", det.AlarmKind())
	for i := range d.Config.Apps {
		app := &d.Config.Apps[i]
		al, ok := app.Alarm(det.AlarmName)
		if !ok || !livesAt(app, e) {
			continue
		}
		if det.State.Value == det.PreviousState.Value {
			log.Info("ignored: no state change")
			return nil, nil
		}
		out, err := d.Run(ctx, app, release.Event{Kind: release.EvAlarm, ID: e.ID, Alarm: &release.Alarm{
			Name: det.AlarmName, Role: al.Role, State: det.State.Value, Previous: det.PreviousState.Value, Reason: det.State.Reason,
			At: det.At, Suppressed: det.State.ActionsSuppressedBy, Muted: det.Muted(),
		}})
		if err != nil {
			err = fmt.Errorf("%s: %w", app.Name, err)
		}
		return []Outcome{out}, err
	}
	log.Info("ignored: not a configured alarm")
	return nil, nil
}
