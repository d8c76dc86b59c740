package secretchange

import (
	"fmt"
	"strings"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Kinds of the secret-change notices. The chat card's event type is
// "kaizen." and the kind, as for the release notices. None carries a
// secret value: they name the secret, the event and the build.
const (
	// NoticeRebuildStarted: the secret changed and a build started.
	NoticeRebuildStarted release.NoticeKind = "secret-rebuild-started"
	// NoticeRebuildPending: a build runs; the rebuild starts when it ends.
	NoticeRebuildPending release.NoticeKind = "secret-rebuild-pending"
	// NoticeRebuildByHand: a build runs and nothing remembers the change;
	// people start the rebuild.
	NoticeRebuildByHand release.NoticeKind = "secret-rebuild-by-hand"
	// NoticePendingStarted: the pending rebuild started (StartPending).
	NoticePendingStarted release.NoticeKind = "secret-pending-rebuild-started"
)

// AllNoticeKinds lists every kind of the secret-change notices.
var AllNoticeKinds = []release.NoticeKind{NoticeRebuildStarted, NoticeRebuildPending, NoticeRebuildByHand, NoticePendingStarted}

// changeNotice is the notice of a change: message's subject and text as
// title and details, with why and the next steps.
func changeNotice(app *config.App, e route.Event, d route.SecretDetail, secret string, out *Outcome) awsapi.Notice {
	subject, msg := message(app, e, d, secret, out)
	c := release.Chat{Title: subject, Details: msg}
	status := release.Step{Say: "See which images carry which secret version", Command: "kaizen status --app " + app.Name}
	dontApprove := release.Step{Say: "Do not approve the release of the running build's image"}
	if p := app.Approval.Pipeline; p != "" {
		dontApprove.Link = rebuild.PipelineLink(app, p, "")
	}
	approval := release.Step{Say: "Once the image is built, kaizen stages it and asks for approval (a notice follows)"}
	if p := app.Approval.Pipeline; p != "" {
		approval.Link = rebuild.PipelineLink(app, p, "")
	}
	why := fmt.Sprintf("secret %s got a new current value (%s), and only a new image carries it: the build bakes the secret into the image", secret, d.EventName)
	switch {
	case out.BuildID != "":
		c.Kind = NoticeRebuildStarted
		c.Why = why
		c.Next = []release.Step{
			{Say: "Watch the build", Link: rebuild.BuildLink(app, out.BuildID)},
			approval,
		}
	case out.Pending:
		c.Kind = NoticeRebuildPending
		c.Why = why + "; a build that may carry the previous value runs, and the rebuild starts when it ends"
		c.Next = []release.Step{{Say: "Watch the running build", Link: rebuild.BuildLink(app, "")}, dontApprove}
	default:
		c.Kind = NoticeRebuildByHand
		c.Why = why + "; a build that may carry the previous value runs, and nothing starts the rebuild after it"
		c.Next = []release.Step{
			{Say: "Watch the running build", Link: rebuild.BuildLink(app, "")},
			{Say: "When it ends, start the rebuild", Command: rebuild.StartCommand(app, nil)},
			dontApprove,
		}
	}
	if len(out.Carrying) > 0 {
		var on []string
		for _, ci := range out.Carrying {
			on = append(on, fmt.Sprintf("%s (%s) %s", ci.Color, ci.Role, ci.Image.ID))
		}
		c.Next = append(c.Next, release.Step{Say: "Keep the previous credential valid until an image with the new version is live on every color that serves the public; still on the previous version: " + strings.Join(on, ", ")})
	}
	c.Next = append(c.Next, status)
	return noticeOf(app, c, d.EventName)
}

// pendingNotice is the notice of StartPending: the rebuild that waited for
// a running build started as build id.
func pendingNotice(app *config.App, reason, id string) awsapi.Notice {
	c := release.Chat{
		Kind:  NoticePendingStarted,
		Title: fmt.Sprintf("kaizen %s: secret rebuild started", app.Name),
		Details: fmt.Sprintf("App: %s\n%s while a golden-image build ran.\nThat build has ended; started build %s (%s) so that the next image carries the new value.\n",
			app.Name, reason, id, target(app)),
		Why: "the build that ran when the secret changed has ended",
		Next: []release.Step{
			{Say: "Watch the build", Link: rebuild.BuildLink(app, id)},
			{Say: "Once the image is built, kaizen stages it and asks for approval (a notice follows)"},
			{Say: "Keep the previous credential valid until that image is live on every color that serves the public"},
			{Say: "See which images carry which secret version", Command: "kaizen status --app " + app.Name},
		},
	}
	return noticeOf(app, c, "")
}

// noticeOf is c as SNS subscribers read it (as cloud.ChatNotice makes the
// release notices), threaded per app.
func noticeOf(app *config.App, c release.Chat, event string) awsapi.Notice {
	c.Thread = "kaizen-" + app.Name + "-secret"
	c.Keywords = []string{app.Name, string(c.Kind), "secret"}
	if event != "" {
		c.Keywords = append(c.Keywords, event)
	}
	return awsapi.Notice{
		Subject: c.Title, Text: c.Text(),
		Title: c.Title, Description: c.Description(), Next: c.NextMarkdown(), Keywords: c.Keywords,
		Thread: c.Thread, EventType: "kaizen." + string(c.Kind),
	}
}
