package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis decisions per second, ours beside go-redis/redis_rate on the same
// Redis (RAMPART_TEST_REDIS_URL=... go test -run '^$' -bench Redis
// -benchmem ./ratelimit/). Limits are high so every call reaches Redis.

// benchClient is configured as RedisOptions recommends (context deadlines
// enforced by the client), as Rampart's own client is.
func benchClient(b *testing.B) *redis.Client {
	o := testRedisOptions(b)
	o.ContextTimeoutEnabled = true
	c := redis.NewClient(o)
	b.Cleanup(func() { _ = c.Close() })
	return c
}

func BenchmarkRedisOneLimit(b *testing.B) {
	c := benchClient(b)
	lim := mustLimiter(b, NewRedisStore(c, RedisOptions{Prefix: testPrefix(b, c)}), Limit{Name: "ip", Rate: 1e6, Period: time.Second, Burst: 1e6})
	runRedisBench(b, func(ctx context.Context, i int) bool {
		d, err := lim.Allow(ctx, benchKeys[i&1023])
		return err == nil && d.Allowed
	})
}

func BenchmarkRedisRateOneLimit(b *testing.B) {
	c := benchClient(b)
	rl := redis_rate.NewLimiter(c)
	prefix := testPrefix(b, c)
	limit := redis_rate.Limit{Rate: 1e6, Burst: 1e6, Period: time.Second}
	runRedisBench(b, func(ctx context.Context, i int) bool {
		r, err := rl.Allow(ctx, prefix+benchKeys[i&1023], limit)
		return err == nil && r.Allowed > 0
	})
}

func BenchmarkRedisThreeLimits(b *testing.B) {
	c := benchClient(b)
	lim := mustLimiter(b, NewRedisStore(c, RedisOptions{Prefix: testPrefix(b, c)}),
		Limit{Name: "ip", Rate: 1e6, Period: time.Second, Burst: 1e6},
		Limit{Name: "user", Rate: 1e6, Period: time.Second, Burst: 1e6},
		Limit{Name: "route", Rate: 1e6, Period: time.Second, Burst: 1e6})
	runRedisBench(b, func(ctx context.Context, i int) bool {
		d, err := lim.Allow(ctx, benchKeys[i&1023], "user"+strconv.Itoa(i&255), "GET /api")
		return err == nil && d.Allowed
	})
}

func BenchmarkRedisRateThreeLimits(b *testing.B) {
	c := benchClient(b)
	rl := redis_rate.NewLimiter(c)
	prefix := testPrefix(b, c)
	limit := redis_rate.Limit{Rate: 1e6, Burst: 1e6, Period: time.Second}
	runRedisBench(b, func(ctx context.Context, i int) bool {
		for _, k := range []string{"ip:" + benchKeys[i&1023], "user:user" + strconv.Itoa(i&255), "route:GET /api"} {
			r, err := rl.Allow(ctx, prefix+k, limit)
			if err != nil || r.Allowed == 0 {
				return false
			}
		}
		return true
	})
}

func runRedisBench(b *testing.B, decide func(context.Context, int) bool) {
	ctx := context.Background()
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !decide(ctx, int(seq.Add(1))) {
				b.Error("denied or failed")
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
}
