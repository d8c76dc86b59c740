package main

// `kaizen status --watch`: the status redrawn every interval, like
// `kubectl get -w` or watch(1). Each redraw runs `kaizen status --json`
// (the same reads, the same plan of the next tick) and draws it compactly.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// clearScreen moves the cursor home and clears the terminal.
const clearScreen = "\x1b[H\x1b[2J"

// watchFlags are status's --watch and --interval.
type watchFlags struct {
	on    bool
	every time.Duration
}

func (w *watchFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&w.on, "watch", false, "redraw the status every --interval until interrupted (Ctrl-C)")
	fs.DurationVar(&w.every, "interval", 2*time.Second, "how often --watch redraws")
}

// watchStatus redraws the status of args (status's own arguments) every
// interval until ctx is done or the process is interrupted. On a terminal
// each frame replaces the last; otherwise frames follow one another.
func watchStatus(ctx context.Context, args []string, wf *watchFlags, asJSON bool, stdout, stderr io.Writer) int {
	if asJSON {
		return fail(stderr, 2, "status: --watch draws for people; scripts run `kaizen status --json` when they need it")
	}
	if wf.every < 100*time.Millisecond {
		return fail(stderr, 2, "status: --interval %s is too short (at least 100ms)", wf.every)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	once := append(unwatched(args), "--json")
	snap := func(ctx context.Context) ([]AppStatus, error) {
		var out, errb bytes.Buffer
		if code := runStatus(ctx, once, &out, &errb); code != 0 {
			return nil, fmt.Errorf("%s", strings.TrimSpace(errb.String()))
		}
		var all []AppStatus
		if err := json.Unmarshal(out.Bytes(), &all); err != nil {
			return nil, fmt.Errorf("status --json: %w", err)
		}
		return all, nil
	}
	watchLoop(ctx, stdout, wf.every, isTerminal(stdout), func() time.Time { return time.Now().UTC() }, snap)
	return 0
}

// watchLoop draws a frame, then one every interval, until ctx is done. A
// failed read is shown in its frame and tried again at the next one.
func watchLoop(ctx context.Context, w io.Writer, every time.Duration, tty bool, now func() time.Time, snap func(context.Context) ([]AppStatus, error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		all, err := snap(ctx)
		if ctx.Err() != nil {
			return
		}
		var b bytes.Buffer
		if tty {
			b.WriteString(clearScreen)
		} else {
			b.WriteString("\n")
		}
		at := now()
		fmt.Fprintf(&b, "kaizen status, every %s: %s\n", every, at.Format("2006-01-02 15:04:05 MST"))
		if err != nil {
			fmt.Fprintf(&b, "error: %v\n", err)
		}
		for _, s := range all {
			printWatch(&b, s, at)
		}
		// One write per frame: a terminal never shows half of one.
		w.Write(b.Bytes())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// printWatch draws one app: the public per color, each color's AMI,
// capacity and health, the release, and what it waits for since when.
func printWatch(w io.Writer, s AppStatus, now time.Time) {
	fmt.Fprintf(w, "\n%s  public %s  live %s  preview %s\n", s.App, s.Observed.Traffic(), orDash(s.Live), orDash(string(s.Observed.Preview)))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  COLOR\tPUBLIC\tAMI\tTEMPLATE\tMIN/DES/MAX\tHEALTHY\t")
	for _, c := range config.Colors {
		v := s.Observed.Color(c)
		note := ""
		if len(v.Suspended) > 0 {
			note = "scaling suspended"
		}
		tmpl := "-"
		if v.Version != "" {
			tmpl = "v" + v.Version
		}
		fmt.Fprintf(tw, "  %s\t%d%%\t%s\t%s\t%s\t%d of %d\t%s\n", c, s.Observed.Weights[c], orDash(v.AMI), tmpl, v.Capacity, v.Healthy, v.Instances, note)
	}
	tw.Flush()
	what, since, until := waitsFor(s.State)
	if r := s.State.Active; r != nil {
		fmt.Fprintf(w, "  release  %s (%s) %s on %s\n", r.AMI, orDash(r.AMIName), r.State, r.Color)
	} else {
		fmt.Fprintf(w, "  release  none in flight\n")
	}
	line := "  waits    " + what
	if !since.IsZero() {
		line += fmt.Sprintf(" since %s (%s)", since.Format("15:04:05"), ago(now.Sub(since)))
	}
	if !until.IsZero() {
		line += " until " + until.Format("15:04:05")
	}
	fmt.Fprintln(w, line)
	if len(s.Waiting) > 0 {
		fmt.Fprintf(w, "  next     %s\n", s.Waiting[0])
	}
	if s.State.Stuck != "" {
		fmt.Fprintf(w, "  STOPPED  %s; run: kaizen resume --app %s\n", s.State.Stuck, s.App)
	}
}

// waitsFor says what an app's release waits for, since when and (where a
// deadline is recorded) until when.
func waitsFor(st release.AppState) (what string, since, until time.Time) {
	r := st.Active
	if r == nil {
		switch {
		case st.Hold != nil:
			return "the hold of " + string(st.Hold.Color) + " (kept for investigation)", time.Time{}, st.Hold.Until
		case st.Queued != nil:
			return "the queued AMI " + st.Queued.Image.ID + " to be staged", st.Queued.Since, time.Time{}
		}
		return "nothing", time.Time{}, time.Time{}
	}
	if n := len(r.History); n > 0 {
		since = r.History[n-1].At
	}
	switch r.State {
	case release.Staged:
		return "health: the preview on " + string(r.Color), r.StagedAt, time.Time{}
	case release.PreviewReady:
		return "approval", r.PreviewReadyAt, time.Time{}
	case release.Unhealthy:
		return "a newer AMI or a rejection (" + r.Reason + ")", since, time.Time{}
	case release.Promoting:
		return "health: enough targets on " + string(r.Color) + " to cut over", since, time.Time{}
	case release.WaitingForWindow:
		return "the change window", r.WindowWaitSince, time.Time{}
	case release.Shifting:
		return fmt.Sprintf("step: %d%% on %s", r.Weight, r.Color), since, r.StepUntil
	case release.Baking:
		return "bake: " + string(r.From) + " stays warm", r.CutoverAt, r.BakeUntil
	case release.RollingBack:
		return "the rollback's listener call", since, time.Time{}
	}
	return string(r.State), since, time.Time{}
}

func ago(d time.Duration) string {
	if d < 0 {
		return "in " + (-d).Round(time.Second).String()
	}
	return d.Round(time.Second).String() + " ago"
}

// unwatched drops --watch and --interval from status's arguments.
func unwatched(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		switch {
		case !strings.HasPrefix(args[i], "-"):
		case name == "watch":
			continue
		case name == "interval":
			if !hasValue {
				i++
			}
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
