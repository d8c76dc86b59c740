package route

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// AMIDetail is the detail of an `EC2 AMI State Change` event.
type AMIDetail struct {
	ImageID     string `json:"ImageId"`
	State       string `json:"State"`
	ErrorReason string `json:"ErrorReason"`
}

// ImageBuilderDetail is the detail of an Image Builder image state change.
// It carries no AMI id: the image's ARN is in the envelope's resources, and
// kaizen finds the AMI by the app's tag instead (Image Builder's distribution
// configuration writes it).
type ImageBuilderDetail struct {
	State struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	} `json:"state"`
}

// CodeBuildDetail is the detail of a `CodeBuild Build State Change` event.
type CodeBuildDetail struct {
	BuildStatus    string `json:"build-status"`
	ProjectName    string `json:"project-name"`
	BuildID        string `json:"build-id"`
	AdditionalInfo struct {
		Exported []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"exported-environment-variables"`
	} `json:"additional-information"`
}

// Exported returns an exported environment variable of the build.
func (d CodeBuildDetail) Exported(name string) string {
	for _, v := range d.AdditionalInfo.Exported {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}

// ApprovalDetail is the detail of a `CodePipeline Action Execution State
// Change` event.
type ApprovalDetail struct {
	Pipeline    string `json:"pipeline"`
	ExecutionID string `json:"execution-id"`
	Stage       string `json:"stage"`
	Action      string `json:"action"`
	State       string `json:"state"`
	Type        struct {
		Owner    string `json:"owner"`
		Provider string `json:"provider"`
		Category string `json:"category"`
	} `json:"type"`
}

// AlarmDetail is the detail of a `CloudWatch Alarm State Change` event.
// Metric alarms, metric-math alarms and composite alarms share the state
// fields; their `configuration` differs and is kept raw.
type AlarmDetail struct {
	AlarmName     string          `json:"alarmName"`
	State         AlarmState      `json:"state"`
	PreviousState AlarmState      `json:"previousState"`
	Configuration json.RawMessage `json:"configuration"`
	// MuteDetail is present while an alarm mute rule mutes the alarm's
	// actions; its shape is kept raw and read by Muted.
	MuteDetail json.RawMessage `json:"muteDetail,omitempty"`
	// At is when the alarm transitioned: state.timestamp, or the event's
	// own time if CloudWatch left it out (set by Decode). Never the
	// delivery time.
	At time.Time `json:"-"`
}

// AlarmState is one side of an alarm transition.
type AlarmState struct {
	Value     string `json:"value"`
	Reason    string `json:"reason"`
	Timestamp string `json:"timestamp"`
	// ActionsSuppressedBy is set on composite alarms whose actions are
	// suppressed: Alarm, WaitPeriod or ExtensionPeriod.
	ActionsSuppressedBy     string `json:"actionsSuppressedBy,omitempty"`
	ActionsSuppressedReason string `json:"actionsSuppressedReason,omitempty"`
}

// alarmTimeLayouts are the forms CloudWatch writes state.timestamp in
// ("2019-10-02T17:04:40.985+0000"), then RFC 3339 for good measure.
var alarmTimeLayouts = []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", time.RFC3339Nano}

// ParseAlarmTime reads a CloudWatch alarm timestamp.
func ParseAlarmTime(s string) (time.Time, error) {
	for _, l := range alarmTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not a CloudWatch time", s)
}

// Muted describes the mute rule in force when the alarm transitioned, or
// returns "" if none was. A muteDetail whose window (muteWindowStart,
// muteWindowEnd) does not hold the transition does not mute it.
func (d AlarmDetail) Muted() string {
	if len(d.MuteDetail) == 0 || string(d.MuteDetail) == "null" || string(d.MuteDetail) == "{}" {
		return ""
	}
	var windows []muteWindow
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			w := muteWindow{}
			w.rule, _ = x["muteRuleName"].(string)
			if w.rule == "" {
				w.rule, _ = x["muteRuleArn"].(string)
			}
			if s, ok := x["muteWindowStart"].(string); ok {
				w.start, _ = parseAnyTime(s)
			}
			if s, ok := x["muteWindowEnd"].(string); ok {
				w.end, _ = parseAnyTime(s)
			}
			if w.rule != "" || !w.start.IsZero() || !w.end.IsZero() {
				windows = append(windows, w)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	var v any
	if err := json.Unmarshal(d.MuteDetail, &v); err != nil {
		return "muted (unreadable muteDetail)"
	}
	walk(v)
	at, err := ParseAlarmTime(d.State.Timestamp)
	for _, w := range windows {
		if err == nil && ((!w.start.IsZero() && at.Before(w.start)) || (!w.end.IsZero() && !at.Before(w.end))) {
			continue // the transition fell outside this window
		}
		return w.String()
	}
	if len(windows) == 0 {
		return "muted"
	}
	return ""
}

type muteWindow struct {
	rule       string
	start, end time.Time
}

func (w muteWindow) String() string {
	s := "muted"
	if w.rule != "" {
		s += " by " + w.rule
	}
	if !w.start.IsZero() || !w.end.IsZero() {
		s += fmt.Sprintf(" from %s to %s", w.start.Format(time.RFC3339), w.end.Format(time.RFC3339))
	}
	return s
}

func parseAnyTime(s string) (time.Time, error) {
	if t, err := ParseAlarmTime(s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// AlarmKind tells metric, metric-math, anomaly-detection and composite
// alarms apart by the shape of their configuration.
func (d AlarmDetail) AlarmKind() string {
	var c struct {
		AlarmRule string `json:"alarmRule"`
		Metrics   []struct {
			Expression string `json:"expression"`
		} `json:"metrics"`
	}
	_ = json.Unmarshal(d.Configuration, &c)
	math := false
	for _, m := range c.Metrics {
		if strings.Contains(m.Expression, "ANOMALY_DETECTION_BAND") {
			return "anomaly-detection"
		}
		math = math || m.Expression != ""
	}
	switch {
	case c.AlarmRule != "":
		return "composite"
	case math || len(c.Metrics) > 1:
		return "metric-math"
	default:
		return "metric"
	}
}

// SecretDetail is the CloudTrail detail of a Secrets Manager write or
// rotation. requestParameters and responseElements may be null.
type SecretDetail struct {
	EventSource string `json:"eventSource"`
	EventName   string `json:"eventName"`
	AWSRegion   string `json:"awsRegion"`
	// ErrorCode is set when the call failed (and so changed nothing).
	ErrorCode         string `json:"errorCode"`
	RequestParameters *struct {
		SecretID string `json:"secretId"`
		// VersionStages of a PutSecretValue: a rotation step writes
		// AWSPENDING first, which is not the secret yet.
		VersionStages []string `json:"versionStages"`
	} `json:"requestParameters"`
	ResponseElements *struct {
		ARN string `json:"arn"`
		// VersionID is the version the call created (PutSecretValue,
		// UpdateSecret with a value).
		VersionID string `json:"versionId"`
	} `json:"responseElements"`
	AdditionalEventData *struct {
		SecretID string `json:"SecretId"`
	} `json:"additionalEventData"`
	ServiceEventDetails *struct {
		SecretID string `json:"secretId"`
	} `json:"serviceEventDetails"`
}

// Version is the secret version the call created, when the event names
// it ("" for rotations, whose events do not).
func (d SecretDetail) Version() string {
	if d.ResponseElements != nil {
		return d.ResponseElements.VersionID
	}
	return ""
}

// Secret returns the secret id or ARN as the event gives it.
func (d SecretDetail) Secret() string {
	switch {
	case d.RequestParameters != nil && d.RequestParameters.SecretID != "":
		return d.RequestParameters.SecretID
	case d.ResponseElements != nil && d.ResponseElements.ARN != "":
		return d.ResponseElements.ARN
	case d.AdditionalEventData != nil && d.AdditionalEventData.SecretID != "":
		return d.AdditionalEventData.SecretID
	case d.ServiceEventDetails != nil && d.ServiceEventDetails.SecretID != "":
		return d.ServiceEventDetails.SecretID
	}
	return ""
}

// DecodeDetail decodes e.Detail into v, naming the event type on failure.
// Unknown fields are allowed: AWS adds fields to its events.
func DecodeDetail(e Envelope, v any) error {
	if err := json.Unmarshal(e.Detail, v); err != nil {
		return fmt.Errorf("malformed %q detail: %v", e.DetailType, err)
	}
	return nil
}

// Fields decodes the key fields of an event for the named function: what
// `kaizen route` prints.
func Fields(function string, e Envelope) (map[string]any, error) {
	ev := Event{Envelope: e, Function: function}
	if err := ev.decodeDetail(); err != nil {
		return nil, err
	}
	switch {
	case ev.AMI != nil:
		return map[string]any{"ami": ev.AMI.ImageID, "state": ev.AMI.State}, nil
	case ev.ImageBuilder != nil:
		f := map[string]any{"state": ev.ImageBuilder.State.Status}
		if len(e.Resources) > 0 {
			f["image"] = e.Resources[0]
		}
		return f, nil
	case ev.CodeBuild != nil:
		d := ev.CodeBuild
		f := map[string]any{"project": d.ProjectName, "status": d.BuildStatus}
		if ami := d.Exported(DefaultAMIExportVarName); ami != "" {
			f["ami"] = ami
		}
		return f, nil
	case ev.Approval != nil:
		d := ev.Approval
		f := map[string]any{"pipeline": d.Pipeline, "stage": d.Stage, "action": d.Action, "state": d.State, "execution": d.ExecutionID}
		switch d.State {
		case "SUCCEEDED":
			f["approved"] = true
		case "FAILED":
			f["approved"] = false
		}
		return f, nil
	case ev.Alarm != nil:
		d := ev.Alarm
		f := map[string]any{"alarm": d.AlarmName, "state": d.State.Value, "previous": d.PreviousState.Value, "kind": d.AlarmKind(), "transitioned": d.At.Format(time.RFC3339Nano)}
		if d.State.ActionsSuppressedBy != "" {
			f["suppressed"] = d.State.ActionsSuppressedBy
		}
		if m := d.Muted(); m != "" {
			f["muted"] = m
		}
		return f, nil
	case ev.Secret != nil:
		return map[string]any{"secret": ev.Secret.Secret(), "event_name": ev.Secret.EventName}, nil
	}
	switch function {
	case DBRefresh:
		return dbRefreshFields(e)
	}
	return map[string]any{}, nil
}
