// Package release is kaizen's domain: release records and their states, what
// kaizen observes of a blue/green fleet, the pure planners that turn an event
// and an observation into a plan, and the invariants every step must keep.
//
// Nothing here performs I/O. Handlers observe AWS through adapters, ask a
// planner for a plan, apply it, and record the outcome.
package release

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Color is re-exported from config for brevity.
type Color = config.Color

// Image is an AMI as kaizen sees it.
type Image struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	State   string            `json:"state"`
	Created time.Time         `json:"created"`
	Tags    map[string]string `json:"tags,omitempty"`
	// Snapshots back the image's EBS volumes.
	Snapshots []string `json:"snapshots,omitempty"`
	// Owner is the account that owns the image; Public is set for images
	// anyone may launch.
	Owner  string `json:"owner,omitempty"`
	Public bool   `json:"public,omitempty"`
}

// Capacity is an Auto Scaling group's size.
type Capacity struct {
	Min     int `json:"min"`
	Desired int `json:"desired"`
	Max     int `json:"max"`
}

func (c Capacity) String() string { return fmt.Sprintf("%d/%d/%d", c.Min, c.Desired, c.Max) }

// Transition is one entry of a release's history.
type Transition struct {
	At    time.Time `json:"at"`
	From  State     `json:"from,omitempty"`
	To    State     `json:"to"`
	By    Trigger   `json:"by,omitempty"` // the kind of cause (empty in old records)
	Cause string    `json:"cause"`
}

// Release is the record of one AMI's way through the release steps.
type Release struct {
	App     string `json:"app"`
	ID      string `json:"id"`
	AMI     string `json:"ami"`
	AMIName string `json:"amiName,omitempty"`
	// PipelineExecution is the pipeline execution id the image build wrote as
	// an AMI tag, when present.
	PipelineExecution string `json:"pipelineExecution,omitempty"`
	// ApprovalExecution is the pipeline execution whose approval action
	// started while this release was staged: the approval that may promote it.
	ApprovalExecution string `json:"approvalExecution,omitempty"`
	Color             Color  `json:"color"`
	// From is the color the public left at cutover.
	From  Color `json:"from,omitempty"`
	State State `json:"state"`
	// Capacity is the live color's capacity captured at approval: what the
	// new color must have before the public moves.
	Capacity  *Capacity `json:"capacity,omitempty"`
	Weight    int       `json:"weight,omitempty"` // percent on the new color while Shifting
	StepUntil time.Time `json:"stepUntil,omitempty"`
	// Reason says why a release is Unhealthy or RollingBack: the guard
	// alarm, or the person, that put it there.
	Reason string `json:"reason,omitempty"`
	// WindowWaitAt is the last time the cutover waited for the change window.
	WindowWaitAt   time.Time `json:"windowWaitAt,omitempty"`
	StagedAt       time.Time `json:"stagedAt"`
	PreviewReadyAt time.Time `json:"previewReadyAt,omitempty"`
	ApprovedAt     time.Time `json:"approvedAt,omitempty"`
	// PublicAt is when the new color first took public traffic (the first
	// weighted step, or the cutover): alarm transitions older than this
	// are about the previous color and never roll this one back.
	PublicAt  time.Time `json:"publicAt,omitempty"`
	CutoverAt time.Time `json:"cutoverAt,omitempty"`
	// WindowWaitSince is when an approved release first waited for its
	// change window; the wait is bounded by the app's windowWaitHours.
	WindowWaitSince time.Time `json:"windowWaitSince,omitempty"`
	BakeUntil       time.Time `json:"bakeUntil,omitempty"`
	EndedAt         time.Time `json:"endedAt,omitempty"`
	// Evidence is what the approval request showed (evidence.go), set
	// when the approval action started.
	Evidence *Evidence `json:"evidence,omitempty"`
	// Analysis is the latest metric verdict recorded (analysis.go).
	Analysis *AnalysisMark `json:"analysis,omitempty"`
	History  []Transition  `json:"history"`
}

// logCause records a decision that did not change the release's state
// (an ignored alarm, say), so the ledger says why nothing happened.
func (r *Release) logCause(at time.Time, cause string) {
	r.History = append(r.History, Transition{At: at, From: r.State, To: r.State, Cause: cause})
}

// Candidate is an AMI waiting its turn while a shift or bake runs.
type Candidate struct {
	Image Image     `json:"image"`
	Since time.Time `json:"since"`
	Cause string    `json:"cause"`
}

// Binding ties an approval (pipeline execution) to the AMI it started on.
type Binding struct {
	Execution string `json:"execution"`
	AMI       string `json:"ami"`
}

// Hold keeps a rolled-back color up for investigation until At.
type Hold struct {
	Color Color     `json:"color"`
	Until time.Time `json:"until"`
}

