package route

import (
	"encoding/json"
	"time"
)

// Maker builds EventBridge events as AWS sends them, for the demo, the CLI
// and tests.
type Maker struct {
	Account, Region string
	// Next returns the next event id.
	Next func() string
}

// Make builds an event envelope.
func (m Maker) Make(source, detailType string, at time.Time, resources []string, detail any) []byte {
	if resources == nil {
		resources = []string{}
	}
	b, err := json.Marshal(map[string]any{
		"version": "0", "id": m.Next(), "detail-type": detailType, "source": source,
		"account": m.Account, "region": m.Region, "time": at.UTC().Format(time.RFC3339),
		"resources": resources, "detail": detail,
	})
	if err != nil {
		panic(err) // only plain maps and strings go in
	}
	return b
}

// AMI builds an `EC2 AMI State Change` event.
func (m Maker) AMI(ami, state string, at time.Time) []byte {
	return m.Make(SourceEC2, TypeAMIStateChange, at, []string{"arn:aws:ec2:" + m.Region + "::image/" + ami},
		map[string]any{"RequestId": "00000000-0000-4000-8000-000000000000", "ImageId": ami, "State": state, "ErrorReason": ""})
}

// Approval builds a `CodePipeline Action Execution State Change` event of
// a manual approval action.
func (m Maker) Approval(pipeline, stage, action, execution, state string, at time.Time) []byte {
	return m.Make(SourceCodePipeline, TypeActionExecution, at, []string{"arn:aws:codepipeline:" + m.Region + ":" + m.Account + ":" + pipeline},
		map[string]any{
			"pipeline": pipeline, "version": 3, "execution-id": execution, "stage": stage, "action": action,
			"state": state, "region": m.Region, "input-artifacts": []any{},
			"type": map[string]any{"owner": "AWS", "provider": "Manual", "category": "Approval", "version": "1"},
		})
}

// Schedule builds the scheduled event of a rule.
func (m Maker) Schedule(rule string, at time.Time) []byte {
	return m.Make(SourceSchedule, TypeScheduled, at, []string{"arn:aws:events:" + m.Region + ":" + m.Account + ":rule/" + rule}, map[string]any{})
}

// Alarm builds a `CloudWatch Alarm State Change` event of a metric alarm.
func (m Maker) Alarm(name, state, previous, reason string, at time.Time) []byte {
	return m.Make(SourceCloudWatch, TypeAlarmStateChange, at, []string{"arn:aws:cloudwatch:" + m.Region + ":" + m.Account + ":alarm:" + name},
		map[string]any{
			"alarmName":     name,
			"state":         map[string]any{"value": state, "reason": reason, "timestamp": at.UTC().Format("2006-01-02T15:04:05.000+0000")},
			"previousState": map[string]any{"value": previous, "reason": "", "timestamp": at.Add(-5 * time.Minute).UTC().Format("2006-01-02T15:04:05.000+0000")},
			"configuration": map[string]any{"metrics": []any{map[string]any{"id": "m1", "metricStat": map[string]any{
				"metric": map[string]any{"namespace": "AWS/ApplicationELB", "name": "HTTPCode_Target_5XX_Count"}, "period": 60, "stat": "Sum"}, "returnData": true}}},
		})
}
