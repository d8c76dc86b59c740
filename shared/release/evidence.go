package release

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Tag keys the golden-image build writes on the AMI: `kaizen image
// prepare` prints the first three (shared/imageprep), the buildspec adds
// the source revision. The approval evidence compares them with the live
// AMI's.
const (
	TagAdvisories     = "kaizen:advisories"
	TagSecretVersion  = "kaizen:secret-version"
	TagReleaseVersion = "kaizen:release-version"
	TagCodeRevision   = "kaizen:code-revision"
)

// AlarmMissing is the state reported for a configured alarm CloudWatch
// does not have.
const AlarmMissing = "MISSING"

// AlarmStatus is an alarm's current state as CloudWatch's DescribeAlarms
// reports it.
type AlarmStatus struct {
	Name   string    `json:"name"`
	State  string    `json:"state"`
	Since  time.Time `json:"since,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// AdvisoryNote is a security advisory as the approval evidence lists it:
// its id, and the severity and CVEs kaizen recorded from the ALAS feed
// (empty when kaizen has no record of it).
type AdvisoryNote struct {
	ID       string   `json:"id"`
	Severity string   `json:"severity,omitempty"`
	CVEs     []string `json:"cves,omitempty"`
}

// Evidence is what an approval request shows the approver, gathered when
// the pipeline's approval action starts: the AMI, what changed since the
// live one, staging, the guard alarms, where to preview and how to
// approve. It is published to the app's topic, kept on the release, and
// shown by `kaizen status`.
type Evidence struct {
	At        time.Time `json:"at"`
	Execution string    `json:"execution,omitempty"`
	// Image is the staged AMI and Live the one the public is on (nil when
	// it could not be read).
	Image Image  `json:"image"`
	Live  *Image `json:"live,omitempty"`
	// Fixed are the advisories the staged AMI applied that the live one
	// did not.
	Fixed   []AdvisoryNote `json:"fixed,omitempty"`
	Staging *StagingView   `json:"staging,omitempty"`
	// Alarms are the app's guard alarms' current states; nil when they
	// could not be read (Missing says why).
	Alarms []AlarmStatus `json:"alarms,omitempty"`
	// Missing lists what could not be gathered, and why.
	Missing []string `json:"missing,omitempty"`
}

// ImageAdvisories lists the advisory ids an AMI's kaizen:advisories tag
// names ("none", or ids separated by spaces, possibly ending in "+N" when
// EC2's tag length cut the list).
func ImageAdvisories(img *Image) []string {
	if img == nil {
		return nil
	}
	var out []string
	for _, f := range strings.Fields(img.Tags[TagAdvisories]) {
		if f == "none" || strings.HasPrefix(f, "+") {
			continue
		}
		out = append(out, f)
	}
	return out
}

// FixedSince lists the advisories img applies that live does not.
func FixedSince(img, live *Image) []string {
	had := ImageAdvisories(live)
	var out []string
	for _, id := range ImageAdvisories(img) {
		if !slices.Contains(had, id) {
			out = append(out, id)
		}
	}
	return out
}

// ConsoleURL is the CodePipeline console page of the app's approval
// action's pipeline, where people approve or reject.
func ConsoleURL(app *config.App) string {
	region := app.Region
	if region == "" {
		// arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/...
		if parts := strings.SplitN(app.ListenerARN, ":", 5); len(parts) == 5 {
			region = parts[3]
		}
	}
	p := url.PathEscape(app.Approval.Pipeline)
	return fmt.Sprintf("https://%s.console.aws.amazon.com/codesuite/codepipeline/pipelines/%s/view?region=%s", region, p, region)
}

// Soak says whether ami has been live and healthy on staging for the
// app's stagingSoakMinutes at now: ok, and why not (or how long it was).
func Soak(app *config.App, s *StagingView, ami string, now time.Time) (bool, string) {
	need := time.Duration(app.StagingSoakMinutes) * time.Minute
	if need <= 0 {
		return true, ""
	}
	switch {
	case s == nil:
		return false, fmt.Sprintf("stagingSoakMinutes is %d, but the staging app %s could not be observed", app.StagingSoakMinutes, app.StagingApp)
	case s.AMI != ami:
		return false, fmt.Sprintf("AMI %s is not live on staging (%s serves %s); stagingSoakMinutes %d requires it there first", ami, s.App, orNone(s.AMI), app.StagingSoakMinutes)
	case s.Desired == 0 || s.Healthy < s.Desired:
		return false, fmt.Sprintf("AMI %s is live on staging (%s) but only %d of %d instances are healthy", ami, s.App, s.Healthy, s.Desired)
	case len(s.Alarming) > 0:
		return false, fmt.Sprintf("guard alarm(s) %s are in ALARM on staging (%s)", strings.Join(s.Alarming, ", "), s.App)
	case s.LiveSince.IsZero():
		return false, fmt.Sprintf("AMI %s is live on staging (%s), but kaizen has no record of when it went live there", ami, s.App)
	}
	had := now.Sub(s.LiveSince)
	if had < need {
		return false, fmt.Sprintf("AMI %s has been live and healthy on staging (%s) for %s of the %d minutes stagingSoakMinutes requires; approve again after %s",
			ami, s.App, had.Truncate(time.Minute), app.StagingSoakMinutes, stamp(s.LiveSince.Add(need)))
	}
	return true, fmt.Sprintf("live and healthy on staging (%s) for %s (stagingSoakMinutes %d)", s.App, had.Truncate(time.Minute), app.StagingSoakMinutes)
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// Text renders the evidence for people: the approval request's message.
func (e *Evidence) Text(app *config.App, r Release, now time.Time) string {
	var b strings.Builder
	f := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	img := e.Image
	build := img.Tags[app.PipelineTag]
	if build == "" {
		build = "no pipeline execution tag"
	} else {
		build = "pipeline execution " + build
	}
	f("Approval requested (%s) for AMI %s (%s), built by %s, staged on %s.", orNone(e.Execution), r.AMI, orNone(img.Name), build, r.Color)
	if e.Live != nil {
		f("Changes since the live AMI %s (%s):", e.Live.ID, orNone(e.Live.Name))
	} else {
		f("Changes (the live AMI could not be read):")
	}
	if len(e.Fixed) == 0 {
		f("- Security advisories fixed: none")
	} else {
		f("- Security advisories fixed: %d", len(e.Fixed))
		for _, a := range e.Fixed {
			sev := a.Severity
			if sev == "" {
				sev = "severity unknown to kaizen"
			}
			cves := "no CVEs listed"
			if len(a.CVEs) > 0 {
				cves = strings.Join(a.CVEs, ", ")
			}
			f("  - %s (%s): %s", a.ID, sev, cves)
		}
	}
	f("- Secret: %s", changed(img.Tags[TagSecretVersion], tag(e.Live, TagSecretVersion), "version"))
	f("- Code: %s", changed(img.Tags[TagCodeRevision], tag(e.Live, TagCodeRevision), "revision"))
	if v := img.Tags[TagReleaseVersion]; v != "" {
		f("- Amazon Linux release: %s", changed(v, tag(e.Live, TagReleaseVersion), "release"))
	}
	if app.StagingApp != "" {
		if line := e.Staging.About(r.AMI); line != "" {
			f("%s", line)
		} else {
			f("Staging (%s): could not be observed.", app.StagingApp)
		}
		if app.StagingSoakMinutes > 0 {
			if ok, why := Soak(app, e.Staging, r.AMI, now); ok {
				f("Staging soak: met, %s.", why)
			} else {
				f("Staging soak: NOT met, an approval now is refused: %s.", why)
			}
		}
	}
	switch {
	case e.Alarms != nil:
		var parts []string
		for _, a := range e.Alarms {
			s := a.Name + " " + a.State
			if !a.Since.IsZero() {
				s += " since " + stamp(a.Since)
			}
			parts = append(parts, s)
		}
		f("Guard alarms: %s.", strings.Join(parts, "; "))
	case len(guardNames(app)) == 0:
		f("Guard alarms: none configured.")
	}
	for _, m := range e.Missing {
		f("Not available: %s.", m)
	}
	if app.PreviewURL != "" {
		f("Preview (from the office): %s", app.PreviewURL)
	}
	f("Approve or reject: %s (stage %s, action %s)", ConsoleURL(app), app.Approval.Stage, app.Approval.Action)
	return strings.TrimRight(b.String(), "\n")
}

func tag(img *Image, key string) string {
	if img == nil {
		return ""
	}
	return img.Tags[key]
}

// changed compares a tag of the staged and the live AMI.
func changed(now, live, what string) string {
	switch {
	case now == "" && live == "":
		return "not recorded on either AMI"
	case now == live:
		return fmt.Sprintf("unchanged (%s %s)", what, now)
	case live == "":
		return fmt.Sprintf("%s %s (not recorded on the live AMI)", what, now)
	case now == "":
		return fmt.Sprintf("not recorded (live: %s %s)", what, live)
	}
	return fmt.Sprintf("CHANGED to %s %s (live: %s)", what, now, live)
}

// guardNames lists the app's guard alarms.
func guardNames(app *config.App) []string {
	var out []string
	for _, a := range app.Alarms {
		if a.Role == config.RoleGuard {
			out = append(out, a.Name)
		}
	}
	return out
}

// GuardAlarms lists the app's guard alarm names, for the evidence's
// DescribeAlarms.
func GuardAlarms(app *config.App) []string { return guardNames(app) }

// SecretChange is the last change of an app's secret kaizen saw: images
// created before At, or tagged with another version than Version (when
// the event named it), carry a superseded secret.
type SecretChange struct {
	At      time.Time `json:"at"`
	Version string    `json:"version,omitempty"`
	Event   string    `json:"event,omitempty"`
}

// Superseded reports whether img was built before the change, so carries
// the previous secret version.
func (c *SecretChange) Superseded(img *Image) bool {
	if c == nil || img == nil {
		return false
	}
	if v := img.Tags[TagSecretVersion]; v != "" && c.Version != "" {
		return v != c.Version
	}
	return !img.Created.IsZero() && img.Created.Before(c.At)
}

// ColorImage is the image one color runs, and what the color does:
// "live" (serves the public), "staged" (a release waits on it) or "idle".
type ColorImage struct {
	Color Color  `json:"color"`
	Role  string `json:"role"`
	Image Image  `json:"image"`
}
