package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrQueueFull is returned by Shaper.Wait when the request would wait
// longer than the shaper's MaxDelay (the queue is full).
var ErrQueueFull = errors.New("ratelimit: shaper queue full")

// Shaper is the leaky bucket as a queue: requests for a key leave at a
// constant rate, one every Interval, waiting up to MaxDelay for their turn;
// a request that would wait longer is rejected at once. It smooths traffic
// in front of a downstream with a hard ceiling. The queue is virtual: each
// key keeps only the time of its next free slot (no goroutine, no list),
// so at most MaxDelay/Interval requests wait per key.
type Shaper struct {
	interval time.Duration
	maxDelay time.Duration
	clock    Clock
	sleep    func(context.Context, time.Duration) error

	mu   sync.Mutex
	next map[string]int64 // key -> next free slot
	ops  int
}

// ShaperOptions configures NewShaper. Clock and Sleep are for tests.
type ShaperOptions struct {
	// Rate requests leave per Period.
	Rate   int64
	Period time.Duration
	// MaxDelay is the longest a request may wait (the queue bound).
	MaxDelay time.Duration
	Clock    Clock
	Sleep    func(context.Context, time.Duration) error
}

// NewShaper returns a shaper.
func NewShaper(o ShaperOptions) (*Shaper, error) {
	if o.Rate < 1 || o.Period <= 0 || o.MaxDelay < 0 {
		return nil, fmt.Errorf("ratelimit: shaper needs rate ≥ 1, period > 0 and max delay ≥ 0")
	}
	iv := time.Duration(int64(o.Period) / o.Rate)
	if iv <= 0 {
		return nil, fmt.Errorf("ratelimit: shaper rate %d per %s is finer than 1 ns", o.Rate, o.Period)
	}
	s := &Shaper{interval: iv, maxDelay: o.MaxDelay, clock: o.Clock, sleep: o.Sleep, next: map[string]int64{}}
	if s.clock == nil {
		s.clock = MonotonicClock()
	}
	if s.sleep == nil {
		s.sleep = sleepCtx
	}
	return s, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reserve books the key's next slot and returns how long to wait for it,
// or ErrQueueFull. It does not sleep.
func (s *Shaper) Reserve(key string) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	slot := max(now, s.next[key])
	wait := time.Duration(slot - now)
	if wait > s.maxDelay {
		return 0, ErrQueueFull
	}
	s.next[key] = slot + int64(s.interval)
	if s.ops++; s.ops >= 4096 { // drop keys whose queue drained
		s.ops = 0
		for k, n := range s.next {
			if n <= now {
				delete(s.next, k)
			}
		}
	}
	return wait, nil
}

// Wait books a slot and sleeps until it, returning the time waited. When
// ctx ends first, the slot stays booked (it cannot be handed back without
// reordering the queue) and ctx's error is returned.
func (s *Shaper) Wait(ctx context.Context, key string) (time.Duration, error) {
	d, err := s.Reserve(key)
	if err != nil {
		return 0, err
	}
	return d, s.sleep(ctx, d)
}
