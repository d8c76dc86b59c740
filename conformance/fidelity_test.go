package conformance

// Where moto 5.2.1 departs from AWS's documented behaviour. Each patch below
// makes kaizen see what AWS would show: patch 1 adjusts moto's state
// through its own API before kaizen observes the fleet (before every
// invocation, every observation and every CLI run); patches 2 to 4 rewrite
// moto's answers in the recorder (proxy_test.go) that stands between moto
// and the packaged functions and the CLI. Departures that need no patch for
// these scenarios are listed after the patches, so nobody relies on them.

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// patchMoto applies every fidelity patch to the world's fleet.
func (w *world) patchMoto() {
	w.t.Helper()
	w.instancesReportTheirLaunchVersion()
}

// Patch 1: an instance's launch template version.
//
// AWS: DescribeAutoScalingGroups' Instances[].LaunchTemplate is "the launch
// template for the instance", i.e. the version the instance was launched
// from; it keeps that version when the group is later pinned to another one
// (which is why instance refresh exists).
// moto: every instance reports the template's *default* version number
// (autoscaling/models.py InstanceState.launch_template), whatever it was
// launched from.
// Why it matters: kaizen pins each color to an explicit version and counts
// only instances on that version as ready (cloud.Fleet.Observe: OnVersion,
// Healthy), so under moto the new color would never be healthy.
// Patch: make each color's template default to the version its group is
// pinned to (ModifyLaunchTemplate). moto launches from the pinned version
// already (the instances run the pinned version's AMI), so only the label
// is wrong, and the patch makes it exact here: kaizen drains a color before
// it pins a new version on it, so no instance of an older version remains
// in a re-pinned group. Each color has its own template, so the other
// color is untouched.
func (w *world) instancesReportTheirLaunchVersion() {
	w.t.Helper()
	for _, c := range config.Colors {
		g := w.group(c)
		if g.LaunchTemplate == nil {
			continue
		}
		pinned := aws.ToString(g.LaunchTemplate.Version)
		out, err := w.ec2.DescribeLaunchTemplates(w.ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{w.lt[c]}})
		w.must(err, "describe launch template")
		if len(out.LaunchTemplates) != 1 {
			w.t.Fatalf("moto (%s): launch template %s not found", w.spec.region, w.lt[c])
		}
		if cur := aws.ToInt64(out.LaunchTemplates[0].DefaultVersionNumber); pinned == "" || pinned[0] == '$' || pinned == strconv.FormatInt(cur, 10) {
			continue
		}
		_, err = w.ec2.ModifyLaunchTemplate(w.ctx, &ec2.ModifyLaunchTemplateInput{LaunchTemplateId: aws.String(w.lt[c]), DefaultVersion: aws.String(pinned)})
		w.must(err, "fidelity patch 1: default version "+pinned+" of "+w.lt[c])
	}
}

// patchResponse rewrites moto's answer to a call that went through the
// world's recorder (the packaged functions' and the CLI's calls), for the
// JSON protocols; the query protocols' answers need no patch.
func (w *world) patchResponse(service, op string, body []byte) []byte {
	if service != "codebuild" {
		return body
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return body
	}
	switch op {
	case "BatchGetBuilds":
		w.buildsRunUntilFinished(v)
	case "ListBuildsForProject":
		newestBuildFirst(v)
	}
	epochTimestamps(v)
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// Patch 2: CodeBuild's timestamps.
//
// AWS: CodeBuild speaks awsJson1_1, whose timestamps are epoch seconds
// (JSON numbers), as the SDK expects.
// moto: answers them as ISO 8601 strings ("2026-11-30T22:06:18.000Z"), and
// the Go SDK fails to decode StartBuild and BatchGetBuilds ("expected
// Timestamp to be a JSON Number, got string instead").
// Patch: turn the string timestamps CodeBuild returns (startTime, endTime,
// created, lastModified, at any depth) into epoch seconds.
func epochTimestamps(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && timestampKeys[k] {
				if t, err := time.Parse(time.RFC3339, s); err == nil {
					x[k] = float64(t.UnixMilli()) / 1000
				}
				continue
			}
			epochTimestamps(e)
		}
	case []any:
		for _, e := range x {
			epochTimestamps(e)
		}
	}
}

