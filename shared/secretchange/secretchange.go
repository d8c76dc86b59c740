// Package secretchange is the use case behind the secretchange Lambda. The
// image build bakes the app's Secrets Manager secret into the golden image
// (an env file under /etc/profile.d), so a new secret value reaches the
// fleet only through a new image: when the secret gets a new current value,
// start a golden-image build and tell people.
//
// # Events
//
// The function takes the route.SecretChange rules: CloudTrail's `AWS API
// Call via CloudTrail` for PutSecretValue and UpdateSecret, and `AWS
// Service Event via CloudTrail` for RotationSucceeded. Besides the checks
// every kaizen function makes (pattern, a well-formed detail; an account
// and region some configured app lives in, the member accounts' events
// reaching kaizen through its event bus), it ignores, with a log line:
//
//   - calls that failed (CloudTrail records them with an errorCode; they
//     changed nothing);
//   - PutSecretValue that staged the new version without AWSCURRENT, as a
//     rotation's createSecret step does: the build would still read the old
//     value, and the rotation's RotationSucceeded follows;
//   - secrets no configured app living where the event comes from uses.
//
// An event names its secret by name, full ARN or partial ARN (see
// Matches). No event carries a secret value, and nothing here reads one:
// messages and logs name the secret, the event and the build.
//
// # A build already running
//
// A build that is already running may have read the old value, and a
// second build started now could finish first and leave the older value in
// the newest image. So no second build starts: the change is recorded as a
// pending secret rebuild (Pending), and StartPending, which the alaspoll
// function runs on its schedule, starts it once no build runs. Without a
// Pending store the message asks people to do that by hand.
package secretchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/emf"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Events remembers processed event ids; store.Store implements it.
type Events interface {
	Seen(ctx context.Context, id string, now time.Time) (bool, error)
	MarkSeen(ctx context.Context, id string, expires time.Time) error
}

// DefaultEventTTL is how long a processed event id is remembered.
const DefaultEventTTL = 24 * time.Hour

// Handler handles secret-change events. Config, Rebuilder, Notifier and
// Store are required.
type Handler struct {
	Config    *config.File
	Rebuilder rebuild.SecretRebuilder // rebuild.Builder in production
	Notifier  awsapi.Notifier         // awsapi.SNSNotifier in production
	Store     Events
	// Pending, if set, remembers a change that arrived while a build ran.
	Pending  PendingStore
	Now      func() time.Time // default time.Now
	Log      *slog.Logger     // default slog.Default()
	EventTTL time.Duration    // default DefaultEventTTL
	// Metrics receives kaizen's own metrics (rebuilds started); nil
	// writes none.
	Metrics *emf.Writer
	// Changes, if set, records the change (store.Dynamo), so that
	// `kaizen status` names the images built before it.
	Changes SecretChanges
	// Images, if set, lists the images the app's colors run (cloud.Fleet),
	// so that the notice names those that carry the previous version.
	Images ColorImages
}

// SecretChanges records an app's last secret change.
type SecretChanges interface {
	RecordSecretChange(ctx context.Context, app string, c release.SecretChange) error
}

// ColorImages lists the images an app's colors run.
type ColorImages interface {
	ColorImages(ctx context.Context, app *config.App) ([]release.ColorImage, error)
}

// PendingStore remembers one pending secret rebuild per app (store.Dynamo
// and store.Memory implement it).
type PendingStore interface {
	SetPending(ctx context.Context, app, reason string, at time.Time) error
	// Pending returns the pending rebuild's reason ("" if none) and time.
	Pending(ctx context.Context, app string) (string, time.Time, error)
	// ClearPending removes the one recorded at at; a newer one stays.
	ClearPending(ctx context.Context, app string, at time.Time) error
}

// Outcome is what Process did for one app.
type Outcome struct {
	App     string
	Secret  string // as the event names it
	Event   string // CloudTrail eventName
	BuildID string // the build started, if any
	// Skipped says why no build was started ("" if one was), and Pending
	// that one will start when the running build ends.
	Skipped  string
	Pending  bool
	Notified bool
	// Carrying lists the images the colors run that carry the previous
	// secret version (when Images is set).
	Carrying []release.ColorImage
}

