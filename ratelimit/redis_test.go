package ratelimit

// More tests of RedisStore on a real Redis (RAMPART_TEST_REDIS_URL), beside
// redisstore_test.go: the script against Limit.decide at the edges of the
// exactness bounds and with several limits per call, key expiry and keys
// as data, GCRA exactness under 50 goroutines, metrics and the breaker on
// a closed port. The tests skipped at their top record known defects of
// redisstore.go; remove the t.Skip line with the fix.

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// rtState is one key's state in Limit.decide's units (ns).
type rtState struct{ a, b int64 }

// rtCompare checks one script result against the meter's. The script
// works in µs and rounds waits up to the µs; the meter rounds up to the ns,
// so the script's wait is never shorter and at most 1 µs longer.
func rtCompare(t *testing.T, what string, got, want Result) {
	t.Helper()
	if got.Allowed != want.Allowed || got.Remaining != want.Remaining {
		t.Fatalf("%s: script %+v, meter %+v", what, got, want)
	}
	for _, d := range []time.Duration{got.RetryAfter - want.RetryAfter, got.Reset - want.Reset} {
		if d < 0 || d >= time.Microsecond {
			t.Fatalf("%s: waits differ by more than the µs rounding: script %+v, meter %+v", what, got, want)
		}
	}
}

// TestRedisScriptExactAtBounds replays random traffic, three limits per
// call, through the script (clock overridden) and through Limit.decide
// with all-or-nothing applied in Go, with every limit at the largest Burst
// and Rate checkRedisLimit accepts for its period (1 ms to 24 h): every
// decision, remaining count, retry and reset agree.
func TestRedisScriptExactAtBounds(t *testing.T) {
	c := testRedisClient(t)
	s := NewRedisStore(c, RedisOptions{Prefix: testPrefix(t, c)})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 13))
	var outcomes [2]int
	periods := []time.Duration{time.Millisecond, 7 * time.Millisecond, time.Second, time.Minute, time.Hour, 24 * time.Hour}
	for trial := 0; trial < 24; trial++ {
		var limits [3]*Limit
		for i := range limits {
			p := periods[rng.IntN(len(periods))]
			us := int64(p / time.Microsecond)
			maxBurst, maxRate := min(int64(1e9), maxExact/us), min(int64(1e9), maxExact/(2*us))
			l := &Limit{Name: "b" + strconv.Itoa(i), Algorithm: Algorithm(rng.IntN(2)), Period: p}
			switch rng.IntN(3) { // at the bound, near it, or small
			case 0:
				l.Burst, l.Rate = maxBurst, maxRate
			case 1:
				l.Burst, l.Rate = maxBurst-rng.Int64N(maxBurst), maxRate-rng.Int64N(maxRate)
			default:
				l.Burst, l.Rate = 1+rng.Int64N(5), 1+rng.Int64N(5)
			}
			if err := checkRedisLimit(l); err != nil {
				t.Fatal(err)
			}
			limits[i] = l
		}
		var st [3]rtState
		var seen [2]int // calls denied, allowed
		keys := [3]string{"x" + strconv.Itoa(trial), "y" + strconv.Itoa(trial), "z" + strconv.Itoa(trial)}
		nowUS := int64(1_800_000_000_000_000) // 2027: server clocks are this large
		for step := 0; step < 40; step++ {
			// Steps of up to two emission intervals of the slowest limit,
			// sometimes an idle gap longer than any refill.
			gap := int64(0)
			for _, l := range limits {
				gap = max(gap, 2*int64(l.Period/time.Microsecond)/l.Rate)
			}
			nowUS += rng.Int64N(gap + 2)
			if rng.IntN(10) == 0 {
				nowUS += 25 * 3600 * 1_000_000
			}
			reqs := make([]Request, 3)
			for i, l := range limits {
				// Mostly small costs; sometimes up to the whole burst, so
				// that large buckets are drained and denials compared too
				// (cost ≤ Burst keeps every value below 2^53).
				cost := 1 + rng.Int64N(min(l.Burst, 3))
				if rng.IntN(3) == 0 {
					cost = 1 + rng.Int64N(l.Burst)
				}
				reqs[i] = Request{Limit: l, Key: keys[i], Cost: cost}
			}
			got := make([]Result, 3)
			ok, err := s.eval(ctx, reqs, got, strconv.FormatInt(nowUS, 10))
			if err != nil {
				t.Fatal(err)
			}
			var next [3]rtState
			all := true
			for i, r := range reqs {
				na, nb, want := r.Limit.decide(st[i].a, st[i].b, nowUS*1000, r.Cost)
				next[i] = rtState{na, nb}
				all = all && want.Allowed
				rtCompare(t, "trial "+strconv.Itoa(trial)+" step "+strconv.Itoa(step)+" limit "+r.Limit.Algorithm.String()+" "+
					strconv.FormatInt(r.Limit.Rate, 10)+"/"+r.Limit.Period.String()+" burst "+strconv.FormatInt(r.Limit.Burst, 10), got[i], want)
			}
			if ok != all {
				t.Fatalf("trial %d step %d: script allowed=%v, meter %v", trial, step, ok, all)
			}
			if all {
				st = next
				seen[1]++
			} else {
				seen[0]++
			}
		}
		outcomes[0] += seen[0]
		outcomes[1] += seen[1]
	}
	if outcomes[0] < 100 || outcomes[1] < 100 {
		t.Fatalf("traffic too one-sided to compare: %d denied, %d allowed calls", outcomes[0], outcomes[1])
	}
}

