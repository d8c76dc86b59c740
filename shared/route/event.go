package route

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Envelope is EventBridge's envelope, as aws-lambda-go defines it.
type Envelope = events.EventBridgeEvent

// Event is one EventBridge event decoded once, at the edge: the envelope,
// the function whose pattern takes it, and for the events kaizen acts on,
// the detail in typed form. Handlers take an Event and never decode its
// detail again.
type Event struct {
	Envelope
	// Function and Rule name the pattern that takes the event ("" if none).
	Function, Rule string

	AMI          *AMIDetail
	ImageBuilder *ImageBuilderDetail
	CodeBuild    *CodeBuildDetail
	Approval     *ApprovalDetail
	Alarm        *AlarmDetail
	Secret       *SecretDetail
}

// ErrMalformed marks input kaizen cannot read: not an EventBridge event, or
// an event whose pattern kaizen takes but whose detail is broken. Such an
// event changes nothing. At the Lambda edge it is logged (with
// "malformed": true, which a metric filter counts and alarms on) and
// dropped: retrying a malformed event cannot help.
var ErrMalformed = errors.New("malformed event")

// envelopeKeys are the envelope's keys, spelled as EventBridge spells them.
var envelopeKeys = []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}

// Decode reads an EventBridge event once: the envelope (checking the
// fields every event has), the function whose pattern takes it, and that
// function's detail in typed form. Errors wrap ErrMalformed and say what is
// wrong. An event no function takes decodes without its detail: it is
// foreign, not malformed.
func Decode(b []byte) (Event, error) {
	env, err := DecodeEnvelope(b)
	e := Event{Envelope: env}
	if err != nil {
		return e, err
	}
	e.Function, e.Rule = Match(e.Envelope)
	if err := e.decodeDetail(); err != nil {
		return e, fmt.Errorf("%w: %s event %s (%s/%s): %v", ErrMalformed, e.DetailType, e.ID, e.Function, e.Rule, err)
	}
	return e, nil
}

// DecodeEnvelope reads only the envelope, checking the fields every event
// has: for tools that look at an event without acting on it (kaizen route
// says what is wrong with a detail rather than failing on it).
func DecodeEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	// EventBridge keys are case-sensitive, but encoding/json folds case: a
	// "Detail-Type" would pass for "detail-type". Only exact keys count.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return e, fmt.Errorf("%w: not an EventBridge event: %v", ErrMalformed, err)
	}
	for k := range keys {
		for _, want := range envelopeKeys {
			if k != want && strings.EqualFold(k, want) {
				return e, fmt.Errorf("%w: key %q is not %q (EventBridge keys are case-sensitive)", ErrMalformed, k, want)
			}
		}
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("%w: not an EventBridge event: %v", ErrMalformed, err)
	}
	var missing []string
	if e.Source == "" {
		missing = append(missing, "source")
	}
	if e.DetailType == "" {
		missing = append(missing, "detail-type")
	}
	if len(e.Detail) == 0 || string(e.Detail) == "null" {
		missing = append(missing, "detail")
	}
	if len(missing) > 0 {
		return e, fmt.Errorf("%w: missing %s", ErrMalformed, strings.Join(missing, ", "))
	}
	return e, nil
}

// decodeDetail decodes and checks the detail of the function that takes
// the event. Unknown fields are allowed: AWS adds fields to its events.
func (e *Event) decodeDetail() error {
	switch e.Function {
	case Stage:
		switch e.Source {
		case SourceEC2:
			var d AMIDetail
			if err := DecodeDetail(e.Envelope, &d); err != nil {
				return err
			}
			if !strings.HasPrefix(d.ImageID, "ami-") {
				return fmt.Errorf("detail.ImageId %q is not an AMI id", d.ImageID)
			}
			e.AMI = &d
		case SourceImageBuilder:
			var d ImageBuilderDetail
			if err := DecodeDetail(e.Envelope, &d); err != nil {
				return err
			}
			e.ImageBuilder = &d
		case SourceCodeBuild:
			var d CodeBuildDetail
			if err := DecodeDetail(e.Envelope, &d); err != nil {
				return err
			}
			if ami := d.Exported(DefaultAMIExportVarName); ami != "" && !strings.HasPrefix(ami, "ami-") {
				return fmt.Errorf("exported %s %q is not an AMI id", DefaultAMIExportVarName, ami)
			}
			e.CodeBuild = &d
		}
	case Promote:
		var d ApprovalDetail
		if err := DecodeDetail(e.Envelope, &d); err != nil {
			return err
		}
		if d.Pipeline == "" || d.Stage == "" || d.Action == "" {
			return fmt.Errorf("detail needs pipeline, stage and action")
		}
		if d.ExecutionID == "" {
			return fmt.Errorf("approval event has no execution-id")
		}
		e.Approval = &d
	case Guard:
		var d AlarmDetail
		if err := DecodeDetail(e.Envelope, &d); err != nil {
			return err
		}
		if d.AlarmName == "" || d.State.Value == "" {
			return fmt.Errorf("detail needs alarmName and state.value")
		}
		switch {
		case d.State.Timestamp != "":
			at, err := ParseAlarmTime(d.State.Timestamp)
			if err != nil {
				return fmt.Errorf("detail.state.timestamp: %v", err)
			}
			d.At = at
		case !e.Time.IsZero():
			d.At = e.Time.UTC()
		default:
			return fmt.Errorf("alarm event has neither detail.state.timestamp nor a time")
		}
		e.Alarm = &d
	case SecretChange:
		var d SecretDetail
		if err := DecodeDetail(e.Envelope, &d); err != nil {
			return err
		}
		// A failed call (errorCode) changed nothing and may name nothing:
		// the handler ignores it.
		if d.Secret() == "" && d.ErrorCode == "" {
			return fmt.Errorf("%s detail names no secret (requestParameters.secretId, responseElements.arn, additionalEventData.SecretId)", d.EventName)
		}
		e.Secret = &d
	}
	return nil
}
