package release

import (
	"fmt"
	"reflect"
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
	// PutScaling creates or replaces one scaling policy or scheduled
	// action (Item) on a color's group; DeleteScaling deletes one. They
	// make the new color's scaling equal the live color's.
	PutScaling    Kind = "put-scaling"
	DeleteScaling Kind = "delete-scaling"
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
	// Item is the scaling policy or scheduled action PutScaling puts (as
	// the live color has it) or DeleteScaling deletes.
	Item *ScalingItem `json:"item,omitempty"`
	// Notice, Subject and Message: what a Notify action tells, rendered
	// by Notice.Render.
	Notice  NoticeKind `json:"notice,omitempty"`
	Subject string     `json:"subject,omitempty"`
	Message string     `json:"message,omitempty"`
	// Chat is the notice for chat and email (chat.go): title, why, next
	// steps.
	Chat *Chat `json:"chat,omitempty"`
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
	case PutScaling, DeleteScaling:
		verb := "put"
		if a.Kind == DeleteScaling {
			verb = "delete"
		}
		if a.Item == nil {
			return fmt.Sprintf("%s %s scaling", verb, a.Color)
		}
		return fmt.Sprintf("%s %s scaling %s %s", verb, a.Color, a.Item.Kind, a.Item.Name)
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
	// IgnoredAlarm says why an alarm transition moved nothing (Ignored*),
	// for kaizen's metrics; the notes say it in words.
	IgnoredAlarm string `json:"ignoredAlarm,omitempty"`
	// Transitions lists the release state changes this plan makes.
	Transitions []string `json:"transitions,omitempty"`
	// Bug is set when the planner tried a transition that Table does not
	// allow. The plan is then empty and Next is the state as it was: the
	// actions around a transition were decided for it, so none of them is
	// applied. Steps log it; tests fail on it.
	Bug string `json:"bug,omitempty"`
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

// Changed reports whether applying the plan changes anything.
func (p Plan) Changed(before AppState) bool {
	if len(p.Actions) > 0 {
		return true
	}
	a, b := before.Clone(), p.Next.Clone()
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	return !reflect.DeepEqual(a, b)
}

// apply is an action's expected effect on the observation, so later
// decisions in the same plan see it and never repeat it.
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
	case PutScaling, DeleteScaling:
		v := o.Color(a.Color)
		if v.Scaling == nil || a.Item == nil {
			return
		}
		var keep []ScalingItem
		for _, it := range v.Scaling.Items {
			if it.Kind != a.Item.Kind || it.Name != a.Item.Name {
				keep = append(keep, it)
			}
		}
		if a.Kind == PutScaling {
			keep = append(keep, *a.Item)
		}
		v.Scaling = &Scaling{Items: keep}
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
