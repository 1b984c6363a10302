package ratelimit

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// hugeCosts are costs no limit can ever allow: just above the burst, the
// 24 h overflow of issue 10 (106,751 × 24 h ≈ 2^63 ns), costs whose product
// with the period overflows int64, and math.MaxInt64.
func hugeCosts(l Limit) map[string]int64 {
	return map[string]int64{
		"reject/burst+1":           l.Burst + 1,
		"reject/24h-overflow":      106_751,
		"reject/24h-overflow+1":    106_752,
		"reject/period-overflow":   math.MaxInt64/int64(l.Period) + 1,
		"reject/period-overflow*2": 2 * (math.MaxInt64/int64(l.Period) + 1),
		"reject/maxint64":          math.MaxInt64,
	}
}

// costLimits are the limits the cost tests run: 10 per hour (no refill
// during a test, so counts are exact even on Redis's real clock) and 10
// per day, each as token bucket and GCRA.
func costLimits() []Limit {
	var out []Limit
	for _, alg := range []Algorithm{TokenBucket, GCRA} {
		out = append(out,
			Limit{Name: "hour-" + alg.String(), Algorithm: alg, Rate: 10, Period: time.Hour, Burst: 10},
			Limit{Name: "day-" + alg.String(), Algorithm: alg, Rate: 10, Period: 24 * time.Hour, Burst: 10})
	}
	return out
}

// TestCostAboveBurstMeter: on both algorithms, from fresh and from used
// state, a cost outside 1..Burst is denied with InfDuration, the state it
// returns is the state it was given, and Remaining and Reset are those of
// the key as it is.
func TestCostAboveBurstMeter(t *testing.T) {
	for _, l := range costLimits() {
		for name, cost := range hugeCosts(l) {
			t.Run(l.Name+"/"+name, func(t *testing.T) {
				checkNever(t, &l, 0, 0, 5, cost, l.Burst)
				// Three unit requests in, then the costly one.
				var a, b int64
				now := int64(time.Second)
				for range 3 {
					var r Result
					a, b, r = l.decide(a, b, now, 1)
					if !r.Allowed {
						t.Fatal("unit request denied")
					}
				}
				checkNever(t, &l, a, b, now, cost, l.Burst-3)
			})
		}
		for _, cost := range []int64{0, -1, math.MinInt64} {
			t.Run(l.Name+"/reject/cost-"+strconv.FormatInt(cost, 10), func(t *testing.T) {
				checkNever(t, &l, 0, 0, 5, cost, l.Burst)
			})
		}
	}
}

func checkNever(t *testing.T, l *Limit, a, b, now, cost, wantRemaining int64) {
	t.Helper()
	na, nb, r := l.decide(a, b, now, cost)
	if r.Allowed || r.RetryAfter != InfDuration || r.Remaining != wantRemaining || r.Reset < 0 {
		t.Fatalf("cost %d: %+v; want denied, RetryAfter InfDuration, Remaining %d", cost, r, wantRemaining)
	}
	if na != a || nb != b {
		t.Fatalf("cost %d changed the state (%d, %d) to (%d, %d)", cost, a, b, na, nb)
	}
}

// costStores are the stores the cost tests run on: in process, Redis with
// the single-slot script and with SpreadKeys, and a Redis store whose
// Redis is down, deciding FailLocal limits in process.
func costStores(t *testing.T) map[string]func(t *testing.T) Store {
	stores := map[string]func(t *testing.T) Store{
		"memory": func(t *testing.T) Store { return NewMemoryStore(newClock().Nanos) },
		"redis-fail-local": func(t *testing.T) Store {
			down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
			t.Cleanup(func() { _ = down.Close() })
			failure := map[string]FailurePolicy{}
			for _, l := range costLimits() {
				failure[l.Name] = FailLocal
			}
			return NewRedisStore(down, RedisOptions{Failure: failure, Timeout: 20 * time.Millisecond, Clock: newClock().Nanos})
		},
	}
	if testing.Short() {
		return stores
	}
	for _, spread := range []bool{false, true} {
		name := "redis"
		if spread {
			name = "redis-spread"
		}
		stores[name] = func(t *testing.T) Store {
			c := testRedisClient(t)
			return NewRedisStore(c, RedisOptions{Prefix: testPrefix(t, c), SpreadKeys: spread})
		}
	}
	return stores
}

