package lambdamain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/shared/route"
)

func TestEdgeDropsMalformedEventsAndLogsThem(t *testing.T) {
	good, err := os.ReadFile("../../events/alarm-guard.json")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	var got []route.Event
	boom := errors.New("throttled")
	fail := false
	h := Edge("guard", func(_ context.Context, e route.Event) error {
		got = append(got, e)
		if fail {
			return boom
		}
		if e.ID == "handler-says-malformed" {
			return fmt.Errorf("%w: no such thing", route.ErrMalformed)
		}
		return nil
	}, log)
	ctx := context.Background()

	// A good event reaches the handler decoded once, detail typed.
	if err := h(ctx, good); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Alarm == nil || got[0].Alarm.AlarmName != "shop-5xx-rate" || got[0].Function != route.Guard {
		t.Fatalf("handler got %+v", got)
	}

	// Malformed input, from decoding or from the handler, is dropped (nil:
	// no Lambda retries) with one error line that a metric filter counts.
	secretish := strings.Replace(string(good), `"alarmName": "shop-5xx-rate"`, `"alarmName": 42`, 1)
	for _, raw := range []string{`not json`, `{"source":"aws.cloudwatch"}`, secretish,
		strings.Replace(string(good), `"2b3c4d5e-6f70-4182-9a3b-4c5d6e7f8a01"`, `"handler-says-malformed"`, 1)} {
		logs.Reset()
		if err := h(ctx, json.RawMessage(raw)); err != nil {
			t.Fatalf("%.40s: err = %v, want it dropped", raw, err)
		}
		var line map[string]any
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line["malformed"] != true || line["level"] != "ERROR" {
			t.Fatalf("%.40s: log line %s", raw, logs.String())
		}
		if strings.Contains(logs.String(), "Threshold Crossed") {
			t.Fatalf("the log line carries the event's detail: %s", logs.String())
		}
	}

	// Any other error is returned, so Lambda retries it.
	fail = true
	if err := h(ctx, good); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the handler's error", err)
	}
}
