package release

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Kind is the kind of an action a plan asks for.
type Kind string

const (
	// PutAMI creates a launch template version with the AMI and pins the
	// color's group to it (sizing the group in the same call).
	PutAMI Kind = "put-ami"
	// SetCapacity sets a color's min/desired/max.
	SetCapacity Kind = "set-capacity"
	// Shift sets the public default action's weights (one listener call).
	Shift Kind = "shift"
	// PointPreview points the office preview rule at a color.
	PointPreview Kind = "preview"
	// Suspend and Resume pause or restart a color's load-driven scaling.
	Suspend Kind = "suspend"
	Resume  Kind = "resume"
	// Notify publishes to the app's topic.
	Notify Kind = "notify"
)

// ScalingProcesses are the processes that react to load and schedules;
// kaizen suspends them on the idle color so it stays where kaizen puts it.
var ScalingProcesses = []string{"AlarmNotification", "ScheduledActions"}

// Action is one change to AWS.
type Action struct {
	Kind      Kind          `json:"kind"`
	Color     Color         `json:"color,omitempty"`
	AMI       string        `json:"ami,omitempty"`
	Capacity  *Capacity     `json:"capacity,omitempty"`
	Weights   map[Color]int `json:"weights,omitempty"`
	Processes []string      `json:"processes,omitempty"`
	Subject   string        `json:"subject,omitempty"`
	Message   string        `json:"message,omitempty"`
	// Token makes a retried create idempotent (EC2 ClientToken).
	Token string `json:"token,omitempty"`
	Why   string `json:"why"`
}

func (a Action) String() string {
	switch a.Kind {
	case PutAMI:
		s := fmt.Sprintf("put %s on %s", a.AMI, a.Color)
		if a.Capacity != nil {
			s += " at " + a.Capacity.String()
		}
		return s
	case SetCapacity:
		return fmt.Sprintf("set %s capacity %s", a.Color, a.Capacity)
	case Shift:
		return fmt.Sprintf("shift public to blue %d / green %d", a.Weights[config.Blue], a.Weights[config.Green])
	case PointPreview:
		return fmt.Sprintf("point preview at %s", a.Color)
	case Suspend, Resume:
		return fmt.Sprintf("%s %s scaling %s", a.Kind, a.Color, strings.Join(a.Processes, ","))
	case Notify:
		return "notify: " + a.Subject
	}
	return string(a.Kind)
}

// Plan is a planner's answer: the actions to apply in order, the state to
// record once they are applied, and the decisions made on the way.
type Plan struct {
	Actions []Action `json:"actions"`
	// States[i] is the state as planned when Actions[i] was added: what to
	// record if Actions[i] fails, since later transitions (a cutover
	// recorded after its listener call) did not happen.
	States []AppState `json:"-"`
	Next   AppState   `json:"next"`
	// Ended are releases that reached a terminal state in this plan.
	Ended []Release `json:"ended,omitempty"`
	Notes []string  `json:"notes"`
	// Refused is set when an approval was refused, with the reason.
	Refused string `json:"refused,omitempty"`
	// Transitions lists the release state changes this plan makes.
	Transitions []string `json:"transitions,omitempty"`
}

// Mutations counts the actions that change AWS (notifications excluded).
func (p Plan) Mutations() int {
	n := 0
	for _, a := range p.Actions {
		if a.Kind != Notify {
			n++
		}
	}
	return n
}

// EventKind tells what woke the planner.
type EventKind string

const (
	EvImage    EventKind = "image"
	EvApproval EventKind = "approval"
	EvTick     EventKind = "tick"
	EvAlarm    EventKind = "alarm"
	// EvOperator is a person's command from the CLI.
	EvOperator EventKind = "operator"
)

// Operator is a person's command: promote, rollback or abort.
type Operator struct {
	Command string `json:"command"`
	By      string `json:"by"`
}

// Approval is a decoded approval action state change.
type Approval struct {
	Execution string `json:"execution"`
	// State is STARTED, SUCCEEDED (approved) or FAILED (rejected).
	State string `json:"state"`
	By    string `json:"by,omitempty"`
}

// Alarm is a decoded alarm state change of a configured alarm.
type Alarm struct {
	Name     string           `json:"name"`
	Role     config.AlarmRole `json:"role"`
	State    string           `json:"state"`
	Previous string           `json:"previous"`
	Reason   string           `json:"reason"`
	// At is the transition's own time (detail.state.timestamp), never the
	// delivery's: EventBridge delivers late and out of order.
	At time.Time `json:"at"`
	// Suppressed names why a composite alarm's actions are suppressed
	// (actionsSuppressedBy: Alarm, WaitPeriod, ExtensionPeriod); Muted
	// describes an alarm mute rule in force. Either means the team asked
	// for no action.
	Suppressed string `json:"suppressed,omitempty"`
	Muted      string `json:"muted,omitempty"`
}

// Event is the input of a planner.
type Event struct {
	Kind EventKind `json:"kind"`
	// ID is the EventBridge event id (or "tick@time"), used in causes.
	ID       string    `json:"id"`
	Image    *Image    `json:"image,omitempty"`
	Approval *Approval `json:"approval,omitempty"`
	Alarm    *Alarm    `json:"alarm,omitempty"`
	Operator *Operator `json:"operator,omitempty"`
}

// Decide is the one planner: given the app, the recorded state, the observed
// fleet, the time and an event, it returns the plan. It is pure.
func Decide(app *config.App, st AppState, obs Observed, now time.Time, ev Event) Plan {
	p := &planner{app: app, st: st.Clone(), obs: obs.Clone(), now: now, ev: ev}
	p.st.App = app.Name
	live := p.live()
	if live == "" {
		p.note("no color serves the public (weights %s): kaizen will not act until a person fixes the listener", p.obs.Traffic())
		p.plan.Next = p.st
		return p.plan
	}
	if p.st.Stuck != "" && !(ev.Kind == EvOperator && ev.Operator != nil) && ev.Kind != EvAlarm {
		p.note("kaizen stopped acting on %s: %s; a person clears it with `kaizen resume --app %s`", app.Name, p.st.Stuck, app.Name)
		p.plan.Next = p.st
		return p.plan
	}
	switch ev.Kind {
	case EvImage, EvTick:
		if ev.Image != nil {
			p.onImage(*ev.Image)
		}
	case EvApproval:
		if ev.Approval != nil {
			p.onApproval(*ev.Approval)
		}
	case EvAlarm:
		if ev.Alarm != nil {
			p.onAlarm(*ev.Alarm)
		}
	case EvOperator:
		if ev.Operator != nil {
			p.onOperator(*ev.Operator)
		}
	}
	if ev.Kind == EvOperator && p.plan.Refused != "" {
		// A refusal changes nothing: not even an unrelated fix the next
		// tick would make anyway.
		return Plan{Next: st.Clone(), Notes: p.plan.Notes, Refused: p.plan.Refused}
	}
	if p.st.Stuck != "" {
		// Stopped for not converging: only what the event itself asked for
		// (a guard alarm's rollback) is done; nothing is reconciled.
		p.plan.Next = p.st
		return p.plan
	}
	p.reconcile()
	p.plan.Next = p.st
	if ev.Kind == EvTick {
		p.progress(st)
	}
	return p.plan
}

