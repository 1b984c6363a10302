package rotation_test

import (
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

// at is a UTC instant of the week of 2026-12-06 (a Sunday).
func at(day time.Weekday, hh, mm int) time.Time {
	return time.Date(2026, 12, 6+int(day), hh, mm, 0, 0, time.UTC)
}

func TestParseWindow(t *testing.T) {
	for _, tc := range []struct {
		in, canon string
	}{
		{"", ""},
		{"02:00-04:00", "02:00-04:00"},
		{"Sat 02:00-04:00", "Sat 02:00-04:00"},
		{"sat 02:00-04:00", "Sat 02:00-04:00"},
		{"Mon-Fri 01:00-03:00", "Mon,Tue,Wed,Thu,Fri 01:00-03:00"},
		{"Fri-Mon 01:00-03:00", "Sun,Mon,Fri,Sat 01:00-03:00"},
		{"Sat,Sun 23:00-01:00", "Sun,Sat 23:00-01:00"},
		{"23:00-01:00", "23:00-01:00"},
		{"22:00-24:00", "22:00-24:00"},
		{"22:00-00:00", "22:00-24:00"},
		{"Sun-Sat 00:00-00:30", "00:00-00:30"},
	} {
		t.Run("accept/"+tc.in, func(t *testing.T) {
			w, err := rotation.ParseWindow(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if w.String() != tc.canon {
				t.Fatalf("String() = %q, want %q", w.String(), tc.canon)
			}
			again, err := rotation.ParseWindow(w.String())
			if err != nil || again != w {
				t.Fatalf("canonical form does not parse back: %v", err)
			}
		})
	}
	for _, in := range []string{
		" ", "02:00", "2:00-4:00", "02:00-04:00 ", " 02:00-04:00", "Sat  02:00-04:00", "Sat 02:00-04:00 x",
		"Satu 02:00-04:00", "Mon- 01:00-02:00", "Mon-Fri-Sat 01:00-02:00", "Sat, 01:00-02:00",
		"24:00-02:00", "02:60-03:00", "25:00-26:00", "02:00-24:01", "02:00-02:00", "00:00-24:00", "00:00-00:00",
		"02:00_04:00", "02:00-04:00-05:00", "٠٢:00-04:00", "Sat 02:00-04:00" + string(make([]byte, 64)),
	} {
		t.Run("reject/"+in, func(t *testing.T) {
			if w, err := rotation.ParseWindow(in); err == nil {
				t.Fatalf("accepted as %q", w)
			}
		})
	}
}

func TestWindowContainsAndNext(t *testing.T) {
	mustWindow := func(s string) rotation.Window {
		w, err := rotation.ParseWindow(s)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	for _, tc := range []struct {
		name, w string
		t       time.Time
		in      bool
		next    time.Time
	}{
		{"any", "", at(time.Wednesday, 13, 37), true, at(time.Wednesday, 13, 37)},
		{"daily/inside-start", "02:00-04:00", at(time.Monday, 2, 0), true, at(time.Monday, 2, 0)},
		{"daily/end-exclusive", "02:00-04:00", at(time.Monday, 4, 0), false, at(time.Tuesday, 2, 0)},
		{"daily/before", "02:00-04:00", at(time.Monday, 1, 59), false, at(time.Monday, 2, 0)},
		{"daily/last-second", "02:00-04:00", at(time.Monday, 3, 59).Add(59 * time.Second), true, at(time.Monday, 3, 59).Add(59 * time.Second)},
		{"weekly/same-day-later", "Sat 02:00-04:00", at(time.Saturday, 5, 0), false, at(time.Saturday, 2, 0).Add(7 * 24 * time.Hour)},
		{"weekly/sunday-to-saturday", "Sat 02:00-04:00", at(time.Sunday, 0, 0), false, at(time.Saturday, 2, 0)},
		{"weekdays/friday-night", "Mon-Fri 01:00-03:00", at(time.Friday, 22, 0), false, at(time.Monday, 1, 0).Add(7 * 24 * time.Hour)},
		{"weekdays/inside", "Mon-Fri 01:00-03:00", at(time.Wednesday, 2, 30), true, at(time.Wednesday, 2, 30)},
		{"wrap/before-midnight", "23:00-01:00", at(time.Tuesday, 23, 30), true, at(time.Tuesday, 23, 30)},
		{"wrap/after-midnight", "23:00-01:00", at(time.Wednesday, 0, 30), true, at(time.Wednesday, 0, 30)},
		{"wrap/end-exclusive", "23:00-01:00", at(time.Wednesday, 1, 0), false, at(time.Wednesday, 23, 0)},
		{"wrap-weekly/sunday-morning", "Sat 23:00-01:00", at(time.Sunday, 0, 59), true, at(time.Sunday, 0, 59)},
		{"wrap-weekly/saturday-morning", "Sat 23:00-01:00", at(time.Saturday, 0, 30), false, at(time.Saturday, 23, 0)},
		{"wrap-weekly/monday-early", "Sun 23:00-01:00", at(time.Monday, 0, 10), true, at(time.Monday, 0, 10)},
		{"to-midnight/last", "22:00-24:00", at(time.Monday, 23, 59), true, at(time.Monday, 23, 59)},
		{"to-midnight/midnight", "Mon 22:00-24:00", at(time.Tuesday, 0, 0), false, at(time.Monday, 22, 0).Add(7 * 24 * time.Hour)},
		{"zone/compared-in-utc", "02:00-04:00", at(time.Monday, 3, 0).In(time.FixedZone("UTC+10", 10*3600)), true, at(time.Monday, 3, 0)},
		{"year-end", "Fri 02:00-04:00", time.Date(2026, 12, 31, 5, 0, 0, 0, time.UTC), false, time.Date(2027, 1, 1, 2, 0, 0, 0, time.UTC)},
		{"leap-day", "02:00-04:00", time.Date(2028, 2, 28, 5, 0, 0, 0, time.UTC), false, time.Date(2028, 2, 29, 2, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := mustWindow(tc.w)
			if got := w.Contains(tc.t); got != tc.in {
				t.Fatalf("Contains(%s) = %v", tc.t, got)
			}
			if got := w.Next(tc.t); !got.Equal(tc.next) {
				t.Fatalf("Next(%s) = %s, want %s", tc.t, got, tc.next)
			}
		})
	}
}

func TestNextDue(t *testing.T) {
	w, _ := rotation.ParseWindow("Sat 02:00-04:00")
	day := 24 * time.Hour
	last := at(time.Saturday, 3, 0)
	for _, tc := range []struct {
		name         string
		every        time.Duration
		w            rotation.Window
		done, failed time.Time
		want         time.Time
	}{
		{"manual-only", 0, w, last, time.Time{}, time.Time{}},
		{"never-rotated/due-at-next-window", 7 * day, w, time.Time{}, time.Time{}, at(time.Saturday, 2, 0)},
		{"never-rotated/due-now", 7 * day, rotation.Window{}, time.Time{}, time.Time{}, at(time.Wednesday, 12, 0)},
		{"weekly/inside-next-window", 7 * day, w, last, time.Time{}, last.Add(7 * day)},
		{"daily/waits-for-window", day, w, last, time.Time{}, at(time.Saturday, 2, 0).Add(7 * day)},
		{"failed/retry-after-an-hour", 7 * day, rotation.Window{}, last, last.Add(8 * day), last.Add(8*day + time.Hour)},
		{"failed/older-than-done", 7 * day, rotation.Window{}, last, last.Add(-day), last.Add(7 * day)},
		{"failed/short-period", 10 * time.Minute, rotation.Window{}, last, last.Add(time.Hour), last.Add(70 * time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rotation.NextDue(tc.every, tc.w, tc.done, tc.failed, at(time.Wednesday, 12, 0)); !got.Equal(tc.want) {
				t.Fatalf("NextDue = %s, want %s", got, tc.want)
			}
		})
	}
}

// FuzzParseWindow: ParseWindow never panics; an accepted window's
// canonical form parses back to it, and Next(t) is inside it, at or after
// t, within a week and a day.
func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"", "02:00-04:00", "Sat 02:00-04:00", "Mon-Fri 01:00-03:00", "23:00-01:00", "Fri-Mon 22:00-24:00", "Sat,Sun 00:00-00:01", "x"} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, s string, sec int64) {
		w, err := rotation.ParseWindow(s)
		if err != nil {
			return
		}
		again, err := rotation.ParseWindow(w.String())
		if err != nil || again != w {
			t.Fatalf("%q: canonical %q does not parse back: %v", s, w.String(), err)
		}
		tm := time.Unix(sec%(1<<40), 0).UTC()
		n := w.Next(tm)
		if n.Before(tm) || n.Sub(tm) > 8*24*time.Hour || !w.Contains(n) {
			t.Fatalf("%q: Next(%s) = %s", s, tm, n)
		}
	})
}
