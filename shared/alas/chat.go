package alas

import (
	"fmt"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// Kinds of the poller's notices. The chat card's event type is "kaizen."
// and the kind, as for the release notices.
const (
	// NoticeRebuildStarted: a build was started for pending advisories.
	NoticeRebuildStarted release.NoticeKind = "alas-rebuild-started"
	// NoticeRebuildWaiting: a build already runs; the pending advisories
	// go into the next one.
	NoticeRebuildWaiting release.NoticeKind = "alas-rebuild-waiting"
	// NoticeRebuildFailed: the build could not be started (or the pending
	// advisories not read); the next poll retries.
	NoticeRebuildFailed release.NoticeKind = "alas-rebuild-failed"
	// NoticeNoRebuild: news without a build, such as the first poll of a
	// feed recording its history as known.
	NoticeNoRebuild release.NoticeKind = "alas-no-rebuild"
	// NoticeDigest: the periodic list of advisories below the minimum
	// severity.
	NoticeDigest release.NoticeKind = "alas-digest"
)

// AllNoticeKinds lists every kind of the poller's notices.
var AllNoticeKinds = []release.NoticeKind{NoticeRebuildStarted, NoticeRebuildWaiting, NoticeRebuildFailed, NoticeNoRebuild, NoticeDigest}

// maxLinked bounds the advisories a digest's next steps link to.
const maxLinked = 6

// pollNotice is the one notice of a poll: notification's subject and text
// as title and details, with why and the next steps.
func pollNotice(app *config.App, rep *Report, rebuildErr error) awsapi.Notice {
	subject, msg := notification(app, rep, rebuildErr)
	c := release.Chat{Title: subject, Details: msg}
	status := release.Step{Say: "See where the app stands", Command: "kaizen status --app " + app.Name}
	switch {
	case rep.RebuildID != "":
		c.Kind = NoticeRebuildStarted
		news := "advisories recorded by an earlier poll were pending"
		if n := len(rep.New); n > 0 {
			news = fmt.Sprintf("%d new %s at or above %s (highest %s)", n, plural(n, "advisory", "advisories"), app.ALAS.MinSeverity, highest(rep.New))
		}
		c.Why = fmt.Sprintf("%s; kaizen started build %s of the %s to apply %d pending %s",
			news, rep.RebuildID, rebuild.Target(app), len(rep.Rebuild), plural(len(rep.Rebuild), "advisory", "advisories"))
		c.Next = []release.Step{
			{Say: "Watch the build", Link: rebuild.BuildLink(app, rep.RebuildID)},
			approvalStep(app),
			status,
		}
		if rebuildErr != nil {
			c.Next = append(c.Next, release.Step{Say: "The build runs, but its advisories stay pending, so a later poll starts one more build; see the poller's log"})
		}
	case len(rep.Waiting) > 0 && rebuildErr == nil:
		c.Kind = NoticeRebuildWaiting
		c.Why = rep.WaitReason
		c.Next = []release.Step{
			{Say: "Watch the running build", Link: rebuild.BuildLink(app, "")},
			{Say: "Nothing to do: the first poll after it ends starts a build with these advisories"},
			status,
		}
	case rebuildErr != nil:
		c.Kind = NoticeRebuildFailed
		c.Why = rep.WaitReason
		if c.Why == "" {
			c.Why = "the pending advisories could not be read"
		}
		c.Next = []release.Step{{Say: "Start the build by hand", Command: rebuild.StartCommand(app, rep.Waiting)}}
		if app.ALAS.AmazonLinux == "2023" {
			c.Next = append(c.Next, release.Step{Say: "Amazon Linux 2023: pass " + rebuild.EnvReleaseVersion + " too (the newest release), or dnf does not see the fixed packages"})
		}
		c.Next = append(c.Next,
			release.Step{Say: "Check the " + rebuild.Target(app) + " and kaizen's permission to start it", Link: rebuild.BuildLink(app, "")},
			release.Step{Say: "Or leave it: the next poll retries"},
			status)
	default:
		c.Kind = NoticeNoRebuild
		c.Why = "no advisory is pending a rebuild"
		if rep.Known > 0 {
			c.Why = fmt.Sprintf("first poll of the feed: its %d older %s are taken to be in the image's base AMI", rep.Known, plural(rep.Known, "advisory", "advisories"))
		}
		c.Next = []release.Step{status, {Say: "Nothing to do: kaizen rebuilds for the next advisory at or above " + app.ALAS.MinSeverity}}
	}
	c.Keywords = keywords(app, c.Kind, rep.New)
	return noticeOf(app, c, "")
}

// digestNotice is a digest: digestMessage's subject and text, and in chat
// the advisories by severity with links to their pages.
// last is the previous digest's time, or zero.
func digestNotice(app *config.App, as []Advisory, last time.Time) awsapi.Notice {
	subject, msg := digestMessage(app, as, last)
	c := release.Chat{Kind: NoticeDigest, Title: subject, Details: msg}
	every := app.ALAS.DigestHours
	if every <= 0 {
		every = DefaultDigestHours
	}
	c.Why = fmt.Sprintf("%s: below the minimum severity (%s), so no rebuild; kaizen lists them every %d hours", bySeverity(as), app.ALAS.MinSeverity, every)
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
		if a.URL != "" && len(c.Next) < maxLinked {
			c.Next = append(c.Next, release.Step{Say: fmt.Sprintf("Read %s (%s, %s)", a.ID, a.Severity, joinShort(a.Packages)), Link: a.URL})
		}
	}
	c.Next = append(c.Next,
		release.Step{Say: "To include them now, start a build by hand", Command: rebuild.StartCommand(app, ids)},
		release.Step{Say: "To rebuild for such advisories on their own, lower alas.minSeverity in kaizen's configuration and check it", Command: "kaizen config check"})
	c.Keywords = keywords(app, NoticeDigest, as)
	return noticeOf(app, c, digestCard(as))
}