// progress implements invariant 10: a tick that plans the same corrective
// change again and again without the fleet converging stops kaizen on the
// app, instead of flapping a resource every minute. The window is the last
// 2N ticks, so "drain, scale up, drain" is caught as well as "restore,
// restore, restore".
func (p *planner) progress(before AppState) {
	n := max(p.app.NoProgressTicks, 1)
	sig := p.plan.signature()
	p.st.Recent = append(p.st.Recent, sig)
	if len(p.st.Recent) > 2*n {
		p.st.Recent = append([]string(nil), p.st.Recent[len(p.st.Recent)-2*n:]...)
	}
	if sig == "" {
		if allEmpty(p.st.Recent) {
			p.st.Recent = nil // converged: nothing to remember
		}
		p.plan.Next = p.st
		return
	}
	count := 0
	for _, r := range p.st.Recent {
		if r == sig {
			count++
		}
	}
	if count < n {
		p.plan.Next = p.st
		return
	}
	// Undo this tick's plan: the state stays as it was, with the reason.
	stuck := before.Clone()
	stuck.Recent = p.st.Recent
	stuck.Stuck = fmt.Sprintf("the same corrective change (%s) was planned %d times in the last %d ticks without the fleet converging", sig, count, len(p.st.Recent))
	p.st = stuck
	p.plan = Plan{Notes: append(p.plan.Notes, "stopped: "+stuck.Stuck)}
	p.notify("not converging", "kaizen is not converging on %s: %s.\nkaizen has stopped acting on %s; the fleet stays as it is. Find what fights kaizen (another automation, a scaling policy, a hand change), then run: kaizen resume --app %s", p.app.Name, stuck.Stuck, p.app.Name, p.app.Name)
	p.plan.Next = p.st
}

func allEmpty(xs []string) bool {
	for _, x := range xs {
		if x != "" {
			return false
		}
	}
	return true
}

// signature names a plan's changes to AWS, notifications excluded.
func (p Plan) signature() string {
	var parts []string
	for _, a := range p.Actions {
		if a.Kind != Notify {
			parts = append(parts, a.String())
		}
	}
	return strings.Join(parts, "; ")
}

// tellOnce sends a notice once per key: a standing condition (a setting
// kaizen works around) is reported, not repeated every minute.
func (p *planner) tellOnce(key, subject, format string, args ...any) {
	for _, k := range p.st.Told {
		if k == key {
			p.note(format, args...)
			return
		}
	}
	p.st.Told = append(p.st.Told, key)
	if n := len(p.st.Told); n > 20 {
		p.st.Told = append([]string(nil), p.st.Told[n-20:]...)
	}
	p.notify(subject, format, args...)
}

// withLine prefixes a non-empty line with a newline.
func withLine(s string) string {
	if s == "" {
		return ""
	}
	return "\n" + s
}

// record notes a state change of a release in the plan.
func (p *planner) moved(r *Release, to State, cause string) {
	r.move(to, p.now, cause)
	p.plan.Transitions = append(p.plan.Transitions, fmt.Sprintf("%s %s", r.AMI, to))
}

// Changed reports whether applying the plan changes anything.
func (p Plan) Changed(before AppState) bool {
	if len(p.Actions) > 0 {
		return true
	}
	a, b := before.Clone(), p.Next.Clone()
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	return !reflect.DeepEqual(a, b)
}

type planner struct {
	app  *config.App
	st   AppState
	obs  Observed // what the fleet will look like once the actions so far apply
	now  time.Time
	ev   Event
	plan Plan
}

func (p *planner) note(format string, args ...any) {
	p.plan.Notes = append(p.plan.Notes, fmt.Sprintf(format, args...))
}

func (p *planner) cause(what string) string {
	if p.ev.ID != "" {
		return what + " (" + string(p.ev.Kind) + " " + p.ev.ID + ")"
	}
	return what
}

// do adds an action and applies it to the expected observation, so later
// decisions in the same plan see its effect and never repeat it.
func (p *planner) do(a Action) {
	p.add(a)
	p.obs.apply(a)
}

func (p *planner) add(a Action) {
	p.plan.Actions = append(p.plan.Actions, a)
	p.plan.States = append(p.plan.States, p.st.Clone())
}

func (p *planner) notify(subject, format string, args ...any) {
	p.add(Action{
		Kind: Notify, Subject: fmt.Sprintf("[kaizen] %s: %s", p.app.Name, subject),
		Message: fmt.Sprintf(format, args...), Why: subject,
	})
}

// end moves a release to a terminal state and clears it from the app.
func (p *planner) end(r *Release, to State, cause string) {
	p.moved(r, to, cause)
	p.plan.Ended = append(p.plan.Ended, *r)
	if p.st.Active == r {
		p.st.Active = nil
	}
	p.note("release %s (%s) %s: %s", r.ID, r.AMI, to, cause)
}

