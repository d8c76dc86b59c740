package release

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Decide is the one planner: given the app, the recorded state, the observed
// fleet, the time and an event, it returns the plan. It is pure. A release
// moves only along Table: a transition it does not allow is a planner bug,
// and the plan comes back empty with the bug in Notes and Bug.
func Decide(app *config.App, st AppState, obs Observed, now time.Time, ev Event) (plan Plan) {
	defer func() {
		if r := recover(); r != nil {
			bug, ok := r.(*RefusedTransition)
			if !ok {
				panic(r)
			}
			plan = Plan{Next: st.Clone(), Notes: []string{"planner bug: " + bug.Error() + "; nothing applied"}, Bug: bug.Error()}
		}
	}()
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
	p.notify(Notice{Kind: NoticeNotConverging, Why: stuck.Stuck})
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

// tellOnce sends a notice once per key: a standing condition (a setting
// kaizen works around) is reported, not repeated every minute.
func (p *planner) tellOnce(key string, n Notice) {
	for _, k := range p.st.Told {
		if k == key {
			_, msg := n.Render(p.app)
			p.note("%s", msg)
			return
		}
	}
	p.st.Told = append(p.st.Told, key)
	if n := len(p.st.Told); n > 20 {
		p.st.Told = append([]string(nil), p.st.Told[n-20:]...)
	}
	p.notify(n)
}

// moved makes a transition of Table and notes it in the plan. A transition
// Table does not allow is a planner bug: Decide drops the whole plan.
func (p *planner) moved(r *Release, to State, by Trigger, cause string) {
	if err := r.move(to, by, p.now, cause); err != nil {
		panic(err)
	}
	p.plan.Transitions = append(p.plan.Transitions, fmt.Sprintf("%s %s", r.AMI, to))
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
	if a.Capacity != nil && (a.Kind == SetCapacity || a.Kind == PutAMI) {
		if p.st.Sized == nil {
			p.st.Sized = map[Color]int{}
		}
		p.st.Sized[a.Color] = a.Capacity.Desired
	}
}

func (p *planner) add(a Action) {
	p.plan.Actions = append(p.plan.Actions, a)
	p.plan.States = append(p.plan.States, p.st.Clone())
}

// notify tells people; the words are Render's.
func (p *planner) notify(n Notice) {
	head, msg := n.words(p.app)
	p.add(Action{Kind: Notify, Notice: n.Kind, Subject: subjectOf(p.app, head), Message: msg, Chat: n.chat(p.app), Why: head})
}

// end moves a release to a terminal state and clears it from the app.
func (p *planner) end(r *Release, to State, by Trigger, cause string) {
	p.moved(r, to, by, cause)
	p.plan.Ended = append(p.plan.Ended, *r)
	if p.st.Active == r {
		p.st.Active = nil
	}
	p.note("release %s (%s) %s: %s", r.ID, r.AMI, to, cause)
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
		p.tellOnce("image-refused:"+img.ID, Notice{Kind: NoticeImageRefused, Image: img, Why: why})
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
	case rel.State.BeforeApproval():
		p.end(rel, Superseded, ByImage, "superseded by "+img.ID)
		p.notify(Notice{Kind: NoticeSuperseded, Release: *rel, Image: img})
		p.stage(img, p.cause("AMI "+img.ID+" available, superseding "+rel.AMI))
	default:
		if q := p.st.Queued; q != nil {
			p.note("queued AMI %s replaced by newer %s", q.Image.ID, img.ID)
		}
		p.st.Queued = &Candidate{Image: img, Since: p.now, Cause: p.cause("AMI " + img.ID + " available")}
		p.note("AMI %s queued: release %s is %s", img.ID, rel.ID, rel.State)
		p.notify(Notice{Kind: NoticeQueued, Release: *rel, Image: img})
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
	p.moved(rel, Staged, ByImage, cause)
	p.st.Active = rel
	p.note("staging %s on idle color %s", img.ID, color)
	p.notify(Notice{Kind: NoticeStaged, Release: *rel, Image: img, Staging: p.obs.Staging})
}

func (p *planner) onApproval(a Approval) {
	rel := p.st.Active
	switch a.State {
	case "STARTED":
		switch {
		case rel == nil || !rel.State.BeforeApproval():
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
			p.requestApproval(rel, a)
		}
	case "SUCCEEDED":
		if rel == nil || !rel.State.BeforeApproval() {
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
		switch rel.State {
		case Staged:
			p.refuse(a, fmt.Sprintf("AMI %s was never healthy on the preview, so nobody could have tested it", rel.AMI))
			return
		case Unhealthy:
			p.refuse(a, fmt.Sprintf("release %s (AMI %s) was marked unhealthy while staged: %s", rel.ID, rel.AMI, rel.Reason))
			return
		}
		if ok, why := Soak(p.app, p.obs.Staging, rel.AMI, p.now); !ok {
			p.refuse(a, "staging first: "+why)
			return
		}
		rel.ApprovalExecution = a.Execution
		who := "approved by pipeline execution " + a.Execution
		if a.By != "" {
			who = "approved by " + a.By + " (kaizen promote)"
		}
		p.approve(rel, p.cause(who))
	case "FAILED":
		if rel == nil || !rel.State.BeforeApproval() {
			p.note("rejection %s: no staged release", a.Execution)
			return
		}
		if ok, why := p.correlates(rel, a); !ok {
			p.note("rejection %s ignored: %s", a.Execution, why)
			return
		}
		p.end(rel, Abandoned, ByRejection, p.cause("rejected at approval "+a.Execution))
		p.notify(Notice{Kind: NoticeRejected, Release: *rel})
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

// requestApproval posts the approval request's evidence (evidence.go),
// gathered by the step when the approval action started, and keeps it on
// the release for kaizen status.
func (p *planner) requestApproval(rel *Release, a Approval) {
	ev := p.obs.Evidence
	if ev != nil {
		e := *ev
		e.Execution = a.Execution
		e.At = p.now
		if e.Staging == nil {
			e.Staging = p.obs.Staging
		}
		rel.Evidence = &e
	}
	p.notify(Notice{Kind: NoticeApprovalRequested, Release: *rel, Evidence: rel.Evidence, At: p.now})
}

// refuseOperator answers a person at the CLI; nobody else needs a notice.
func (p *planner) refuseOperator(why string) {
	p.plan.Refused = why
	p.note("refused: %s", why)
}

func (p *planner) refuse(a Approval, why string) {
	p.plan.Refused = why
	p.note("approval %s refused: %s", a.Execution, why)
	if r := p.st.Active; r != nil {
		// The ledger says why the approval moved nothing.
		r.logCause(p.now, fmt.Sprintf("approval %s refused: %s", a.Execution, why))
	}
	p.notify(Notice{Kind: NoticeApprovalRefused, Execution: a.Execution, Why: why})
}

func (p *planner) approve(rel *Release, cause string) {
	rel.ApprovedAt = p.now
	p.moved(rel, Promoting, ByApproval, cause)
	c := p.need(rel.Color.Other(), rel.Color)
	rel.Capacity = &c
	p.notify(Notice{Kind: NoticeApproved, Release: *rel, Staging: p.obs.Staging})
}

// ---- reconcile ----

// live is the color the public is on: the one at 100%, the heavier one of
// a weighted shift, or during an even split the color being left.
func (p *planner) live() Color {
	if l := p.obs.Live(); l != "" {
		return l
	}
	if r := p.st.Active; r != nil && r.Weight > 0 && r.From != "" && (r.State == Shifting || r.State == RollingBack) {
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
			p.tellOnce(fmt.Sprintf("floor-above-max:%s:%d>%d", c, f, v.Max), Notice{Kind: NoticeFloorAboveMax, Color: c, Want: f, Max: v.Max})
			f = v.Max
		}
		if v.Min >= f && v.Desired >= f {
			continue
		}
		was := v.Capacity
		cp := Capacity{Min: max(v.Min, f), Desired: max(v.Desired, f), Max: v.Max}
		p.do(Action{Kind: SetCapacity, Color: c, Capacity: &cp, Why: fmt.Sprintf("%s serves the public and is below the floor of %d", c, f)})
		p.tellOnce(fmt.Sprintf("below-floor:%s:%s", c, was), Notice{Kind: NoticeBelowFloor, Color: c, Want: f, Max: was.Max, Why: was.String()})
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
	if p.judge(rel) { // metric analysis (analysis.go), as a guard alarm
		return true
	}
	switch rel.State {
	case Staged, PreviewReady, Unhealthy:
		return p.reconcileStaged(rel)
	case Promoting, WaitingForWindow:
		return p.reconcilePromoting(rel)
	case Shifting:
		return p.reconcileShift(rel)
	case Baking:
		return p.reconcileBaking(rel)
	case RollingBack:
		p.rollback(rel)
		return true
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
		p.tellOnce(fmt.Sprintf("preview-above-max:%s:%d>%d", c, p.app.PreviewSize, v.Max), Notice{Kind: NoticePreviewAboveMax, Color: c, Want: p.app.PreviewSize, Max: v.Max})
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
		p.end(rel, Failed, ByListener, "the public was switched to "+string(c)+" outside kaizen while the release was staged")
		p.notify(Notice{Kind: NoticeTakenOver, Release: *rel})
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
	if differs, _ := p.matchScaling(c); differs != "" {
		p.scalingDiffers(c, differs)
	}
	if rel.PreviewReadyAt.IsZero() && want.Desired > 0 && p.obs.Color(c).Healthy >= want.Desired {
		// An unhealthy release keeps its state; the time is still data.
		rel.PreviewReadyAt = p.now
		if rel.State == Staged {
			p.moved(rel, PreviewReady, ByHealth, fmt.Sprintf("%d of %d healthy on the preview", p.obs.Color(c).Healthy, want.Desired))
		}
		p.note("preview of %s ready on %s", rel.AMI, c)
		if rel.State == PreviewReady {
			// An unhealthy release was told already that its approval
			// will be refused: no "approve it" prompt.
			p.notify(Notice{Kind: NoticePreviewReady, Release: *rel, Staging: p.obs.Staging})
		}
	}
	if p.app.AutoPromote && rel.State == PreviewReady {
		p.approve(rel, "autoPromote: preview healthy")
		return true
	}
	switch rel.State {
	case Staged:
		p.note("waiting for the preview: %d of %d healthy on %s", p.obs.Color(c).Healthy, want.Desired, c)
	case PreviewReady:
		p.note("waiting for approval in pipeline %s (stage %s, action %s)", p.app.Approval.Pipeline, p.app.Approval.Stage, p.app.Approval.Action)
	case Unhealthy:
		p.note("unhealthy (%s): approvals are refused; a newer AMI, a rejection or an abort ends it", rel.Reason)
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

// reconcilePromoting gives the approved color the live color's capacity,
// waits for the change window and for health, then moves the public: all
// at once, or the first weighted step.
func (p *planner) reconcilePromoting(rel *Release) bool {
	c, from := rel.Color, rel.Color.Other()
	if p.obs.Weights[c] == 100 {
		// The listener call went through but the record was not saved.
		p.cutoverDone(rel, ByListener, "public already on "+string(c))
		return true
	}
	target := p.need(from, c) // follows the color being left, even if it scaled since approval
	rel.Capacity = &target
	v := p.obs.Color(c)
	if v.AMI != rel.AMI {
		p.do(Action{Kind: PutAMI, Color: c, AMI: rel.AMI, Capacity: &target, Token: p.token(rel, c), Why: "approved AMI missing from " + string(c)})
	} else if v.Capacity != target {
		p.do(Action{Kind: SetCapacity, Color: c, Capacity: &target, Why: "match the live color's current need before cutover"})
	}
	differs, known := p.matchScaling(c)
	v = p.obs.Color(c)
	need := p.needHealthy(target.Desired)
	healthy := v.Healthy >= need && v.Instances == v.OnVersion
	// Under scalingPolicies "verify" the public moves only once the new
	// color scales as the live one does.
	verified := p.app.ScalingPolicies != config.ScalingVerify || known && differs == ""
	if !p.inWindow() {
		if rel.WindowWaitSince.IsZero() {
			rel.WindowWaitSince = p.now
		}
		rel.WindowWaitAt = p.now
		if limit := time.Duration(p.app.WindowWaitHours) * time.Hour; !p.now.Before(rel.WindowWaitSince.Add(limit)) {
			p.end(rel, Failed, ByTimer, fmt.Sprintf("waited %d hours for the change window without it opening", p.app.WindowWaitHours))
			p.notify(Notice{Kind: NoticeWindowWaitLimit, Release: *rel})
			return true
		}
		if rel.State == Promoting {
			p.moved(rel, WaitingForWindow, ByWindow, "outside the change window "+p.app.ChangeWindow.String())
		}
		p.note("outside the change window %s: cutover waits (%d of %d healthy)", p.app.ChangeWindow, v.Healthy, need)
		return false
	}
	if rel.State == WaitingForWindow {
		p.moved(rel, Promoting, ByWindow, "the change window "+p.app.ChangeWindow.String()+" is open")
	}
	if healthy && !verified {
		if differs != "" {
			p.scalingDiffers(c, differs)
			p.note("cutover refused: the scaling of %s differs from %s's (%s)", c, from, differs)
		} else {
			p.note("cutover waits: the scaling policies of %s and %s were not observed in this step", c, from)
		}
	}
	if healthy && verified {
		why := fmt.Sprintf("%d of %d targets healthy on %s", v.Healthy, target.Desired, c)
		if steps := p.app.WeightSteps; len(steps) > 0 && steps[0] < 100 {
			rel.From = from
			p.do(Action{Kind: Shift, Weights: map[Color]int{c: steps[0], from: 100 - steps[0]}, Why: why + "; first weighted step"})
			rel.Weight = steps[0]
			rel.PublicAt = p.now
			rel.StepUntil = p.now.Add(time.Duration(p.app.StepMinutes) * time.Minute)
			p.moved(rel, Shifting, ByHealth, why+"; first weighted step")
			p.notify(Notice{Kind: NoticeShiftStarted, Release: *rel})
			return false
		}
		p.do(Action{Kind: Shift, Weights: map[Color]int{c: 100, from: 0}, Why: why})
		p.cutoverDone(rel, ByHealth, "cut over: "+why)
		return true
	}
	start := rel.ApprovedAt
	if rel.WindowWaitAt.After(start) {
		start = rel.WindowWaitAt
	}
	if !p.now.Before(start.Add(time.Duration(p.app.CutoverTimeoutMinutes) * time.Minute)) {
		if healthy {
			why := fmt.Sprintf("the scaling of %s still differed from %s's after %d minutes (scalingPolicies is %q)", c, from, p.app.CutoverTimeoutMinutes, config.ScalingVerify)
			p.end(rel, Failed, ByTimer, why)
			p.notify(Notice{Kind: NoticeStopped, Release: *rel, Why: why})
			return true
		}
		p.end(rel, Failed, ByTimer, fmt.Sprintf("only %d of %d targets healthy on %s after %d minutes", v.Healthy, need, c, p.app.CutoverTimeoutMinutes))
		p.notify(Notice{Kind: NoticeNotHealthy, Release: *rel, Healthy: v.Healthy, Need: need})
		return true
	}
	if !healthy {
		p.note("waiting for health on %s: %d of %d", c, v.Healthy, need)
	}
	return false
}

// reconcileShift advances a weighted shift one step when its hold is over.
func (p *planner) reconcileShift(rel *Release) bool {
	c, from := rel.Color, rel.From
	got := p.obs.Weights[c]
	if got == 0 {
		p.end(rel, RolledBack, ByListener, "the public is back on "+string(from)+" (switched outside kaizen during the shift)")
		p.st.Hold = &Hold{Color: c, Until: p.now.Add(time.Duration(p.app.RetireHoldMinutes) * time.Minute)}
		p.notify(Notice{Kind: NoticeBackDuringShift, Release: *rel})
		return true
	}
	target := p.need(from, c)
	if v := p.obs.Color(c); v.Capacity != target {
		p.do(Action{Kind: SetCapacity, Color: c, Capacity: &target, Why: "keep the new color at the old color's current need during the shift"})
	}
	if got != rel.Weight {
		p.do(Action{Kind: Shift, Weights: map[Color]int{c: rel.Weight, from: 100 - rel.Weight}, Why: "restore the recorded weight"})
	}
	if p.now.Before(rel.StepUntil) {
		p.note("shift at %d%% to %s until %s", rel.Weight, c, stamp(rel.StepUntil))
		return false
	}
	if hold, changed := p.analysisHolds(rel); hold {
		return changed
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
		p.cutoverDone(rel, ByTimer, "weighted shift complete")
		return true
	}
	rel.Weight = next
	rel.StepUntil = p.now.Add(time.Duration(p.app.StepMinutes) * time.Minute)
	p.notify(Notice{Kind: NoticeShiftStepped, Release: *rel})
	return false
}

func (p *planner) cutoverDone(rel *Release, by Trigger, cause string) {
	rel.From = rel.Color.Other()
	rel.CutoverAt = p.now
	if rel.PublicAt.IsZero() {
		rel.PublicAt = p.now
	}
	rel.BakeUntil = p.now.Add(p.app.Bake())
	p.moved(rel, Baking, by, cause)
	p.notify(Notice{Kind: NoticeCutOver, Release: *rel})
}

func (p *planner) reconcileBaking(rel *Release) bool {
	c := rel.Color
	if p.obs.Weights[c] != 100 {
		p.end(rel, RolledBack, ByListener, "the public is back on "+string(rel.From)+" (switched outside kaizen)")
		p.st.Hold = &Hold{Color: c, Until: p.now.Add(time.Duration(p.app.RetireHoldMinutes) * time.Minute)}
		p.notify(Notice{Kind: NoticeBackDuringBake, Release: *rel})
		return true
	}
	if p.obs.Preview != rel.From {
		p.do(Action{Kind: PointPreview, Color: rel.From, Why: "preview moves to the previous color"})
	}
	if !p.now.Before(rel.BakeUntil) {
		if hold, changed := p.analysisHolds(rel); hold {
			return changed
		}
		p.end(rel, Done, ByTimer, "bake finished; "+string(rel.From)+" retired")
		p.notify(Notice{Kind: NoticeReleased, Release: *rel})
		return true
	}
	p.note("baking %s on %s until %s", rel.AMI, c, stamp(rel.BakeUntil))
	return false
}

// rollBack decides a rollback: recorded as RollingBack first, so a failed
// listener call leaves it for the retry or the next tick.
func (p *planner) rollBack(rel *Release, by Trigger, why string) {
	rel.Reason = why
	p.moved(rel, RollingBack, by, p.cause(why))
	p.rollback(rel)
}

// rollback sends all of the public back to the previous color: one
// listener call on the critical path (none if it is already there), then
// the preview rule moves to the bad color for investigation and the bad
// color is held.
func (p *planner) rollback(rel *Release) {
	c, from := rel.Color, rel.Color.Other()
	if p.obs.Weights[from] != 100 || p.obs.Weights[c] != 0 {
		p.do(Action{Kind: Shift, Weights: map[Color]int{from: 100, c: 0}, Why: "rollback: " + rel.Reason})
	}
	hold := time.Duration(p.app.RetireHoldMinutes) * time.Minute
	p.end(rel, RolledBack, ByListener, rel.Reason)
	p.st.Hold = &Hold{Color: c, Until: p.now.Add(hold)}
	if p.obs.Preview != c {
		p.do(Action{Kind: PointPreview, Color: c, Why: "the office can investigate the bad color"})
	}
	p.notify(Notice{Kind: NoticeRolledBack, Release: *rel, LiveAMI: p.obs.Color(from).AMI, Until: p.now.Add(hold)})
}

func (p *planner) onAlarm(a Alarm) {
	if !p.alarmIsNew(a) {
		return
	}
	if a.State == "ALARM" && (a.Suppressed != "" || a.Muted != "") {
		p.plan.IgnoredAlarm = IgnoredSilenced
		p.ignoreAlarm(fmt.Sprintf("alarm %s fired at %s while %s: no action, as the team asked", a.Name, stamp(a.At), silenced(a)))
		p.notify(Notice{Kind: NoticeAlarmSilenced, Alarm: a})
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
		p.plan.IgnoredAlarm = IgnoredLate
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
		p.plan.IgnoredAlarm = IgnoredNoRelease
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
		p.plan.IgnoredAlarm = IgnoredBeforeRelease
		p.ignoreAlarm(fmt.Sprintf("guard alarm %s transitioned at %s, before AMI %s %s at %s: it is about the previous color, so nothing moves", a.Name, stamp(a.At), rel.AMI, what, stamp(since)))
		return
	}
	switch rel.State {
	case Staged, PreviewReady:
		rel.Reason = why
		p.moved(rel, Unhealthy, ByGuard, p.cause(why))
		p.notify(Notice{Kind: NoticeStagedUnhealthy, Release: *rel})
	case Unhealthy:
		p.note("release %s is already unhealthy: %s", rel.ID, rel.Reason)
	case Shifting, Baking:
		p.rollBack(rel, ByGuard, why)
	case RollingBack:
		p.rollback(rel)
	case Promoting, WaitingForWindow:
		p.end(rel, Failed, ByGuard, why+" before any public traffic moved")
		p.st.Hold = &Hold{Color: rel.Color, Until: p.now.Add(time.Duration(p.app.RetireHoldMinutes) * time.Minute)}
		p.notify(Notice{Kind: NoticeStopped, Release: *rel, Why: why})
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
		switch {
		case p.st.CapacityBase == 0:
		case a.State != "OK":
			// Missing data is no sign the load has gone: hold the capacity.
			p.st.CapacityOKAt = time.Time{}
		case len(p.st.CapacityAlarms) == 0:
			p.st.CapacityOKAt = a.At
			if p.st.CapacityStepAt.After(a.At) {
				p.st.CapacityOKAt = p.st.CapacityStepAt
			}
			p.note("capacity alarms OK: the live color steps back down to %d (or what its policies ask for) after %s", p.st.CapacityBase, p.cooldown())
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
	if len(p.st.CapacityAlarms) == 0 && p.st.CapacityBase > 0 && !p.st.CapacityOKAt.IsZero() &&
		!p.now.Before(p.st.CapacityOKAt.Add(p.cooldown())) {
		p.stepDown()
	}
}

// stepUp adds the alarm's step to the colors that serve the public, within
// their max. The idle color is never touched.
func (p *planner) stepUp(name string) {
	al, _ := p.app.Alarm(name)
	if p.st.CapacityBase == 0 {
		v := p.obs.Color(p.live())
		p.st.CapacityBase = max(v.Desired, min(p.app.Floor, v.Max))
	}
	p.st.CapacityOKAt = time.Time{}
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
		if rel == nil || !rel.State.BeforeApproval() {
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
		switch {
		case rel == nil || rel.State != Shifting && rel.State != Baking && rel.State != RollingBack:
			p.refuseOperator("nothing to roll back: no release is shifting or baking")
		case rel.State == RollingBack:
			p.rollback(rel)
		default:
			p.rollBack(rel, ByOperator, "rollback by "+who)
		}
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
		case rel.State.BeforeApproval():
			p.end(rel, Abandoned, ByOperator, "aborted by "+who)
			p.notify(Notice{Kind: NoticeAborted, Release: *rel, Who: who})
		case rel.State == Promoting || rel.State == WaitingForWindow:
			p.end(rel, Failed, ByOperator, "aborted by "+who+" before cutover")
			p.notify(Notice{Kind: NoticePromotionAbort, Release: *rel, Who: who})
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
