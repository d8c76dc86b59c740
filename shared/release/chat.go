package release

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// AllNoticeKinds lists every NoticeKind: TestChatEveryKind renders each
// one, so a kind added to notices.go belongs here too.
var AllNoticeKinds = []NoticeKind{
	NoticeStaged, NoticePreviewReady, NoticeStagedUnhealthy, NoticeSuperseded, NoticeQueued,
	NoticeImageRefused, NoticeApproved, NoticeApprovalRefused, NoticeRejected, NoticeAborted,
	NoticePromotionAbort, NoticeTakenOver, NoticeWindowWaitLimit, NoticeNotHealthy, NoticeStopped,
	NoticeShiftStarted, NoticeShiftStepped, NoticeCutOver, NoticeReleased, NoticeRolledBack,
	NoticeBackDuringShift, NoticeBackDuringBake, NoticeAlarmSilenced, NoticeFloorAboveMax,
	NoticePreviewAboveMax, NoticeNotConverging, NoticeBelowFloor, NoticeScalingDiffers,
	NoticeApprovalRequested,
}

// Chat is a notice as people read it, in chat (a card) and in email
// (plain text): what happened, why, and what to do next.
type Chat struct {
	Kind NoticeKind `json:"kind"`
	// Title says what happened: the notice's SNS subject.
	Title string `json:"title"`
	// Why says why it happened, or why it matters.
	Why string `json:"why"`
	// Details is the notice's message (Render's).
	Details string `json:"details"`
	// Next are the next steps: exact kaizen commands and console links.
	Next []Step `json:"next"`
	// Keywords tag the card: the app, the kind, the AMI.
	Keywords []string `json:"keywords"`
	// Thread groups a release's notices in one chat thread.
	Thread string `json:"thread"`
}

// Step is one next step: what to do, and the exact command to run or the
// console page to open.
type Step struct {
	Say     string `json:"say"`
	Command string `json:"command,omitempty"`
	Link    string `json:"link,omitempty"`
}

// Plain is the step as email text.
func (s Step) Plain() string {
	switch {
	case s.Command != "":
		return s.Say + ": " + s.Command
	case s.Link != "":
		return s.Say + ": " + s.Link
	}
	return s.Say
}

// Markdown is the step in chat, the command as code.
func (s Step) Markdown() string {
	switch {
	case s.Command != "":
		return s.Say + ": `" + s.Command + "`"
	case s.Link != "":
		return s.Say + ": " + s.Link
	}
	return s.Say
}

// Text is the email body: the details, why, and the next steps, plain
// text (no markup, no JSON).
func (c Chat) Text() string {
	var b strings.Builder
	b.WriteString(c.Details)
	if c.Why != "" && !strings.Contains(c.Details, c.Why) {
		b.WriteString("\n\nWhy: " + c.Why)
	}
	if len(c.Next) > 0 {
		b.WriteString("\n\nNext steps:")
		for _, s := range c.Next {
			b.WriteString("\n- " + s.Plain())
		}
	}
	return b.String()
}

// Description is the chat card's description: why first, then the
// details.
func (c Chat) Description() string {
	if c.Why == "" || strings.Contains(c.Details, c.Why) {
		return c.Details
	}
	return "*Why:* " + c.Why + "\n" + c.Details
}

// NextMarkdown are the next steps as the card lists them.
func (c Chat) NextMarkdown() []string {
	out := make([]string, 0, len(c.Next))
	for _, s := range c.Next {
		out = append(out, s.Markdown())
	}
	return out
}

