package cloud

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/kaizen-sre/kaizen/shared/release"
)

// AlarmsAPI is what kaizen calls on CloudWatch to read alarms' states.
type AlarmsAPI interface {
	DescribeAlarms(ctx context.Context, params *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

var _ AlarmsAPI = (*cloudwatch.Client)(nil)

// maxAlarmNames is DescribeAlarms' limit on AlarmNames per call.
const maxAlarmNames = 100

// AlarmStates reads the current state of the named alarms, metric and
// composite alike: one DescribeAlarms call per 100 names. An alarm that
// does not exist is reported as state "MISSING", so evidence never hides
// a guard that is not there.
func (f *Fleet) AlarmStates(ctx context.Context, names []string) ([]release.AlarmStatus, error) {
	if f.CW == nil || len(names) == 0 {
		return nil, nil
	}
	got := map[string]release.AlarmStatus{}
	for start := 0; start < len(names); start += maxAlarmNames {
		chunk := names[start:min(start+maxAlarmNames, len(names))]
		out, err := f.CW.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{
			AlarmNames: chunk,
			AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm},
		})
		if err != nil {
			return nil, fmt.Errorf("describe alarms: %w", err)
		}
		for _, a := range out.MetricAlarms {
			got[aws.ToString(a.AlarmName)] = release.AlarmStatus{Name: aws.ToString(a.AlarmName), State: string(a.StateValue),
				Since: aws.ToTime(a.StateTransitionedTimestamp), Reason: aws.ToString(a.StateReason)}
		}
		for _, a := range out.CompositeAlarms {
			got[aws.ToString(a.AlarmName)] = release.AlarmStatus{Name: aws.ToString(a.AlarmName), State: string(a.StateValue),
				Since: aws.ToTime(a.StateTransitionedTimestamp), Reason: aws.ToString(a.StateReason)}
		}
	}
	res := make([]release.AlarmStatus, 0, len(names))
	for _, n := range names {
		if s, ok := got[n]; ok {
			res = append(res, s)
		} else {
			res = append(res, release.AlarmStatus{Name: n, State: release.AlarmMissing})
		}
	}
	return res, nil
}