// Handle decodes one EventBridge event (once, with route.Decode) and
// processes it: the shape every kaizen function shares.
func (h *Handler) Handle(ctx context.Context, raw []byte) ([]Outcome, error) {
	e, err := route.Decode(raw)
	if err != nil {
		return nil, err
	}
	return h.HandleEvent(ctx, e)
}

// HandleEvent processes one decoded event. Foreign or irrelevant events are
// logged and ignored (nil); a malformed one returns an error wrapping
// route.ErrMalformed; AWS failures return an error so Lambda retries. It
// reports what it did per app.
func (h *Handler) HandleEvent(ctx context.Context, e route.Event) ([]Outcome, error) {
	if h.Config == nil || h.Rebuilder == nil || h.Notifier == nil || h.Store == nil {
		return nil, errors.New("secretchange: Handler needs Config, Rebuilder, Notifier and Store")
	}
	log := h.logger().With("function", route.SecretChange, "event", e.ID, "source", e.Source, "detailType", e.DetailType)
	from := config.Place{Account: e.AccountID, Region: e.Region}
	if !serves(h.Config, from) {
		log.Warn("ignored: event from an account or region no configured app lives in", "account", e.AccountID, "region", e.Region)
		return nil, nil
	}
	if e.Function != route.SecretChange || e.Secret == nil {
		log.Warn("ignored: this function does not take the event", "route", e.Function)
		return nil, nil
	}
	d := *e.Secret
	if d.ErrorCode != "" {
		log.Info("ignored: the call failed and changed nothing", "eventName", d.EventName, "errorCode", d.ErrorCode)
		return nil, nil
	}
	secret := d.Secret()
	if e.ID == "" {
		return nil, fmt.Errorf("%w: event has no id", route.ErrMalformed)
	}
	log = log.With("secret", secret, "eventName", d.EventName)
	if rp := d.RequestParameters; d.EventName == "PutSecretValue" && rp != nil && len(rp.VersionStages) > 0 && !slices.Contains(rp.VersionStages, "AWSCURRENT") {
		log.Info("ignored: the new version is not AWSCURRENT yet (a rotation step); RotationSucceeded follows", "versionStages", rp.VersionStages)
		return nil, nil
	}
	var outs []Outcome
	var errs []error
	for i := range h.Config.Apps {
		app := &h.Config.Apps[i]
		if !Matches(h.Config, app, from, secret) {
			continue
		}
		out, err := h.app(ctx, e, d, secret, app, log.With("app", app.Name))
		outs = append(outs, out)
		if err != nil {
			errs = append(errs, fmt.Errorf("secretchange: app %s: %w", app.Name, err))
		}
	}
	if len(outs) == 0 {
		log.Info("ignored: no configured app uses this secret")
	}
	return outs, errors.Join(errs...)
}

