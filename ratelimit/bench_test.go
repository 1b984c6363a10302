package ratelimit

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sethvargo/go-limiter/memorystore"
	"golang.org/x/time/rate"
)

// In-process Allow against the well-known alternatives, one key per
// request drawn from a fixed set of 1,024 (go test -run '^$' -bench
// 'Memory|XTimeRate|GoLimiter' -benchmem ./ratelimit/). Every limiter
// allows everything (high limits), so all measure the decision, not the
// denial path.

var benchKeys = func() []string {
	k := make([]string, 1024)
	for i := range k {
		k[i] = "10.0." + strconv.Itoa(i>>8) + "." + strconv.Itoa(i&255)
	}
	return k
}()

func ourLimiter(b *testing.B) *Limiter {
	l, err := NewLimiter(NewMemoryStore(nil), Limit{Name: "ip", Rate: 1e9, Period: time.Second, Burst: 1e9})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkMemoryAllow(b *testing.B) {
	l := ourLimiter(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if d, _ := l.Allow(ctx, benchKeys[i&1023]); !d.Allowed {
			b.Fatal("denied")
		}
		i++
	}
}

func BenchmarkMemoryAllowParallel(b *testing.B) {
	l := ourLimiter(b)
	ctx := context.Background()
	var seq atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(7919))
		for pb.Next() {
			if d, _ := l.Allow(ctx, benchKeys[i&1023]); !d.Allowed {
				b.Fatal("denied")
			}
			i++
		}
	})
}

// xRate is the usual x/time/rate pattern: one *rate.Limiter per key in a
// mutex-guarded map.
type xRate struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (x *xRate) allow(key string) bool {
	x.mu.Lock()
	l, ok := x.m[key]
	if !ok {
		l = rate.NewLimiter(rate.Limit(1e9), 1e9)
		x.m[key] = l
	}
	x.mu.Unlock()
	return l.Allow()
}

func BenchmarkXTimeRateAllow(b *testing.B) {
	x := &xRate{m: map[string]*rate.Limiter{}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if !x.allow(benchKeys[i&1023]) {
			b.Fatal("denied")
		}
		i++
	}
}

func BenchmarkXTimeRateAllowParallel(b *testing.B) {
	x := &xRate{m: map[string]*rate.Limiter{}}
	var seq atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(7919))
		for pb.Next() {
			if !x.allow(benchKeys[i&1023]) {
				b.Fatal("denied")
			}
			i++
		}
	})
}

func goLimiter(b *testing.B) func(string) bool {
	store, err := memorystore.New(&memorystore.Config{Tokens: 1_000_000_000, Interval: 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close(context.Background()) })
	ctx := context.Background()
	return func(k string) bool {
		_, _, _, ok, _ := store.Take(ctx, k)
		return ok
	}
}

func BenchmarkGoLimiterAllow(b *testing.B) {
	take := goLimiter(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if !take(benchKeys[i&1023]) {
			b.Fatal("denied")
		}
		i++
	}
}

func BenchmarkGoLimiterAllowParallel(b *testing.B) {
	take := goLimiter(b)
	var seq atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(7919))
		for pb.Next() {
			if !take(benchKeys[i&1023]) {
				b.Fatal("denied")
			}
			i++
		}
	})
}

// BenchmarkMemoryAllowComposed3: three limits (ip, user, route) in one
// all-or-nothing decision.
func BenchmarkMemoryAllowComposed3(b *testing.B) {
	l, err := NewLimiter(NewMemoryStore(nil),
		Limit{Name: "ip", Rate: 1e9, Period: time.Second, Burst: 1e9},
		Limit{Name: "user", Rate: 1e9, Period: time.Second, Burst: 1e9},
		Limit{Name: "route", Rate: 1e9, Period: time.Second, Burst: 1e9})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if d, _ := l.Allow(ctx, benchKeys[i&1023], benchKeys[(i+7)&1023], "GET /api"); !d.Allowed {
			b.Fatal("denied")
		}
		i++
	}
}
