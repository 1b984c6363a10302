package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// ErrQueueFull is returned by Shaper.Wait when the request would wait
// longer than the shaper's MaxDelay (the queue is full).
var ErrQueueFull = errors.New("ratelimit: shaper queue full")

// Shaper is the leaky bucket as a queue: requests for a key leave at
// exactly Rate per Period, waiting up to MaxDelay for their turn; a
// request that would wait longer is rejected at once. It smooths traffic
// in front of a downstream with a hard ceiling. The queue is virtual: each
// key keeps only its next free slot (no goroutine, no list), so at most
// about MaxDelay×Rate/Period requests wait per key.
//
// Exactly Rate per Period: the n-th slot of a busy key is at its start
// plus ⌈n×Period/Rate⌉, computed by carrying the remainder of Period/Rate
// (no rounding drift, no overflow), so no window of Period holds more than
// Rate releases, even when Period/Rate is not a whole number of
// nanoseconds. A key whose queue has drained starts afresh, which can only
// move later slots later.
//
// Memory is bounded per key and in the number of keys, as in MemoryStore:
// a key longer than MaxKeyLength, or one that begins with "sha256:", is
// kept as its SHA-256 (see Limiter), other keys are copied, so a map slot
// never pins a caller's larger buffer (at most about 250 bytes per key);
// keys whose queue has drained are dropped when the map has doubled since
// the last sweep (amortized O(1) per request).
type Shaper struct {
	step, frac, rate int64 // Period/Rate = step + frac/rate nanoseconds
	maxDelay         time.Duration
	clock            Clock
	sleep            func(context.Context, time.Duration) error

	mu        sync.Mutex
	next      map[string]shaperSlot
	nextSweep int
}

// shaperSlot is a key's next free slot: at ns, plus one when rem > 0 (the
// slot is ns + rem/rate, rounded up).
type shaperSlot struct{ ns, rem int64 }

func (q shaperSlot) at() int64 {
	if q.rem > 0 {
		return q.ns + 1
	}
	return q.ns
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
	if int64(o.Period)/o.Rate <= 0 {
		return nil, fmt.Errorf("ratelimit: shaper rate %d per %s is finer than 1 ns", o.Rate, o.Period)
	}
	s := &Shaper{step: int64(o.Period) / o.Rate, frac: int64(o.Period) % o.Rate, rate: o.Rate,
		maxDelay: o.MaxDelay, clock: o.Clock, sleep: o.Sleep, next: map[string]shaperSlot{}, nextSweep: 1024}
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
	key = boundKey(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	q, ok := s.next[key]
	if !ok || q.at() <= now {
		// A drained queue starts afresh at now: its slots then fall no
		// earlier than the old schedule's (⌈a⌉ + ⌈b⌉ ≥ ⌈a + b⌉), so the
		// Rate per Period bound holds across the restart.
		q = shaperSlot{ns: now}
	}
	wait := time.Duration(q.at() - now)
	if wait > s.maxDelay || q.ns > math.MaxInt64-s.step-1 { // a full queue, or one past int64 (an unbounded MaxDelay)
		return 0, ErrQueueFull
	}
	q.ns += s.step
	if q.rem += s.frac; q.rem >= s.rate { // rem < rate: no overflow
		q.ns++
		q.rem -= s.rate
	}
	if !ok {
		key = strings.Clone(key) // keep no caller's buffer alive
	}
	s.next[key] = q
	if len(s.next) >= s.nextSweep {
		s.sweep(now)
	}
	return wait, nil
}

// sweep drops the keys whose queue has drained (they equal a fresh key)
// and schedules the next sweep for when the map has doubled, so sweeping
// costs O(1) per request however many keys are live.
func (s *Shaper) sweep(now int64) {
	for k, q := range s.next {
		if q.at() <= now {
			delete(s.next, k)
		}
	}
	s.nextSweep = max(1024, 2*len(s.next))
}

// Len returns the number of keys the shaper holds.
func (s *Shaper) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.next)
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
