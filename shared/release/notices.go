package release

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// NoticeKind names what a notice tells people.
type NoticeKind string

const (
	NoticeStaged          NoticeKind = "staged"
	NoticePreviewReady    NoticeKind = "preview-ready"
	NoticeStagedUnhealthy NoticeKind = "staged-unhealthy"
	NoticeSuperseded      NoticeKind = "superseded"
	NoticeQueued          NoticeKind = "queued"
	NoticeImageRefused    NoticeKind = "image-refused"
	NoticeApproved        NoticeKind = "approved"
	NoticeApprovalRefused NoticeKind = "approval-refused"
	NoticeRejected        NoticeKind = "rejected"
	NoticeAborted         NoticeKind = "aborted"           // before approval
	NoticePromotionAbort  NoticeKind = "promotion-aborted" // approved, before any public traffic moved
	NoticeTakenOver       NoticeKind = "taken-over"
	NoticeWindowWaitLimit NoticeKind = "window-wait-failed"
	NoticeNotHealthy      NoticeKind = "not-healthy"
	NoticeStopped         NoticeKind = "stopped" // a guard alarm before any public traffic moved
	NoticeShiftStarted    NoticeKind = "shift-started"
	NoticeShiftStepped    NoticeKind = "shift-stepped"
	NoticeCutOver         NoticeKind = "cut-over"
	NoticeReleased        NoticeKind = "released"
	NoticeRolledBack      NoticeKind = "rolled-back"
	NoticeBackDuringShift NoticeKind = "switched-back-during-shift"
	NoticeBackDuringBake  NoticeKind = "switched-back-during-bake"
	NoticeAlarmSilenced   NoticeKind = "alarm-silenced"
	NoticeFloorAboveMax   NoticeKind = "floor-above-max"
	NoticePreviewAboveMax NoticeKind = "preview-above-max"
	NoticeNotConverging   NoticeKind = "not-converging"
	NoticeBelowFloor      NoticeKind = "below-floor"
	NoticeScalingDiffers  NoticeKind = "scaling-differs"
	// NoticeApprovalRequested carries the evidence (evidence.go) when the
	// approval action starts.
	NoticeApprovalRequested NoticeKind = "approval-requested"
)

// Notice is what the planner wants people told: a kind and the data the
// words need. Render makes the words, so the planner reads as decisions.
type Notice struct {
	Kind NoticeKind
	// Release is the release concerned, as it stood when the notice was
	// decided.
	Release Release
	// Image is the AMI concerned when it is not the release's: the one
	// refused, queued, or superseding; for a staged AMI, its tags.
	Image Image
	// Why is the reason: of a refusal, a rollback, a stop, a failure.
	Why string
	// Who is the person behind an abort; Execution the approval concerned.
	Who, Execution string
	// Color and Want, Max: a color whose MaxSize is below the floor or the
	// preview size kaizen wants.
	Color     Color
	Want, Max int
	// Healthy of Need targets, for a cutover that timed out.
	Healthy, Need int
	// LiveAMI is the AMI the public is back on after a rollback; Until is
	// when the bad color's hold ends.
	LiveAMI string
	Until   time.Time
	Alarm   Alarm
	// Staging is what the staging app runs, for approval prompts.
	Staging *StagingView
	// Evidence and At, for an approval request.
	Evidence *Evidence
	At       time.Time
}

// Render makes a notice's subject and message.
func (n Notice) Render(app *config.App) (subject, message string) {
	head, msg := n.words(app)
	return subjectOf(app, head), msg
}

func subjectOf(app *config.App, headline string) string {
	return fmt.Sprintf("[kaizen] %s: %s", app.Name, headline)
}

