package config

import (
	"testing"
)

// The smallest and largest values each bounded setting takes are accepted
// (TestParseRefuses has the values just outside). Mutation testing found
// these bounds untested: `< 1` could become `<= 1` unnoticed.
func TestBoundsAccepted(t *testing.T) {
	for _, c := range []struct {
		path  string
		value int
	}{
		{"apps[0].cutoverHealthyPercent", 1},
		{"apps[0].cutoverHealthyPercent", 100},
		{"apps[0].cutoverTimeoutMinutes", 1},
		{"apps[0].windowWaitHours", 1},
		{"apps[0].alarmSkewSeconds", 1},
		{"apps[0].noProgressTicks", 1},
	} {
		f, err := Parse(baseDoc(t).set(t, c.path, c.value).bytes(t))
		if err != nil {
			t.Errorf("%s %d refused: %v", c.path, c.value, err)
			continue
		}
		a := f.Apps[0]
		got := map[string]int{
			"apps[0].cutoverHealthyPercent": a.CutoverHealthyPercent, "apps[0].cutoverTimeoutMinutes": a.CutoverTimeoutMinutes,
			"apps[0].windowWaitHours": a.WindowWaitHours, "apps[0].alarmSkewSeconds": a.AlarmSkewSeconds, "apps[0].noProgressTicks": a.NoProgressTicks,
		}[c.path]
		if got != c.value {
			t.Errorf("%s %d read as %d", c.path, c.value, got)
		}
	}
}

// A window's times are read to the minute: both digits of the minutes
// count (a window from 09:05 is not open at 09:04, one to 17:45 is closed
// at 17:45).
func TestChangeWindowMinutesToTheMinute(t *testing.T) {
	w := win(t, "tue", "09:05", "17:45", "UTC")
	for _, r := range []struct {
		at   string
		want bool
	}{
		{"2026-03-03T09:04:59Z", false},
		{"2026-03-03T09:05:00Z", true},
		{"2026-03-03T17:44:59Z", true},
		{"2026-03-03T17:45:00Z", false},
	} {
		if got := w.Open(at(t, r.at)); got != r.want {
			t.Errorf("%s: Open(%s) = %v, want %v", w, r.at, got, r.want)
		}
	}
	for s, want := range map[string]int{"00:00": 0, "09:05": 545, "17:45": 1065, "23:59": 1439, "10:50": 650} {
		if d, ok := minutes(s); !ok || int(d.Minutes()) != want {
			t.Errorf("minutes(%q) = %v, %v; want %d minutes", s, d, ok, want)
		}
	}
}

// A window can contain an instant whose local date is the day before the
// window's day. Until 2011 Newfoundland fell back at 00:01: on 2010-11-07
// America/St_Johns read Sunday 00:00 NDT at 02:30Z and Saturday 23:01 NST a
// minute later. A Sunday window from 00:00 opens at 02:30Z and stays open
// while the clock reads Saturday again.
func TestChangeWindowOpenOnTheDayBeforeItsDay(t *testing.T) {
	w := win(t, "sun", "00:00", "00:30", "America/St_Johns")
	for _, r := range []struct {
		at   string
		want bool
		why  string
	}{
		{"2010-11-07T02:29:00Z", false, "Saturday 23:59 NDT"},
		{"2010-11-07T02:30:00Z", true, "Sunday 00:00 NDT"},
		{"2010-11-07T02:40:00Z", true, "Saturday 23:10 NST: the window opened at Sunday 00:00 NDT"},
		{"2010-11-07T03:45:00Z", true, "Sunday 00:15 NST"},
		{"2010-11-07T04:00:00Z", false, "Sunday 00:30 NST"},
	} {
		if got := w.Open(at(t, r.at)); got != r.want {
			t.Errorf("%s: Open(%s) = %v, want %v (%s)", w, r.at, got, r.want, r.why)
		}
	}
}