// Chat renders a notice for chat and email. Every kind gets a title, a
// reason and at least one next step; a kind this file does not know gets
// the words' headline and message and the status and history commands.
func (n Notice) Chat(app *config.App) Chat {
	head, msg := n.words(app)
	r := n.Release
	c := Chat{Kind: n.Kind, Title: subjectOf(app, head), Details: msg, Thread: "kaizen-" + app.Name}
	if r.ID != "" {
		c.Thread += "-" + r.ID
	}
	c.Keywords = []string{app.Name, string(n.Kind)}
	if ami := firstOf(r.AMI, n.Image.ID); ami != "" {
		c.Keywords = append(c.Keywords, ami)
	}
	x := consoleOf(app)
	status := Step{Say: "See where the app stands", Command: "kaizen status --app " + app.Name}
	history := Step{Say: "See what happened, step by step", Command: "kaizen history --app " + app.Name}
	pipeline := Step{Say: "Approve or reject in the pipeline", Link: x.pipeline(app.Approval.Pipeline)}
	abort := Step{Say: "Drop this AMI instead", Command: "kaizen abort --app " + app.Name}
	rollback := Step{Say: "Send the public back now", Command: "kaizen rollback --app " + app.Name}
	group := func(c Color, say string) Step {
		return Step{Say: say, Link: x.group(app.Color(c).ASG)}
	}
	targets := func(c Color, say string) Step {
		return Step{Say: say, Link: x.targetGroup(app.Color(c).TargetGroupARN)}
	}
	listener := Step{Say: "Check the listener's default action", Link: x.listener(app.ListenerARN)}

	switch n.Kind {
	case NoticeStaged:
		c.Why = fmt.Sprintf("a new AMI carrying the tag %s=%s became available", app.ImageTag.Key, app.ImageTag.Value)
		c.Next = []Step{{Say: "Preview it from the office once it is healthy (a notice follows)"}, pipeline, abort}
	case NoticePreviewReady:
		c.Why = fmt.Sprintf("the %s color has the preview size of healthy instances", r.Color)
		c.Next = []Step{pipeline, {Say: "Or approve from the CLI", Command: "kaizen promote --app " + app.Name}, abort}
	case NoticeStagedUnhealthy:
		c.Why = firstOf(r.Reason, "a guard alarm fired while the AMI was staged")
		c.Next = []Step{targets(r.Color, "Look at the staged color's targets"), history, {Say: "Build a fixed AMI: it replaces this one"}}
	case NoticeSuperseded:
		c.Why = fmt.Sprintf("a newer AMI %s arrived before an approval", n.Image.ID)
		c.Next = []Step{status}
	case NoticeQueued:
		c.Why = fmt.Sprintf("release %s is %s; one release per app is in flight at a time", r.ID, r.State.Phase())
		c.Next = []Step{status}
	case NoticeImageRefused:
		c.Why = firstOf(n.Why, "the AMI does not pass kaizen's checks")
		c.Next = []Step{{Say: "If the AMI is yours, share it from an account listed in imageOwners, then rebuild"}, status}
	case NoticeApprovalRequested:
		c.Why = fmt.Sprintf("the approval action %s / %s / %s started on this AMI", app.Approval.Pipeline, app.Approval.Stage, app.Approval.Action)
		c.Next = []Step{{Say: "Read the evidence above, then approve or reject", Link: x.pipeline(app.Approval.Pipeline)}, abort}
	case NoticeApproved:
		c.Why = fmt.Sprintf("the approval action %s / %s / %s succeeded", app.Approval.Pipeline, app.Approval.Stage, app.Approval.Action)
		c.Next = []Step{status, {Say: "Stop before the public moves", Command: "kaizen abort --app " + app.Name}}
	case NoticeApprovalRefused:
		c.Why = firstOf(n.Why, "the approval does not match the staged AMI")
		c.Next = []Step{status, {Say: "Approve the execution that started on the staged AMI", Link: x.pipeline(app.Approval.Pipeline)}}
	case NoticeRejected:
		c.Why = "the approval action was rejected"
		c.Next = []Step{history}
	case NoticeAborted, NoticePromotionAbort:
		c.Why = "aborted by " + firstOf(n.Who, "an operator")
		c.Next = []Step{history}
	case NoticeTakenOver:
		c.Why = "the listener was switched to the staged color outside kaizen"
		c.Next = []Step{listener, history}
	case NoticeWindowWaitLimit:
		c.Why = fmt.Sprintf("the change window did not open within windowWaitHours (%d)", app.WindowWaitHours)
		c.Next = []Step{{Say: "Approve a new release inside the change window", Link: x.pipeline(app.Approval.Pipeline)}, history}
	case NoticeNotHealthy:
		c.Why = fmt.Sprintf("%d of %d targets were healthy after cutoverTimeoutMinutes (%d)", n.Healthy, n.Need, app.CutoverTimeoutMinutes)
		c.Next = []Step{targets(r.Color, "See why the targets are unhealthy"), history}
	case NoticeStopped:
		c.Why = firstOf(n.Why, "a guard alarm fired before any public traffic moved")
		c.Next = []Step{targets(r.Color, "Look at the new color's targets"), history}
	case NoticeShiftStarted, NoticeShiftStepped:
		c.Why = fmt.Sprintf("weighted cutover, steps %v%%, %d minutes each", app.WeightSteps, app.StepMinutes)
		c.Next = []Step{status, rollback}
	case NoticeCutOver:
		c.Why = fmt.Sprintf("enough targets were healthy (%d%% of the live color's capacity)", app.CutoverHealthyPercent)
		c.Next = []Step{status, rollback}
	case NoticeReleased:
		c.Why = fmt.Sprintf("the bake of %d minutes ended without a guard alarm", app.BakeMinutes)
		c.Next = []Step{history}
	case NoticeRolledBack:
		c.Why = firstOf(r.Reason, "a guard alarm fired during the shift or the bake")
		c.Next = []Step{history, targets(r.Color, "Investigate the bad color (it stays up until the hold ends)"), listener,
			{Say: "Once fixed, build a new AMI: it is staged as usual"}}
	case NoticeBackDuringShift, NoticeBackDuringBake:
		c.Why = "the listener was switched back outside kaizen"
		c.Next = []Step{listener, history}
	case NoticeAlarmSilenced:
		c.Why = "the alarm's actions were " + strings.TrimPrefix(strings.TrimPrefix(silenced(n.Alarm), "it is "), "its actions are ")
		c.Next = []Step{{Say: "Look at the alarm", Link: x.alarm(n.Alarm.Name)}, status}
	case NoticeFloorAboveMax, NoticePreviewAboveMax:
		c.Why = "kaizen never raises an operator's MaxSize"
		c.Next = []Step{group(n.Color, "Raise the group's MaxSize"), {Say: "Or lower floor / previewSize in kaizen's configuration", Command: "kaizen config check"}}
	case NoticeBelowFloor:
		c.Why = "something outside kaizen lowered the live color's capacity below the floor"
		c.Next = []Step{group(n.Color, "Find what lowered it (activity history, scheduled actions)"), history}
	case NoticeScalingDiffers:
		c.Why = firstOf(n.Why, "the new color's scaling differs from the live color's")
		c.Next = []Step{group(n.Color, "Give the new color the live color's policies"), {Say: "Or set scalingPolicies to \"copy\" in kaizen's configuration"}}
	case NoticeNotConverging:
		c.Why = firstOf(n.Why, "the same corrective action did not take")
		c.Next = []Step{history, {Say: "Once what fights kaizen is fixed", Command: "kaizen resume --app " + app.Name}}
	default:
		c.Why = firstOf(n.Why, r.Reason)
		c.Next = []Step{status, history}
	}
	return c
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// console makes AWS console links in the app's region (read from its
// listener's ARN).
type console struct{ region string }

func consoleOf(app *config.App) console {
	parts := strings.Split(app.ListenerARN, ":")
	if len(parts) > 3 && parts[3] != "" {
		return console{parts[3]}
	}
	return console{"us-east-1"}
}

func (c console) base(service string) string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/%s/home?region=%s", c.region, service, c.region)
}

func (c console) targetGroup(arn string) string {
	return c.base("ec2") + "#TargetGroup:targetGroupArn=" + arn
}

func (c console) listener(arn string) string {
	return c.base("ec2") + "#ELBListenerV2:listenerArn=" + arn
}

func (c console) group(name string) string {
	return c.base("ec2") + "#AutoScalingGroupDetails:id=" + url.PathEscape(name)
}

func (c console) alarm(name string) string {
	return c.base("cloudwatch") + "#alarmsV2:alarm/" + url.PathEscape(name)
}

func (c console) pipeline(name string) string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/codesuite/codepipeline/pipelines/%s/view?region=%s", c.region, url.PathEscape(name), c.region)
}

// chat is Chat for an action.
func (n Notice) chat(app *config.App) *Chat {
	c := n.Chat(app)
	return &c
}

// Why an alarm transition moved nothing (Plan.IgnoredAlarm).
const (
	IgnoredSilenced      = "silenced"       // suppressed by a composite alarm, or muted
	IgnoredLate          = "late"           // older than a transition already seen
	IgnoredBeforeRelease = "before-release" // from before the release was staged or took the public
	IgnoredNoRelease     = "no-release"     // a guard alarm with nothing in flight
)