// gcd of two positive integers.
func rtGCD(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// TestRedisScriptReducedUnits shows the script staying exact for limits
// checkRedisLimit rejects today (1e6 per hour, 1e6 per day), when the
// caller divides Rate and Period (µs) by their gcd: the script's
// arithmetic is homogeneous in the credit unit, so (Rate/g, Period/g) meter
// exactly as (Rate, Period) and waits still come out in µs. This is the
// change proposed for RedisStore.params and checkRedisLimit.
func TestRedisScriptReducedUnits(t *testing.T) {
	c := testRedisClient(t)
	prefix := testPrefix(t, c)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 5))
	// Burst for a day is 5e4: Limit.decide overflows when 2 × Burst ×
	// Period (ns) exceeds 2^63 (see the report on Limit.Validate).
	for n, l := range []*Limit{
		{Name: "hour", Algorithm: TokenBucket, Rate: 1e6, Period: time.Hour, Burst: 1e6},
		{Name: "hourg", Algorithm: GCRA, Rate: 1e6, Period: time.Hour, Burst: 1e6},
		{Name: "day", Algorithm: TokenBucket, Rate: 1e6, Period: 24 * time.Hour, Burst: 5e4},
		{Name: "dayg", Algorithm: GCRA, Rate: 1e6, Period: 24 * time.Hour, Burst: 5e4},
	} {
		us := int64(l.Period / time.Microsecond)
		g := rtGCD(us, l.Rate)
		rate, period := l.Rate/g, us/g
		if l.Burst*period >= maxExact || 2*rate*period >= maxExact {
			t.Fatalf("%s: reduced units still too large", l.Name)
		}
		if checkRedisLimit(l) != nil {
			t.Logf("%s: %d per %s rejected by checkRedisLimit today; exact with units reduced by %d", l.Name, l.Rate, l.Period, g)
		}
		key := prefix + "{t}" + l.Name
		var a, b int64
		var seen [2]int
		nowUS := int64(1_800_000_000_000_000)
		for step := 0; step < 300; step++ {
			nowUS += rng.Int64N(3 * us / l.Rate)
			if step%50 == 49 {
				nowUS += us / 3 // a partial refill
			}
			cost := 1 + rng.Int64N(min(l.Burst, 50_000))
			out, err := decideScript.Run(ctx, c, []string{key}, appendParams(nil, l.Algorithm, rate, period, l.Burst, cost), nowUS).Int64Slice()
			if err != nil {
				t.Fatal(err)
			}
			got := Result{Allowed: out[1] == 1, Remaining: out[2], RetryAfter: time.Duration(out[3]) * time.Microsecond, Reset: time.Duration(out[4]) * time.Microsecond}
			na, nb, want := l.decide(a, b, nowUS*1000, cost)
			rtCompare(t, l.Name+" step "+strconv.Itoa(step)+" case "+strconv.Itoa(n), got, want)
			if want.Allowed {
				a, b = na, nb
				seen[1]++
			} else {
				seen[0]++
			}
		}
		if seen[0] < 20 || seen[1] < 20 {
			t.Fatalf("%s: traffic too one-sided to compare: %d denied, %d allowed", l.Name, seen[0], seen[1])
		}
	}
}

