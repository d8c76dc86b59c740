package sim

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
)

// OpDescribeAlarms reads alarms' current states (the approval evidence's
// guard alarms).
const OpDescribeAlarms Op = "DescribeAlarms"

func init() {
	ops[OpDescribeAlarms] = opInfo{"cloudwatch", false}
}

// maxAlarmNames is DescribeAlarms' documented limit on AlarmNames.
const maxAlarmNames = 100

// simAlarm is one CloudWatch alarm's current state.
type simAlarm struct {
	name, state, reason string
	composite           bool
	at                  time.Time
}

// CloudWatch is the simulated CloudWatch API.
type CloudWatch struct{ c *Cloud }

// CloudWatch returns the CloudWatch client of the cloud.
func (c *Cloud) CloudWatch() *CloudWatch { return &CloudWatch{c} }

// SetAlarm creates the alarm or moves it to state (OK, ALARM or
// INSUFFICIENT_DATA) at the virtual now, as CloudWatch's evaluation
// would. A new alarm is a metric alarm unless composite.
func (c *Cloud) SetAlarm(name, state, reason string, composite bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.alarms == nil {
		c.alarms = map[string]*simAlarm{}
	}
	a := c.alarms[name]
	if a == nil {
		a = &simAlarm{name: name, composite: composite}
		c.alarms[name] = a
	}
	if a.state != state {
		a.at = c.now
	}
	a.state, a.reason = state, reason
}

// DescribeAlarms answers AlarmNames (at most 100) or AlarmNamePrefix, with
// the metric alarms only unless AlarmTypes asks for composite ones too, as
// CloudWatch does. It does not page: kaizen asks for a few names.
func (w *CloudWatch) DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	return serve(w.c, ctx, OpDescribeAlarms, in, w.describeAlarms)
}

func (w *CloudWatch) describeAlarms(in *cloudwatch.DescribeAlarmsInput) (*cloudwatch.DescribeAlarmsOutput, error) {
	if len(in.AlarmNames) > maxAlarmNames {
		return nil, APIError("ValidationError", fmt.Sprintf("1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to %d", maxAlarmNames), smithy.FaultClient)
	}
	if len(in.AlarmNames) > 0 && in.AlarmNamePrefix != nil {
		return nil, APIError("InvalidParameterCombination", "AlarmNamePrefix and AlarmNames cannot be used together", smithy.FaultClient)
	}
	metric, composite := len(in.AlarmTypes) == 0, false
	for _, t := range in.AlarmTypes {
		switch t {
		case cwtypes.AlarmTypeMetricAlarm:
			metric = true
		case cwtypes.AlarmTypeCompositeAlarm:
			composite = true
		}
	}
	want := map[string]bool{}
	for _, n := range in.AlarmNames {
		want[n] = true
	}
	prefix := aws.ToString(in.AlarmNamePrefix)
	var names []string
	for n := range w.c.alarms {
		if (len(want) == 0 && len(n) >= len(prefix) && n[:len(prefix)] == prefix) || want[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := &cloudwatch.DescribeAlarmsOutput{}
	for _, n := range names {
		a := w.c.alarms[n]
		arn := fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", w.c.Region, w.c.Account, n)
		at := a.at
		switch {
		case a.composite && composite:
			out.CompositeAlarms = append(out.CompositeAlarms, cwtypes.CompositeAlarm{
				AlarmName: aws.String(n), AlarmArn: aws.String(arn), StateValue: cwtypes.StateValue(a.state),
				StateReason: aws.String(a.reason), StateTransitionedTimestamp: &at, StateUpdatedTimestamp: &at,
			})
		case !a.composite && metric:
			out.MetricAlarms = append(out.MetricAlarms, cwtypes.MetricAlarm{
				AlarmName: aws.String(n), AlarmArn: aws.String(arn), StateValue: cwtypes.StateValue(a.state),
				StateReason: aws.String(a.reason), StateTransitionedTimestamp: &at, StateUpdatedTimestamp: &at,
			})
		}
	}
	return out, nil
}