func (o *Observed) apply(a Action) {
	switch a.Kind {
	case PutAMI:
		v := o.Color(a.Color)
		v.AMI, v.Version, v.OnVersion, v.Healthy = a.AMI, "(new)", 0, 0
		if a.Capacity != nil {
			v.Capacity = *a.Capacity
		}
	case SetCapacity:
		o.Color(a.Color).Capacity = *a.Capacity
	case Shift:
		o.Weights = map[Color]int{}
		for k, w := range a.Weights {
			o.Weights[k] = w
		}
	case PointPreview:
		o.Preview = a.Color
	case Suspend:
		v := o.Color(a.Color)
		set := map[string]bool{}
		for _, s := range v.Suspended {
			set[s] = true
		}
		for _, s := range a.Processes {
			set[s] = true
		}
		v.Suspended = sortedKeys(set)
	case Resume:
		v := o.Color(a.Color)
		drop := map[string]bool{}
		for _, s := range a.Processes {
			drop[s] = true
		}
		var keep []string
		for _, s := range v.Suspended {
			if !drop[s] {
				keep = append(keep, s)
			}
		}
		v.Suspended = keep
	}
}

// ---- events ----

func (p *planner) onImage(img Image) {
	if img.State != "" && img.State != "available" {
		p.note("AMI %s is %s, not available: ignored", img.ID, img.State)
		return
	}
	if img.ID == p.st.Newest || (p.st.Active != nil && p.st.Active.AMI == img.ID) ||
		(p.st.Queued != nil && p.st.Queued.Image.ID == img.ID) {
		p.note("AMI %s already seen: nothing to do", img.ID)
		return
	}
	if !p.st.NewestCreated.IsZero() && img.Created.Before(p.st.NewestCreated) {
		p.note("AMI %s (created %s) is older than %s: ignored", img.ID, img.Created.Format(time.RFC3339), p.st.Newest)
		return
	}
	if why := p.imageRefused(img); why != "" {
		p.tellOnce("image-refused:"+img.ID, "AMI "+img.ID+" refused",
			"AMI %s (%s) carries the tag %s=%s, but %s. kaizen will not stage it. If it is yours, share it from an account listed in imageOwners.",
			img.ID, img.Name, p.app.ImageTag.Key, p.app.ImageTag.Value, why)
		return
	}
	p.st.Newest, p.st.NewestCreated = img.ID, img.Created
	live := p.live()
	if p.obs.Color(live).AMI == img.ID {
		p.note("AMI %s already serves the public on %s", img.ID, live)
		return
	}
	rel := p.st.Active
	switch {
	case rel == nil:
		p.stage(img, p.cause("AMI "+img.ID+" available"))
	case rel.State == Staged:
		p.end(rel, Superseded, "superseded by "+img.ID)
		p.notify("superseded", "AMI %s (%s) was staged on %s but not approved; newer AMI %s replaces it.", rel.AMI, rel.AMIName, rel.Color, img.ID)
		p.stage(img, p.cause("AMI "+img.ID+" available, superseding "+rel.AMI))
	default:
		if q := p.st.Queued; q != nil {
			p.note("queued AMI %s replaced by newer %s", q.Image.ID, img.ID)
		}
		p.st.Queued = &Candidate{Image: img, Since: p.now, Cause: p.cause("AMI " + img.ID + " available")}
		p.note("AMI %s queued: release %s is %s", img.ID, rel.ID, rel.State)
		p.notify("queued", "AMI %s (%s) is queued: it will be staged when release %s (%s) finishes %s.", img.ID, img.Name, rel.ID, rel.AMI, rel.State)
	}
}

// imageRefused says why an AMI that carries the app's tag may not be
// staged: anyone can tag a public AMI, so only images owned by the app's
// account or one of its image accounts, and not public, are ours.
func (p *planner) imageRefused(img Image) string {
	if img.Public {
		return fmt.Sprintf("it is public (owner %s)", img.Owner)
	}
	if img.Owner == p.app.Account && img.Owner != "" {
		return ""
	}
	for _, o := range p.app.ImageOwners {
		if img.Owner == o {
			return ""
		}
	}
	if img.Owner == "" {
		return "its owner is unknown"
	}
	return fmt.Sprintf("it is owned by account %s, which is neither this account (%s) nor listed in imageOwners", img.Owner, p.app.Account)
}

// stage puts a new release on the idle color.
func (p *planner) stage(img Image, cause string) {
	color := p.live().Other()
	if q := p.st.Queued; q != nil && q.Image.ID != img.ID {
		p.note("queued AMI %s superseded by newer %s", q.Image.ID, img.ID)
		p.st.Queued = nil
	}
	if h := p.st.Hold; h != nil && h.Color == color {
		p.note("a new AMI ends the hold on %s", color)
		p.st.Hold = nil
	}
	rel := &Release{
		App: p.app.Name, ID: p.now.UTC().Format("20060102T150405Z") + "-" + img.ID,
		AMI: img.ID, AMIName: img.Name, Color: color, StagedAt: p.now,
		PipelineExecution: img.Tags[p.app.PipelineTag],
	}
	p.moved(rel, Staged, cause)
	p.st.Active = rel
	p.note("staging %s on idle color %s", img.ID, color)
	var tags []string
	for k, v := range img.Tags {
		tags = append(tags, k+"="+v)
	}
	sort.Strings(tags)
	how := "from the office (" + strings.Join(p.app.Preview.OfficeCIDRs, ", ") + ")"
	if h := p.app.Preview.Header; h != nil {
		how += fmt.Sprintf(" with header %s: %s", h.Name, h.Value)
	}
	p.notify("staged "+img.ID,
		"AMI %s (%s) is staged on the %s color.\nTags: %s\nPreview: open the app %s; it reaches %s once %d instance(s) are healthy.\nApprove in pipeline %s, stage %s, action %s.%s",
		img.ID, img.Name, color, strings.Join(tags, ", "), how, color, p.app.PreviewSize,
		p.app.Approval.Pipeline, p.app.Approval.Stage, p.app.Approval.Action, withLine(p.obs.Staging.About(img.ID)))
}