// rtKeys lists the Redis keys under prefix.
func rtKeys(t *testing.T, c *redis.Client, prefix string) []string {
	t.Helper()
	var out []string
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRedisKeyExpiryAndDeniedWritesNothing: a charged key expires when its
// bucket is full again (plus the script's 1 s margin), and a call denied by
// one limit writes no key for the others.
func TestRedisKeyExpiryAndDeniedWritesNothing(t *testing.T) {
	c := testRedisClient(t)
	prefix := testPrefix(t, c)
	s := NewRedisStore(c, RedisOptions{Prefix: prefix})
	ctx := context.Background()
	slow := Limit{Name: "slow", Rate: 1, Period: time.Hour, Burst: 1}
	fresh := Limit{Name: "fresh", Rate: 10, Period: time.Second, Burst: 10}
	only := mustLimiter(t, s, slow)
	both := mustLimiter(t, s, slow, fresh)
	d, err := only.Allow(ctx, "k")
	if err != nil || !d.Allowed {
		t.Fatalf("first request: %+v %v", d, err)
	}
	keys := rtKeys(t, c, prefix)
	if len(keys) != 1 {
		t.Fatalf("keys after one decision: %q", keys)
	}
	ttl, err := c.PTTL(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := d.Reset.Round(time.Millisecond) + time.Second
	if ttl <= want-time.Second || ttl > want {
		t.Fatalf("key TTL %s, want at most reset %s + 1 s", ttl, d.Reset)
	}
	if d, err := both.Allow(ctx, "k", "k"); err != nil || d.Allowed || d.Denied != 0 {
		t.Fatalf("want a denial by slow: %+v %v", d, err)
	}
	if keys := rtKeys(t, c, prefix); len(keys) != 1 {
		t.Fatalf("a denied call wrote keys: %q", keys)
	}
}

// rtTag returns a key's Redis Cluster hash tag: what lies between its
// first '{' and the next '}' (the whole key when there is none).
func rtTag(k string) string {
	i := strings.IndexByte(k, '{')
	if i < 0 {
		return k
	}
	j := strings.IndexByte(k[i+1:], '}')
	if j <= 0 {
		return k
	}
	return k[i+1 : i+1+j]
}

// TestRedisKeysAreData: keys are script arguments, never script source:
// quotes, braces, Lua and RESP fragments, NUL and newline bytes are
// metered as ordinary distinct keys, and the keys of one call share one
// hash tag whatever braces the user keys contain.
func TestRedisKeysAreData(t *testing.T) {
	c := testRedisClient(t)
	prefix := testPrefix(t, c)
	ctx := context.Background()
	sentinel := prefix + "sentinel"
	if err := c.Set(ctx, sentinel, "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	lim := mustLimiter(t, NewRedisStore(c, RedisOptions{Prefix: prefix}),
		Limit{Name: "a", Rate: 1, Period: time.Hour, Burst: 2},
		Limit{Name: "b", Rate: 1, Period: time.Hour, Burst: 2},
		Limit{Name: "c", Rate: 1, Period: time.Hour, Burst: 2})
	hostile := []string{
		"']) redis.call('FLUSHALL') --", "]]..redis.call('DEL', KEYS[1])..[[", "{evil}", "}{", "{", "}",
		"\r\n*1\r\n$8\r\nFLUSHALL\r\n", "nul\x00byte", "ключ", "*", "a:b:c", strings.Repeat("{}", 64),
	}
	for i, k := range hostile {
		// Each hostile key is its own bucket in each limit: two allowed,
		// the third denied.
		other := "o" + strconv.Itoa(i)
		for n := 0; n < 3; n++ {
			d, err := lim.Allow(ctx, k, k+other, other+k)
			if err != nil || d.Allowed != (n < 2) {
				t.Fatalf("key %q request %d: %+v %v", k, n, d, err)
			}
		}
	}
	if n, err := c.Exists(ctx, sentinel).Result(); err != nil || n != 1 {
		t.Fatalf("sentinel key gone: %d %v", n, err)
	}
	keys := rtKeys(t, c, prefix+"{")
	if len(keys) != 3*len(hostile) {
		t.Fatalf("%d keys for %d distinct buckets", len(keys), 3*len(hostile))
	}
	// The three keys of a call share one tag: group by tag, three each.
	byTag := map[string]int{}
	for _, k := range keys {
		byTag[rtTag(k)]++
	}
	for tag, n := range byTag {
		if n%3 != 0 {
			t.Fatalf("tag %q holds %d keys: the keys of one call do not share a slot", tag, n)
		}
	}
}

// TestRedisGCRAExactUnderConcurrency: 50 goroutines hammer one GCRA key
// for 500 ms. Measured with the Redis server clock before and after, the
// admitted count is at most Burst + Rate×elapsed/Period (+1 for the
// rounding at the edge) and at least Burst + Rate×(elapsed−slack)/Period.
// The slack, 50 ms of server time, covers the scheduling between the TIME
// calls and the first and last decisions on a loaded machine (with -race):
// the window of decisions is inside the measured one, so only the lower
// bound needs it.
func TestRedisGCRAExactUnderConcurrency(t *testing.T) {
	c := testRedisClient(t)
	// The upper bound is exact (never more than burst + rate × elapsed).
	// The lower bound allows 150 ms without attempts: on a loaded 2-core
	// machine all 50 workers can be descheduled at once, and a GCRA bucket
	// of 10 at 200/s is full again after 50 ms, so such a pause loses
	// admissions that no implementation could make.
	const rate, burst, slackUS = 200, 10, 150_000
	lim := mustLimiter(t, NewRedisStore(c, RedisOptions{Prefix: testPrefix(t, c), Timeout: 5 * time.Second}),
		Limit{Name: "gcra", Algorithm: GCRA, Rate: rate, Period: time.Second, Burst: burst})
	var admitted atomic.Int64
	start := redisNowUS(t, c)
	deadline := time.Now().Add(500 * time.Millisecond)
	var wg sync.WaitGroup
	for w := 0; w < 50; w++ {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				d, err := lim.Allow(context.Background(), "one")
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := redisNowUS(t, c) - start
	maxA := burst + elapsed*rate/1_000_000 + 1
	minA := burst + max(0, elapsed-slackUS)*rate/1_000_000
	if got := admitted.Load(); got < minA || got > maxA {
		t.Fatalf("admitted %d over %d µs of server time; want %d..%d", got, elapsed, minA, maxA)
	}
}

// rtMetric returns the value of a gauge or counter gathered from reg.
func rtMetric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if h := m.GetHistogram(); h != nil { // a histogram: its sample count
			return float64(h.GetSampleCount())
		}
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// TestRedisClosedPortBreakerAndMetrics: a store pointed at a closed port
// (127.0.0.1:1) fails closed, counts each error, opens its breaker after
// BreakerFailures calls and then stops calling Redis; pointed at the real
// Redis it probes after the cool-down, closes the breaker and decides
// there again.
func TestRedisClosedPortBreakerAndMetrics(t *testing.T) {
	real := testRedisClient(t)
	prefix := testPrefix(t, real)
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = down.Close() })
	h := &countHook{}
	down.AddHook(h)
	reg := prometheus.NewRegistry()
	s := NewRedisStore(down, RedisOptions{Prefix: prefix, Registerer: reg, BreakerFailures: 3, BreakerCooldown: 100 * time.Millisecond})
	lim := mustLimiter(t, s, Limit{Name: "closed", Rate: 10, Period: time.Second, Burst: 10})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if d, err := lim.Allow(ctx, "k"); d.Allowed || !errors.Is(err, ErrRedisUnavailable) {
			t.Fatalf("call %d with Redis down: %+v %v", i, d, err)
		}
	}
	if !s.BreakerOpen() || rtMetric(t, reg, "rampart_ratelimit_redis_breaker_open") != 1 {
		t.Fatal("breaker not open after BreakerFailures errors")
	}
	if n := rtMetric(t, reg, "rampart_ratelimit_redis_errors_total"); n != 3 {
		t.Fatalf("errors_total %v, want 3", n)
	}
	calls := h.n.Load()
	for i := 0; i < 100; i++ {
		if d, _ := lim.Allow(ctx, "k"); d.Allowed {
			t.Fatal("fail_closed allowed while the breaker is open")
		}
	}
	if n := h.n.Load() - calls; n != 0 {
		t.Fatalf("%d Redis calls while the breaker is open", n)
	}
	s.c = real // Redis is back
	time.Sleep(150 * time.Millisecond)
	if d, err := lim.Allow(ctx, "k"); err != nil || !d.Allowed {
		t.Fatalf("after recovery: %+v %v", d, err)
	}
	if s.BreakerOpen() || rtMetric(t, reg, "rampart_ratelimit_redis_breaker_open") != 0 {
		t.Fatal("breaker still open after a successful probe")
	}
	// Latency is observed for every round trip (3 failed, 1 probe), never
	// for calls the open breaker kept from Redis.
	if n := rtMetric(t, reg, "rampart_ratelimit_redis_seconds"); n != 4 {
		t.Fatalf("redis_seconds observed %v round trips, want 4", n)
	}
}

