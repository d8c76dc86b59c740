package lab

import (
	"context"
	"log/slog"
	"strings"

	"github.com/kaizen-sre/kaizen/shared/steps"
)

// SendExplained runs an event through a function like Send and also says
// why the handler ignored it, if it did: the handler drops foreign,
// duplicate and unconfigured events before planning (so there is no
// Outcome) and only logs why, in an "ignored: ..." line. ignored is that
// line's reason with its attributes, or "" if the event was not ignored.
// The lab's logger still receives every line.
func (l *Lab) SendExplained(ctx context.Context, function string, raw []byte) (outs []steps.Outcome, ignored string, err error) {
	prev := l.Deps.Log
	inner := slog.Handler(slog.DiscardHandler)
	if prev != nil {
		inner = prev.Handler()
	}
	l.Deps.Log = slog.New(ignoredCapture{inner: inner, last: &ignored})
	defer func() { l.Deps.Log = prev }()
	outs, err = l.Send(ctx, function, raw)
	return outs, ignored, err
}

// ignoredCapture passes records on to inner and keeps the last "ignored:"
// message, whatever inner's level.
type ignoredCapture struct {
	inner slog.Handler
	last  *string
}

const ignoredPrefix = "ignored: "

func (h ignoredCapture) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo || h.inner.Enabled(ctx, level)
}

func (h ignoredCapture) Handle(ctx context.Context, r slog.Record) error {
	if msg, ok := strings.CutPrefix(r.Message, ignoredPrefix); ok {
		var attrs []string
		r.Attrs(func(a slog.Attr) bool {
			attrs = append(attrs, a.String())
			return true
		})
		if len(attrs) > 0 {
			msg += " (" + strings.Join(attrs, ", ") + ")"
		}
		*h.last = msg
	}
	if h.inner.Enabled(ctx, r.Level) {
		return h.inner.Handle(ctx, r)
	}
	return nil
}

func (h ignoredCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ignoredCapture{inner: h.inner.WithAttrs(attrs), last: h.last}
}

func (h ignoredCapture) WithGroup(name string) slog.Handler {
	return ignoredCapture{inner: h.inner.WithGroup(name), last: h.last}
}