func (p *planner) onApproval(a Approval) {
	rel := p.st.Active
	switch a.State {
	case "STARTED":
		switch {
		case rel == nil || rel.State != Staged:
			p.note("approval %s started, not bound: no release is staged", a.Execution)
		case rel.PipelineExecution != "" && rel.PipelineExecution != a.Execution:
			p.note("approval %s started, not bound: the staged AMI %s was built by pipeline execution %s", a.Execution, rel.AMI, rel.PipelineExecution)
		case rel.ApprovalExecution != "" && rel.ApprovalExecution != a.Execution:
			p.note("approval %s started, not bound: the staged AMI %s already awaits approval %s", a.Execution, rel.AMI, rel.ApprovalExecution)
		case rel.ApprovalExecution == a.Execution:
			p.note("approval %s started again: already bound to %s", a.Execution, rel.AMI)
		default:
			rel.ApprovalExecution = a.Execution
			p.note("approval %s started while %s was staged: bound to it", a.Execution, rel.AMI)
		}
	case "SUCCEEDED":
		if rel == nil || rel.State != Staged {
			if rel != nil && (rel.ApprovalExecution == a.Execution || rel.PipelineExecution == a.Execution) {
				p.note("approval %s already taken: release %s is %s", a.Execution, rel.ID, rel.State)
				return
			}
			p.refuse(a, "there is no staged release to promote")
			return
		}
		if ok, why := p.correlates(rel, a); !ok {
			p.refuse(a, why)
			return
		}
		if rel.PreviewReadyAt.IsZero() {
			p.refuse(a, fmt.Sprintf("AMI %s was never healthy on the preview, so nobody could have tested it", rel.AMI))
			return
		}
		if rel.Unhealthy != "" {
			p.refuse(a, fmt.Sprintf("release %s (AMI %s) was marked unhealthy while staged: %s", rel.ID, rel.AMI, rel.Unhealthy))
			return
		}
		rel.ApprovalExecution = a.Execution
		who := "approved by pipeline execution " + a.Execution
		if a.By != "" {
			who = "approved by " + a.By + " (kaizen promote)"
		}
		p.approve(rel, p.cause(who))
	case "FAILED":
		if rel == nil || rel.State != Staged {
			p.note("rejection %s: no staged release", a.Execution)
			return
		}
		if ok, why := p.correlates(rel, a); !ok {
			p.note("rejection %s ignored: %s", a.Execution, why)
			return
		}
		p.end(rel, Abandoned, p.cause("rejected at approval "+a.Execution))
		p.notify("rejected "+rel.AMI, "AMI %s (%s) was rejected at approval; the %s color goes back to zero.", rel.AMI, rel.AMIName, rel.Color)
	default:
		p.note("approval state %q: nothing to do", a.State)
	}
}

// correlates implements invariant 8: an approval promotes only the AMI that
// people could preview when the approval started.
func (p *planner) correlates(rel *Release, a Approval) (bool, string) {
	if rel.PipelineExecution != "" && rel.PipelineExecution != a.Execution {
		return false, fmt.Sprintf("the approval belongs to pipeline execution %s, but the staged AMI %s was built by execution %s", a.Execution, rel.AMI, rel.PipelineExecution)
	}
	if rel.ApprovalExecution != "" && rel.ApprovalExecution != a.Execution {
		return false, fmt.Sprintf("the staged AMI %s is awaiting approval %s, not %s", rel.AMI, rel.ApprovalExecution, a.Execution)
	}
	if rel.PipelineExecution == "" && rel.ApprovalExecution == "" {
		// The approval started before this AMI was staged (its STARTED event
		// bound an earlier, now superseded release) or it was never seen.
		if r, ok := p.boundElsewhere(a.Execution); ok {
			return false, fmt.Sprintf("approval %s started while AMI %s was staged; a newer AMI %s replaced it since, so approve again after previewing %s", a.Execution, r, rel.AMI, rel.AMI)
		}
	}
	return true, ""
}

// boundElsewhere looks up the superseded release an approval was bound to.
func (p *planner) boundElsewhere(execution string) (string, bool) {
	for _, b := range p.st.Bindings {
		if b.Execution == execution {
			return b.AMI, true
		}
	}
	return "", false
}

// refuseOperator answers a person at the CLI; nobody else needs a notice.
func (p *planner) refuseOperator(why string) {
	p.plan.Refused = why
	p.note("refused: %s", why)
}

func (p *planner) refuse(a Approval, why string) {
	p.plan.Refused = why
	p.note("approval %s refused: %s", a.Execution, why)
	p.notify("approval refused", "Approval %s was refused: %s.", a.Execution, why)
}

func (p *planner) approve(rel *Release, cause string) {
	rel.ApprovedAt = p.now
	p.moved(rel, Promoting, cause)
	c := p.obs.Color(rel.Color.Other()).Capacity
	rel.Capacity = &c
	p.notify("approved "+rel.AMI, "AMI %s (%s) approved: %s grows to the live color's capacity %s; the public moves once enough targets are healthy.%s", rel.AMI, rel.AMIName, rel.Color, c, withLine(p.obs.Staging.About(rel.AMI)))
}

// ---- reconcile ----

// live is the color the public is on: the one at 100%, the heavier one of
// a weighted shift, or during an even split the color being left.
func (p *planner) live() Color {
	if l := p.obs.Live(); l != "" {
		return l
	}
	if r := p.st.Active; r != nil && r.Weight > 0 && r.From != "" {
		return r.From
	}
	return ""
}

func (p *planner) reconcile() {
	p.enforceFloor()
	for i := 0; i < 4; i++ {
		if !p.advance() {
			break
		}
	}
	p.capacityCooldown()
	p.enforceFloor()
	p.keepProcesses()
	p.keepBindings()
}

// enforceFloor keeps every color that serves the public at or above the
// floor: min and desired.
func (p *planner) enforceFloor() {
	f := p.app.Floor
	for _, c := range config.Colors {
		if p.obs.Weights[c] == 0 {
			continue
		}
		v := p.obs.Color(c)
		if v.Max < f {
			p.tellOnce(fmt.Sprintf("floor-above-max:%s:%d>%d", c, f, v.Max), "floor above MaxSize",
				"The floor %d is above the MaxSize %d of %s (%s), which serves the public. kaizen never raises an operator's MaxSize, so it keeps %s at %d; raise the group's MaxSize or lower the floor.",
				f, v.Max, c, p.app.Color(c).ASG, c, v.Max)
			f = v.Max
		}
		if v.Min >= f && v.Desired >= f {
			continue
		}
		cp := Capacity{Min: max(v.Min, f), Desired: max(v.Desired, f), Max: v.Max}
		p.do(Action{Kind: SetCapacity, Color: c, Capacity: &cp, Why: fmt.Sprintf("%s serves the public and is below the floor of %d", c, f)})
	}
}

