package ratelimit

import "time"

// monoStart is the origin of monoNow.
var monoStart = time.Now()

// monoNow reads the process's monotonic clock in nanoseconds since
// monoStart, plus one so that it is never 0 (0 marks a fresh state).
// time.Since uses the monotonic reading, so wall-clock steps (NTP, a
// suspended laptop's resync) never move it backwards.
func monoNow() int64 { return int64(time.Since(monoStart)) + 1 }

// MonotonicClock reads the process's monotonic clock (never 0, never
// backwards).
func MonotonicClock() Clock { return monoNow }
