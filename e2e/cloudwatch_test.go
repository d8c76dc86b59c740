package e2e

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/kaizen-sre/kaizen/internal/rie"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

// calls counts the simulation's recorded calls of op: the packaged
// functions reach it only over HTTP.
func (w *world) calls(op sim.Op) int {
	n := 0
	for _, c := range w.cloud.Calls() {
		if c.Op == string(op) {
			n++
		}
	}
	return n
}

// toPreview stages a new AMI and ticks until its preview is ready.
func (w *world) toPreview(stage, tick *rie.Function, name, execution string) string {
	w.t.Helper()
	ami := w.cloud.NewAMI(w.app(), name, execution)
	if st, _ := w.send(stage, "AMI available", w.mk.AMI(ami, "available", time.Now())); st.Active == nil || st.Active.AMI != ami {
		w.t.Fatalf("stage did not stage %s: %s", ami, describe(st))
	}
	w.tickUntil(tick, "preview ready", 15, func(st release.AppState, _ release.Observed) bool {
		return st.Active != nil && !st.Active.PreviewReadyAt.IsZero()
	})
	return ami
}

// The packaged promote function, on the approval action STARTED, reads the
// guard alarms' states from CloudWatch (DescribeAlarms over RPC v2 CBOR)
// and lists them in the approval request: the one the test set to ALARM
// with the moment it changed, and nothing reported missing.
func TestApprovalEvidenceReadsAlarmsOverHTTP(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	app := w.app()
	stage, promote, tick := w.start("stage"), w.start("promote"), w.start("tick")
	w.toPreview(stage, tick, "shop-golden-e2e-evidence", "exec-e2e-ev")

	w.cloud.SetAlarm("shop-p99-latency", "ALARM", "Threshold Crossed: 3 datapoints were greater than 0.5", false)
	since := w.cloud.Now()
	published := len(w.cloud.Published())
	before := w.calls(sim.OpDescribeAlarms)
	w.send(promote, "approval action STARTED", w.mk.Approval(app.Approval.Pipeline, app.Approval.Stage, app.Approval.Action, "exec-e2e-ev", "STARTED", time.Now()))

	if n := w.calls(sim.OpDescribeAlarms) - before; n != 1 {
		t.Errorf("promote made %d DescribeAlarms calls to the simulation, want 1", n)
	}
	var request string
	for _, p := range w.cloud.Published()[published:] {
		if strings.Contains(p.For("email"), "Approval requested") {
			request = p.For("email")
		}
	}
	if request == "" {
		t.Fatalf("no approval request published; promote log:\n%s", promote.Log())
	}
	want := "Guard alarms: shop-5xx-rate OK since "
	alarm := "shop-p99-latency ALARM since " + since.UTC().Format(time.RFC3339)
	if !strings.Contains(request, want) || !strings.Contains(request, alarm) {
		t.Errorf("the approval request does not list the guard alarms (want %q and %q):\n%s", want, alarm, request)
	}
	if strings.Contains(request, "Not available") {
		t.Errorf("the approval request reports missing evidence:\n%s", request)
	}
	if log := promote.Log(); strings.Contains(log, "evidence incomplete") {
		t.Errorf("promote logged incomplete evidence:\n%s", log)
	}
}

// The packaged tick reads a weighted release's metrics with GetMetricData
// over RPC v2 CBOR: one call a tick at the first weighted step, answered
// (not refused, not failed), asking for both colors' target groups over a
// window holding the moment the public first reached the new color, and
// the verdict is drawn from the answer (a score and request counts), not
// from an error.
//
// The verdict is inconclusive here, and a bad AMI is not rolled back as
// in shared/steps' TestAnalysisCatchesBadAMIAtFirstStep: the packaged
// functions take their time from the wall clock, the simulation stamps
// its metric points with its virtual clock, which the test moves a minute
// a tick, so the window the tick asks for (a wall-clock minute or less)
// holds no point recorded after the shift.
func TestTickReadsMetricsOverHTTP(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(cfg *config.File) {
		a := &cfg.Apps[0]
		a.WeightSteps, a.StepMinutes = []int{10, 50, 100}, 10
		a.Analysis = &config.Analysis{}
	})
	app := w.app()
	stage, promote, tick := w.start("stage"), w.start("promote"), w.start("tick")
	w.cloud.MetricsSeed(7) // meters traffic from now on
	ami := w.toPreview(stage, tick, "shop-golden-e2e-metrics", "exec-e2e-metrics")
	w.cloud.BadAMI(ami, 4)
	approval := func(state string) []byte {
		return w.mk.Approval(app.Approval.Pipeline, app.Approval.Stage, app.Approval.Action, "exec-e2e-metrics", state, time.Now())
	}
	w.send(promote, "approval STARTED", approval("STARTED"))
	w.send(promote, "approval SUCCEEDED", approval("SUCCEEDED"))
	st, _ := w.tickUntil(tick, "first weighted step", 15, func(st release.AppState, _ release.Observed) bool {
		return st.Active != nil && st.Active.State == release.Shifting
	})
	if st.Active.Weight != 10 {
		t.Fatalf("the first weighted step is at %d%%, want 10%%: %s", st.Active.Weight, describe(st))
	}
	publicAt := st.Active.PublicAt.Truncate(time.Minute)
	labels := map[string]bool{sim.TargetGroupLabel(app.Blue.TargetGroupARN): true, sim.TargetGroupLabel(app.Green.TargetGroupARN): true}

	for i := range 3 {
		calls := len(w.cloud.Calls())
		w.cloud.Advance(time.Minute)
		st, _ := w.send(tick, "tick at 10%", w.mk.Schedule("kaizen-tick", time.Now()))
		if st.Active == nil || st.Active.State != release.Shifting || st.Active.Weight != 10 {
			t.Fatalf("tick %d at 10%%: the release moved on an inconclusive verdict: %s", i+1, describe(st))
		}
		var got []*cloudwatch.GetMetricDataInput
		for _, c := range w.cloud.Calls()[calls:] {
			if c.Op != string(sim.OpGetMetricData) {
				continue
			}
			if c.Err != nil {
				t.Errorf("tick %d: GetMetricData failed in the simulation: %v", i+1, c.Err)
			}
			got = append(got, c.Input.(*cloudwatch.GetMetricDataInput))
		}
		if len(got) != 1 {
			t.Fatalf("tick %d at 10%% made %d GetMetricData calls over HTTP, want 1", i+1, len(got))
		}
		in, seen := got[0], map[string]bool{}
		for _, q := range in.MetricDataQueries {
			if q.MetricStat == nil || q.MetricStat.Metric == nil {
				continue
			}
			for _, d := range q.MetricStat.Metric.Dimensions {
				if aws.ToString(d.Name) == "TargetGroup" {
					seen[aws.ToString(d.Value)] = true
				}
			}
		}
		from, to := aws.ToTime(in.StartTime), aws.ToTime(in.EndTime)
		if !reflect.DeepEqual(seen, labels) || from.After(publicAt) || to.Before(publicAt) {
			t.Errorf("tick %d: GetMetricData asked for target groups %v over %s..%s; want both colors' %v over a window holding %s", i+1, seen, from, to, labels, publicAt)
		}
	}
	log := tick.Log()
	if n := strings.Count(log, "analysis inconclusive of shift at 10% (score"); n < 3 {
		t.Errorf("the tick logged %d verdicts drawn from metrics at 10%%, want 3:\n%s", n, log)
	}
	if strings.Contains(log, "operation error CloudWatch") {
		t.Errorf("the tick's CloudWatch calls failed:\n%s", log)
	}
}