// keepProcesses suspends load- and schedule-driven scaling on colors the
// public does not reach (so they stay where kaizen puts them, and the old
// color keeps its instances through the bake), and resumes it on the
// colors that serve the public.
func (p *planner) keepProcesses() {
	for _, c := range config.Colors {
		v := p.obs.Color(c)
		have := map[string]bool{}
		for _, s := range v.Suspended {
			have[s] = true
		}
		all, any := true, false
		for _, s := range ScalingProcesses {
			all = all && have[s]
			any = any || have[s]
		}
		if p.obs.Weights[c] > 0 && any {
			p.do(Action{Kind: Resume, Color: c, Processes: ScalingProcesses, Why: string(c) + " serves the public: scaling follows load"})
		}
		if p.obs.Weights[c] == 0 && !all {
			p.do(Action{Kind: Suspend, Color: c, Processes: ScalingProcesses, Why: string(c) + " is idle: kaizen alone sizes it"})
		}
	}
}

// advance moves the active release one step; it reports whether the state
// changed so that another pass is needed.
func (p *planner) advance() bool {
	rel := p.st.Active
	if rel == nil {
		if q := p.st.Queued; q != nil {
			idle := p.live().Other()
			if h := p.st.Hold; h != nil && h.Color == idle && p.now.Before(h.Until) {
				p.note("queued AMI %s waits for the hold on %s (until %s)", q.Image.ID, idle, h.Until.UTC().Format(time.RFC3339))
				p.settleIdle()
				return false
			}
			p.st.Queued = nil
			p.stage(q.Image, "dequeued: "+q.Cause)
			return true
		}
		p.settleIdle()
		return false
	}
	switch rel.State {
	case Staged:
		return p.reconcileStaged(rel)
	case Promoting:
		return p.reconcilePromoting(rel)
	case Baking:
		return p.reconcileBaking(rel)
	}
	p.note("release %s in unexpected state %s: cleared", rel.ID, rel.State)
	p.st.Active = nil
	return true
}

// settleIdle: with nothing in flight the idle color is empty (unless held
// for investigation) and the preview rule points at it.
func (p *planner) settleIdle() {
	idle := p.live().Other()
	v := p.obs.Color(idle)
	held := p.st.Hold != nil && p.st.Hold.Color == idle && p.now.Before(p.st.Hold.Until)
	if p.st.Hold != nil && !held {
		p.note("hold on %s ended", p.st.Hold.Color)
		p.st.Hold = nil
	}
	if !held && (v.Min != 0 || v.Desired != 0) {
		p.do(Action{Kind: SetCapacity, Color: idle, Capacity: &Capacity{Max: v.Max}, Why: "retire the idle color"})
	}
	if p.obs.Preview != idle {
		p.do(Action{Kind: PointPreview, Color: idle, Why: "preview follows the idle color"})
	}
}

func (p *planner) token(rel *Release, c Color) string {
	h := sha256.Sum256([]byte(p.app.Name + "/" + rel.ID + "/" + string(c)))
	return "kaizen-" + hex.EncodeToString(h[:16])
}

// previewSize is the preview's size within the color's MaxSize: kaizen
// never raises an operator's MaxSize, it says so instead.
func (p *planner) previewSize(c Color, v *ColorView) int {
	if p.app.PreviewSize > v.Max {
		p.tellOnce(fmt.Sprintf("preview-above-max:%s:%d>%d", c, p.app.PreviewSize, v.Max), "previewSize above MaxSize",
			"previewSize %d is above the MaxSize %d of %s (%s). kaizen never raises an operator's MaxSize, so the preview runs %d instance(s); raise the group's MaxSize or lower previewSize.",
			p.app.PreviewSize, v.Max, c, p.app.Color(c).ASG, v.Max)
		return v.Max
	}
	return p.app.PreviewSize
}

func (p *planner) previewCapacity(c Color, v *ColorView) Capacity {
	return Capacity{Min: 0, Desired: p.previewSize(c, v), Max: v.Max}
}

func (p *planner) reconcileStaged(rel *Release) bool {
	c := rel.Color
	if p.obs.Weights[c] > 0 {
		p.end(rel, Failed, "the public was switched to "+string(c)+" outside kaizen while the release was staged")
		p.notify("release taken over", "The public was switched to %s by hand while AMI %s was staged there; kaizen stopped tracking the release.", c, rel.AMI)
		return true
	}
	v := p.obs.Color(c)
	want := p.previewCapacity(c, v)
	switch {
	case v.AMI != rel.AMI && v.Instances > 0:
		// Old instances must go first, or the office would preview them.
		drain := Capacity{Max: want.Max}
		p.do(Action{Kind: PutAMI, Color: c, AMI: rel.AMI, Capacity: &drain, Token: p.token(rel, c), Why: fmt.Sprintf("stage %s; drain %d old instance(s) first", rel.AMI, v.Instances)})
	case v.AMI != rel.AMI:
		p.do(Action{Kind: PutAMI, Color: c, AMI: rel.AMI, Capacity: &want, Token: p.token(rel, c), Why: "stage " + rel.AMI + " at preview size"})
	case v.Instances > v.OnVersion:
		if v.Desired != 0 || v.Min != 0 {
			p.do(Action{Kind: SetCapacity, Color: c, Capacity: &Capacity{Max: want.Max}, Why: "drain instances of an older version"})
		} else {
			p.note("waiting for %d old instance(s) on %s to terminate", v.Instances-v.OnVersion, c)
		}
	case v.Capacity != want:
		p.do(Action{Kind: SetCapacity, Color: c, Capacity: &want, Why: "preview size"})
	}
	if p.obs.Preview != c {
		p.do(Action{Kind: PointPreview, Color: c, Why: "office previews the staged color"})
	}
	if rel.PreviewReadyAt.IsZero() && want.Desired > 0 && p.obs.Color(c).Healthy >= want.Desired {
		rel.PreviewReadyAt = p.now
		p.note("preview of %s ready on %s", rel.AMI, c)
		p.notify("preview ready "+rel.AMI, "AMI %s (%s) is healthy on the %s color: preview it from the office, then approve or reject in pipeline %s.%s", rel.AMI, rel.AMIName, c, p.app.Approval.Pipeline, withLine(p.obs.Staging.About(rel.AMI)))
	}
	if p.app.AutoPromote && !rel.PreviewReadyAt.IsZero() && rel.Unhealthy == "" {
		p.approve(rel, "autoPromote: preview healthy")
		return true
	}
	if rel.PreviewReadyAt.IsZero() {
		p.note("waiting for the preview: %d of %d healthy on %s", p.obs.Color(c).Healthy, want.Desired, c)
	} else {
		p.note("waiting for approval in pipeline %s (stage %s, action %s)", p.app.Approval.Pipeline, p.app.Approval.Stage, p.app.Approval.Action)
	}
	return false
}

