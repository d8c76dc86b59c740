package route_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/route"
)

// EventBridge keys are case-sensitive: an envelope whose keys differ from
// EventBridge's only by case is not an EventBridge event.
func TestDecodeKeysAreCaseSensitive(t *testing.T) {
	good := `{"version":"0","id":"1","detail-type":"Scheduled Event","source":"aws.events","account":"111122223333","time":"2026-11-24T09:00:00Z","region":"eu-west-1","resources":[],"detail":{}}`
	if _, err := route.Decode([]byte(good)); err != nil {
		t.Fatalf("good envelope: %v", err)
	}
	for _, bad := range []string{
		strings.Replace(good, `"detail-type"`, `"Detail-Type"`, 1),
		strings.Replace(good, `"source"`, `"Source"`, 1),
		strings.Replace(good, `"account"`, `"ACCOUNT"`, 1),
	} {
		_, err := route.Decode([]byte(bad))
		if !errors.Is(err, route.ErrMalformed) || !strings.Contains(err.Error(), "case-sensitive") {
			t.Errorf("%s: err = %v, want a case-sensitivity error", bad, err)
		}
	}
}

func alarmDetail(t *testing.T, js string) route.AlarmDetail {
	t.Helper()
	var d route.AlarmDetail
	if err := json.Unmarshal([]byte(js), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAlarmKind(t *testing.T) {
	for _, c := range []struct{ config, want string }{
		{`{"metrics":[{"id":"m1","metricStat":{"metric":{"name":"CPUUtilization","namespace":"AWS/EC2"},"period":300,"stat":"Average"},"returnData":true}]}`, "metric"},
		{`{"metrics":[{"id":"e1","expression":"m1/m2*100","returnData":true},{"id":"m1","returnData":false},{"id":"m2","returnData":false}]}`, "metric-math"},
		{`{"metrics":[{"id":"m1","metricStat":{"metric":{"name":"TargetResponseTime","namespace":"AWS/ApplicationELB"},"period":60,"stat":"p99"},"returnData":true},{"id":"ad1","expression":"ANOMALY_DETECTION_BAND(m1, 2)","label":"TargetResponseTime (expected)","returnData":true}]}`, "anomaly-detection"},
		{`{"alarmRule":"ALARM(a) OR ALARM(b)","actionsSuppressor":"maint","actionsSuppressorWaitPeriod":60,"actionsSuppressorExtensionPeriod":60}`, "composite"},
	} {
		d := alarmDetail(t, `{"alarmName":"x","state":{"value":"ALARM"},"configuration":`+c.config+`}`)
		if got := d.AlarmKind(); got != c.want {
			t.Errorf("%s: kind %q, want %q", c.config, got, c.want)
		}
	}
}

func TestParseAlarmTime(t *testing.T) {
	want := time.Date(2019, 10, 2, 17, 4, 40, 985e6, time.UTC)
	for _, s := range []string{"2019-10-02T17:04:40.985+0000", "2019-10-02T19:04:40.985+0200", "2019-10-02T17:04:40.985Z"} {
		got, err := route.ParseAlarmTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", s, got, err, want)
		}
	}
	if _, err := route.ParseAlarmTime("yesterday"); err == nil {
		t.Error("a bad timestamp parsed")
	}
}

func TestMuted(t *testing.T) {
	at := `"timestamp":"2026-11-24T12:10:00.000+0000"`
	for _, c := range []struct{ mute, want string }{
		{``, ""},
		{`,"muteDetail":null`, ""},
		{`,"muteDetail":{"mutedBy":[{"muteRuleName":"release-night","muteWindowStart":"2026-11-24T12:00:00Z","muteWindowEnd":"2026-11-24T13:00:00Z"}]}`, "muted by release-night"},
		{`,"muteDetail":{"mutedBy":[{"muteRuleName":"last-week","muteWindowStart":"2026-11-17T12:00:00Z","muteWindowEnd":"2026-11-17T13:00:00Z"}]}`, ""},
		{`,"muteDetail":{"muteWindowStart":"2026-11-24T12:00:00Z","muteWindowEnd":"2026-11-24T12:30:00Z"}`, "muted from"},
		{`,"muteDetail":{"unknownShape":true}`, "muted"},
	} {
		d := alarmDetail(t, `{"alarmName":"x","state":{"value":"ALARM",`+at+`}`+c.mute+`}`)
		got := d.Muted()
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: Muted() = %q, want %q", c.mute, got, c.want)
		}
	}
}
