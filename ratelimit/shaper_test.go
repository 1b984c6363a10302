package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestShaperConstantRateAndFull: queued requests leave exactly one per
// interval, and the request that would wait beyond MaxDelay is rejected.
func TestShaperConstantRateAndFull(t *testing.T) {
	clk := newFakeClock()
	var mu sync.Mutex
	var releases []int64
	s, err := NewShaper(ShaperOptions{Rate: 10, Period: time.Second, MaxDelay: 450 * time.Millisecond, Clock: clk.read,
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			releases = append(releases, clk.read()+int64(d))
			mu.Unlock()
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var full int
	for i := 0; i < 8; i++ { // a burst of 8 at the same instant
		if _, err := s.Wait(ctx, "db"); errors.Is(err, ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// Slots at 0, 100, ..., 400 ms fit within 450 ms; 3 are rejected.
	if len(releases) != 5 || full != 3 {
		t.Fatalf("%d released, %d rejected; want 5 and 3", len(releases), full)
	}
	for i := 1; i < len(releases); i++ {
		if gap := time.Duration(releases[i] - releases[i-1]); gap != 100*time.Millisecond {
			t.Fatalf("release %d came %s after the previous; want 100ms", i, gap)
		}
	}
	// Once the queue drains, a request goes through at once.
	clk.add(time.Second)
	if d, err := s.Reserve("db"); err != nil || d != 0 {
		t.Fatalf("after draining: wait %s, %v", d, err)
	}
	// Keys are independent.
	if d, err := s.Reserve("other"); err != nil || d != 0 {
		t.Fatalf("other key: %s %v", d, err)
	}
}