func (p *planner) needHealthy(desired int) int {
	n := int(math.Ceil(float64(desired) * float64(p.app.CutoverHealthyPercent) / 100))
	return max(n, 1)
}

// inWindow reports whether the public may be switched now. The window's
// zone was parsed once with the configuration: planning does no I/O.
func (p *planner) inWindow() bool {
	w := p.app.ChangeWindow
	return w == nil || w.Open(p.now)
}

func (p *planner) windowText() string {
	w := p.app.ChangeWindow
	if w == nil {
		return "(none)"
	}
	return fmt.Sprintf("%s %s-%s %s", strings.Join(w.Days, ","), w.From, w.To, w.TimeZone)
}

func (p *planner) reconcilePromoting(rel *Release) bool {
	c, from := rel.Color, rel.Color.Other()
	if rel.Weight > 0 {
		return p.reconcileShift(rel)
	}
	if p.obs.Weights[c] == 100 {
		// The listener call went through but the record was not saved.
		p.cutoverDone(rel, "public already on "+string(c))
		return true
	}
	target := p.obs.Color(from).Capacity // follows the color being left, even if it scaled since approval
	rel.Capacity = &target
	v := p.obs.Color(c)
	if v.AMI != rel.AMI {
		p.do(Action{Kind: PutAMI, Color: c, AMI: rel.AMI, Capacity: &target, Token: p.token(rel, c), Why: "approved AMI missing from " + string(c)})
	} else if v.Capacity != target {
		p.do(Action{Kind: SetCapacity, Color: c, Capacity: &target, Why: "match the live color's capacity before cutover"})
	}
	v = p.obs.Color(c)
	need := p.needHealthy(target.Desired)
	healthy := v.Healthy >= need && v.Instances == v.OnVersion
	if !p.inWindow() {
		if rel.WindowWaitSince.IsZero() {
			rel.WindowWaitSince = p.now
		}
		rel.WindowWaitAt = p.now
		if limit := time.Duration(p.app.WindowWaitHours) * time.Hour; !p.now.Before(rel.WindowWaitSince.Add(limit)) {
			p.end(rel, Failed, fmt.Sprintf("waited %d hours for the change window without it opening", p.app.WindowWaitHours))
			p.notify("release failed "+rel.AMI, "AMI %s was approved but waited %d hours (windowWaitHours) for the change window %s; the release failed instead of holding full capacity on two colors. The public stays on %s; approve a new release inside the window.", rel.AMI, p.app.WindowWaitHours, p.windowText(), from)
			return true
		}
		p.note("outside the change window %s: cutover waits (%d of %d healthy)", p.windowText(), v.Healthy, need)
		return false
	}
	if healthy {
		why := fmt.Sprintf("%d of %d targets healthy on %s", v.Healthy, target.Desired, c)
		if steps := p.app.WeightSteps; len(steps) > 0 && steps[0] < 100 {
			rel.From = from
			p.do(Action{Kind: Shift, Weights: map[Color]int{c: steps[0], from: 100 - steps[0]}, Why: why + "; first weighted step"})
			rel.Weight = steps[0]
			rel.PublicAt = p.now
			rel.StepUntil = p.now.Add(time.Duration(p.app.StepMinutes) * time.Minute)
			p.notify(fmt.Sprintf("shifting %d%% to %s", steps[0], rel.AMI), "%d%% of the public now reaches AMI %s on %s; the next step follows at %s unless a guard alarm fires.", steps[0], rel.AMI, c, rel.StepUntil.UTC().Format(time.RFC3339))
			return false
		}
		p.do(Action{Kind: Shift, Weights: map[Color]int{c: 100, from: 0}, Why: why})
		p.cutoverDone(rel, "cut over: "+why)
		return true
	}
	start := rel.ApprovedAt
	if rel.WindowWaitAt.After(start) {
		start = rel.WindowWaitAt
	}
	if !p.now.Before(start.Add(time.Duration(p.app.CutoverTimeoutMinutes) * time.Minute)) {
		p.end(rel, Failed, fmt.Sprintf("only %d of %d targets healthy on %s after %d minutes", v.Healthy, need, c, p.app.CutoverTimeoutMinutes))
		p.notify("release failed "+rel.AMI, "AMI %s did not become healthy on %s in %d minutes (%d of %d healthy); the public stays on %s.", rel.AMI, c, p.app.CutoverTimeoutMinutes, v.Healthy, need, from)
		return true
	}
	p.note("waiting for health on %s: %d of %d", c, v.Healthy, need)
	return false
}

// reconcileShift advances a weighted shift one step when its hold is over.
func (p *planner) reconcileShift(rel *Release) bool {
	c, from := rel.Color, rel.From
	got := p.obs.Weights[c]
	if got == 0 {
		p.end(rel, RolledBack, "the public is back on "+string(from)+" (switched outside kaizen during the shift)")
		p.st.Hold = &Hold{Color: c, Until: p.now.Add(time.Duration(p.app.RetireHoldMinutes) * time.Minute)}
		p.notify("rolled back "+rel.AMI, "The public was switched back to %s outside kaizen during the shift to %s.", from, rel.AMI)
		return true
	}
	if rel.RollbackPending != "" {
		p.rollback(rel, rel.RollbackPending)
		return true
	}
	target := p.obs.Color(from).Capacity
	if v := p.obs.Color(c); v.Capacity != target {
		p.do(Action{Kind: SetCapacity, Color: c, Capacity: &target, Why: "keep the new color at the old color's capacity during the shift"})
	}
	if got != rel.Weight {
		p.do(Action{Kind: Shift, Weights: map[Color]int{c: rel.Weight, from: 100 - rel.Weight}, Why: "restore the recorded weight"})
	}
	if p.now.Before(rel.StepUntil) {
		p.note("shift at %d%% to %s until %s", rel.Weight, c, rel.StepUntil.UTC().Format(time.RFC3339))
		return false
	}
	next := 100
	for _, w := range p.app.WeightSteps {
		if w > rel.Weight {
			next = w
			break
		}
	}
	p.do(Action{Kind: Shift, Weights: map[Color]int{c: next, from: 100 - next}, Why: fmt.Sprintf("step held %d minutes without a guard alarm", p.app.StepMinutes)})
	if next == 100 {
		rel.Weight = 0
		p.cutoverDone(rel, "weighted shift complete")
		return true
	}
	rel.Weight = next
	rel.StepUntil = p.now.Add(time.Duration(p.app.StepMinutes) * time.Minute)
	p.notify(fmt.Sprintf("shifting %d%% to %s", next, rel.AMI), "%d%% of the public now reaches AMI %s on %s.", next, rel.AMI, c)
	return false
}

