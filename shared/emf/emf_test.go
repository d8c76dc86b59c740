package emf_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/emf"
)

func TestLineFollowsTheSpecification(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	var out bytes.Buffer
	w := emf.New(&out, "tick")
	w.Now = func() time.Time { return at }
	w.Put(emf.Dims{"App": "shop", "Outcome": "done", "Empty": ""},
		emf.Metric{Name: "ReleasesEnded", Unit: emf.Count, Value: 1},
		emf.Metric{Name: "ApprovalToPublicSeconds", Unit: emf.Seconds, Value: 312.5})
	lines, err := emf.Lines(out.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(lines) != 1 || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("want one line, got %q", out.String())
	}
	p := lines[0]
	if p.Timestamp != at.UnixMilli() || p.Namespace != emf.Namespace {
		t.Errorf("timestamp %d namespace %q", p.Timestamp, p.Namespace)
	}
	// By every dimension with a value, by the outcome across apps, and in
	// total; the empty one is left out (it would drop the line's
	// dimensions in CloudWatch).
	if len(p.Dimensions) != 3 || strings.Join(p.Dimensions[0], ",") != "App,Outcome" || strings.Join(p.Dimensions[1], ",") != "Outcome" || len(p.Dimensions[2]) != 0 {
		t.Errorf("dimensions %v", p.Dimensions)
	}
	if p.Values["ReleasesEnded"] != 1 || p.Values["ApprovalToPublicSeconds"] != 312.5 || p.Units["ApprovalToPublicSeconds"] != "Seconds" {
		t.Errorf("values %v units %v", p.Values, p.Units)
	}
	if p.Root["function"] != "tick" {
		t.Errorf("function property %v", p.Root["function"])
	}
}

func TestNilWriterWritesNothing(t *testing.T) {
	var w *emf.Writer
	w.Put(emf.Dims{"App": "shop"}, emf.Metric{Name: "X", Unit: emf.Count, Value: 1}) // must not panic
	var out bytes.Buffer
	(&emf.Writer{Out: &out}).Put(nil) // no metrics: no line
	if out.Len() != 0 {
		t.Errorf("wrote %q", out.String())
	}
}

func TestConcurrentLinesStayWhole(t *testing.T) {
	var out bytes.Buffer
	w := emf.New(&out, "tick")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Put(emf.Dims{"App": strings.Repeat("a", i+1)}, emf.Metric{Name: "N", Unit: emf.Count, Value: float64(i)})
		}()
	}
	wg.Wait()
	lines, err := emf.Lines(out.Bytes())
	if err != nil || len(lines) != 50 {
		t.Fatalf("%d lines, %v", len(lines), err)
	}
}

func TestCheckRefuses(t *testing.T) {
	for name, line := range map[string]string{
		"not JSON":          `{"_aws":`,
		"no _aws":           `{"N":1}`,
		"no timestamp":      `{"_aws":{"CloudWatchMetrics":[{"Namespace":"k","Dimensions":[[]],"Metrics":[{"Name":"N"}]}]},"N":1}`,
		"no directives":     `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]}}`,
		"no namespace":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"N"}]}]},"N":1}`,
		"dimension missing": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"k","Dimensions":[["App"]],"Metrics":[{"Name":"N"}]}]},"N":1}`,
		"value not numeric": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"k","Dimensions":[[]],"Metrics":[{"Name":"N"}]}]},"N":"1"}`,
		"unknown unit":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"k","Dimensions":[[]],"Metrics":[{"Name":"N","Unit":"Apples"}]}]},"N":1}`,
		"trailing data":     `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"k","Dimensions":[[]],"Metrics":[{"Name":"N"}]}]},"N":1} x`,
	} {
		if _, err := emf.Check([]byte(line)); err == nil {
			t.Errorf("%s: accepted %s", name, line)
		}
	}
	ok := `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"k","Dimensions":[[]],"Metrics":[{"Name":"N","Unit":"Count"}]}]},"N":[1,2]}`
	if _, err := emf.Check([]byte(ok)); err != nil {
		t.Errorf("refused a valid line: %v", err)
	}
}
