package config

import (
	"strings"
	"testing"
	"time"
)

// win builds a window through the validator, as Parse does, so its zone is
// parsed once.
func win(t *testing.T, days, from, to, zone string) *ChangeWindow {
	t.Helper()
	w := &ChangeWindow{Days: strings.Split(days, ","), From: from, To: to, TimeZone: zone}
	v := &validator{f: &File{}}
	v.window("changeWindow", w)
	if len(v.errs) > 0 || w.loc == nil {
		t.Fatalf("window %s: %v", w, v.errs)
	}
	return w
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestChangeWindowOpen(t *testing.T) {
	type row struct {
		at   string // RFC 3339 with the offset in force there (or Z)
		want bool
		why  string
	}
	cases := []struct {
		days, from, to, zone string
		rows                 []row
	}{
		{"mon,tue,wed,thu,fri", "09:00", "17:00", "Europe/Berlin", []row{
			{"2026-03-03T09:00:00+01:00", true, "from is inclusive"},
			{"2026-03-03T08:59:59+01:00", false, "a second early"},
			{"2026-03-03T16:59:59+01:00", true, "last second"},
			{"2026-03-03T17:00:00+01:00", false, "to is exclusive"},
			{"2026-03-07T10:00:00+01:00", false, "Saturday is not listed"},
			{"2026-03-03T03:30:00-05:00", true, "an instant in another zone is read in the window's zone"},
			{"2026-07-07T07:30:00Z", true, "09:30 CEST: summer time"},
			{"2026-07-07T15:30:00Z", false, "17:30 CEST, though 15:30 in UTC"},
			{"2026-03-03T08:30:00Z", true, "09:30 CET"},
		}},
		{"tue", "22:00", "01:00", "Europe/Berlin", []row{
			{"2026-03-03T22:00:00+01:00", true, "Tuesday at from"},
			{"2026-03-03T21:59:59+01:00", false, "Tuesday before from"},
			{"2026-03-04T00:30:00+01:00", true, "Wednesday 00:30 belongs to Tuesday's window"},
			{"2026-03-04T00:59:59+01:00", true, "last second"},
			{"2026-03-04T01:00:00+01:00", false, "to is exclusive"},
			{"2026-03-03T00:30:00+01:00", false, "Tuesday 00:30 belongs to Monday's window, not listed"},
			{"2026-03-04T22:30:00+01:00", false, "Wednesday's window is not listed"},
		}},
		{"mon,tue", "22:00", "01:00", "Europe/Berlin", []row{
			{"2026-03-03T00:30:00+01:00", true, "Tuesday 00:30 is in Monday's window"},
		}},
		{"sun", "22:00", "01:00", "Europe/Berlin", []row{
			{"2026-03-02T00:30:00+01:00", true, "Sunday's window runs into Monday"},
			{"2026-03-01T00:30:00+01:00", false, "Saturday's window is not listed"},
		}},
		{"sat", "23:00", "00:30", "Europe/Berlin", []row{
			{"2026-03-08T00:15:00+01:00", true, "Saturday's window runs into Sunday across the week's end"},
		}},
		{"fri", "18:00", "00:00", "Europe/Berlin", []row{
			{"2026-03-06T23:59:00+01:00", true, "a window to midnight"},
			{"2026-03-07T00:00:00+01:00", false, "closes at midnight"},
		}},
		{"mon", "00:00", "06:00", "Europe/Berlin", []row{
			{"2026-03-02T00:00:00+01:00", true, "a window from midnight"},
			{"2026-03-01T23:59:00+01:00", false, "Sunday evening"},
		}},
		{"mon", "09:00", "17:00", "Asia/Kolkata", []row{
			{"2026-03-02T03:30:00Z", true, "half-hour offset"},
			{"2026-03-02T03:29:00Z", false, "half-hour offset, a minute early"},
		}},

		// Europe/Berlin springs forward on 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00Z).
		{"sun", "01:30", "03:00", "Europe/Berlin", []row{
			{"2026-03-29T00:29:00Z", false, "01:29 CET"},
			{"2026-03-29T00:30:00Z", true, "01:30 CET"},
			{"2026-03-29T00:59:59Z", true, "01:59:59 CET, the last second before the jump"},
			{"2026-03-29T01:00:00Z", false, "03:00 CEST: the window was half an hour long"},
		}},
		{"sun", "02:30", "04:00", "Europe/Berlin", []row{
			{"2026-03-29T00:59:00Z", false, "01:59 CET"},
			{"2026-03-29T01:00:00Z", true, "from does not exist: the window opens at the jump"},
			{"2026-03-29T01:59:00Z", true, "03:59 CEST"},
			{"2026-03-29T02:00:00Z", false, "04:00 CEST"},
		}},
		{"sat", "23:00", "02:30", "Europe/Berlin", []row{
			{"2026-03-28T22:00:00Z", true, "Saturday 23:00 CET"},
			{"2026-03-29T00:59:00Z", true, "Sunday 01:59 CET"},
			{"2026-03-29T01:00:00Z", false, "to does not exist: the window closes at the jump"},
		}},
		{"sun", "02:10", "02:40", "Europe/Berlin", []row{
			{"2026-03-29T00:59:00Z", false, "before the jump"},
			{"2026-03-29T01:00:00Z", false, "a window wholly inside the skipped hour does not open"},
			{"2026-03-29T01:10:00Z", false, "nor an hour late"},
		}},
		{"sun", "01:00", "04:00", "Europe/Berlin", []row{
			{"2026-03-29T00:00:00Z", true, "01:00 CET"},
			{"2026-03-29T01:30:00Z", true, "03:30 CEST"},
			{"2026-03-29T02:00:00Z", false, "04:00 CEST: two hours, not three"},
		}},
		{"mon", "09:00", "17:00", "Europe/Berlin", []row{
			{"2026-03-30T07:00:00Z", true, "the Monday after: 09:00 CEST"},
			{"2026-03-30T06:59:00Z", false, "08:59 CEST"},
		}},

		// Europe/Berlin falls back on 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00Z).
		{"sun", "02:00", "03:00", "Europe/Berlin", []row{
			{"2026-10-24T23:59:00Z", false, "01:59 CEST"},
			{"2026-10-25T00:00:00Z", true, "02:00 CEST"},
			{"2026-10-25T00:30:00Z", true, "02:30 CEST"},
			{"2026-10-25T01:30:00Z", true, "02:30 CET: the repeated hour is in the window too"},
			{"2026-10-25T01:59:00Z", true, "02:59 CET"},
			{"2026-10-25T02:00:00Z", false, "03:00 CET: the clock reads to only now"},
		}},
		{"sun", "01:00", "02:30", "Europe/Berlin", []row{
			{"2026-10-24T23:00:00Z", true, "01:00 CEST"},
			{"2026-10-25T00:29:00Z", true, "02:29 CEST"},
			{"2026-10-25T00:30:00Z", false, "02:30 CEST: closed the first time the clock reads to"},
			{"2026-10-25T01:15:00Z", false, "02:15 CET: the repeated hour does not reopen it"},
		}},
		{"sun", "02:30", "05:00", "Europe/Berlin", []row{
			{"2026-10-25T00:29:00Z", false, "02:29 CEST"},
			{"2026-10-25T00:30:00Z", true, "02:30 CEST: opens the first time the clock reads from"},
			{"2026-10-25T01:00:00Z", true, "02:00 CET: the clock went back but the window stays open"},
			{"2026-10-25T03:59:00Z", true, "04:59 CET"},
			{"2026-10-25T04:00:00Z", false, "05:00 CET"},
		}},
		{"sat", "22:00", "03:00", "Europe/Berlin", []row{
			{"2026-10-24T20:00:00Z", true, "Saturday 22:00 CEST"},
			{"2026-10-25T01:45:00Z", true, "Sunday 02:45 CET"},
			{"2026-10-25T02:00:00Z", false, "Sunday 03:00 CET"},
		}},

		// America/New_York springs forward on 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z).
		{"sat", "22:00", "02:30", "America/New_York", []row{
			{"2026-03-08T06:59:00Z", true, "01:59 EST"},
			{"2026-03-08T07:00:00Z", false, "03:00 EDT: to did not exist"},
		}},
		{"sun", "02:00", "03:00", "America/New_York", []row{
			{"2026-03-08T06:59:00Z", false, "01:59 EST"},
			{"2026-03-08T07:00:00Z", false, "03:00 EDT: the whole window was skipped"},
			{"2026-03-08T07:30:00Z", false, "03:30 EDT"},
		}},
		{"sun", "01:30", "03:00", "America/New_York", []row{
			{"2026-03-08T06:29:00Z", false, "01:29 EST"},
			{"2026-03-08T06:30:00Z", true, "01:30 EST"},
			{"2026-03-08T06:59:00Z", true, "01:59 EST"},
			{"2026-03-08T07:00:00Z", false, "03:00 EDT"},
		}},
		// ... and falls back on 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00Z).
		{"sat", "23:00", "01:30", "America/New_York", []row{
			{"2026-11-01T03:00:00Z", true, "Saturday 23:00 EDT"},
			{"2026-11-01T05:15:00Z", true, "01:15 EDT"},
			{"2026-11-01T05:30:00Z", false, "01:30 EDT"},
			{"2026-11-01T06:15:00Z", false, "01:15 EST: not again"},
		}},
		{"sun", "01:00", "02:00", "America/New_York", []row{
			{"2026-11-01T04:59:00Z", false, "00:59 EDT"},
			{"2026-11-01T05:00:00Z", true, "01:00 EDT"},
			{"2026-11-01T06:30:00Z", true, "01:30 EST"},
			{"2026-11-01T06:59:00Z", true, "01:59 EST"},
			{"2026-11-01T07:00:00Z", false, "02:00 EST"},
		}},

		// Australia/Sydney falls back on 2026-04-05: 03:00 AEDT becomes 02:00 AEST (16:00Z the day before).
		{"sun", "02:00", "03:00", "Australia/Sydney", []row{
			{"2026-04-04T14:59:00Z", false, "01:59 AEDT"},
			{"2026-04-04T15:30:00Z", true, "02:30 AEDT"},
			{"2026-04-04T16:30:00Z", true, "02:30 AEST"},
			{"2026-04-04T17:00:00Z", false, "03:00 AEST"},
		}},
		// America/Havana springs forward at midnight on 2026-03-08: Saturday 24:00 CST is Sunday 01:00 CDT (05:00Z).
		{"sat", "22:00", "00:30", "America/Havana", []row{
			{"2026-03-08T04:59:00Z", true, "Saturday 23:59 CST"},
			{"2026-03-08T05:00:00Z", false, "Sunday 01:00 CDT: 00:30 did not exist"},
		}},
		{"sun", "00:15", "02:00", "America/Havana", []row{
			{"2026-03-08T04:59:00Z", false, "Saturday 23:59 CST"},
			{"2026-03-08T05:00:00Z", true, "Sunday 01:00 CDT: opens at the jump"},
		}},
		// America/Santiago falls back across midnight on 2026-04-05: Sunday 00:00 -03 is Saturday 23:00 -04 (03:00Z).
		{"sat", "22:00", "00:30", "America/Santiago", []row{
			{"2026-04-05T01:00:00Z", true, "Saturday 22:00 -03"},
			{"2026-04-05T03:30:00Z", true, "Saturday 23:30 -04, the repeated hour"},
			{"2026-04-05T04:29:00Z", true, "Sunday 00:29 -04"},
			{"2026-04-05T04:30:00Z", false, "Sunday 00:30 -04"},
		}},
	}
	for _, c := range cases {
		w := win(t, c.days, c.from, c.to, c.zone)
		for _, r := range c.rows {
			if got := w.Open(at(t, r.at)); got != r.want {
				lt := at(t, r.at).In(w.Location())
				t.Errorf("%s: Open(%s = %s) = %v, want %v (%s)", w, r.at, lt.Format("Mon 15:04 MST"), got, r.want, r.why)
			}
		}
	}
}

// Away from daylight-saving changes Open is the plain reading of the clock.
// Check that over a whole year, minute by minute (in steps), for windows of
// every shape, skipping the days around Berlin's two changes.
func TestChangeWindowOpenMatchesTheClock(t *testing.T) {
	windows := []*ChangeWindow{
		win(t, "mon,tue,wed,thu,fri", "09:00", "17:00", "Europe/Berlin"),
		win(t, "tue,sat", "22:00", "01:00", "Europe/Berlin"),
		win(t, "sun", "23:30", "00:15", "Europe/Berlin"),
		win(t, "wed", "00:00", "23:59", "Europe/Berlin"),
		win(t, "mon,thu", "18:00", "06:00", "Asia/Tokyo"),
	}
	skip := map[string]bool{"2026-03-28": true, "2026-03-29": true, "2026-03-30": true, "2026-10-24": true, "2026-10-25": true, "2026-10-26": true}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, w := range windows {
		from, _ := minutes(w.From)
		to, _ := minutes(w.To)
		days := daySet(w.Days)
		listed := func(d time.Weekday) bool { return days&(1<<((d+7)%7)) != 0 }
		open := 0
		for tm := start; tm.Year() == 2026; tm = tm.Add(17 * time.Minute) {
			lt := tm.In(w.Location())
			if skip[lt.Format(time.DateOnly)] {
				continue
			}
			clock := time.Duration(lt.Hour())*time.Hour + time.Duration(lt.Minute())*time.Minute
			var want bool
			if from < to {
				want = listed(lt.Weekday()) && clock >= from && clock < to
			} else {
				want = (listed(lt.Weekday()) && clock >= from) || (listed(lt.Weekday()-1) && clock < to)
			}
			if got := w.Open(tm); got != want {
				t.Fatalf("%s: Open(%s) = %v, want %v", w, lt.Format(time.RFC3339), got, want)
			}
			if want {
				open++
			}
		}
		if open == 0 {
			t.Errorf("%s: never open in the sample", w)
		}
	}
}

func TestChangeWindowLocationParsedOnce(t *testing.T) {
	f, err := Parse([]byte(withWindow(t)))
	if err != nil {
		t.Fatal(err)
	}
	w := f.Apps[0].ChangeWindow
	loc := w.Location()
	if loc == nil || loc.String() != "Europe/Berlin" {
		t.Fatalf("Location() = %v", loc)
	}
	if w.loc != loc || w.Location() != loc {
		t.Error("Location() is not the zone parsed by Parse")
	}

	// A window that did not come through Parse (a literal in a test) still
	// works; an invalid one is never open; no window is always open.
	lit := &ChangeWindow{Days: []string{"Tue"}, From: "22:00", To: "01:00", TimeZone: "Europe/Berlin"}
	if lit.Location() == nil || !lit.Open(at(t, "2026-03-04T00:30:00+01:00")) {
		t.Error("literal window")
	}
	for _, bad := range []*ChangeWindow{
		{Days: []string{"tue"}, From: "22:00", To: "01:00", TimeZone: "Mars/Olympus"},
		{Days: []string{"tue"}, From: "22:00", To: "01:00", TimeZone: "Local"},
		{Days: []string{"tue"}, From: "22:00", To: "01:00"},
		{Days: []string{"tue"}, From: "22:00", To: "22:00", TimeZone: "UTC"},
		{Days: []string{"tue"}, From: "25:00", To: "01:00", TimeZone: "UTC"},
		{Days: []string{"someday"}, From: "22:00", To: "01:00", TimeZone: "UTC"},
	} {
		if bad.Open(at(t, "2026-03-03T22:30:00Z")) || bad.Open(at(t, "2026-03-04T00:30:00Z")) {
			t.Errorf("%s: an invalid window is open", bad)
		}
	}
	var none *ChangeWindow
	if !none.Open(time.Now()) || none.Location() != nil {
		t.Error("nil window: want always open, no location")
	}
}

func BenchmarkChangeWindowOpen(b *testing.B) {
	w := &ChangeWindow{Days: []string{"tue", "wed"}, From: "22:00", To: "01:00", TimeZone: "Europe/Berlin"}
	v := &validator{f: &File{}}
	v.window("w", w)
	tm := time.Date(2026, 3, 4, 0, 30, 0, 0, time.UTC)
	for b.Loop() {
		w.Open(tm)
	}
}