func (p *planner) cutoverDone(rel *Release, cause string) {
	rel.From = rel.Color.Other()
	rel.CutoverAt = p.now
	if rel.PublicAt.IsZero() {
		rel.PublicAt = p.now
	}
	rel.BakeUntil = p.now.Add(p.app.Bake())
	p.moved(rel, Baking, cause)
	p.notify("cut over to "+rel.AMI, "The public now reaches AMI %s on %s. %s stays warm until %s; a rollback is one listener call.", rel.AMI, rel.Color, rel.From, rel.BakeUntil.UTC().Format(time.RFC3339))
}

func (p *planner) reconcileBaking(rel *Release) bool {
	c := rel.Color
	if rel.RollbackPending != "" {
		p.rollback(rel, rel.RollbackPending)
		return true
	}
	if p.obs.Weights[c] != 100 {
		p.end(rel, RolledBack, "the public is back on "+string(rel.From)+" (switched outside kaizen)")
		p.st.Hold = &Hold{Color: c, Until: p.now.Add(time.Duration(p.app.RetireHoldMinutes) * time.Minute)}
		p.notify("rolled back "+rel.AMI, "The public was switched back to %s outside kaizen during the bake of %s.", rel.From, rel.AMI)
		return true
	}
	if p.obs.Preview != rel.From {
		p.do(Action{Kind: PointPreview, Color: rel.From, Why: "preview moves to the previous color"})
	}
	if !p.now.Before(rel.BakeUntil) {
		p.end(rel, Done, "bake finished; "+string(rel.From)+" retired")
		p.notify("released "+rel.AMI, "AMI %s baked for %d minutes on %s without a guard alarm; %s is retired to zero.", rel.AMI, p.app.BakeMinutes, c, rel.From)
		return true
	}
	p.note("baking %s on %s until %s", rel.AMI, c, rel.BakeUntil.UTC().Format(time.RFC3339))
	return false
}

// rollback sends all of the public back to the previous color: one
// listener call on the critical path, then the preview rule moves to the
// bad color for investigation and the bad color is held.
func (p *planner) rollback(rel *Release, why string) {
	c, from := rel.Color, rel.Color.Other()
	p.do(Action{Kind: Shift, Weights: map[Color]int{from: 100, c: 0}, Why: "rollback: " + why})
	hold := time.Duration(p.app.RetireHoldMinutes) * time.Minute
	p.end(rel, RolledBack, why)
	p.st.Hold = &Hold{Color: c, Until: p.now.Add(hold)}
	if p.obs.Preview != c {
		p.do(Action{Kind: PointPreview, Color: c, Why: "the office can investigate the bad color"})
	}
	p.notify("ROLLED BACK "+rel.AMI, "ROLLBACK: %s.\nThe public is back on %s (AMI %s). The bad color %s (AMI %s) stays up for investigation until %s and is reachable from the office; then it is retired.",
		why, from, p.obs.Color(from).AMI, c, rel.AMI, p.now.Add(hold).UTC().Format(time.RFC3339))
}

func (p *planner) onAlarm(a Alarm) {
	if !p.alarmIsNew(a) {
		return
	}
	if a.State == "ALARM" && (a.Suppressed != "" || a.Muted != "") {
		how := "its actions are suppressed (" + a.Suppressed + ")"
		if a.Muted != "" {
			how = "it is muted (" + a.Muted + ")"
		}
		p.ignoreAlarm(fmt.Sprintf("alarm %s fired at %s while %s: no action, as the team asked", a.Name, stamp(a.At), how))
		p.notify("alarm "+a.Name+" fired while suppressed or muted",
			"Alarm %s (%s) went to ALARM at %s while %s, so kaizen took no action (no rollback, no capacity step).\nReason: %s\nA person should look: kaizen will not act on this transition later.",
			a.Name, a.Role, stamp(a.At), how, a.Reason)
		return
	}
	switch a.Role {
	case config.RoleGuard:
		p.onGuard(a)
	case config.RoleCapacity:
		p.onCapacity(a)
	default:
		p.note("alarm %s has no role kaizen knows", a.Name)
	}
}

// alarmIsNew implements the ordering half of invariant 9: only a
// transition newer than every one already seen of that alarm counts.
// EventBridge delivers at least once and out of order, so an OK that
// arrives before an older ALARM wins.
func (p *planner) alarmIsNew(a Alarm) bool {
	if m, ok := p.st.Alarms[a.Name]; ok && !a.At.After(m.At) {
		if a.At.Equal(m.At) && a.State == m.State {
			p.note("alarm %s: transition to %s at %s already seen", a.Name, a.State, stamp(a.At))
			return false
		}
		p.ignoreAlarm(fmt.Sprintf("alarm %s: ignored its transition to %s at %s, older than the transition to %s at %s already seen (late delivery)", a.Name, a.State, stamp(a.At), m.State, stamp(m.At)))
		return false
	}
	if p.st.Alarms == nil {
		p.st.Alarms = map[string]AlarmMark{}
	}
	p.st.Alarms[a.Name] = AlarmMark{State: a.State, At: a.At}
	return true
}

