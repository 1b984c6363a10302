package ratelimit

import (
	"context"
	"strconv"

	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	crand "crypto/rand"

	"github.com/redis/go-redis/v9"
)

var _ Store = (*RedisStore)(nil)

// testRedisOptions returns fresh options for RAMPART_TEST_REDIS_URL
// (options must not be copied between clients: they carry internal state).
func testRedisOptions(t testing.TB) *redis.Options {
	t.Helper()
	u := os.Getenv("RAMPART_TEST_REDIS_URL")
	if u == "" {
		t.Skip("Redis tests skipped: set RAMPART_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run them")
	}
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func testRedisClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(testRedisOptions(t))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testPrefix(t testing.TB, c *redis.Client) string {
	b := make([]byte, 6)
	_, _ = crand.Read(b)
	p := "rl-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return p
}

func mustLimiter(t testing.TB, s Store, limits ...Limit) *Limiter {
	t.Helper()
	l, err := NewLimiter(s, limits...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestRedisScriptMatchesMeter replays random traffic through the Lua script
// (with its clock overridden) and through Limit.decide: the same
// decisions, remaining counts and waits (to the microsecond).
func TestRedisScriptMatchesMeter(t *testing.T) {
	c := testRedisClient(t)
	s := NewRedisStore(c, RedisOptions{Prefix: testPrefix(t, c)})
	rng := rand.New(rand.NewPCG(7, 9))
	ctx := context.Background()
	for trial := 0; trial < 40; trial++ {
		l := &Limit{Name: "eq", Algorithm: Algorithm(trial % 2), Rate: 1 + rng.Int64N(20), Period: time.Duration(1+rng.Int64N(3000)) * time.Millisecond, Burst: 1 + rng.Int64N(10)}
		key := "k" + string(rune('a'+trial))
		var a, b int64
		nowUS := int64(1_700_000_000_000_000)
		for step := 0; step < 60; step++ {
			nowUS += rng.Int64N(int64(l.Period/time.Microsecond) / l.Rate * 2)
			cost := 1 + rng.Int64N(2)
			req := []Request{{Limit: l, Key: key, Cost: cost}}
			got := make([]Result, 1)
			if _, err := s.eval(ctx, req, got, itoa64(nowUS)); err != nil {
				t.Fatal(err)
			}
			na, nb, want := l.decide(a, b, nowUS*1000, cost)
			if got[0].Allowed != want.Allowed || got[0].Remaining != want.Remaining || absDur(got[0].RetryAfter-want.RetryAfter) >= time.Microsecond {
				t.Fatalf("trial %d step %d (%s %d/%s burst %d cost %d): script %+v, meter %+v", trial, step, l.Algorithm, l.Rate, l.Period, l.Burst, cost, got[0], want)
			}
			if want.Allowed {
				a, b = na, nb
			}
		}
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func redisNowUS(t *testing.T, c *redis.Client) int64 {
	tm, err := c.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMicro()
}

// TestRedisExactAndGlobal: two stores (two "instances") share one global
// limit; under 40 concurrent goroutines the admitted count matches burst +
// rate × elapsed (Redis server time) within one refill step at each edge.
func TestRedisExactAndGlobal(t *testing.T) {
	c := testRedisClient(t)
	prefix := testPrefix(t, c)
	l := Limit{Name: "global", Rate: 100, Period: time.Second, Burst: 20}
	// A generous timeout: this test measures exactness, not latency, on a
	// shared machine.
	a := mustLimiter(t, NewRedisStore(c, RedisOptions{Prefix: prefix, Timeout: 5 * time.Second}), l)
	c2 := testRedisClient(t)
	b := mustLimiter(t, NewRedisStore(c2, RedisOptions{Prefix: prefix, Timeout: 5 * time.Second}), l)
	// Each store's deny cache answers a denied key locally only until its
	// retry time, so it never denies what Redis would allow.
	var admitted atomic.Int64
	start := redisNowUS(t, c)
	deadline := time.Now().Add(400 * time.Millisecond)
	var wg sync.WaitGroup
	for w := 0; w < 40; w++ {
		lim := a
		if w%2 == 1 {
			lim = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				d, err := lim.Allow(context.Background(), "shared")
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	end := redisNowUS(t, c)
	elapsed := end - start
	maxA := 20 + (elapsed*100)/1_000_000 + 1
	minA := 20 + (elapsed*100)/1_000_000 - 2
	if got := admitted.Load(); got > maxA || got < minA {
		t.Fatalf("admitted %d over %d µs of server time; want %d..%d (burst 20 + 100/s, one global limit)", got, elapsed, minA, maxA)
	}
}

func TestRedisAllOrNothing(t *testing.T) {
	c := testRedisClient(t)
	lim := mustLimiter(t, NewRedisStore(c, RedisOptions{Prefix: testPrefix(t, c)}),
		Limit{Name: "ip", Rate: 1, Period: time.Hour, Burst: 5},
		Limit{Name: "user", Rate: 1, Period: time.Hour, Burst: 1})
	ctx := context.Background()
	if d, _ := lim.Allow(ctx, "1.1.1.1", "u"); !d.Allowed {
		t.Fatal("first request denied")
	}
	for i := 0; i < 3; i++ {
		if d, _ := lim.Allow(ctx, "1.1.1.1", "u"); d.Allowed || d.Denied != 1 {
			t.Fatalf("want denial by user: %+v", d)
		}
	}
	for i := 0; i < 4; i++ { // ip was charged once: 4 left
		if d, _ := lim.Allow(ctx, "1.1.1.1", "other"+string(rune('a'+i))); !d.Allowed {
			t.Fatalf("ip limit charged for denied requests (request %d)", i)
		}
	}
}

// countHook counts commands sent to Redis.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestRedisLocalDenyCache: once a key is denied, further requests on it
// are answered without a Redis round trip until its retry time.
func TestRedisLocalDenyCache(t *testing.T) {
	c := testRedisClient(t)
	h := &countHook{}
	c.AddHook(h)
	lim := mustLimiter(t, NewRedisStore(c, RedisOptions{Prefix: testPrefix(t, c)}), Limit{Name: "hot", Rate: 1, Period: time.Hour, Burst: 2})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		lim.Allow(ctx, "attacker")
	}
	before := h.n.Load()
	for i := 0; i < 1000; i++ {
		if d, _ := lim.Allow(ctx, "attacker"); d.Allowed || d.RetryAfter <= 0 {
			t.Fatalf("hot key allowed: %+v", d)
		}
	}
	if n := h.n.Load() - before; n != 0 {
		t.Fatalf("%d Redis commands for a key known to be over its limit", n)
	}
}

// switchDialer fails while down is set, else dials the real address.
type switchDialer struct {
	down atomic.Bool
	addr string
}

func (d *switchDialer) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	if d.down.Load() {
		return nil, errors.New("redis down (test)")
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.addr)
}

// TestRedisFailurePolicies: with Redis unreachable each policy behaves as
// declared, the breaker opens, and when Redis is back decisions resume
// without a restart.
func TestRedisFailurePolicies(t *testing.T) {
	real := testRedisClient(t)
	prefix := testPrefix(t, real)
	sw := &switchDialer{addr: real.Options().Addr}
	newClient := func() *redis.Client {
		o := testRedisOptions(t)
		o.Dialer = sw.dial
		o.MaxRetries = -1
		o.PoolSize = 4
		return redis.NewClient(o)
	}
	c := newClient()
	t.Cleanup(func() { _ = c.Close() })

	limits := []Limit{
		{Name: "closed", Rate: 1000, Period: time.Second, Burst: 1000},
		{Name: "open", Rate: 1000, Period: time.Second, Burst: 1000},
		{Name: "local", Rate: 100, Period: time.Hour, Burst: 100},
		{Name: "local-half", Rate: 100, Period: time.Hour, Burst: 100},
	}
	store := NewRedisStore(c, RedisOptions{Prefix: prefix, LocalShare: 0.05, LocalShares: map[string]float64{"local-half": 0.5},
		BreakerFailures: 3, BreakerCooldown: 100 * time.Millisecond,
		Failure: map[string]FailurePolicy{"closed": FailClosed, "open": FailOpen, "local": FailLocal, "local-half": FailLocal}})
	ctx := context.Background()
	closedL := mustLimiter(t, store, limits[0])
	openL := mustLimiter(t, store, limits[1])
	localL := mustLimiter(t, store, limits[2])
	halfL := mustLimiter(t, store, limits[3])

	if d, err := closedL.Allow(ctx, "k"); err != nil || !d.Allowed {
		t.Fatalf("with Redis up: %+v %v", d, err)
	}
	// Redis goes away: new connections fail, and a fresh client (the old
	// one's pooled connections would still work) replaces the store's.
	sw.down.Store(true)
	_ = c.Close()
	c = newClient()
	t.Cleanup(func() { _ = c.Close() })
	store.c = c

	if d, err := closedL.Allow(ctx, "k"); d.Allowed || !errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("fail_closed with Redis down: %+v %v", d, err)
	}
	if d, err := openL.Allow(ctx, "k"); !d.Allowed || err != nil {
		t.Fatalf("fail_open with Redis down: %+v %v", d, err)
	}
	allowed := 0
	for i := 0; i < 20; i++ {
		if d, err := localL.Allow(ctx, "k"); err == nil && d.Allowed {
			allowed++
		}
	}
	if allowed != 5 { // 5% of a burst of 100
		t.Fatalf("local fallback admitted %d, want 5 (5%% share)", allowed)
	}
	allowed = 0
	for i := 0; i < 80; i++ {
		if d, err := halfL.Allow(ctx, "k"); err == nil && d.Allowed {
			allowed++
		}
	}
	if allowed != 50 { // its own share: half of a burst of 100
		t.Fatalf("local fallback with a per-limit share admitted %d, want 50", allowed)
	}
	if !store.BreakerOpen() {
		t.Fatal("breaker not open after repeated failures")
	}
	sw.down.Store(false)
	time.Sleep(150 * time.Millisecond) // cool-down passes; the next call probes
	if d, err := closedL.Allow(ctx, "k2"); err != nil || !d.Allowed {
		t.Fatalf("after recovery: %+v %v", d, err)
	}
	if store.BreakerOpen() {
		t.Fatal("breaker still open after a successful probe")
	}
}

// TestRedisPausedMidRun: the real Redis is paused (CLIENT PAUSE) during a
// run: calls time out, each policy applies, and decisions go back to Redis
// once the pause ends, without a restart.
func TestRedisPausedMidRun(t *testing.T) {
	for _, ctxTimeouts := range []bool{false, true} {
		t.Run("context_timeouts="+strconv.FormatBool(ctxTimeouts), func(t *testing.T) { pausedMidRun(t, ctxTimeouts) })
	}
}

func pausedMidRun(t *testing.T, ctxTimeouts bool) {
	base := testRedisClient(t)
	o := testRedisOptions(t)
	o.ContextTimeoutEnabled = ctxTimeouts
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	admin := testRedisClient(t)
	store := NewRedisStore(c, RedisOptions{Prefix: testPrefix(t, base), Timeout: 30 * time.Millisecond, BreakerFailures: 2, BreakerCooldown: 50 * time.Millisecond,
		Failure: map[string]FailurePolicy{"open": FailOpen}})
	closedL := mustLimiter(t, store, Limit{Name: "closed", Rate: 1000, Period: time.Second, Burst: 1000})
	openL := mustLimiter(t, store, Limit{Name: "open", Rate: 1000, Period: time.Second, Burst: 1000})
	ctx := context.Background()
	if d, err := closedL.Allow(ctx, "k"); err != nil || !d.Allowed {
		t.Fatalf("before the pause: %+v %v", d, err)
	}
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "400", "ALL").Err(); err != nil {
		t.Skipf("CLIENT PAUSE not available: %v", err)
	}
	if d, err := closedL.Allow(ctx, "k"); d.Allowed || err == nil {
		t.Fatalf("fail_closed while Redis is paused: %+v %v", d, err)
	}
	if d, err := openL.Allow(ctx, "k"); !d.Allowed || err != nil {
		t.Fatalf("fail_open while Redis is paused: %+v %v", d, err)
	}
	time.Sleep(600 * time.Millisecond) // the pause ends
	var d Decision
	var err error
	for i := 0; i < 20; i++ { // the breaker lets a probe through after its cool-down
		if d, err = closedL.Allow(ctx, "k"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || !d.Allowed || store.BreakerOpen() {
		t.Fatalf("after the pause: %+v %v (breaker open %v)", d, err, store.BreakerOpen())
	}
}

// TestRedisLargeRatesAccepted: 1e6 per hour and per day work on Redis
// (rate and period are reduced by their gcd before the script sees them).
func TestRedisLargeRatesAccepted(t *testing.T) {
	c := testRedisClient(t)
	for _, p := range []time.Duration{time.Hour, 24 * time.Hour} {
		lim := mustLimiter(t, NewRedisStore(c, RedisOptions{Prefix: testPrefix(t, c)}), Limit{Name: "big", Rate: 1e6, Period: p, Burst: 50_000})
		d, err := lim.AllowN(context.Background(), 50_000, "k")
		if err != nil || !d.Allowed {
			t.Fatalf("1e6 per %s: %+v %v", p, d, err)
		}
		if d, _ := lim.Allow(context.Background(), "k"); d.Allowed {
			t.Fatalf("1e6 per %s: the burst was not enforced", p)
		}
	}
}