// AppState is the per-app current item: what kaizen intends right now. It is
// written with optimistic locking on Version.
type AppState struct {
	App     string `json:"app"`
	Version int64  `json:"version"`
	// Active is the release in flight (in a state that is not Terminal).
	Active *Release `json:"active,omitempty"`
	// Queued waits for the active release to end. It is an AMI, not a
	// release: it has no state (and no record) until it is staged.
	Queued *Candidate `json:"queued,omitempty"`
	// Newest is the newest of the app's AMIs kaizen has seen; older or
	// repeated AMI events are ignored against it.
	Newest        string    `json:"newest,omitempty"`
	NewestCreated time.Time `json:"newestCreated,omitempty"`
	// Bindings remember which AMI each recent approval started on.
	Bindings []Binding `json:"bindings,omitempty"`
	// Hold keeps a bad color up after a rollback. It belongs to the color,
	// not to a release: the release it came from has ended.
	Hold *Hold `json:"hold,omitempty"`
	// CapacityStepAt is when a capacity alarm last stepped the live color up.
	CapacityStepAt time.Time `json:"capacityStepAt,omitempty"`
	// CapacityAlarms lists capacity alarms currently in ALARM.
	CapacityAlarms []string `json:"capacityAlarms,omitempty"`
	// CapacityBase is the live color's desired capacity (at least the
	// floor) before the first step of the current capacity-alarm episode;
	// 0 when no episode is open. The episode ends with a step back down to
	// no less than it (see stepDown).
	CapacityBase int `json:"capacityBase,omitempty"`
	// CapacityOKAt is when the episode's capacity alarms were all back to
	// OK: the step down waits for the cooldown from then. Zero while one is
	// in ALARM (or its data is insufficient).
	CapacityOKAt time.Time `json:"capacityOkAt,omitempty"`
	// Sized is the desired capacity kaizen last set, per color. A color
	// whose desired capacity differs from it was moved since by its own
	// scaling policies, a scheduled action or a person, and kaizen's step
	// down leaves that number to them.
	Sized map[Color]int `json:"sized,omitempty"`
	// Pending lists the actions of the last plan that were not applied, and
	// LastError says why: nothing is half-applied silently.
	Pending   []string  `json:"pending,omitempty"`
	LastError string    `json:"lastError,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitempty"`
	// Alarms holds the newest transition seen per alarm: EventBridge
	// delivers out of order, so an older transition that arrives later is
	// ignored.
	Alarms map[string]AlarmMark `json:"alarms,omitempty"`
	// Recent lists the signatures of the corrective plans of the last ticks
	// in a row that changed AWS; Stuck is set once one repeats too often
	// without the fleet converging, and kaizen then stops acting on the app
	// until a person runs `kaizen resume`.
	Recent []string `json:"recent,omitempty"`
	Stuck  string   `json:"stuck,omitempty"`
	// Told lists one-time notices already sent (a misconfiguration that
	// kaizen works around, say), so they are sent once, not every minute.
	Told []string `json:"told,omitempty"`
	// Lease is set by a step's write-ahead record while it applies a plan:
	// until it ends, other invocations leave the app alone.
	Lease *Lease `json:"lease,omitempty"`
}

// Lease marks the app as being acted on by one invocation (Token) until
// Until; an expired lease is a crashed or timed-out invocation's.
type Lease struct {
	Token string    `json:"token"`
	Until time.Time `json:"until"`
}

// AlarmMark is the newest transition seen of one alarm.
type AlarmMark struct {
	State string    `json:"state"`
	At    time.Time `json:"at"`
}

// Clone returns a deep copy, so planners never alias their input.
func (s AppState) Clone() AppState {
	c := s
	if s.Active != nil {
		r := *s.Active
		r.History = append([]Transition(nil), s.Active.History...)
		if s.Active.Capacity != nil {
			cp := *s.Active.Capacity
			r.Capacity = &cp
		}
		c.Active = &r
	}
	if s.Queued != nil {
		q := *s.Queued
		c.Queued = &q
	}
	if s.Hold != nil {
		h := *s.Hold
		c.Hold = &h
	}
	c.Bindings = append([]Binding(nil), s.Bindings...)
	c.CapacityAlarms = append([]string(nil), s.CapacityAlarms...)
	c.Pending = append([]string(nil), s.Pending...)
	c.Recent = append([]string(nil), s.Recent...)
	c.Told = append([]string(nil), s.Told...)
	if s.Alarms != nil {
		c.Alarms = make(map[string]AlarmMark, len(s.Alarms))
		for k, v := range s.Alarms {
			c.Alarms[k] = v
		}
	}
	if s.Sized != nil {
		c.Sized = make(map[Color]int, len(s.Sized))
		for k, v := range s.Sized {
			c.Sized[k] = v
		}
	}
	return c
}

// Instance is one member of a color's Auto Scaling group.
type Instance struct {
	ID              string `json:"id"`
	Lifecycle       string `json:"lifecycle"`
	TemplateVersion string `json:"templateVersion"`
	Healthy         bool   `json:"healthy"`
}

