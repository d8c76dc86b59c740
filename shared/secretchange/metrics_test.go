package secretchange_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/shared/emf"
)

// A build started for a changed secret is counted, and the metric line
// carries no secret value.
func TestRebuildStartedMetric(t *testing.T) {
	r := newRig(testConfig())
	var out bytes.Buffer
	r.handler.Metrics = emf.New(&out, "secretchange")
	put := m{"secretId": shopARN, "clientRequestToken": "tok-1", "secretString": hidden}
	if _, err := r.handler.Handle(context.Background(), ev("e-metric", "aws.secretsmanager", apiCall, account, region,
		trail("PutSecretValue", put, m{"arn": shopARN}, nil))); err != nil {
		t.Fatal(err)
	}
	lines, err := emf.Lines(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0].Values[emf.RebuildsStarted] != 1 || lines[0].Root["App"] != "shop" || lines[0].Root["Source"] != "secret" {
		t.Fatalf("lines %s", out.String())
	}
	if strings.Contains(out.String(), hidden) {
		t.Fatal("the metric line carries the secret value")
	}
	// The same event again starts nothing, and counts nothing.
	out.Reset()
	_, _ = r.handler.Handle(context.Background(), ev("e-metric", "aws.secretsmanager", apiCall, account, region,
		trail("PutSecretValue", put, m{"arn": shopARN}, nil)))
	if out.Len() != 0 {
		t.Errorf("a duplicate wrote %s", out.String())
	}
}
