package testkit

import (
	"sync/atomic"
	"time"
)

// Clock is a fake clock that moves only when a test moves it. It is safe
// for concurrent use: the code under test may read it while the test
// advances it. The zero value is not usable; call NewClock.
type Clock struct {
	start      time.Time
	startNanos int64
	off        atomic.Int64 // nanoseconds past start
}

// NewClock returns a clock that reads start until it is moved.
func NewClock(start time.Time) *Clock {
	return &Clock{start: start, startNanos: start.UnixNano()}
}

// Now returns the clock's time, in start's location. Pass the method value
// (c.Now) where a func() time.Time is injected.
func (c *Clock) Now() time.Time { return c.start.Add(time.Duration(c.off.Load())) }

// Nanos returns the clock's time as nanoseconds since the Unix epoch. Pass
// the method value (c.Nanos) where an int64-nanosecond clock is injected
// (ratelimit's monotonic clock).
func (c *Clock) Nanos() int64 { return c.startNanos + c.off.Load() }

// Add moves the clock by d (backwards when d is negative).
func (c *Clock) Add(d time.Duration) { c.off.Add(int64(d)) }

// Set moves the clock to t, which must lie within about 292 years of the
// start (time.Duration's range); Now keeps start's location.
func (c *Clock) Set(t time.Time) { c.off.Store(int64(t.Sub(c.start))) }
