package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Handle runs one EventBridge event through the named function. Foreign
// events (another account or region, a pattern the function does not take,
// an AMI or approval of no configured app) are logged and ignored; a
// malformed one returns an error wrapping ErrMalformed; AWS failures return
// an error so Lambda retries.
func (d *Deps) Handle(ctx context.Context, function string, raw []byte) ([]Outcome, error) {
	e, err := route.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	ctx = withFunction(ctx, function)
	log := d.log().With("function", function, "event", e.ID, "source", e.Source, "detailType", e.DetailType)
	if e.Account != d.Config.Account || e.Region != d.Config.Region {
		log.Warn("ignored: event from another account or region", "account", e.Account, "region", e.Region)
		return nil, nil
	}
	if !takes(function, e) {
		log.Warn("ignored: this function does not take the event", "route", route.Route(e).Function)
		return nil, nil
	}
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

func takes(function string, e route.Envelope) bool {
	if function == route.Tick {
		return e.Source == route.SourceSchedule && e.DetailType == route.TypeScheduled
	}
	for _, r := range route.Rules() {
		if r.Function == function && r.Pattern.Match(e) {
			return true
		}
	}
	return false
}

func (d *Deps) stage(ctx context.Context, e route.Envelope) ([]Outcome, error) {
	log := d.log().With("event", e.ID)
	var amiID string
	switch e.Source {
	case route.SourceEC2:
		var det route.AMIDetail
		if err := route.DecodeDetail(e, &det); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		amiID = det.ImageID
	case route.SourceCodeBuild:
		var det route.CodeBuildDetail
		if err := route.DecodeDetail(e, &det); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		amiID = det.Exported(route.DefaultAMIExportVarName)
		if amiID == "" {
			log.Info("ignored: the build exported no " + route.DefaultAMIExportVarName)
			return nil, nil
		}
	case route.SourceImageBuilder:
		// The event names the Image Builder image, not the AMI: sweep for
		// each app's newest tagged AMI instead.
		return d.sweep(ctx, e.ID, release.EvImage)
	}
	if !strings.HasPrefix(amiID, "ami-") {
		return nil, fmt.Errorf("%w: %q is not an AMI id", ErrMalformed, amiID)
	}
	img, err := d.Fleet.Image(ctx, amiID)
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
		if cloud.Ours(app, img) {
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

func (d *Deps) promote(ctx context.Context, e route.Envelope) ([]Outcome, error) {
	var det route.ApprovalDetail
	if err := route.DecodeDetail(e, &det); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if det.ExecutionID == "" {
		return nil, fmt.Errorf("%w: approval event has no execution-id", ErrMalformed)
	}
	app := d.approvalApp(det)
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

func (d *Deps) approvalApp(det route.ApprovalDetail) *config.App {
	for i := range d.Config.Apps {
		a := &d.Config.Apps[i]
		if a.Approval.Pipeline == det.Pipeline && a.Approval.Stage == det.Stage && a.Approval.Action == det.Action {
			return a
		}
	}
	return nil
}

// Tick finishes what waits on time or on AWS for every app, and sweeps for
// AMIs that no event announced (AMI events are best effort).
func (d *Deps) Tick(ctx context.Context, id string) ([]Outcome, error) {
	if id == "" {
		id = "tick@" + d.now().Format(time.RFC3339)
	}
	return d.sweep(ctx, id, release.EvTick)
}

func (d *Deps) sweep(ctx context.Context, id string, kind release.EventKind) ([]Outcome, error) {
	var outs []Outcome
	var errs []error
	for i := range d.Config.Apps {
		app := &d.Config.Apps[i]
		img, err := d.Fleet.NewestImage(ctx, app)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", app.Name, err))
			continue
		}
		out, err := d.Run(ctx, app, release.Event{Kind: kind, ID: id, Image: img})
		outs = append(outs, out)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", app.Name, err))
		}
	}
	return outs, errors.Join(errs...)
}

// guard handles CloudWatch alarm state changes of configured alarms.
// Metric, metric-math and composite alarms all carry the alarm's name and
// state; their configurations differ and are not needed.
func (d *Deps) guard(ctx context.Context, e route.Envelope) ([]Outcome, error) {
	var det route.AlarmDetail
	if err := route.DecodeDetail(e, &det); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if det.AlarmName == "" || det.State.Value == "" {
		return nil, fmt.Errorf("%w: alarm event needs alarmName and state.value", ErrMalformed)
	}
	log := d.log().With("event", e.ID, "alarm", det.AlarmName, "state", det.State.Value, "previous", det.PreviousState.Value, "alarmKind", det.AlarmKind())
	for i := range d.Config.Apps {
		app := &d.Config.Apps[i]
		al, ok := app.Alarm(det.AlarmName)
		if !ok {
			continue
		}
		if det.State.Value == det.PreviousState.Value {
			log.Info("ignored: no state change")
			return nil, nil
		}
		at, err := alarmTime(e, det)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		out, err := d.Run(ctx, app, release.Event{Kind: release.EvAlarm, ID: e.ID, Alarm: &release.Alarm{
			Name: det.AlarmName, Role: al.Role, State: det.State.Value, Previous: det.PreviousState.Value, Reason: det.State.Reason,
			At: at, Suppressed: det.State.ActionsSuppressedBy, Muted: det.Muted(),
		}})
		if err != nil {
			err = fmt.Errorf("%s: %w", app.Name, err)
		}
		return []Outcome{out}, err
	}
	log.Info("ignored: not a configured alarm")
	return nil, nil
}

// alarmTime is when the alarm transitioned: detail.state.timestamp, or the
// event's own time if CloudWatch left it out. Never the delivery time.
func alarmTime(e route.Envelope, det route.AlarmDetail) (time.Time, error) {
	if det.State.Timestamp != "" {
		t, err := route.ParseAlarmTime(det.State.Timestamp)
		if err != nil {
			return t, fmt.Errorf("detail.state.timestamp: %v", err)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, e.Time)
	if err != nil {
		return t, fmt.Errorf("alarm event has neither detail.state.timestamp nor a valid time (%q)", e.Time)
	}
	return t.UTC(), nil
}
