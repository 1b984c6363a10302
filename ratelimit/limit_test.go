package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// newClock returns the kit's fake clock reading 1 ns, the start the
// tests' arithmetic assumes; inject clk.Nanos as the monotonic clock.
func newClock() *testkit.Clock { return testkit.NewClock(time.Unix(0, 1)) }

func TestLimitValidate(t *testing.T) {
	good := Limit{Name: "ip", Rate: 10, Period: time.Second, Burst: 5}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, l := range map[string]Limit{
		"reject/empty-name":               {Rate: 1, Period: time.Second, Burst: 1},
		"reject/bad-name":                 {Name: "a b", Rate: 1, Period: time.Second, Burst: 1},
		"reject/zero-rate":                {Name: "a", Period: time.Second, Burst: 1},
		"reject/zero-burst":               {Name: "a", Rate: 1, Period: time.Second},
		"reject/tiny-period":              {Name: "a", Rate: 1, Period: time.Microsecond, Burst: 1},
		"reject/algorithm":                {Name: "a", Rate: 1, Period: time.Second, Burst: 1, Algorithm: 9},
		"reject/overflowing-burst-period": {Name: "a", Rate: 1e6, Period: 24 * time.Hour, Burst: 100_000},
	} {
		if l.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestMeterSequence checks both algorithms against hand-computed values.
func TestMeterSequence(t *testing.T) {
	for _, alg := range []Algorithm{TokenBucket, GCRA} {
		t.Run(alg.String(), func(t *testing.T) {
			l := Limit{Name: "x", Algorithm: alg, Rate: 2, Period: time.Second, Burst: 3} // 1 token / 500ms
			var a, b int64
			now := int64(1)
			step := func(cost int64, want bool, wantRemaining int64, wantRetry time.Duration) {
				t.Helper()
				na, nb, r := l.decide(a, b, now, cost)
				if r.Allowed != want || r.Remaining != wantRemaining || r.RetryAfter != wantRetry {
					t.Fatalf("at %s cost %d: %+v, want allowed=%v remaining=%d retry=%s", time.Duration(now), cost, r, want, wantRemaining, wantRetry)
				}
				if r.Allowed {
					a, b = na, nb
				}
			}
			step(1, true, 2, 0)
			step(2, true, 0, 0)
			step(1, false, 0, 500*time.Millisecond)
			now += int64(250 * time.Millisecond)
			step(1, false, 0, 250*time.Millisecond)
			now += int64(250 * time.Millisecond)
			step(1, true, 0, 0)
			now += int64(10 * time.Second) // refills to 3, not more
			step(3, true, 0, 0)
			// Cost 4 > burst 3 can never be allowed, however long it
			// waits (issue 10 item 11): InfDuration, not the 2 s that a
			// fourth token would take but the bucket can never hold.
			step(4, false, 0, InfDuration)
		})
	}
}

// TestTokenBucketAndGCRAAdmitTheSame: for the same rate and burst both
// meters make identical decisions on random traffic.
func TestTokenBucketAndGCRAAdmitTheSame(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		rate := 1 + rng.Int64N(50)
		period := time.Duration(1+rng.Int64N(5000)) * time.Millisecond
		burst := 1 + rng.Int64N(20)
		tb := Limit{Name: "tb", Rate: rate, Period: period, Burst: burst}
		gc := tb
		gc.Algorithm = GCRA
		var ta, tbb, ga, gb int64
		now := int64(1)
		for i := 0; i < 300; i++ {
			now += rng.Int64N(int64(period) / rate * 3)
			cost := 1 + rng.Int64N(3)
			na, nb, r1 := tb.decide(ta, tbb, now, cost)
			ma, mb, r2 := gc.decide(ga, gb, now, cost)
			if r1.Allowed != r2.Allowed || r1.RetryAfter != r2.RetryAfter || r1.Remaining != r2.Remaining {
				t.Fatalf("trial %d step %d (rate %d/%s burst %d cost %d): bucket %+v, gcra %+v", trial, i, rate, period, burst, cost, r1, r2)
			}
			if r1.Allowed {
				ta, tbb, ga, gb = na, nb, ma, mb
				// GCRA state stays bounded by the burst however long the
				// key is busy (it is stored relative to the last update).
				if mb != now || ma > (burst+cost)*int64(period) {
					t.Fatalf("GCRA state unbounded: tat %d epoch %d at %d", ma, mb, now)
				}
			}
		}
	}
}

// TestMemoryExactUnderConcurrency: with an injected clock and many
// goroutines, the admitted count equals burst + rate × elapsed / period
// exactly: never more (no double spending), never fewer (no lost tokens).
func TestMemoryExactUnderConcurrency(t *testing.T) {
	for _, alg := range []Algorithm{TokenBucket, GCRA} {
		t.Run(alg.String(), func(t *testing.T) {
			clk := newClock()
			s := NewMemoryStore(clk.Nanos)
			lim, err := NewLimiter(s, Limit{Name: "k", Algorithm: alg, Rate: 7, Period: 100 * time.Millisecond, Burst: 25})
			if err != nil {
				t.Fatal(err)
			}
			var admitted atomic.Int64
			const workers, steps = 32, 50
			for step := 0; step < steps; step++ {
				var wg sync.WaitGroup
				for w := 0; w < workers; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < 5; i++ {
							if d, _ := lim.Allow(context.Background(), "key"); d.Allowed {
								admitted.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				clk.Add(37 * time.Millisecond)
			}
			elapsed := time.Duration(clk.Nanos() - 1 - int64(37*time.Millisecond)) // the last advance came after the last request
			want := 25 + int64(elapsed)*7/int64(100*time.Millisecond)
			if got := admitted.Load(); got != want {
				t.Fatalf("admitted %d, want exactly %d (burst 25 + 7 per 100ms over %s)", got, want, elapsed)
			}
		})
	}
}

// TestAllOrNothing: a request denied by one limit is charged to none.
func TestAllOrNothing(t *testing.T) {
	clk := newClock()
	s := NewMemoryStore(clk.Nanos)
	lim, _ := NewLimiter(s,
		Limit{Name: "ip", Rate: 1, Period: time.Hour, Burst: 10},
		Limit{Name: "user", Rate: 1, Period: time.Hour, Burst: 2})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if d, _ := lim.Allow(ctx, "1.2.3.4", "alice"); !d.Allowed {
			t.Fatal("denied early")
		}
	}
	for i := 0; i < 5; i++ {
		d, _ := lim.Allow(ctx, "1.2.3.4", "alice")
		if d.Allowed || d.Denied != 1 || d.RetryAfter != time.Hour {
			t.Fatalf("want denial by user: %+v", d)
		}
	}
	// The ip limit was charged only twice: 8 left for other users.
	for i := 0; i < 8; i++ {
		if d, _ := lim.Allow(ctx, "1.2.3.4", fmt.Sprint("user", i)); !d.Allowed {
			t.Fatalf("request %d denied: the ip limit was charged for denied requests", i)
		}
	}
	if d, _ := lim.Allow(ctx, "1.2.3.4", "bob"); d.Allowed || d.Denied != 0 {
		t.Fatalf("ip limit not enforced: %+v", d)
	}
	// An empty key skips its limit.
	if d, _ := lim.Allow(ctx, "5.6.7.8", ""); !d.Allowed {
		t.Fatal("anonymous request denied by the user limit")
	}
}

// TestMemoryBoundAndEviction: a million distinct keys fit under the
// documented bound and are dropped once their buckets refill.
func TestMemoryBoundAndEviction(t *testing.T) {
	if testing.Short() {
		t.Skip("memory test skipped in -short mode")
	}
	clk := newClock()
	s := NewMemoryStore(clk.Nanos)
	lim, _ := NewLimiter(s, Limit{Name: "ip", Rate: 10, Period: time.Second, Burst: 10})
	keys := make([]string, 1_000_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	before := heapInUse()
	ctx := context.Background()
	for _, k := range keys {
		lim.Allow(ctx, k)
	}
	after := heapInUse()
	perKey := float64(after-before) / float64(len(keys))
	if s.Len() != len(keys) {
		t.Fatalf("%d keys held, want %d", s.Len(), len(keys))
	}
	t.Logf("%.0f bytes per key (map entry, state and the store's copy of the key)", perKey)
	if perKey > MemoryBytesPerKey {
		t.Fatalf("%.0f bytes per key, documented bound %d", perKey, MemoryBytesPerKey)
	}
	clk.Add(2 * time.Second) // every bucket refills
	if n := s.Sweep(); n != 0 {
		t.Fatalf("%d keys left after they went idle", n)
	}
}

// TestLongKeysBounded: an attacker-chosen 64 KiB key is stored as its
// hash, and distinct long keys stay distinct.
func TestLongKeysBounded(t *testing.T) {
	s := NewMemoryStore(newClock().Nanos)
	lim, _ := NewLimiter(s, Limit{Name: "h", Rate: 1, Period: time.Hour, Burst: 1})
	ctx := context.Background()
	a := strings.Repeat("a", 65536)
	b := a[:65535] + "b"
	if d, _ := lim.Allow(ctx, a); !d.Allowed {
		t.Fatal("first long key denied")
	}
	if d, _ := lim.Allow(ctx, a); d.Allowed {
		t.Fatal("long key not limited")
	}
	if d, _ := lim.Allow(ctx, b); !d.Allowed {
		t.Fatal("a different long key shares the first one's bucket")
	}
	for i := range s.shards {
		for _, st := range s.shards[i].m {
			if len(st.key) > MaxKeyLength+8 {
				t.Fatalf("stored a %d-byte key", len(st.key))
			}
		}
	}
}