// ColorView is what kaizen observes of one color.
type ColorView struct {
	Capacity
	// Version is the launch template version the group is pinned to, and AMI
	// the image that version launches.
	Version string `json:"version"`
	AMI     string `json:"ami"`
	// Instances counts members that are not terminating; OnVersion those
	// launched from the pinned version; Healthy those of OnVersion that are
	// healthy in the color's target group.
	Instances int      `json:"instances"`
	OnVersion int      `json:"onVersion"`
	Healthy   int      `json:"healthy"`
	Suspended []string `json:"suspended,omitempty"`
	// Scaling is the group's scaling policies and scheduled actions; nil
	// when the step did not read them (they are read only while a release
	// is on its way to the public).
	Scaling *Scaling `json:"scaling,omitempty"`
}

// Scaling is what drives a group's capacity besides kaizen: its scaling
// policies and scheduled actions.
type Scaling struct {
	Items []ScalingItem `json:"items,omitempty"`
}

// The kinds of ScalingItem.
const (
	ScalingPolicy   = "policy"
	ScheduledAction = "scheduled-action"
)

// ScalingItem is one scaling policy or scheduled action of a group, as
// kaizen compares and copies them between the colors.
type ScalingItem struct {
	Kind string `json:"kind"` // ScalingPolicy or ScheduledAction
	Name string `json:"name"`
	// Type is a policy's type (TargetTrackingScaling, PredictiveScaling,
	// StepScaling, SimpleScaling), or a scheduled action's recurrence.
	Type string `json:"type,omitempty"`
	// Spec is the definition as canonical JSON, with the color's own names
	// (its group, its target group) replaced by placeholders: the same
	// definition on both colors is the same string. The adapter that
	// reads it writes it back with the other color's names.
	Spec string `json:"spec"`
}

func (s ScalingItem) String() string {
	if s.Type != "" {
		return fmt.Sprintf("%s %q (%s)", s.Kind, s.Name, s.Type)
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}

func (s *Scaling) clone() *Scaling {
	if s == nil {
		return nil
	}
	return &Scaling{Items: append([]ScalingItem(nil), s.Items...)}
}

// Observed is the actual state of an app's fleet.
type Observed struct {
	// Weights is the public default action: percent per color.
	Weights map[Color]int `json:"weights"`
	// Preview is the color the office preview rule forwards to ("" if it
	// forwards elsewhere or to several).
	Preview Color                `json:"preview"`
	Colors  map[Color]*ColorView `json:"colors"`
	// Staging is the app's staging environment, when it has one.
	Staging *StagingView `json:"staging,omitempty"`
	// Evidence is gathered only for an approval action that starts
	// (evidence.go).
	Evidence *Evidence `json:"evidence,omitempty"`
	// Analysis is this step's metric verdict about the active release
	// (analysis.go); nil when none was made.
	Analysis *Verdict `json:"analysis,omitempty"`
}

// StagingView is what the staging app's public color runs.
type StagingView struct {
	App     string `json:"app"`
	AMI     string `json:"ami"`
	Healthy int    `json:"healthy"`
	Desired int    `json:"desired"`
	// LiveSince is when AMI took all of staging's public traffic, from
	// staging's own release records; zero when unknown (read only for
	// approvals).
	LiveSince time.Time `json:"liveSince,omitempty"`
	// Alarming lists staging's guard alarms in ALARM, as kaizen last saw
	// them.
	Alarming []string `json:"alarming,omitempty"`
}

// Clone deep-copies an observation.
func (o Observed) Clone() Observed {
	c := Observed{Preview: o.Preview, Weights: map[Color]int{}, Colors: map[Color]*ColorView{}, Staging: o.Staging, Evidence: o.Evidence, Analysis: o.Analysis}
	for k, v := range o.Weights {
		c.Weights[k] = v
	}
	for k, v := range o.Colors {
		cv := *v
		cv.Suspended = append([]string(nil), v.Suspended...)
		cv.Scaling = v.Scaling.clone()
		c.Colors[k] = &cv
	}
	return c
}

// Live is the color that serves the public at 100%, or during a weighted
// shift the one with the larger weight; "" if neither.
func (o Observed) Live() Color {
	b, g := o.Weights[config.Blue], o.Weights[config.Green]
	switch {
	case b > g:
		return config.Blue
	case g > b:
		return config.Green
	}
	return ""
}

// Color returns the view of c, never nil.
func (o Observed) Color(c Color) *ColorView {
	if v, ok := o.Colors[c]; ok && v != nil {
		return v
	}
	if o.Colors == nil {
		return &ColorView{}
	}
	v := &ColorView{}
	o.Colors[c] = v
	return v
}

// Traffic renders the weights as "blue 100 / green 0".
func (o Observed) Traffic() string {
	return fmt.Sprintf("blue %d / green %d", o.Weights[config.Blue], o.Weights[config.Green])
}

// Summary is a one-line description of the fleet.
func (o Observed) Summary() string {
	var b strings.Builder
	b.WriteString(o.Traffic())
	for _, c := range config.Colors {
		v := o.Color(c)
		fmt.Fprintf(&b, "; %s %s %s healthy %d/%d", c, v.AMI, v.Capacity, v.Healthy, v.Instances)
	}
	fmt.Fprintf(&b, "; preview→%s", o.Preview)
	return b.String()
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