// TestRedisComposedLimitIsGlobal: a limit composed after another is still
// one bucket per key. The key name depends only on (limit, key): an
// attacker rotating IPs does not get a fresh user, client or tenant
// bucket each time (a regression test: the key once took its hash tag
// from the call's first key).
func TestRedisComposedLimitIsGlobal(t *testing.T) {
	c := testRedisClient(t)
	lim := mustLimiter(t, NewRedisStore(c, RedisOptions{Prefix: testPrefix(t, c)}),
		Limit{Name: "ip", Rate: 1, Period: time.Hour, Burst: 100},
		Limit{Name: "user", Rate: 1, Period: time.Hour, Burst: 1})
	ctx := context.Background()
	if d, err := lim.Allow(ctx, "192.0.2.1", "alice"); err != nil || !d.Allowed {
		t.Fatalf("first request: %+v %v", d, err)
	}
	for _, ip := range []string{"192.0.2.2", "192.0.2.3", ""} {
		if d, err := lim.Allow(ctx, ip, "alice"); err != nil || d.Allowed || d.Denied != 1 {
			t.Fatalf("alice from %q: want a denial by her user limit (burst 1): %+v %v", ip, d, err)
		}
	}
}

// TestRedisCallerCancelDoesNotTripBreaker: a caller's own cancellation
// (a client that hung up) says nothing about Redis. Counting it
// as a failure let a handful of hung-up clients open the breaker and
// deny all fail-closed traffic (a regression test).
func TestRedisCallerCancelDoesNotTripBreaker(t *testing.T) {
	c := testRedisClient(t)
	s := NewRedisStore(c, RedisOptions{Prefix: testPrefix(t, c)})
	lim := mustLimiter(t, s, Limit{Name: "x", Rate: 1000, Period: time.Second, Burst: 1000})
	for i := 0; i < 10; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _ = lim.Allow(ctx, "k")
	}
	if d, err := lim.Allow(context.Background(), "k"); err != nil || !d.Allowed || s.BreakerOpen() {
		t.Fatalf("after cancelled callers: %+v %v (breaker open %v)", d, err, s.BreakerOpen())
	}
}