// TestCostAboveBurstStores performs issue 10's attack on every store and
// algorithm, alone and composed: after three requests, one of a huge cost
// is denied with InfDuration and charges nothing, and then exactly the
// seven requests left are allowed and the next is limited, as before.
func TestCostAboveBurstStores(t *testing.T) {
	ctx := context.Background()
	for storeName, mk := range costStores(t) {
		for _, l := range costLimits() {
			for costName, cost := range hugeCosts(l) {
				for _, composed := range []bool{false, true} {
					name := storeName + "/" + l.Name + "/" + costName
					if composed {
						name += "/composed"
					}
					t.Run(name, func(t *testing.T) {
						s := mk(t)
						limits := []Limit{l}
						keys := []string{"victim"}
						if composed {
							// A roomy second limit: the costly request is
							// denied by l, and charged to neither.
							limits = append(limits, Limit{Name: "wide", Rate: 1000, Period: time.Hour, Burst: 1000})
							keys = append(keys, "wide-key")
							if rs, ok := s.(*RedisStore); ok && rs.o.Failure != nil {
								rs.o.Failure["wide"] = FailLocal
							}
						}
						lim := mustLimiter(t, s, limits...)
						var res [MaxLimits]Result
						for i := range 3 {
							if d, err := lim.Allow(ctx, keys...); err != nil || !d.Allowed {
								t.Fatalf("request %d: %+v %v", i, d, err)
							}
						}
						d, err := lim.Decide(ctx, cost, res[:], keys...)
						// Denied names a limit that can never allow the cost
						// (the wide one too, once the cost exceeds its burst).
						if err != nil || d.Allowed || d.Denied < 0 || d.RetryAfter != InfDuration || cost <= limits[d.Denied].Burst {
							t.Fatalf("cost %d: %+v %v; want denied by %s with InfDuration", cost, d, err, l.Name)
						}
						if res[0].Allowed || res[0].RetryAfter != InfDuration || res[0].Remaining != 7 || res[0].Reset <= 0 {
							t.Fatalf("cost %d: limit result %+v; want denied, InfDuration, 7 remaining", cost, res[0])
						}
						for i := range 7 {
							if d, err := lim.Allow(ctx, keys...); err != nil || !d.Allowed {
								t.Fatalf("request %d after the costly one: %+v %v", i, d, err)
							}
						}
						d, err = lim.Allow(ctx, keys...)
						if err != nil || d.Allowed || d.Denied != 0 || d.RetryAfter <= 0 || d.RetryAfter == InfDuration {
							t.Fatalf("the 11th request: %+v %v; want denied with a finite wait (the costly request reset the key)", d, err)
						}
						if composed {
							// The wide limit was charged 3 + 7 times, never
							// for the denied requests.
							if _, err := lim.Decide(ctx, 1, res[:], "", "wide-key"); err != nil || res[1].Remaining != 1000-10-1 {
								t.Fatalf("wide limit: %+v %v; want %d remaining", res[1], err, 1000-10-1)
							}
						}
					})
				}
			}
		}
	}
}

