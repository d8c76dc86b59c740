package alaspoll_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"

	"github.com/kaizen-sre/kaizen/shared/emf"
)

// Every poll writes each app's advisories waiting for a build, and a line
// per build it started.
func TestPollWritesMetrics(t *testing.T) {
	r := newRig(t)
	var out bytes.Buffer
	r.handler.Metrics = emf.New(&out, "alaspoll")
	_, _ = r.handler.Handle(context.Background(), event(t, nil)) // shop's feed fails; blog's rebuilds
	lines, err := emf.Lines(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	pending, started := map[string]float64{}, map[string]float64{}
	for _, l := range lines {
		app, _ := l.Root["App"].(string)
		if v, ok := l.Values[emf.AdvisoriesPending]; ok {
			pending[app] = v
		}
		if v, ok := l.Values[emf.RebuildsStarted]; ok && l.Root["Source"] == "alas" {
			started[app] += v
		}
	}
	if len(pending) != 2 || pending["shop"] != 0 || pending["blog"] != 0 {
		t.Errorf("advisories pending %v (blog's went into the build it started)", pending)
	}
	if len(started) != 1 || started["blog"] != 1 {
		t.Errorf("rebuilds started %v", started)
	}
	// With a build already running, the new advisory waits, and says so.
	r = newRig(t)
	out.Reset()
	r.handler.Metrics = emf.New(&out, "alaspoll")
	if _, err := r.cloud.CodeBuild().StartBuild(context.Background(), &codebuild.StartBuildInput{ProjectName: aws.String("blog-golden-ami")}); err != nil {
		t.Fatal(err)
	}
	_, _ = r.handler.Handle(context.Background(), event(t, nil))
	lines, _ = emf.Lines(out.Bytes())
	n := 0
	for _, l := range lines {
		if v, ok := l.Values[emf.AdvisoriesPending]; ok && l.Root["App"] == "blog" {
			n++
			if v != 1 {
				t.Errorf("blog pending %v while its build runs", v)
			}
		}
		if _, ok := l.Values[emf.RebuildsStarted]; ok {
			t.Errorf("a build started while one runs: %v", l.Root)
		}
	}
	if n != 1 {
		t.Errorf("%d pending lines for blog", n)
	}
}
