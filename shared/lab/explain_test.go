package lab

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/shared/route"
)

func TestSendExplained(t *testing.T) {
	ctx := context.Background()
	l := newLab(t)
	app := &l.Config.Apps[0]

	foreign := route.Maker{Account: "999988887777", Region: l.Config.Region, Next: func() string { return "ev-foreign" }}
	outs, why, err := l.SendExplained(ctx, route.Stage, foreign.AMI("ami-0123456789abcdef0", "available", l.Cloud.Now()))
	if err != nil || len(outs) != 0 || !strings.Contains(why, "another account or region") || !strings.Contains(why, "account=999988887777") {
		t.Fatalf("foreign account: %d outcomes, err %v, reason %q", len(outs), err, why)
	}
	raw := l.Maker.Alarm("not-ours", "ALARM", "OK", "", l.Cloud.Now())
	if _, why, _ = l.SendExplained(ctx, route.Guard, raw); why != "not a configured alarm" {
		t.Fatalf("unknown alarm: reason %q", why)
	}
	ami := l.Cloud.NewAMI(app, "shop-golden-x", "exec-x")
	raw = l.Maker.AMI(ami, "available", l.Cloud.Now())
	if outs, why, err = l.SendExplained(ctx, route.Stage, raw); err != nil || len(outs) != 1 || why != "" {
		t.Fatalf("our AMI: %d outcomes, err %v, reason %q", len(outs), err, why)
	}
	if _, why, _ = l.SendExplained(ctx, route.Stage, raw); why != "event already processed" {
		t.Fatalf("duplicate: reason %q", why)
	}

	// The lab's own logger still gets the lines, and is put back.
	var buf bytes.Buffer
	l2 := New(l.Config, start, &buf)
	logger := l2.Deps.Log
	l2.SendExplained(ctx, route.Guard, l2.Maker.Alarm("not-ours", "ALARM", "OK", "", l2.Cloud.Now()))
	if !strings.Contains(buf.String(), "ignored: not a configured alarm") || l2.Deps.Log != logger {
		t.Fatalf("log %q; logger restored: %v", buf.String(), l2.Deps.Log == logger)
	}
}