var timestampKeys = map[string]bool{"startTime": true, "endTime": true, "created": true, "lastModified": true}

// Patch 3: a build's progress.
//
// AWS: a build is IN_PROGRESS from StartBuild until it ends, minutes later.
// moto: BatchGetBuilds marks every build it reads SUCCEEDED (and COMPLETED)
// on the first read (codebuild/models.py batch_get_builds), so "a build is
// already running" can never be observed.
// Patch: the test decides. A build reads IN_PROGRESS until the test calls
// finishBuild; then the status it gave.
func (w *world) buildsRunUntilFinished(v map[string]any) {
	builds, _ := v["builds"].([]any)
	for _, b := range builds {
		m, ok := b.(map[string]any)
		if !ok {
			continue
		}
		id, _ := m["id"].(string)
		w.mu.Lock()
		status, done := w.finished[id]
		w.mu.Unlock()
		if !done {
			m["buildStatus"], m["currentPhase"], m["buildComplete"] = "IN_PROGRESS", "BUILD", false
			delete(m, "endTime")
			continue
		}
		m["buildStatus"], m["buildComplete"] = status, true
	}
}

// finishBuild ends a build as far as kaizen can see (patch 3).
func (w *world) finishBuild(id, status string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.finished[id] = status
}

// Patch 4: the order of a project's builds.
//
// AWS: ListBuildsForProject lists the newest build first unless sortOrder
// says otherwise (kaizen reads the first few as "the newest").
// moto: lists them oldest first, whatever sortOrder says.
// Patch: reverse the list.
func newestBuildFirst(v map[string]any) {
	ids, _ := v["ids"].([]any)
	for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
		ids[i], ids[j] = ids[j], ids[i]
	}
}

// Departures that need no patch here (kaizen does not depend on them in
// these scenarios; a test that starts to should patch them above):
//
//   - Target health: moto reports every registered target "healthy" at once
//     (elbv2 FakeTargetGroup.health_for); AWS starts at "initial" until the
//     health check's healthy threshold passes. Instances are also InService
//     as soon as they launch (no Pending). So a preview is ready, and a
//     cutover healthy, on the first tick after capacity changes: no forcing
//     needed, but no waiting is exercised either.
//   - Scale-in: moto terminates instances without deregistering them from
//     the group's target groups (only the TerminateInstances API does), so
//     DescribeTargetHealth keeps listing them as "healthy". AWS deregisters
//     them (draining, then gone). kaizen counts only members of the group.
//     moto also picks the instances to remove in list order, not by AWS's
//     default termination policy (oldest launch template first).
//   - CreateLaunchTemplateVersion: moto ignores ClientToken (a retried call
//     creates a second version; AWS returns the first) and SourceVersion
//     (the new version holds only the data sent; AWS copies the source
//     version's data and overrides what is sent). kaizen's retries rely on
//     ClientToken; these scenarios make no retries.
//   - Validation: moto's UpdateAutoScalingGroup accepts min above max, a
//     desired capacity outside [min, max] and a version the template does
//     not have, and ModifyListener a target group that does not exist (AWS
//     answers ValidationError, TargetGroupNotFound). Suspended processes
//     (SuspendProcesses) do not stop moto from launching or terminating
//     instances.
//   - CodeBuild: moto ignores StartBuild's environmentVariablesOverride and
//     idempotencyToken (a repeated start makes a second build), and
//     BatchGetBuilds leaves unknown ids out without listing them in
//     buildsNotFound.
//   - CodePipeline: moto 5.2.1 implements neither StartPipelineExecution
//     nor ListPipelineExecutions (HTTP 500), so a pipeline rebuild target
//     cannot be checked against it. shared/sim follows the API reference
//     there unconfirmed: PipelineNotFoundException for a pipeline that does
//     not exist, ValidationException for a variable the pipeline does not
//     declare.
