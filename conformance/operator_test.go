package conformance

import (
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// `kaizen images prune` against moto deregisters only the app's AMIs that
// nothing uses (not blue's, not the staged one on green, not the newest
// --keep, not another app's, not an untagged one) and deletes their
// snapshots; a dry run and a second run change nothing. Around it, the
// operator commands read and change the same fleet: status shows the
// staged release, promote --dry-run changes nothing, rollback is refused
// with nothing to roll back, abort empties green.
func TestOperatorCLIOnMoto(t *testing.T) {
	t.Parallel()
	w := newWorld(t, spec{name: "media", region: "us-east-2", floor: 1, previewSize: 1, bakeMinutes: 0})
	stage, tick := w.start("stage"), w.start("tick")

	// Older than old-3 (and possibly as old as blue's): prune deletes
	// these two, and must not touch another app's AMI or an untagged one.
	old1 := w.newAMIAlongside("media-golden-old-1", "", nil)
	old2 := w.newAMIAlongside("media-golden-old-2", "", nil)
	other := w.newAMIAlongside("other-golden-1", "", map[string]string{"kaizen:app": "other"})
	untagged := w.newAMIAlongside("hand-made", "", map[string]string{"kaizen:app": ""})
	old3 := w.newAMI("media-golden-old-3", "", nil)
	ami := w.newAMI("media-golden-1", "exec-media-1", nil)
	w.send(stage, "AMI available", w.amiAvailable(ami))
	w.tickUntil(tick, "preview ready", 5, func(s step) bool { return s.st.Active != nil && !s.st.Active.PreviewReadyAt.IsZero() })
	snaps := map[string][]string{}
	for _, id := range []string{w.golden0, old1, old2, other, untagged, old3, ami} {
		snaps[id] = w.snapshots(id)
		if len(snaps[id]) == 0 {
			t.Fatalf("moto gave AMI %s no snapshot", id)
		}
	}

	code, out, errs := w.kaizen("status", "--app", "media")
	if code != 0 || !strings.Contains(out, "blue 100 / green 0 (live: blue)") || !strings.Contains(out, ami+" (media-golden-1) staged on green") ||
		!strings.Contains(out, "waiting for approval") {
		t.Errorf("kaizen status against moto: exit %d\n%s%s", code, out, errs)
	}

	mark := w.rec.mark()
	code, out, errs = w.kaizen("images", "prune", "--app", "media", "--keep", "2", "--dry-run")
	if code != 0 {
		t.Fatalf("kaizen images prune --dry-run: exit %d\n%s%s", code, out, errs)
	}
	for id, want := range map[string]string{old1: "would delete", old2: "would delete", old3: "keep", ami: "keep", w.golden0: "keep"} {
		if !regexp.MustCompile(id + `\s.*\s` + want + `\s`).MatchString(out) {
			t.Errorf("prune --dry-run: want %s to %q:\n%s", id, want, out)
		}
	}
	if m := mutations(w.rec.since(mark)); len(m) != 0 {
		t.Errorf("prune --dry-run made mutating calls: %s", summary(m))
	}

	mark = w.rec.mark()
	code, out, errs = w.kaizen("images", "prune", "--app", "media", "--keep", "2")
	if code != 0 {
		t.Fatalf("kaizen images prune: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("kaizen images prune --keep 2:\n%s", out)
	if m := mutations(w.rec.since(mark)); m["DeregisterImage"] != 2 || m["DeleteSnapshot"] != 2 || len(m) != 2 {
		t.Errorf("prune made %s; want DeregisterImage×2 and DeleteSnapshot×2", summary(m))
	}
	for _, id := range []string{old1, old2} {
		if img := w.image(id); img != nil {
			t.Errorf("prune: %s is still registered in moto (%s)", id, img.State)
		}
		for _, s := range snaps[id] {
			if w.snapshotExists(s) {
				t.Errorf("prune: snapshot %s of %s still exists in moto", s, id)
			}
		}
	}
	for id, why := range map[string]string{w.golden0: "blue's template", ami: "the staged release", old3: "among the newest 2", other: "another app's", untagged: "untagged"} {
		if img := w.image(id); img == nil || img.State != "available" {
			t.Errorf("prune removed %s (%s)", id, why)
		}
		for _, s := range snaps[id] {
			if !w.snapshotExists(s) {
				t.Errorf("prune deleted snapshot %s of %s (%s)", s, id, why)
			}
		}
	}
	mark = w.rec.mark()
	if code, out, errs := w.kaizen("images", "prune", "--app", "media", "--keep", "2"); code != 0 || strings.Contains(out, "delete") {
		t.Errorf("a second prune: exit %d\n%s%s", code, out, errs)
	}
	if m := mutations(w.rec.since(mark)); len(m) != 0 {
		t.Errorf("a second prune made mutating calls: %s", summary(m))
	}

	// promote --dry-run plans the approval and changes nothing.
	mark = w.rec.mark()
	code, out, errs = w.kaizen("promote", "--app", "media", "--dry-run", "--by", "conformance")
	if code != 0 || !strings.Contains(out, "would apply") {
		t.Errorf("kaizen promote --dry-run: exit %d\n%s%s", code, out, errs)
	}
	if m := mutations(w.rec.since(mark)); len(m) != 0 {
		t.Errorf("promote --dry-run made mutating calls: %s", summary(m))
	}
	if st := w.state(); st.Active == nil || st.Active.State != release.PreviewReady {
		t.Errorf("promote --dry-run changed the record: %+v", st.Active)
	}

	code, out, errs = w.kaizen("rollback", "--app", "media", "--by", "conformance")
	if code != 1 || !strings.Contains(errs, "nothing to roll back") {
		t.Errorf("kaizen rollback with nothing baking: exit %d, want 1 and a refusal\n%s%s", code, out, errs)
	}

	code, out, errs = w.kaizen("abort", "--app", "media", "--by", "conformance")
	if code != 0 {
		t.Fatalf("kaizen abort: exit %d\n%s%s", code, out, errs)
	}
	if g := w.group(config.Green); aws.ToInt32(g.DesiredCapacity) != 0 || len(g.Instances) != 0 {
		t.Errorf("after abort: green must go back to zero; moto has %s", w.colorState(config.Green))
	}
	if got := w.public(); got != "blue" {
		t.Errorf("after abort: the listener forwards to %s, want blue", got)
	}
	if st := w.state(); st.Active != nil {
		t.Errorf("after abort: a release is still in flight: %+v", st.Active)
	}
	code, out, errs = w.kaizen("history", "--app", "media")
	if code != 0 || !regexp.MustCompile(`media\s+`+ami+`\s+green\s.*\sabandoned\s+aborted by operator conformance`).MatchString(out) {
		t.Errorf("kaizen history after abort: exit %d\n%s%s", code, out, errs)
	}
}

// snapshots lists the EBS snapshots behind an AMI.
func (w *world) snapshots(id string) []string {
	w.t.Helper()
	img := w.image(id)
	if img == nil {
		w.t.Fatalf("moto (%s): AMI %s not found", w.spec.region, id)
	}
	var out []string
	for _, b := range img.BlockDeviceMappings {
		if b.Ebs != nil && b.Ebs.SnapshotId != nil {
			out = append(out, aws.ToString(b.Ebs.SnapshotId))
		}
	}
	return out
}

func (w *world) snapshotExists(id string) bool {
	w.t.Helper()
	out, err := w.ec2.DescribeSnapshots(w.ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	if err != nil {
		if strings.Contains(err.Error(), "InvalidSnapshot.NotFound") {
			return false
		}
		w.must(err, "describe snapshot "+id)
	}
	return len(out.Snapshots) == 1
}