// approvalStep says what follows a build: kaizen stages the image and asks
// for approval in the app's pipeline.
func approvalStep(app *config.App) release.Step {
	s := release.Step{Say: "Once the image is built, kaizen stages it and asks for approval (a notice follows)"}
	if p := app.Approval.Pipeline; p != "" {
		s.Link = rebuild.PipelineLink(app, p, "")
	}
	return s
}

func keywords(app *config.App, kind release.NoticeKind, as []Advisory) []string {
	k := []string{app.Name, string(kind), "security"}
	if h := highest(as); h != "" {
		k = append(k, h)
	}
	return k
}

// bySeverity counts as by severity, highest first: "2 medium, 1 low".
func bySeverity(as []Advisory) string {
	var parts []string
	for _, sev := range []string{Critical, Important, Medium, Low} {
		n := 0
		for _, a := range as {
			if s, _ := NormalizeSeverity(a.Severity); s == sev {
				n++
			}
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d %s", len(as), plural(len(as), "advisory", "advisories"))
	}
	return strings.Join(parts, ", ")
}

// digestCard is a digest as the chat card describes it: one section per
// severity, one line per advisory with its page (the card is cut at
// awsapi.ChatDescriptionMax characters).
func digestCard(as []Advisory) string {
	var b strings.Builder
	sev := ""
	for _, a := range as {
		if s, _ := NormalizeSeverity(a.Severity); s != sev || b.Len() == 0 {
			sev = s
			fmt.Fprintf(&b, "\n*%s*\n", firstNonEmpty(s, a.Severity, "unknown"))
		}
		fmt.Fprintf(&b, "• %s (%s)", a.ID, joinShort(a.Packages))
		if a.URL != "" {
			b.WriteString(" " + a.URL)
		}
		b.WriteByte('\n')
	}
	return strings.TrimSpace(b.String())
}

// noticeOf is c as SNS subscribers read it (as cloud.ChatNotice makes the
// release notices), threaded per app; description, if set, replaces the
// card's.
func noticeOf(app *config.App, c release.Chat, description string) awsapi.Notice {
	c.Thread = "kaizen-" + app.Name + "-alas"
	n := awsapi.Notice{
		Subject: c.Title, Text: c.Text(),
		Title: c.Title, Description: c.Description(), Next: c.NextMarkdown(), Keywords: c.Keywords,
		Thread: c.Thread, EventType: "kaizen." + string(c.Kind),
	}
	if description != "" {
		n.Description = "*Why:* " + c.Why + "\n" + description
	}
	return n
}

func joinShort(ss []string) string {
	if len(ss) > 3 {
		return strings.Join(ss[:3], ", ") + ", ..."
	}
	if len(ss) == 0 {
		return "no package listed"
	}
	return strings.Join(ss, ", ")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