// words is the one place that says what kaizen tells people: the headline
// (also the action's Why) and the message.
func (n Notice) words(app *config.App) (string, string) {
	r := n.Release
	f := fmt.Sprintf
	switch n.Kind {
	case NoticeStaged:
		var tags []string
		for k, v := range n.Image.Tags {
			tags = append(tags, k+"="+v)
		}
		sort.Strings(tags)
		how := "from the office (" + strings.Join(app.Preview.OfficeCIDRs, ", ") + ")"
		if h := app.Preview.Header; h != nil {
			how += f(" with header %s: %s", h.Name, h.Value)
		}
		if app.PreviewURL != "" {
			how = app.PreviewURL + " " + how
		}
		return "staged " + r.AMI, f("AMI %s (%s) is staged on the %s color.\nTags: %s\nPreview: open the app %s; it reaches %s once %d instance(s) are healthy.\n%s%s",
			r.AMI, r.AMIName, r.Color, strings.Join(tags, ", "), how, r.Color, app.PreviewSize,
			howToApprove(app, r), withLine(n.Staging.About(r.AMI)))
	case NoticePreviewReady:
		return "preview ready " + r.AMI, f("AMI %s (%s) is healthy on the %s color: preview it from the office, then %s%s",
			r.AMI, r.AMIName, r.Color, lowerFirst(howToApprove(app, r)), withLine(n.Staging.About(r.AMI)))
	case NoticeStagedUnhealthy:
		return "staged AMI unhealthy " + r.AMI, f("%s while AMI %s was staged on %s. An approval of it will be refused; a new AMI replaces it.", r.Reason, r.AMI, r.Color)
	case NoticeSuperseded:
		return "superseded", f("AMI %s (%s) was staged on %s but not approved; newer AMI %s replaces it.", r.AMI, r.AMIName, r.Color, n.Image.ID)
	case NoticeQueued:
		return "queued", f("AMI %s (%s) is queued: it will be staged when release %s (%s) finishes %s.", n.Image.ID, n.Image.Name, r.ID, r.AMI, r.State.Phase())
	case NoticeImageRefused:
		return "AMI " + n.Image.ID + " refused", f("AMI %s (%s) carries the tag %s=%s, but %s. kaizen will not stage it. If it is yours, share it from an account listed in imageOwners.",
			n.Image.ID, n.Image.Name, app.ImageTag.Key, app.ImageTag.Value, n.Why)
	case NoticeApproved:
		return "approved " + r.AMI, f("AMI %s (%s) approved: %s grows to the live color's capacity %s; the public moves once enough targets are healthy.%s",
			r.AMI, r.AMIName, r.Color, r.Capacity, withLine(n.Staging.About(r.AMI)))
	case NoticeApprovalRefused:
		return "approval refused", f("Approval %s was refused: %s.", n.Execution, n.Why)
	case NoticeRejected:
		return "rejected " + r.AMI, f("AMI %s (%s) was rejected at approval; the %s color goes back to zero.", r.AMI, r.AMIName, r.Color)
	case NoticeAborted:
		return "aborted " + r.AMI, f("AMI %s was aborted by %s; the %s color goes back to zero.", r.AMI, n.Who, r.Color)
	case NoticePromotionAbort:
		return "aborted " + r.AMI, f("The promotion of AMI %s was aborted by %s before any public traffic moved.", r.AMI, n.Who)
	case NoticeTakenOver:
		return "release taken over", f("The public was switched to %s by hand while AMI %s was staged there; kaizen stopped tracking the release.", r.Color, r.AMI)
	case NoticeWindowWaitLimit:
		return "release failed " + r.AMI, f("AMI %s was approved but waited %d hours (windowWaitHours) for the change window %s; the release failed instead of holding full capacity on two colors. The public stays on %s; approve a new release inside the window.",
			r.AMI, app.WindowWaitHours, app.ChangeWindow, r.Color.Other())
	case NoticeNotHealthy:
		return "release failed " + r.AMI, f("AMI %s did not become healthy on %s in %d minutes (%d of %d healthy); the public stays on %s.",
			r.AMI, r.Color, app.CutoverTimeoutMinutes, n.Healthy, n.Need, r.Color.Other())
	case NoticeStopped:
		return "release stopped " + r.AMI, f("%s while %s was being prepared for cutover; the public never left %s.", n.Why, r.AMI, r.Color.Other())
	case NoticeShiftStarted:
		return f("shifting %d%% to %s", r.Weight, r.AMI), f("%d%% of the public now reaches AMI %s on %s; the next step follows at %s unless a guard alarm fires.",
			r.Weight, r.AMI, r.Color, stamp(r.StepUntil))
	case NoticeShiftStepped:
		return f("shifting %d%% to %s", r.Weight, r.AMI), f("%d%% of the public now reaches AMI %s on %s.", r.Weight, r.AMI, r.Color)
	case NoticeCutOver:
		return "cut over to " + r.AMI, f("The public now reaches AMI %s on %s. %s stays warm until %s; a rollback is one listener call.", r.AMI, r.Color, r.From, stamp(r.BakeUntil))
	case NoticeReleased:
		return "released " + r.AMI, f("AMI %s baked for %d minutes on %s without a guard alarm; %s is retired to zero.", r.AMI, app.BakeMinutes, r.Color, r.From)
	case NoticeRolledBack:
		return "ROLLED BACK " + r.AMI, f("ROLLBACK: %s.\nThe public is back on %s (AMI %s). The bad color %s (AMI %s) stays up for investigation until %s and is reachable from the office; then it is retired.",
			r.Reason, r.Color.Other(), n.LiveAMI, r.Color, r.AMI, stamp(n.Until))
	case NoticeBackDuringShift:
		return "rolled back " + r.AMI, f("The public was switched back to %s outside kaizen during the shift to %s.", r.From, r.AMI)
	case NoticeBackDuringBake:
		return "rolled back " + r.AMI, f("The public was switched back to %s outside kaizen during the bake of %s.", r.From, r.AMI)
	case NoticeAlarmSilenced:
		a := n.Alarm
		return "alarm " + a.Name + " fired while suppressed or muted", f("Alarm %s (%s) went to ALARM at %s while %s, so kaizen took no action (no rollback, no capacity step).\nReason: %s\nA person should look: kaizen will not act on this transition later.",
			a.Name, a.Role, stamp(a.At), silenced(a), a.Reason)
	case NoticeFloorAboveMax:
		return "floor above MaxSize", f("The floor %d is above the MaxSize %d of %s (%s), which serves the public. kaizen never raises an operator's MaxSize, so it keeps %s at %d; raise the group's MaxSize or lower the floor.",
			n.Want, n.Max, n.Color, app.Color(n.Color).ASG, n.Color, n.Max)
	case NoticePreviewAboveMax:
		return "previewSize above MaxSize", f("previewSize %d is above the MaxSize %d of %s (%s). kaizen never raises an operator's MaxSize, so the preview runs %d instance(s); raise the group's MaxSize or lower previewSize.",
			n.Want, n.Max, n.Color, app.Color(n.Color).ASG, n.Max)
	case NoticeBelowFloor:
		return "restored the floor of " + string(n.Color), f("The %s color (%s) serves the public but was at %s (min/desired/max), below the floor %d: kaizen set its MinSize and desired capacity back to at least %d. Something outside kaizen lowered them (a person, a scheduled action, a template); change that, or lower floor in kaizen's configuration.",
			n.Color, app.Color(n.Color).ASG, n.Why, n.Want, n.Want)
	case NoticeScalingDiffers:
		return "scaling of " + string(n.Color) + " differs", f("The scaling policies and scheduled actions of %s (%s) differ from the live color's: %s.\nWith scalingPolicies %q kaizen will not move the public to %s until they are equal: give %s the live color's policies (aws autoscaling describe-policies / put-scaling-policy, describe-scheduled-actions / put-scheduled-update-group-action, with %s's own target group in the metrics), or set scalingPolicies to %q and kaizen copies them.",
			n.Color, app.Color(n.Color).ASG, n.Why, config.ScalingVerify, n.Color, n.Color, n.Color, config.ScalingCopy)
	case NoticeApprovalRequested:
		if n.Evidence == nil {
			return "approval requested " + r.AMI, f("Approval requested for AMI %s; kaizen could not gather its evidence.", r.AMI)
		}
		return "approval requested " + r.AMI, n.Evidence.Text(app, r, n.At)
	case NoticeNotConverging:
		return "not converging", f("kaizen is not converging on %s: %s.\nkaizen has stopped acting on %s; the fleet stays as it is. Find what fights kaizen (another automation, a scaling policy, a hand change), then run: kaizen resume --app %s",
			app.Name, n.Why, app.Name, app.Name)
	}
	return string(n.Kind), f("%+v", n)
}