func (h *Handler) app(ctx context.Context, e route.Event, d route.SecretDetail, secret string, app *config.App, log *slog.Logger) (Outcome, error) {
	out := Outcome{App: app.Name, Secret: secret, Event: d.EventName}
	// Per app, so that one app's failure retries only what is left.
	key := e.ID + "#" + app.Name
	now := h.now()
	seen, err := h.Store.Seen(ctx, key, now)
	if err != nil {
		return out, err
	}
	if seen {
		log.Info("ignored: event already processed")
		out.Skipped = "event already processed"
		return out, nil
	}
	running, err := h.Rebuilder.Running(ctx, app)
	if err != nil {
		return out, err
	}
	if running {
		out.Skipped = "a golden-image build is already running"
		if h.Pending != nil {
			reason := fmt.Sprintf("secret %s changed by %s at %s", secret, d.EventName, e.Time.UTC().Format(time.RFC3339))
			if err := h.Pending.SetPending(ctx, app.Name, reason, now); err != nil {
				return out, err
			}
			out.Pending = true
		}
		log.Warn("secret changed while a golden-image build runs; a new build follows it", "pending", out.Pending)
	} else {
		id, err := h.Rebuilder.StartForSecret(ctx, app, fmt.Sprintf("secret %s changed by %s", secret, d.EventName), e.ID)
		if err != nil {
			return out, err
		}
		out.BuildID = id
		h.Metrics.RebuildStarted(app.Name, "secret")
		log.Info("golden-image build started for the changed secret", "build", id)
	}
	ttl := h.EventTTL
	if ttl <= 0 {
		ttl = DefaultEventTTL
	}
	if err := h.Store.MarkSeen(ctx, key, now.Add(ttl)); err != nil {
		log.Warn("could not remember the event id; a duplicate would start another build", "error", err)
	}
	change := release.SecretChange{At: e.Time.UTC(), Version: d.Version(), Event: d.EventName + " " + e.ID}
	if change.At.IsZero() {
		change.At = now
	}
	if h.Changes != nil {
		if err := h.Changes.RecordSecretChange(ctx, app.Name, change); err != nil {
			return out, err
		}
	}
	var carrying []release.ColorImage
	if h.Images != nil {
		imgs, err := h.Images.ColorImages(ctx, app)
		if err != nil {
			// The notice still goes, without the list.
			log.Warn("could not list the images the colors run", "error", err)
		}
		for _, ci := range imgs {
			if change.Superseded(&ci.Image) {
				carrying = append(carrying, ci)
			}
		}
		out.Carrying = carrying
	}
	if err := awsapi.Send(ctx, h.Notifier, app, changeNotice(app, e, d, secret, &out)); err != nil {
		return out, fmt.Errorf("notify: %w", err)
	}
	out.Notified = true
	return out, nil
}

// message renders the notification. It names the secret, the change and
// the build; it never holds a secret value (the events carry none).
func message(app *config.App, e route.Event, d route.SecretDetail, secret string, out *Outcome) (subject, msg string) {
	var b strings.Builder
	fmt.Fprintf(&b, "App: %s\nSecret: %s\nChange: %s at %s (event %s)\n", app.Name, secret, d.EventName, e.Time.UTC().Format(time.RFC3339), e.ID)
	if out.BuildID != "" {
		subject = fmt.Sprintf("kaizen %s: secret changed, image rebuild started", app.Name)
		fmt.Fprintf(&b, "\nStarted golden-image build %s (%s) so that the next image carries the new value.\n"+
			"The fleet keeps the previous value until that image is released.\n", out.BuildID, target(app))
	} else if out.Pending {
		subject = fmt.Sprintf("kaizen %s: secret changed while a build runs, rebuild follows", app.Name)
		fmt.Fprintf(&b, "\nA golden-image build (%s) is already running and may carry the previous value.\n"+
			"A new build starts when it ends (alaspoll checks every run); do not approve the release of the running one.\n", target(app))
	} else {
		subject = fmt.Sprintf("kaizen %s: secret changed while a build runs, no new build", app.Name)
		fmt.Fprintf(&b, "\nNo build started: a golden-image build (%s) is already running.\n"+
			"If it started before this change, its image carries the previous value:\n"+
			"start a new build when it ends, and do not approve the release of the running one.\n", target(app))
	}
	if len(out.Carrying) > 0 {
		fmt.Fprintf(&b, "\nImages that still carry the previous secret version:\n")
		for _, ci := range out.Carrying {
			v := ci.Image.Tags[release.TagSecretVersion]
			if v == "" {
				v = "not tagged; built before this change"
			}
			fmt.Fprintf(&b, "- %s (%s): AMI %s (%s), secret version %s\n", ci.Color, ci.Role, ci.Image.ID, ci.Image.Name, v)
		}
		fmt.Fprintf(&b, "The previous credential must stay valid until an image with the new version is live on every color that serves the public "+
			"(and any staged image is replaced). For a database password, rotate with alternating users "+
			"(Secrets Manager's alternating-users rotation) so the previous user keeps working until then.\n")
	}
	if len(subject) > 100 {
		subject = subject[:97] + "..."
	}
	return subject, b.String()
}

