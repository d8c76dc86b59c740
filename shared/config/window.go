package config

import (
	"strings"
	"time"

	// The functions run on provided.al2023, whose image carries no zoneinfo:
	// embed the database so a change window's zone loads everywhere.
	_ "time/tzdata"
)

// ChangeWindow limits when the public may be switched.
//
// The window runs in its own time zone. Days name the day the window starts:
// a window whose To is earlier than its From runs past midnight into the next
// day (tue 22:00-01:00 is open at Wednesday 00:30). From is inclusive, To is
// exclusive. Across a daylight-saving change the window opens the first time
// the zone's clock reads From on a listed day, and closes the first time after
// that the clock reads To: a From or To inside a skipped hour moves to the end
// of the jump (so a window wholly inside the skipped hour is closed that
// night), and a repeated hour neither closes the window early nor opens it
// twice.
type ChangeWindow struct {
	Days     []string `json:"days"`
	From     string   `json:"from"` // "09:00"
	To       string   `json:"to"`   // "17:00"
	TimeZone string   `json:"timeZone"`

	loc *time.Location // set by Validate: planning loads no zone
}

// Location returns the window's time zone, parsed once by Parse or Validate.
// A window that did not come through either (a literal in a test) loads its
// zone on every call; nil if the zone is not valid.
func (w *ChangeWindow) Location() *time.Location {
	if w == nil {
		return nil
	}
	if w.loc != nil {
		return w.loc
	}
	loc, err := loadZone(w.TimeZone)
	if err != nil {
		return nil
	}
	return loc
}

// String is the window as people write it: "mon,tue 22:00-01:00 Europe/Berlin".
func (w *ChangeWindow) String() string {
	if w == nil {
		return "(none)"
	}
	return strings.Join(w.Days, ",") + " " + w.From + "-" + w.To + " " + w.TimeZone
}

// Open reports whether the public may be switched at t. A nil window is
// always open; a window that does not validate is never open.
func (w *ChangeWindow) Open(t time.Time) bool {
	if w == nil {
		return true
	}
	loc := w.Location()
	from, okFrom := minutes(w.From)
	to, okTo := minutes(w.To)
	days := daySet(w.Days)
	if loc == nil || !okFrom || !okTo || from == to || days == 0 {
		return false
	}
	y, m, d := t.In(loc).Date()
	// The window that contains t started on the local date of t or the day
	// before; the day after covers a clock that fell back across midnight.
	for k := -1; k <= 1; k++ {
		day := time.Date(y, m, d+k, 0, 0, 0, 0, time.UTC) // a calendar date, not an instant
		if days&(1<<day.Weekday()) == 0 {
			continue
		}
		if t.Before(firstAt(day.Add(from), loc)) {
			continue
		}
		end := day.Add(to)
		if to < from {
			end = end.Add(24 * time.Hour) // UTC has no DST: this is the next calendar day
		}
		if t.Before(firstAt(end, loc)) {
			return true
		}
	}
	return false
}

// firstAt returns the first instant at which the clock of loc reads wall
// (given as a UTC time whose fields are the local date and time) or later.
// Within one zone period the clock is instant+offset and rises with the
// instant, so walk the periods from well before wall and take the first one
// whose clock reaches it.
func firstAt(wall time.Time, loc *time.Location) time.Time {
	t := wall.Add(-30 * time.Hour) // offsets lie within ±14h: the clock is still before wall
	for range 16 {
		lt := t.In(loc)
		_, off := lt.Zone()
		_, next := lt.ZoneBounds()
		at := wall.Add(-time.Duration(off) * time.Second)
		if at.Before(t) {
			at = t // the clock jumped past wall when this period began
		}
		if next.IsZero() || at.Before(next) {
			return at
		}
		t = next
	}
	return t
}

// minutes parses "HH:MM" into the time since midnight.
func minutes(s string) (time.Duration, bool) {
	if !hhmm.MatchString(s) {
		return 0, false
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, true
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// daySet returns the listed days as a bit set of time.Weekday.
func daySet(days []string) uint8 {
	var set uint8
	for _, d := range days {
		if wd, ok := weekdays[strings.ToLower(d)]; ok {
			set |= 1 << wd
		}
	}
	return set
}

// loadZone loads an IANA zone; "Local" and "" are refused: the first depends
// on the machine, the second would silently mean UTC.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, errBadZone
	}
	return time.LoadLocation(name)
}