// howToApprove says how a staged release gets approved: in the pipeline
// when the pipeline built the AMI or its approval action has started;
// otherwise (an image kaizen rebuilt through a CodeBuild project, outside
// the pipeline) the pipeline never asks, so with kaizen promote.
func howToApprove(app *config.App, r Release) string {
	if r.PipelineExecution == "" && r.ApprovalExecution == "" && app.Rebuild.CodeBuildProject != "" {
		return fmt.Sprintf("Approve with: kaizen promote --app %s (reject with: kaizen abort --app %s). This AMI was not built by pipeline %s, so its approval action %s is not requested.",
			app.Name, app.Name, app.Approval.Pipeline, app.Approval.Action)
	}
	return fmt.Sprintf("Approve or reject in pipeline %s, stage %s, action %s: %s", app.Approval.Pipeline, app.Approval.Stage, app.Approval.Action, ConsoleURL(app))
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// silenced says how an alarm's actions were silenced: suppressed by a
// composite alarm's rule, or muted.
func silenced(a Alarm) string {
	if a.Muted != "" {
		return "it is muted (" + a.Muted + ")"
	}
	return "its actions are suppressed (" + a.Suppressed + ")"
}

// withLine prefixes a non-empty line with a newline.
func withLine(s string) string {
	if s == "" {
		return ""
	}
	return "\n" + s
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// About says whether ami is live and healthy on staging.
func (s *StagingView) About(ami string) string {
	if s == nil {
		return ""
	}
	if s.AMI == ami {
		if s.Healthy >= s.Desired && s.Desired > 0 {
			since := ""
			if !s.LiveSince.IsZero() {
				since = " since " + stamp(s.LiveSince)
			}
			alarming := ""
			if len(s.Alarming) > 0 {
				alarming = " Guard alarm(s) in ALARM there: " + strings.Join(s.Alarming, ", ") + "."
			}
			return fmt.Sprintf("Staging (%s): this AMI is live there%s, %d of %d healthy.%s", s.App, since, s.Healthy, s.Desired, alarming)
		}
		return fmt.Sprintf("Staging (%s): this AMI is live there but only %d of %d are healthy.", s.App, s.Healthy, s.Desired)
	}
	return fmt.Sprintf("Staging (%s): NOT live there yet (staging serves %s).", s.App, s.AMI)
}
