package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/kaizen-sre/kaizen/shared/emf"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Health is kaizen's view of itself: a dashboard of the metrics the
// functions write (shared/emf, as EMF lines on their logs) and alarms on
// kaizen's own health, to the ops topic.
type Health struct {
	Dashboard awscloudwatch.Dashboard
	// NoTick fires when no tick completed in 5 minutes (missing data
	// breaches: a tick that never runs writes nothing).
	NoTick awscloudwatch.Alarm
	// Stuck fires when a release stayed in one state past its bound
	// (steps.PastBound), as the tick counts them.
	Stuck awscloudwatch.Alarm
}

// HealthTickWindow is how long without a completed tick is unhealthy.
const HealthTickWindow = 5

// addHealth adds the dashboard and the health alarms to the kaizen stack.
// Every function's dead-letter queue already has its alarm
// (Function.Alarms, "DeadLettersVisible": at least one message visible);
// the dashboard shows those queues and lists those alarms too.
func addHealth(s *KaizenStack) *Health {
	stack := s.Stack
	h := &Health{}
	period := awscdk.Duration_Minutes(jsii.Number(HealthTickWindow))
	hour := awscdk.Duration_Hours(jsii.Number(1))
	metric := func(name, stat string, p awscdk.Duration, dims map[string]string, label string) awscloudwatch.Metric {
		props := &awscloudwatch.MetricProps{Namespace: jsii.String(emf.Namespace), MetricName: jsii.String(name),
			Statistic: jsii.String(stat), Period: p}
		if len(dims) > 0 {
			m := map[string]*string{}
			for k, v := range dims {
				m[k] = jsii.String(v)
			}
			props.DimensionsMap = &m
		}
		if label != "" {
			props.Label = jsii.String(label)
		}
		return awscloudwatch.NewMetric(props)
	}
	alarm := func(id, what string, m awscloudwatch.Metric, op awscloudwatch.ComparisonOperator, threshold float64, missing awscloudwatch.TreatMissingData) awscloudwatch.Alarm {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String("kaizen health: " + what),
			Metric:             m,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: op,
			TreatMissingData:   missing,
		})
		a.AddAlarmAction(awscloudwatchactions.NewSnsAction(s.OpsTopic))
		return a
	}
	h.NoTick = alarm("HealthNoTick",
		fmt.Sprintf("no tick completed in %d minutes: nothing that waits on time (previews, cutovers, bakes, rollbacks' retries) moves. Check the tick function's errors and logs.", HealthTickWindow),
		metric(emf.TicksCompleted, "Sum", period, nil, ""),
		awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, 1, awscloudwatch.TreatMissingData_BREACHING)
	h.Stuck = alarm("HealthReleaseStuck",
		"a release stayed in one state past its bound (cutover timeout, window wait, weight steps, bake): kaizen status and kaizen history say which and why.",
		metric(emf.ReleasesPastBound, "Maximum", period, nil, ""),
		awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)

	var outcomes, reasons, sources []awscloudwatch.IMetric
	for _, st := range release.States {
		if st.Terminal() {
			outcomes = append(outcomes, metric(emf.ReleasesEnded, "Sum", hour, map[string]string{"Outcome": string(st)}, "ended "+string(st)))
		}
	}
	for _, r := range []string{release.IgnoredSilenced, release.IgnoredLate, release.IgnoredBeforeRelease, release.IgnoredNoRelease} {
		reasons = append(reasons, metric(emf.AlarmsIgnored, "Sum", hour, map[string]string{"Reason": r}, r))
	}
	for _, src := range []string{"alas", "secret"} {
		sources = append(sources, metric(emf.RebuildsStarted, "Sum", hour, map[string]string{"Source": src}, "rebuilds for "+src))
	}
	var dlqs, errs []awscloudwatch.IMetric
	alarms := []interfacesawscloudwatch.IAlarmRef{h.NoTick, h.Stuck}
	for _, fn := range route.Functions {
		f := s.Functions[fn]
		if f == nil {
			continue
		}
		dlqs = append(dlqs, f.DeadLetters.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period: period, Statistic: jsii.String("Maximum"), Label: jsii.String(fn)}))
		errs = append(errs, f.Lambda.MetricErrors(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum"), Label: jsii.String(fn)}))
		for _, a := range f.Alarms {
			alarms = append(alarms, a)
		}
	}
	graph := func(title string, left, right []awscloudwatch.IMetric) awscloudwatch.IWidget {
		p := &awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Width: jsii.Number(12), Height: jsii.Number(6), Left: &left}
		if len(right) > 0 {
			p.Right = &right
		}
		return awscloudwatch.NewGraphWidget(p)
	}
	row := func(ws ...awscloudwatch.IWidget) *[]awscloudwatch.IWidget { return &ws }
	h.Dashboard = awscloudwatch.NewDashboard(stack, jsii.String("Health"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(*stack.StackName() + "-health"),
		DefaultInterval: awscdk.Duration_Days(jsii.Number(7)),
		Widgets: &[]*[]awscloudwatch.IWidget{
			row(awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
				Title:  jsii.String("kaizen's own alarms: health, function errors and throttles, dead letters, malformed events"),
				Alarms: &alarms, Width: jsii.Number(24), Height: jsii.Number(6),
				SortBy: awscloudwatch.AlarmStatusWidgetSortBy_STATE_UPDATED_TIMESTAMP,
			})),
			row(
				graph("Releases started, and ended by outcome (per hour)",
					append([]awscloudwatch.IMetric{metric(emf.ReleasesStarted, "Sum", hour, nil, "started")}, outcomes...), nil),
				graph("Approval to public moved (s), alarm to rollback done (ms)",
					[]awscloudwatch.IMetric{
						metric(emf.ApprovalToPublicSeconds, "Average", hour, nil, "approval to public, average (s)"),
						metric(emf.ApprovalToPublicSeconds, "Maximum", hour, nil, "approval to public, max (s)"),
					},
					[]awscloudwatch.IMetric{
						metric(emf.AlarmToRollbackMilliseconds, "Average", hour, nil, "alarm to rollback, average (ms)"),
						metric(emf.AlarmToRollbackMilliseconds, "Maximum", hour, nil, "alarm to rollback, max (ms)"),
					}),
			),
			row(
				graph("Ticks: completed, duration (ms), apps reconciled and failed",
					[]awscloudwatch.IMetric{
						metric(emf.TicksCompleted, "Sum", period, nil, "ticks completed"),
						metric(emf.AppsReconciled, "Average", period, nil, "apps reconciled"),
						metric(emf.AppsFailed, "Sum", period, nil, "apps failed or left"),
						metric(emf.ReleasesPastBound, "Maximum", period, nil, "releases past their bound"),
					},
					[]awscloudwatch.IMetric{
						metric(emf.TickDurationMilliseconds, "Average", period, nil, "tick duration, average (ms)"),
						metric(emf.TickDurationMilliseconds, "Maximum", period, nil, "tick duration, max (ms)"),
					}),
				graph("Alarm transitions that moved nothing, by reason (per hour)", reasons, nil),
			),
			row(
				graph("Security advisories waiting for a build; golden-image rebuilds started (per hour)",
					[]awscloudwatch.IMetric{metric(emf.AdvisoriesPending, "Maximum", hour, nil, "advisories pending (the app with most)")}, sources),
				graph("Dead-letter queues (messages visible) and function errors", dlqs, errs),
			),
		},
	})
	awscdk.NewCfnOutput(stack, jsii.String("HealthDashboard"), &awscdk.CfnOutputProps{
		Value:       h.Dashboard.DashboardName(),
		Description: jsii.String("kaizen's own metrics and health alarms (CloudWatch dashboard)."),
	})
	return h
}