func target(app *config.App) string { return rebuild.Target(app) }

// suffix is the "-" and six random characters Secrets Manager appends to a
// secret's name in its ARN.
var suffix = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)

// secretARN splits arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:RESOURCE.
func secretARN(s string) (region, account, resource string, ok bool) {
	p := strings.SplitN(s, ":", 7)
	if len(p) != 7 || p[0] != "arn" || p[2] != "secretsmanager" || p[5] != "secret" || p[6] == "" {
		return "", "", "", false
	}
	return p[3], p[4], p[6], true
}

// Matches reports whether an event from place from that names secret got
// is about app's configured secret. A secret name is unique only within
// an account and region, so the event must come from where the app lives
// (accounts.go): a change in member account B never concerns an app at
// home whose secret has the same name, nor the other way round. Then the
// configured secret (conf) and got match when, either being a name or an
// ARN (an event may also carry a partial ARN, one without the
// six-character suffix):
//
//   - two ARNs match when equal, or when one is the other without its
//     suffix;
//   - a configured ARN matches a name equal to its secret name (the
//     resource minus the suffix);
//   - a configured name matches an ARN in the app's account and region
//     whose secret name (or partial resource) is that name;
//   - two names match when equal.
//
// Secret names are case-sensitive.
func Matches(cfg *config.File, app *config.App, from config.Place, got string) bool {
	at := placeOf(cfg, app)
	return from == at && matches(at, app.Secret, got)
}

// matches is Matches for a secret conf of an app living at.
func matches(at config.Place, conf, got string) bool {
	if conf == "" || got == "" {
		return false
	}
	_, _, cres, cARN := secretARN(conf)
	gr, ga, gres, gARN := secretARN(got)
	name := func(res string) string { return suffix.ReplaceAllString(res, "") }
	switch {
	case cARN && gARN:
		// Same partition, region and account: everything before the resource.
		if conf[:len(conf)-len(cres)] != got[:len(got)-len(gres)] {
			return false
		}
		return gres == cres || gres == name(cres) || cres == name(gres)
	case cARN:
		return got == name(cres) || got == cres
	case gARN:
		return gr == at.Region && ga == at.Account && (gres == conf || name(gres) == conf)
	default:
		return got == conf
	}
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) logger() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// StartPending starts the app's pending secret rebuild once no build runs,
// and says so. It returns the build started ("" if none was due or a build
// still runs). Its errors do not name the app: the caller, running it per
// app, does.
func (h *Handler) StartPending(ctx context.Context, app *config.App) (string, error) {
	id, err := h.startPending(ctx, app)
	if err != nil {
		return id, fmt.Errorf("secretchange: %w", err)
	}
	return id, nil
}

func (h *Handler) startPending(ctx context.Context, app *config.App) (string, error) {
	if h.Pending == nil {
		return "", nil
	}
	reason, at, err := h.Pending.Pending(ctx, app.Name)
	if err != nil || reason == "" {
		return "", err
	}
	running, err := h.Rebuilder.Running(ctx, app)
	if err != nil || running {
		return "", err
	}
	// The token ties retries of this start to one build.
	id, err := h.Rebuilder.StartForSecret(ctx, app, reason, fmt.Sprintf("pending-%s-%d", app.Name, at.UnixMilli()))
	if err != nil {
		return "", err
	}
	if err := h.Pending.ClearPending(ctx, app.Name, at); err != nil {
		return id, err
	}
	h.logger().Info("pending secret rebuild started", "app", app.Name, "build", id, "reason", reason)
	if err := awsapi.Send(ctx, h.Notifier, app, pendingNotice(app, reason, id)); err != nil {
		return id, fmt.Errorf("notify: %w", err)
	}
	return id, nil
}
