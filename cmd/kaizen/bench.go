package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/lab"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// maxBootstrapBytes is every arm64 bootstrap's size budget: 12 MiB
// (1 MiB = 1,048,576 bytes, as `make build` lists sizes). TestBootstrapSizes
// fails when a bootstrap built as the Makefile builds it exceeds it.
const maxBootstrapBytes = 12 << 20

// Targets from DESIGN.md §9.
const (
	targetStartup   = 50 * time.Millisecond
	targetDemo      = 2 * time.Second
	targetALASParse = 20 * time.Millisecond
	targetRollback  = 5 * time.Millisecond
)

// runBench prints kaizen's benchmark table: per-step AWS calls and handler
// and planner time on the simulated AWS, bootstrap sizes, start-up under the
// Lambda emulator, demo wall time and ALAS parse time.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (default examples/kaizen.json)")
	build := fs.String("build", "build/lambda", "where `make build` put the bootstraps")
	runs := fs.Int("startup-runs", 20, "start-ups per function under the emulator (median reported)")
	rie := fs.String("rie", "bin/aws-lambda-rie", "the Lambda Runtime Interface Emulator")
	scale := fs.String("scale", "", "measure ticks and rollbacks at these numbers of apps (comma-separated, e.g. 1,10,100,500) instead")
	asJSON := fs.Bool("json", false, "with --scale: one JSON object per line")
	if code, done := parseFlags(fs, "kaizen bench [flags]", args, stdout, stderr); done {
		return code
	}
	cfg, err := config.Load(configPath(*cfgPath))
	if err != nil {
		return fail(stderr, 1, "%v", err)
	}
	if *scale != "" {
		scales, err := parseScales(*scale)
		if err != nil {
			return fail(stderr, 2, "%v", err)
		}
		if err := runScale(ctx, cfg, scales, *asJSON, stdout); err != nil {
			return fail(stderr, 1, "bench: %v", err)
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tvalue\ttarget\t")
	row := func(what, value, target string) { fmt.Fprintf(tw, "%s\t%s\t%s\t\n", what, value, target) }

	// Steps on the simulated AWS.
	for _, sc := range lab.Scenarios() {
		var muts, listener int
		var stepErr error
		res := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				l := lab.New(cfg, demoDay, io.Discard)
				if err := sc.Prepare(ctx, l); err != nil {
					stepErr = err
					return
				}
				l.Cloud.Reset()
				b.StartTimer()
				if err := sc.Step(ctx, l); err != nil {
					stepErr = err
					return
				}
				b.StopTimer()
				muts, listener = 0, l.Cloud.Mutations()["ModifyListener"]
				for op, n := range l.Cloud.Mutations() {
					if op != "Publish" {
						muts += n
					}
				}
				b.StartTimer()
			}
		})
		if stepErr != nil {
			return fail(stderr, 1, "bench %s: %v", sc.Name, stepErr)
		}
		calls, handler := "", ""
		switch sc.Name {
		case "rollback":
			calls, handler = "listener call first", "< "+targetRollback.String()
		case "cutover":
			calls = "1 listener + 1 rule call"
		}
		row(sc.Name+": mutating AWS calls (listener)", fmt.Sprintf("%d (%d)", muts, listener), calls)
		row(sc.Name+": handler time", time.Duration(res.NsPerOp()).Round(time.Microsecond).String(), handler)
	}
	for _, sc := range lab.Scenarios() {
		l := lab.New(cfg, demoDay, io.Discard)
		if err := sc.Prepare(ctx, l); err != nil {
			return fail(stderr, 1, "bench %s: %v", sc.Name, err)
		}
		st, _ := l.Store.Load(ctx, l.App().Name)
		obs, err := l.Observe(ctx, l.App())
		if err != nil {
			return fail(stderr, 1, "bench %s: %v", sc.Name, err)
		}
		now, ev := l.Cloud.Now(), sc.PlannerEvent(l)
		res := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				release.Decide(l.App(), st, obs, now, ev)
			}
		})
		row(sc.Name+": planner time", time.Duration(res.NsPerOp()).String(), "")
	}

	// Bootstrap sizes.
	sizes, _ := filepath.Glob(filepath.Join(*build, "arm64", "*", "bootstrap"))
	if len(sizes) == 0 {
		row("bootstrap sizes", "not built (run make build)", "")
	}
	for _, p := range sizes {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		row("bootstrap "+filepath.Base(filepath.Dir(p))+" (arm64)", mib(fi.Size()), sizeVerdict(fi.Size()))
	}

	// Start-up under the emulator.
	hosts, _ := filepath.Glob(filepath.Join(*build, "host", "*", "bootstrap"))
	for _, p := range hosts {
		med, err := startupMedian(ctx, *rie, p, *runs)
		value := med.Round(100 * time.Microsecond).String()
		if err != nil {
			value = "error: " + err.Error()
		}
		row("start-up "+filepath.Base(filepath.Dir(p))+" (median of "+fmt.Sprint(*runs)+")", value, "< "+targetStartup.String())
	}

	// Demo wall time.
	var walls []time.Duration
	var day *DemoResult
	for range 5 {
		t0 := time.Now()
		res, err := Demo(ctx, cfg)
		if err != nil {
			return fail(stderr, 1, "bench demo: %v", err)
		}
		walls = append(walls, time.Since(t0))
		day = res
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	row("demo wall time (median of 5)", walls[2].Round(time.Millisecond).String(), "< "+targetDemo.String())
	// What the demo's day cost, beside the same day at fixed peak capacity.
	c := day.Cost
	for _, col := range config.Colors {
		row(fmt.Sprintf("demo day instance-hours, %s (%.0f h)", col, c.Hours), fmt.Sprintf("%.1f", c.InstanceHours[string(col)]), "")
	}
	row("demo day instance-hours, total", fmt.Sprintf("%.1f", c.Total), fmt.Sprintf("< %.1f (fixed peak: %d × %.0f h)", c.FixedPeak, c.PeakDesired, c.Hours))

	// ALAS parse of a 5,000-item feed.
	doc := benchFeed(5000)
	res := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if _, err := alas.Parse(bytes.NewReader(doc)); err != nil {
				b.Fatal(err)
			}
		}
	})
	row(fmt.Sprintf("ALAS parse, 5,000 items (%.1f MB)", float64(len(doc))/(1<<20)), fmt.Sprintf("%s, %d allocs", time.Duration(res.NsPerOp()).Round(100*time.Microsecond), res.AllocsPerOp()), "< "+targetALASParse.String())
	tw.Flush()
	return 0
}

// mib formats a size in MiB.
func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

// sizeVerdict is a bootstrap's size against the budget, with its mark.
func sizeVerdict(n int64) string {
	mark := "pass"
	if n > maxBootstrapBytes {
		mark = "FAIL"
	}
	return fmt.Sprintf("<= %s: %s", mib(maxBootstrapBytes), mark)
}

// benchFeed builds an AL2-shaped feed of n items.
func benchFeed(n int) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n<title>Amazon Linux 2 Security Center RSS Feed</title>\n")
	sev := []string{"critical", "important", "medium", "low"}
	for i := range n {
		y := 2017 + i%9
		fmt.Fprintf(&b, "<item>\n<title>ALAS2-%d-%04d (%s): kernel, kernel-tools, perf</title>\n<description>\n CVE-%d-%05d, CVE-%d-%05d\n</description>\n<pubDate>Thu, 07 Nov 2024 21:33:00 GMT</pubDate>\n<link>https://alas.aws.amazon.com/AL2/ALAS2-%d-%04d.html</link>\n</item>\n",
			y, i, sev[i%4], y, i, y, i+50000, y, i)
	}
	b.WriteString("</channel>\n</rss>\n")
	return b.Bytes()
}
