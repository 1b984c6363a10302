package ratelimit

import (
	"context"
	"errors"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestShaperConstantRateAndFull: queued requests leave exactly one per
// interval, and the request that would wait beyond MaxDelay is rejected.
func TestShaperConstantRateAndFull(t *testing.T) {
	clk := newClock()
	var mu sync.Mutex
	var releases []int64
	s, err := NewShaper(ShaperOptions{Rate: 10, Period: time.Second, MaxDelay: 450 * time.Millisecond, Clock: clk.Nanos,
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			releases = append(releases, clk.Nanos()+int64(d))
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
	clk.Add(time.Second)
	if d, err := s.Reserve("db"); err != nil || d != 0 {
		t.Fatalf("after draining: wait %s, %v", d, err)
	}
	// Keys are independent.
	if d, err := s.Reserve("other"); err != nil || d != 0 {
		t.Fatalf("other key: %s %v", d, err)
	}
}

// shaperReleases books n slots for one key at the clock's current time
// and returns their release times (now + wait).
func shaperReleases(t *testing.T, s *Shaper, clk *testkit.Clock, key string, n int) []int64 {
	t.Helper()
	out := make([]int64, 0, n)
	for range n {
		d, err := s.Reserve(key)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, clk.Nanos()+int64(d))
	}
	return out
}

// maxInWindow is the most releases any closed window [x, x+w] holds
// (releases sorted).
func maxInWindow(releases []int64, w int64) int {
	best, j := 0, 0
	for i := range releases {
		for releases[i]-releases[j] > w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// TestShaperExactlyRatePerPeriod is issue 10 item 13: with 3 per second
// the interval is 333,333,333.3 ns, and truncating it let a fourth request
// out 999,999,999 ns after the first. No window of one period may hold
// more than Rate releases, and in the long run exactly Rate leave per
// Period (the n-th at ⌈n × Period / Rate⌉).
func TestShaperExactlyRatePerPeriod(t *testing.T) {
	cases := map[string]struct {
		rate   int64
		period time.Duration
	}{
		"reject/3-per-second":          {3, time.Second},
		"reject/7-per-13ms":            {7, 13 * time.Millisecond},
		"reject/999-per-second":        {999, time.Second},
		"reject/1e9-1-per-1000h":       {1e9 - 1, 1000 * time.Hour}, // Rate × Period overflows int64
		"whole/10-per-second":          {10, time.Second},
		"reject/max-period-rate-three": {3, time.Duration(math.MaxInt64 / 4)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			clk := newClock()
			s, err := NewShaper(ShaperOptions{Rate: c.rate, Period: c.period, MaxDelay: time.Duration(math.MaxInt64), Clock: clk.Nanos})
			if err != nil {
				t.Fatal(err)
			}
			n := int(min(3*c.rate+1, 5000))
			rel := shaperReleases(t, s, clk, "db", n)
			p := int64(c.period)
			if got := maxInWindow(rel, p-1); got > int(c.rate) {
				t.Fatalf("%d releases within %d ns; at most %d per %s", got, p-1, c.rate, c.period)
			}
			start := rel[0]
			for i, r := range rel {
				hi, lo := bits.Mul64(uint64(i), uint64(p))
				q, rem := bits.Div64(hi, lo, uint64(c.rate))
				if rem > 0 {
					q++
				}
				if r-start != int64(q) {
					t.Fatalf("release %d at +%d ns, want +%d (⌈n × Period / Rate⌉)", i, r-start, q)
				}
			}
		})
	}
}

// TestShaperWindowAcrossIdleRestarts: with arrivals at random times (the
// queue draining and restarting between them), no window of one period
// ever holds more than Rate releases.
func TestShaperWindowAcrossIdleRestarts(t *testing.T) {
	for _, c := range []struct {
		rate   int64
		period time.Duration
	}{{3, time.Second}, {7, 13 * time.Millisecond}, {1000, 999_999 * time.Microsecond}} {
		clk := newClock()
		s, _ := NewShaper(ShaperOptions{Rate: c.rate, Period: c.period, MaxDelay: c.period, Clock: clk.Nanos})
		rng := rand.New(rand.NewPCG(uint64(c.rate), 1))
		var rel []int64
		p := int64(c.period)
		for range 20_000 {
			clk.Add(time.Duration(rng.Int64N(2 * p / c.rate)))
			if d, err := s.Reserve("k"); err == nil {
				rel = append(rel, clk.Nanos()+int64(d))
			}
		}
		if got := maxInWindow(rel, p-1); got > int(c.rate) {
			t.Fatalf("%d per %s: %d releases within one period", c.rate, c.period, got)
		}
	}
}

// TestShaperKeysBounded is issue 10 item 12 for the shaper: 2,000
// attacker-chosen keys of 32 KiB retained 62 MiB; they are kept as their
// hashes, short keys are copied (a key sliced from a large buffer does not
// pin it), and drained keys are dropped as the map grows.
func TestShaperKeysBounded(t *testing.T) {
	clk := newClock()
	s, _ := NewShaper(ShaperOptions{Rate: 1, Period: time.Hour, MaxDelay: 0, Clock: clk.Nanos})
	before := heapInUse()
	for i := range 2000 {
		k := strings.Repeat(strconv.Itoa(i%10), 32<<10) + strconv.Itoa(i)
		if _, err := s.Reserve(k); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2000 { // short keys cut from 32 KiB buffers
		buf := strings.Repeat("x", 32<<10) + strconv.Itoa(i)
		if _, err := s.Reserve(buf[len(buf)-12:]); err != nil {
			t.Fatal(err)
		}
	}
	after := heapInUse()
	perKey := float64(int64(after)-int64(before)) / 4000
	t.Logf("%.0f bytes retained per key", perKey)
	if s.Len() != 4000 || perKey > 256 {
		t.Fatalf("%d keys, %.0f bytes per key retained; want 4000 keys within 256 bytes each", s.Len(), perKey)
	}
	// Every queue drains; new keys sweep the map back down.
	clk.Add(2 * time.Hour)
	for i := range 1024 {
		_, _ = s.Reserve("later-" + strconv.Itoa(i))
	}
	if n := s.Len(); n > 1024 {
		t.Fatalf("%d keys held after the first 4000 drained", n)
	}
}

// TestShaperRejectsOverflow: an unbounded MaxDelay cannot push a key's
// slot past int64 (which would wrap and look drained): the queue is full
// first, and every wait handed out is later than the one before.
func TestShaperRejectsOverflow(t *testing.T) {
	clk := newClock()
	s, _ := NewShaper(ShaperOptions{Rate: 1, Period: time.Duration(math.MaxInt64 / 3), MaxDelay: time.Duration(math.MaxInt64), Clock: clk.Nanos})
	last := time.Duration(-1)
	for i := range 10 {
		d, err := s.Reserve("k")
		if errors.Is(err, ErrQueueFull) {
			if i < 2 {
				t.Fatalf("full after %d slots", i)
			}
			return
		}
		if err != nil || d <= last {
			t.Fatalf("slot %d: wait %d after %d (%v)", i, d, last, err)
		}
		last = d
	}
	t.Fatal("ten slots of a third of int64 each were handed out")
}