// TestRedisFailLocalShareCostIsFinite: a cost within the fleet's burst but
// above the local share's is denied while Redis is down, with the
// breaker's cool-down as its wait (it may pass once Redis is back), not
// InfDuration.
func TestRedisFailLocalShareCostIsFinite(t *testing.T) {
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = down.Close() })
	s := NewRedisStore(down, RedisOptions{Failure: map[string]FailurePolicy{"f": FailLocal}, LocalShare: 0.5,
		BreakerCooldown: 3 * time.Second, Clock: newClock().Nanos})
	lim := mustLimiter(t, s, Limit{Name: "f", Rate: 10, Period: time.Hour, Burst: 10})
	d, err := lim.AllowN(context.Background(), 8, "k")
	if err != nil || d.Allowed || d.RetryAfter != 3*time.Second {
		t.Fatalf("%+v %v; want denied with the 3 s cool-down", d, err)
	}
	if d, _ := lim.AllowN(context.Background(), 11, "k"); d.RetryAfter != InfDuration {
		t.Fatalf("cost above the fleet burst: %+v; want InfDuration", d)
	}
}

// TestStoreRejectsNonPositiveCost: a Store called directly (not through a
// Limiter, which refuses cost < 1) never lets a zero or negative cost mint
// tokens.
func TestStoreRejectsNonPositiveCost(t *testing.T) {
	ctx := context.Background()
	for storeName, mk := range costStores(t) {
		for _, alg := range []Algorithm{TokenBucket, GCRA} {
			t.Run(storeName+"/"+alg.String()+"/reject/negative-cost", func(t *testing.T) {
				s := mk(t)
				lim := mustLimiter(t, s, Limit{Name: "hour-" + alg.String(), Algorithm: alg, Rate: 10, Period: time.Hour, Burst: 10})
				l := lim.limits[0]
				res := make([]Result, 1)
				for i := range 10 {
					if ok, err := s.Decide(ctx, []Request{{Limit: l, Key: "k", Cost: 1}}, res); !ok || err != nil {
						t.Fatalf("request %d: %v %v", i, ok, err)
					}
				}
				for _, c := range []int64{0, -5, math.MinInt64} {
					if ok, err := s.Decide(ctx, []Request{{Limit: l, Key: "k", Cost: c}}, res); ok || err != nil || res[0].RetryAfter != InfDuration {
						t.Fatalf("cost %d: allowed=%v %+v %v", c, ok, res[0], err)
					}
				}
				if ok, _ := s.Decide(ctx, []Request{{Limit: l, Key: "k", Cost: 1}}, res); ok {
					t.Fatal("a negative cost gave tokens back")
				}
			})
		}
	}
}

// TestCeilDivNeverNegative: the token bucket's wait for a need near
// MaxInt64 overflowed x + rate − 1 into a negative RetryAfter.
func TestCeilDivNeverNegative(t *testing.T) {
	for _, c := range []struct{ x, rate, want int64 }{
		{math.MaxInt64, 1e9, math.MaxInt64/int64(1e9) + 1},
		{math.MaxInt64, 7, math.MaxInt64 / 7},
		{math.MaxInt64 - 1, 2, math.MaxInt64 / 2},
		{10, 3, 4}, {9, 3, 3}, {0, 5, 0}, {-4, 5, 0},
	} {
		if got := ceilDiv(c.x, c.rate); int64(got) != c.want {
			t.Errorf("ceilDiv(%d, %d) = %d, want %d", c.x, c.rate, got, c.want)
		}
	}
	if got := retrySeconds(InfDuration); got <= 0 {
		t.Errorf("retrySeconds(InfDuration) = %d", got)
	}
}

