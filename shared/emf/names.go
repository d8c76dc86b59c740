package emf

// kaizen's own metrics: the functions write them (shared/steps/metrics.go,
// shared/alaspoll, shared/secretchange), infra's dashboard graphs them and
// its health alarms read them. Every metric is published by its
// dimensions and in total (no dimensions).
const (
	// ReleasesStarted counts releases staged (dimension App).
	ReleasesStarted = "ReleasesStarted"
	// ReleasesEnded counts releases that reached a terminal state
	// (dimensions App, Outcome: done, rolled_back, failed, abandoned,
	// superseded).
	ReleasesEnded = "ReleasesEnded"
	// ApprovalToPublicSeconds is the time from an approval to the public
	// moving (the first weighted step or the cutover).
	ApprovalToPublicSeconds = "ApprovalToPublicSeconds"
	// AlarmToRollbackMilliseconds is the time from a guard alarm's
	// transition (its own timestamp) to the rollback's listener call done.
	AlarmToRollbackMilliseconds = "AlarmToRollbackMilliseconds"
	// AlarmsIgnored counts alarm transitions that moved nothing
	// (dimensions App, Reason: release.Ignored*).
	AlarmsIgnored = "AlarmsIgnored"
	// TicksCompleted is 1 per tick that ran to its end; the "no tick in 5
	// minutes" alarm reads it.
	TicksCompleted = "TicksCompleted"
	// TickDurationMilliseconds is a tick's wall time.
	TickDurationMilliseconds = "TickDurationMilliseconds"
	// AppsReconciled and AppsFailed count a tick's apps that ended their
	// step, and those that failed or were left for the next tick.
	AppsReconciled = "AppsReconciled"
	AppsFailed     = "AppsFailed"
	// ReleasesPastBound counts, per tick, releases that stayed in one state
	// longer than its bound (steps.PastBound).
	ReleasesPastBound = "ReleasesPastBound"
	// AdvisoriesPending counts an app's security advisories waiting for a
	// golden-image build (dimension App).
	AdvisoriesPending = "AdvisoriesPending"
	// RebuildsStarted counts golden-image builds started (dimensions App,
	// Source: alas, secret).
	RebuildsStarted = "RebuildsStarted"
)

// All lists every metric kaizen writes.
var All = []string{
	ReleasesStarted, ReleasesEnded, ApprovalToPublicSeconds, AlarmToRollbackMilliseconds, AlarmsIgnored,
	TicksCompleted, TickDurationMilliseconds, AppsReconciled, AppsFailed, ReleasesPastBound,
	AdvisoriesPending, RebuildsStarted,
}

// RebuildStarted writes that a golden-image build started for app,
// because of source ("alas" or "secret").
func (w *Writer) RebuildStarted(app, source string) {
	w.Put(Dims{"App": app, "Source": source}, Metric{Name: RebuildsStarted, Unit: Count, Value: 1})
}
