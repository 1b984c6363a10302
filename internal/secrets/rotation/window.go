package rotation

import (
	"fmt"
	"strings"
	"time"
)

// Window is a weekly UTC window for scheduled rotations: a set of days
// and a time span that starts on one of them and may run past midnight
// ("23:00-01:00" starting Saturday ends Sunday 01:00). The zero Window is
// any time. UTC has no daylight-saving jumps, so every day is 24 hours
// and a window means the same instants all year.
type Window struct {
	days       uint8 // bit d: time.Weekday d; 0 for the zero (any time) window
	start, end time.Duration
	spec       string
}

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

const allDays = 1<<7 - 1

// maxWindowSpec bounds the text ParseWindow reads.
const maxWindowSpec = 64

// ParseWindow parses a window: "" (any time), "HH:MM-HH:MM" (daily),
// "DAY HH:MM-HH:MM" or "DAY-DAY HH:MM-HH:MM" (days Sun..Sat, a range may
// wrap: "Fri-Mon"), or a comma list of those days ("Sat,Sun 02:00-04:00").
// Times are UTC, 00:00 to 23:59 (an end of 24:00 is midnight); a start
// after the end wraps past midnight; start equal to end is refused (empty
// or the whole day: ambiguous, say "" for any time).
func ParseWindow(s string) (Window, error) {
	if s == "" {
		return Window{}, nil
	}
	if len(s) > maxWindowSpec {
		return Window{}, fmt.Errorf("rotation: window is longer than %d characters", maxWindowSpec)
	}
	f := strings.Split(s, " ")
	w := Window{days: allDays}
	switch len(f) {
	case 1:
	case 2:
		d, err := parseDays(f[0])
		if err != nil {
			return Window{}, fmt.Errorf("rotation: window %q: %w", s, err)
		}
		w.days = d
		f = f[1:]
	default:
		return Window{}, fmt.Errorf("rotation: window %q: want [DAYS ]HH:MM-HH:MM, e.g. \"Sat 02:00-04:00\"", s)
	}
	a, b, ok := strings.Cut(f[0], "-")
	if !ok {
		return Window{}, fmt.Errorf("rotation: window %q: want a time span HH:MM-HH:MM", s)
	}
	var err error
	if w.start, err = parseClock(a, false); err != nil {
		return Window{}, fmt.Errorf("rotation: window %q: %w", s, err)
	}
	if w.end, err = parseClock(b, true); err != nil {
		return Window{}, fmt.Errorf("rotation: window %q: %w", s, err)
	}
	if w.start == w.end || (w.start == 0 && w.end == 24*time.Hour) {
		return Window{}, fmt.Errorf("rotation: window %q: the span is empty or the whole day; omit the window for any time", s)
	}
	if w.end == 24*time.Hour {
		w.end = 0
	}
	w.spec = w.format()
	return w, nil
}

func parseDays(s string) (uint8, error) {
	var set uint8
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, err := parseDay(a)
		if err != nil {
			return 0, err
		}
		to := from
		if isRange {
			if to, err = parseDay(b); err != nil {
				return 0, err
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			set |= 1 << d
			if d == to {
				break
			}
		}
	}
	return set, nil
}

func parseDay(s string) (int, error) {
	for i, n := range dayNames {
		if strings.EqualFold(s, n) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%q is not a day (Sun, Mon, Tue, Wed, Thu, Fri, Sat)", s)
}

// parseClock parses HH:MM (two digits each); 24:00 only as an end.
func parseClock(s string, end bool) (time.Duration, error) {
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return 0, fmt.Errorf("%q is not a time HH:MM", s)
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, fmt.Errorf("%q is not a time from 00:00 to 23:59", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String returns the window in canonical form ("" for any time); it
// parses back to the same window.
func (w Window) String() string { return w.spec }

// Any reports whether the window is any time.
func (w Window) Any() bool { return w.days == 0 }

func (w Window) format() string {
	span := fmtClock(w.start) + "-" + fmtClock(w.end)
	if w.end == 0 {
		span = fmtClock(w.start) + "-24:00"
	}
	if w.days == allDays {
		return span
	}
	var days []string
	for d := range 7 {
		if w.days&(1<<d) != 0 {
			days = append(days, dayNames[d])
		}
	}
	return strings.Join(days, ",") + " " + span
}

func fmtClock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// Contains reports whether t (in any zone; compared in UTC) is inside
// the window: on a day of the window from start, up to end that day or,
// for a span past midnight, the next.
func (w Window) Contains(t time.Time) bool {
	if w.Any() {
		return true
	}
	t = t.UTC()
	day := t.Truncate(24 * time.Hour) // Unix days are UTC days
	tod := t.Sub(day)
	wd := t.Weekday()
	on := func(d time.Weekday) bool { return w.days&(1<<d) != 0 }
	if w.end == 0 || w.start < w.end {
		end := w.end
		if end == 0 {
			end = 24 * time.Hour
		}
		return on(wd) && tod >= w.start && tod < end
	}
	return (on(wd) && tod >= w.start) || (on((wd+6)%7) && tod < w.end)
}

// Next returns the first instant at or after t inside the window (t
// itself when inside), in UTC.
func (w Window) Next(t time.Time) time.Time {
	t = t.UTC()
	if w.Contains(t) {
		return t
	}
	day := t.Truncate(24 * time.Hour)
	for i := range 8 {
		s := day.Add(time.Duration(i)*24*time.Hour + w.start)
		if s.Before(t) || w.days&(1<<s.Weekday()) == 0 {
			continue
		}
		return s
	}
	return t // unreachable: a non-empty day set has a start within 8 days
}