// TestMiddlewareHugeCostAttack is issue 10's attack through a listener: a
// GCRA limit of 10 per minute, the cost taken from ?items=. Before the
// fix, items=9223372036854775807 was admitted and reset the key, and ten
// more requests passed every round.
func TestMiddlewareHugeCostAttack(t *testing.T) {
	for _, alg := range []Algorithm{GCRA, TokenBucket} {
		t.Run(alg.String(), func(t *testing.T) {
			clk := newClock()
			lim := mustLimiter(t, NewMemoryStore(clk.Nanos), Limit{Name: "items", Algorithm: alg, Rate: 10, Period: time.Minute, Burst: 10})
			mw, err := Middleware(lim, MiddlewareOptions{Keys: []KeyFunc{ClientIPKey(nil)}, Cost: func(r *http.Request) int64 {
				n, _ := strconv.ParseInt(r.URL.Query().Get("items"), 10, 64)
				return n
			}})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })))
			defer srv.Close()
			get := func(q string) *http.Response {
				t.Helper()
				resp, err := srv.Client().Get(srv.URL + "/export" + q)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				return resp
			}
			admitted := 0
			for round := range 3 {
				resp := get("?items=9223372036854775807")
				if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "" {
					t.Fatalf("round %d: huge cost answered %d, Retry-After %q; want 429 without Retry-After", round, resp.StatusCode, resp.Header.Get("Retry-After"))
				}
				for range 12 {
					if get("").StatusCode == 204 {
						admitted++
					}
				}
			}
			if admitted != 10 {
				t.Fatalf("%d requests admitted in three rounds at one instant; the burst is 10", admitted)
			}
			resp, err := srv.Client().Get(srv.URL + "/export?items=11")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p struct{ Status int }
			if json.NewDecoder(resp.Body).Decode(&p) != nil || p.Status != 429 || resp.Header.Get("RateLimit") == "" {
				t.Fatalf("problem body %+v, RateLimit %q", p, resp.Header.Get("RateLimit"))
			}
		})
	}
}

// FuzzDecideAnyCost: for any cost (math.MaxInt64 and negatives included)
// and any sequence of requests, the meter never admits more than the
// burst plus what the elapsed time refilled, never leaves a negative
// Remaining or wait, and denies exactly the costs outside 1..Burst with
// InfDuration. (Stores keep the state of a denied request, as here.)
func FuzzDecideAnyCost(f *testing.F) {
	f.Add(int64(10), int64(60_000), int64(10), uint8(1), int64(math.MaxInt64), int64(1), int64(5), int64(1000))
	f.Add(int64(10), int64(86_400_000), int64(10), uint8(1), int64(106_751), int64(10), int64(1), int64(0))
	f.Add(int64(3), int64(1000), int64(3), uint8(0), int64(-1), int64(4), int64(3), int64(1))
	f.Fuzz(func(t *testing.T, rate, periodMs, burst int64, alg uint8, c1, c2, c3, dtMs int64) {
		l := Limit{Name: "f", Algorithm: Algorithm(alg % 2), Rate: rate, Period: time.Duration(periodMs) * time.Millisecond, Burst: burst}
		if l.Validate() != nil || dtMs < 0 || dtMs > 1e9 {
			return
		}
		var a, b int64
		now := int64(time.Hour)
		start, admitted := now, big.NewInt(0)
		for i, cost := range []int64{c1, c2, c3, c1, c2, c3} {
			na, nb, r := l.decide(a, b, now, cost)
			if r.RetryAfter < 0 || r.Reset < 0 || r.Remaining < 0 {
				t.Fatalf("step %d cost %d: negative values %+v", i, cost, r)
			}
			if r.Allowed {
				if cost < 1 || cost > burst {
					t.Fatalf("step %d: cost %d admitted with burst %d", i, cost, burst)
				}
				admitted.Add(admitted, big.NewInt(cost))
				a, b = na, nb
			} else if (cost < 1 || cost > burst) != (r.RetryAfter == InfDuration) {
				t.Fatalf("step %d cost %d burst %d: RetryAfter %d", i, cost, burst, r.RetryAfter)
			}
			// Bound: burst + ⌊rate × elapsed / period⌋.
			bound := new(big.Int).Mul(big.NewInt(rate), big.NewInt(now-start))
			bound.Quo(bound, big.NewInt(int64(l.Period)))
			bound.Add(bound, big.NewInt(burst))
			if admitted.Cmp(bound) > 0 {
				t.Fatalf("step %d: admitted %s, bound %s", i, admitted, bound)
			}
			now += dtMs * int64(time.Millisecond)
		}
	})
}
