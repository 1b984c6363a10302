package ratelimit

import "time"

// MonotonicClock reads the process's monotonic clock (time.Since of a
// fixed start; the result is never 0).
func MonotonicClock() Clock {
	start := time.Now()
	return func() int64 { return int64(time.Since(start)) + 1 }
}