// ignoreAlarm says why an alarm moved nothing, in the notes and, when a
// release is in flight, in its ledger.
func (p *planner) ignoreAlarm(why string) {
	p.note("%s", why)
	if r := p.st.Active; r != nil {
		r.logCause(p.now, p.cause(why))
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// skew is the clock difference allowed between CloudWatch's timestamps and
// kaizen's own.
func (p *planner) skew() time.Duration { return time.Duration(p.app.AlarmSkewSeconds) * time.Second }

func (p *planner) onGuard(a Alarm) {
	if a.State != "ALARM" {
		p.note("guard alarm %s is %s: nothing to do", a.Name, a.State)
		return
	}
	why := fmt.Sprintf("guard alarm %s: %s", a.Name, a.Reason)
	rel := p.st.Active
	if rel == nil {
		p.note("guard alarm %s with no release in flight: nothing to roll back", a.Name)
		return
	}
	// The other half of invariant 9: a transition from before the release
	// (or, once it has public traffic, from before it took the public) is
	// about the previous color, and moves nothing.
	since, what := rel.StagedAt, "was staged"
	if !rel.PublicAt.IsZero() {
		since, what = rel.PublicAt, "took public traffic"
	}
	if !a.At.After(since.Add(-p.skew())) {
		p.ignoreAlarm(fmt.Sprintf("guard alarm %s transitioned at %s, before AMI %s %s at %s: it is about the previous color, so nothing moves", a.Name, stamp(a.At), rel.AMI, what, stamp(since)))
		return
	}
	switch {
	case rel.State == Staged:
		if rel.Unhealthy == "" {
			rel.Unhealthy = why
			p.notify("staged AMI unhealthy "+rel.AMI, "%s while AMI %s was staged on %s. An approval of it will be refused; a new AMI replaces it.", why, rel.AMI, rel.Color)
		}
	case rel.State == Baking || rel.Weight > 0:
		// Recorded first, so a failed listener call leaves the rollback
		// pending for the retry or the next tick.
		rel.RollbackPending = why
		p.rollback(rel, why)
	case rel.State == Promoting:
		p.end(rel, Failed, why+" before any public traffic moved")
		p.st.Hold = &Hold{Color: rel.Color, Until: p.now.Add(time.Duration(p.app.RetireHoldMinutes) * time.Minute)}
		p.notify("release stopped "+rel.AMI, "%s while %s was being prepared for cutover; the public never left %s.", why, rel.AMI, rel.Color.Other())
	}
}

func (p *planner) onCapacity(a Alarm) {
	i := -1
	for j, n := range p.st.CapacityAlarms {
		if n == a.Name {
			i = j
		}
	}
	if a.State != "ALARM" {
		if i >= 0 {
			p.st.CapacityAlarms = append(p.st.CapacityAlarms[:i:i], p.st.CapacityAlarms[i+1:]...)
			p.note("capacity alarm %s is %s: no further steps", a.Name, a.State)
		}
		return
	}
	if i < 0 {
		p.st.CapacityAlarms = append(p.st.CapacityAlarms, a.Name)
		p.stepUp(a.Name)
	}
}

// capacityCooldown steps again while a capacity alarm stays in ALARM.
func (p *planner) capacityCooldown() {
	for _, n := range p.st.CapacityAlarms {
		al, ok := p.app.Alarm(n)
		if !ok {
			continue
		}
		if !p.now.Before(p.st.CapacityStepAt.Add(time.Duration(al.CooldownMinutes) * time.Minute)) {
			p.stepUp(n)
			return
		}
	}
}

// stepUp adds the alarm's step to the colors that serve the public, within
// their max. The idle color is never touched.
func (p *planner) stepUp(name string) {
	al, _ := p.app.Alarm(name)
	p.st.CapacityStepAt = p.now
	for _, c := range config.Colors {
		if p.obs.Weights[c] == 0 {
			continue
		}
		v := p.obs.Color(c)
		if v.Desired >= v.Max {
			p.note("capacity alarm %s: %s already at its max %d", name, c, v.Max)
			continue
		}
		cp := v.Capacity
		cp.Desired = min(v.Desired+max(al.Step, 1), v.Max)
		p.do(Action{Kind: SetCapacity, Color: c, Capacity: &cp, Why: fmt.Sprintf("capacity alarm %s: step %s up by %d", name, c, cp.Desired-v.Desired)})
	}
}

// onOperator carries out a person's command. Promote goes through the same
// checks as a pipeline approval; rollback and abort refuse what does not
// apply, with a reason.
func (p *planner) onOperator(o Operator) {
	rel := p.st.Active
	who := "operator " + o.By
	switch o.Command {
	case "promote":
		if rel == nil || rel.State != Staged {
			p.refuseOperator("there is no staged release to promote")
			return
		}
		exec := rel.ApprovalExecution
		if exec == "" {
			exec = rel.PipelineExecution
		}
		if exec == "" {
			exec = who
		}
		p.onApproval(Approval{Execution: exec, State: "SUCCEEDED", By: o.By})
	case "rollback":
		if rel == nil || (rel.State != Baking && rel.Weight == 0) {
			p.refuseOperator("nothing to roll back: no release is shifting or baking")
			return
		}
		rel.RollbackPending = "rollback by " + who
		p.rollback(rel, rel.RollbackPending)
	case "resume":
		if p.st.Stuck == "" {
			p.refuseOperator("kaizen has not stopped acting on " + p.app.Name + ": nothing to resume")
			return
		}
		p.note("resumed by %s; kaizen had stopped because %s", who, p.st.Stuck)
		p.st.Stuck, p.st.Recent = "", nil
	case "abort":
		switch {
		case rel == nil:
			p.refuseOperator("no release in flight")
		case rel.State == Staged:
			p.end(rel, Abandoned, "aborted by "+who)
			p.notify("aborted "+rel.AMI, "AMI %s was aborted by %s; the %s color goes back to zero.", rel.AMI, who, rel.Color)
		case rel.State == Promoting && rel.Weight == 0:
			p.end(rel, Failed, "aborted by "+who+" before cutover")
			p.notify("aborted "+rel.AMI, "The promotion of AMI %s was aborted by %s before any public traffic moved.", rel.AMI, who)
		default:
			p.refuseOperator(fmt.Sprintf("release %s is %s with public traffic on it: use rollback", rel.AMI, rel.State))
		}
	default:
		p.note("unknown operator command %q", o.Command)
	}
}

// keepBindings remembers which AMI an approval started on, so that an
// approval of a superseded AMI can be refused by name.
func (p *planner) keepBindings() {
	for _, r := range p.plan.Ended {
		if r.ApprovalExecution != "" {
			p.st.Bindings = append(p.st.Bindings, Binding{Execution: r.ApprovalExecution, AMI: r.AMI})
		}
	}
	if n := len(p.st.Bindings); n > 10 {
		p.st.Bindings = append([]Binding(nil), p.st.Bindings[n-10:]...)
	}
}
