package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// FailurePolicy says what a limit does when Redis is slow or down.
type FailurePolicy uint8

const (
	// FailClosed denies requests (the default: a limit that protects
	// against abuse must not vanish when Redis does).
	FailClosed FailurePolicy = iota
	// FailOpen allows requests.
	FailOpen
	// FailLocal decides with an in-process limit at LocalShare of the
	// fleet rate (for example 1/number of instances).
	FailLocal
)

func (p FailurePolicy) String() string {
	switch p {
	case FailClosed:
		return "fail_closed"
	case FailOpen:
		return "fail_open"
	case FailLocal:
		return "local"
	}
	return "policy(" + strconv.Itoa(int(p)) + ")"
}

// ErrRedisUnavailable is returned for a fail-closed limit while Redis
// cannot be reached.
var ErrRedisUnavailable = errors.New("ratelimit: redis unavailable")

// RedisOptions configures NewRedisStore. For the lowest overhead create
// the client with ContextTimeoutEnabled, so the timeout is enforced on the
// connection itself.
type RedisOptions struct {
	// Prefix starts every key (default "ratelimit:").
	Prefix string
	// HashTag is the Redis Cluster hash tag of every key (default "rl").
	// One script reads and writes all the limits of a request, so their
	// keys must share a slot: all of a store's state lives in one slot.
	// To spread load over a cluster, give independent limiters separate
	// stores with different tags, or set SpreadKeys.
	HashTag string
	// Timeout bounds one decision's round trip (default 50 ms).
	Timeout time.Duration
	// Failure holds the policy per limit name (default FailClosed).
	// LocalShare is the share of the fleet rate and burst a FailLocal
	// limit keeps in process (default 1: the whole rate; 1/instances
	// keeps the fleet total); LocalShares overrides it per limit name.
	Failure     map[string]FailurePolicy
	LocalShare  float64
	LocalShares map[string]float64
	// SpreadKeys leaves the hash tag out of the keys, so a store's state
	// spreads over every slot of a Redis Cluster instead of living in
	// one. A decision whose limits then fall into different slots runs
	// one script per limit, pipelined, and is made all or nothing by
	// refunding the limits that allowed when another denied (see
	// docs/rate-limiting.md for what that compensation costs). Leave it
	// off on a single Redis: it buys nothing there.
	SpreadKeys bool
	// BreakerFailures consecutive errors open the circuit breaker
	// (default 5); it stays open BreakerCooldown (default 1 s), then one
	// request probes Redis.
	BreakerFailures int
	BreakerCooldown time.Duration
	// DenyCacheSize bounds the local cache of keys known to be over their
	// limit (default 100,000).
	DenyCacheSize int
	Logger        *slog.Logger
	// Registerer receives rampart_ratelimit_redis_seconds (the round
	// trip's latency), rampart_ratelimit_redis_errors_total,
	// rampart_ratelimit_redis_breaker_open,
	// rampart_ratelimit_local_denials_total and
	// rampart_ratelimit_fallback_total{policy}; nil for none.
	Registerer prometheus.Registerer
	// Clock is the local monotonic clock for the deny cache and breaker.
	Clock Clock
}

// RedisStore decides every limit of a request in one Redis round trip:
// one Lua script reads all the keys, decides each limit with the Redis
// server's clock, and writes them only if all allow (all or nothing).
// Keys expire when their bucket would be full again. All keys share the
// store's hash tag, so they live in one Redis Cluster slot (unless
// RedisOptions.SpreadKeys: see redisspread.go).
//
// Arithmetic in the script uses microseconds, because Lua numbers are
// doubles: every value stays below 2^52 when Burst × Period (in µs) does,
// which NewRedisStore checks per limit when it is first used.
type RedisStore struct {
	c        redis.UniversalClient
	o        RedisOptions
	local    *MemoryStore
	localLim sync.Map // *Limit -> *Limit scaled to the local share
	args     sync.Map // *Limit -> *redisParams
	deny     denyCache

	m redisMetrics

	// ctxTimeouts: the client honours context deadlines on the network
	// (go-redis ContextTimeoutEnabled); otherwise Decide enforces the
	// timeout itself.
	ctxTimeouts bool
	dl          deadlines

	mu        sync.Mutex
	fails     int
	openUntil int64
	probing   bool
	open      atomic.Bool
}

// NewRedisStore returns a store on c.
func NewRedisStore(c redis.UniversalClient, o RedisOptions) *RedisStore {
	if o.Prefix == "" {
		o.Prefix = "ratelimit:"
	}
	if o.HashTag == "" || strings.ContainsAny(o.HashTag, "{}") {
		o.HashTag = "rl"
	}
	if o.Timeout <= 0 {
		o.Timeout = 50 * time.Millisecond
	}
	if o.LocalShare <= 0 || o.LocalShare > 1 {
		o.LocalShare = 1
	}
	if o.BreakerFailures <= 0 {
		o.BreakerFailures = 5
	}
	if o.BreakerCooldown <= 0 {
		o.BreakerCooldown = time.Second
	}
	if o.DenyCacheSize <= 0 {
		o.DenyCacheSize = 100_000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	for name, v := range o.LocalShares {
		if !(v > 0 && v <= 1) {
			o.Logger.Warn("rate limiter: local share outside (0, 1] ignored; the store-wide share applies", "limit", name, "share", v)
		}
	}
	if o.Clock == nil {
		o.Clock = MonotonicClock()
	}
	s := &RedisStore{c: c, o: o, local: NewMemoryStore(o.Clock), deny: denyCache{max: o.DenyCacheSize, m: map[denyKey]int64{}}}
	s.m = newRedisMetrics(o.Registerer)
	s.dl.timeout = o.Timeout
	switch cl := c.(type) {
	case *redis.Client:
		s.ctxTimeouts = cl.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		s.ctxTimeouts = cl.Options().ContextTimeoutEnabled
	}
	return s
}

// maxExact bounds every value the script computes: below 2^52, a double
// holds integers exactly and math.floor(x/y) is the exact quotient.
const maxExact = 1 << 52

// reduced returns the limit's rate and period (µs) divided by their
// greatest common divisor. The script only uses their ratio (credit is
// counted in units of period/rate), so 1e6 per day computes like 125 per
// 10.8 s and stays far below 2^52.
func reduced(l *Limit) (rate, us int64) {
	rate, us = l.Rate, int64(l.Period/time.Microsecond)
	a, b := rate, us
	for b != 0 {
		a, b = b, a%b
	}
	if a > 1 {
		rate, us = rate/a, us/a
	}
	return rate, us
}

func checkRedisLimit(l *Limit) error {
	if l.Period < time.Microsecond || int64(l.Period)%1000 != 0 {
		return fmt.Errorf("ratelimit: limit %s: the Redis store needs a period in whole microseconds", l.Name)
	}
	rate, us := reduced(l)
	if l.Burst > maxExact/us || rate > maxExact/(us*2) {
		return fmt.Errorf("ratelimit: limit %s: burst × period (µs) must stay below 2^52 for exact arithmetic in Redis", l.Name)
	}
	return nil
}

// writeKey writes a request's Redis key: the prefix, the store's hash
// tag, the limit name and the key, length-prefixed so no two (name, key)
// pairs collide. The key is the Limiter's stored form (boundKey: the key
// or its "sha256:" hash), so distinct keys never share a Redis key. The key name depends only on (limit, key), never on the
// other limits of the decision: a user's bucket is one key whatever
// address the user comes from.
func (s *RedisStore) writeKey(b *strings.Builder, name, key string) {
	b.WriteString(s.o.Prefix)
	if !s.o.SpreadKeys {
		b.WriteByte('{')
		b.WriteString(s.o.HashTag)
		b.WriteByte('}')
	}
	b.WriteString(name)
	b.WriteByte(':')
	var num [20]byte
	b.Write(strconv.AppendInt(num[:0], int64(len(key)), 10))
	b.WriteByte(':')
	b.WriteString(key)
}

// Decide implements Store.
func (s *RedisStore) Decide(ctx context.Context, reqs []Request, results []Result) (bool, error) {
	for i := range reqs {
		if err := s.params(reqs[i].Limit).err; err != nil {
			return false, err
		}
	}
	// Keys known to be over their limit are answered locally until their
	// retry time: a hot attacker costs Redis nothing.
	now := s.o.Clock()
	if i, wait := s.deny.check(reqs, now); i >= 0 {
		for j := range reqs {
			results[j] = Result{Allowed: true, Remaining: reqs[j].Limit.Burst}
		}
		results[i] = Result{RetryAfter: time.Duration(wait), Reset: time.Duration(wait)}
		s.m.localDenials.Inc()
		return false, nil
	}
	if !s.allowCall(now) {
		return s.fallback(ctx, reqs, results)
	}
	start := monoNow()
	ok, err := s.evalTimeout(ctx, reqs, results)
	s.m.latency.Observe(float64(monoNow()-start) / 1e9)
	if err != nil && ctx.Err() != nil {
		// The caller gave up (a client that hung up): that says nothing
		// about Redis, so the breaker does not count it, but a half-open
		// probe is released for the next caller.
		s.mu.Lock()
		s.probing = false
		s.mu.Unlock()
		return false, ctx.Err()
	}
	s.report(err == nil, s.o.Clock())
	if err != nil {
		s.o.Logger.Warn("rate limiter: redis call failed; applying failure policies", "err", err)
		return s.fallback(ctx, reqs, results)
	}
	if !ok {
		now := s.o.Clock()
		for i := range reqs {
			// Only unit-cost denials are cached: a costlier request's wait
			// is longer than a cheaper one's would be.
			if !results[i].Allowed && results[i].RetryAfter > 0 && reqs[i].Cost == 1 {
				s.deny.add(reqs[i].Limit, reqs[i].Key, now+int64(results[i].RetryAfter))
			}
		}
	}
	return ok, nil
}

// errTimeout is a Redis call that exceeded RedisOptions.Timeout.
var errTimeout = errors.New("ratelimit: redis call timed out")

// evalTimeout runs the script within the store's timeout. go-redis applies
// context deadlines to the network only with ContextTimeoutEnabled; without
// it the call runs in a goroutine and is abandoned at the timeout (its
// results are discarded; the client's own read timeout ends it).
func (s *RedisStore) evalTimeout(ctx context.Context, reqs []Request, results []Result) (bool, error) {
	cctx := &callCtx{Context: ctx, bound: s.dl.bound()}
	if s.ctxTimeouts {
		return s.eval(cctx, reqs, results, "")
	}
	type answer struct {
		ok  bool
		err error
		res []Result
	}
	ch := make(chan answer, 1)
	own := append([]Request(nil), reqs...)
	go func() {
		res := make([]Result, len(own))
		ok, err := s.eval(cctx, own, res, "")
		ch <- answer{ok, err, res}
	}()
	select {
	case a := <-ch:
		copy(results, a.res)
		return a.ok, a.err
	case <-cctx.Done():
		return false, errTimeout
	}
}

// eval runs the script. nowOverride (µs) replaces the server clock in
// tests of the arithmetic; empty in production.
func (s *RedisStore) eval(ctx context.Context, reqs []Request, results []Result, nowOverride string) (bool, error) {
	var override any = noOverride
	if nowOverride != "" {
		override = nowOverride
	}
	if s.o.SpreadKeys && len(reqs) > 1 {
		return s.evalSpread(ctx, reqs, results, override)
	}
	// Every key and the packed parameters go into one string, sliced
	// afterwards: one allocation however many limits.
	var b strings.Builder
	size := paramBytes * len(reqs)
	for i := range reqs {
		size += len(s.o.Prefix) + len(s.o.HashTag) + len(reqs[i].Limit.Name) + len(reqs[i].Key) + 24
	}
	b.Grow(size)
	var ends [MaxLimits + 1]int
	for i := range reqs {
		s.writeKey(&b, reqs[i].Limit.Name, reqs[i].Key)
		ends[i+1] = b.Len()
	}
	var pbuf [paramBytes]byte
	for i := range reqs {
		b.Write(s.packParams(pbuf[:0], &reqs[i]))
	}
	all := b.String()
	keys := make([]string, len(reqs))
	for i := range keys {
		keys[i] = all[ends[i]:ends[i+1]]
	}
	out, err := decideScript.Run(ctx, s.c, keys, all[ends[len(reqs)]:], override).Int64Slice()
	if err != nil {
		return false, err
	}
	if len(out) != 1+4*len(reqs) {
		return false, fmt.Errorf("ratelimit: redis script returned %d values for %d requests", len(out), len(reqs))
	}
	for i := range reqs {
		o := out[1+4*i:]
		results[i] = scriptResult(&reqs[i], o)
	}
	return out[0] == 1, nil
}

// scriptResult converts one request's script answer {allowed, remaining,
// retry µs, reset µs}. A cost outside 1..Burst was sent as Burst+1, which
// the script denied (packParams); no wait lets it pass, so its wait is
// InfDuration, as Limit.decide reports.
func scriptResult(r *Request, o []int64) Result {
	res := Result{Allowed: o[0] == 1, Remaining: o[1], RetryAfter: time.Duration(o[2]) * time.Microsecond, Reset: time.Duration(o[3]) * time.Microsecond}
	if neverAllowed(r) {
		res.Allowed, res.RetryAfter = false, InfDuration
	}
	return res
}

// packParams appends a request's script parameters to b. A cost outside
// 1..Burst can never be met: it is sent as Burst+1, which the script
// always denies and keeps exact ((Burst+1) × period stays below 2^53), and
// a negative cost never reaches the script (it would mint tokens). Decide
// then reports such a request's wait as InfDuration.
func (s *RedisStore) packParams(b []byte, r *Request) []byte {
	p := s.params(r.Limit)
	cost := r.Cost
	if neverAllowed(r) {
		cost = r.Limit.Burst + 1
	}
	return appendParams(b, r.Limit.Algorithm, p.rate, p.us, r.Limit.Burst, cost)
}

// neverAllowed reports whether r's cost is outside 1..Burst (see
// Limit.decide).
func neverAllowed(r *Request) bool { return r.Cost < 1 || r.Cost > r.Limit.Burst }

// noOverride is the empty clock override, boxed once.
var noOverride any = ""

// redisParams is a limit's reduced rate and period (µs), and whether the
// Redis store can decide it exactly; computed once per limit.
type redisParams struct {
	rate, us int64
	err      error
}

func (s *RedisStore) params(l *Limit) *redisParams {
	if v, ok := s.args.Load(l); ok {
		return v.(*redisParams)
	}
	rate, us := reduced(l)
	p := &redisParams{rate: rate, us: us, err: checkRedisLimit(l)}
	v, _ := s.args.LoadOrStore(l, p)
	return v.(*redisParams)
}

// allowCall reports whether the breaker lets a call through.
func (s *RedisStore) allowCall(now int64) bool {
	if !s.open.Load() {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if now < s.openUntil || s.probing {
		return false
	}
	s.probing = true // half open: this call probes
	return true
}

// report records a call's outcome in the breaker and logs transitions.
func (s *RedisStore) report(ok bool, now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		s.m.errors.Inc()
	}
	if ok {
		if s.open.Load() {
			s.o.Logger.Info("rate limiter: redis is back; circuit breaker closed")
			s.m.breaker.Set(0)
		}
		s.fails, s.probing = 0, false
		s.open.Store(false)
		return
	}
	s.fails++
	s.probing = false
	if s.fails >= s.o.BreakerFailures {
		if !s.open.Load() {
			s.o.Logger.Warn("rate limiter: circuit breaker open; redis is not called for the cool-down", "failures", s.fails, "cooldown", s.o.BreakerCooldown)
		}
		s.open.Store(true)
		s.m.breaker.Set(1)
		s.openUntil = now + int64(s.o.BreakerCooldown)
	}
}

// BreakerOpen reports whether the circuit breaker is open.
func (s *RedisStore) BreakerOpen() bool { return s.open.Load() }

// fallback applies each limit's failure policy. FailLocal limits are
// decided together in process; a FailClosed limit denies the request.
func (s *RedisStore) fallback(ctx context.Context, reqs []Request, results []Result) (bool, error) {
	var local []Request
	var at []int
	closed := false
	for i := range reqs {
		r := reqs[i]
		s.m.fallback.WithLabelValues(s.o.Failure[r.Limit.Name].String()).Inc()
		switch s.o.Failure[r.Limit.Name] {
		case FailOpen:
			results[i] = Result{Allowed: true, Remaining: r.Limit.Burst}
		case FailLocal:
			r.Limit = s.localLimit(r.Limit)
			local = append(local, r)
			at = append(at, i)
		default:
			closed = true
			results[i] = Result{RetryAfter: time.Second, Reset: time.Second}
		}
	}
	if closed {
		return false, ErrRedisUnavailable
	}
	if len(local) == 0 {
		return true, nil
	}
	res := make([]Result, len(local))
	ok, err := s.local.Decide(ctx, local, res)
	for j, i := range at {
		results[i] = res[j]
		if res[j].RetryAfter == InfDuration && !neverAllowed(&reqs[i]) {
			// Too costly for the local share only: it may pass once Redis
			// is called again, after the breaker's cool-down.
			results[i].RetryAfter = s.o.BreakerCooldown
		}
	}
	return ok, err
}

// localLimit is l scaled to the local share of the fleet rate.
func (s *RedisStore) localLimit(l *Limit) *Limit {
	if v, ok := s.localLim.Load(l); ok {
		return v.(*Limit)
	}
	share := s.o.LocalShare
	if v, ok := s.o.LocalShares[l.Name]; ok && v > 0 && v <= 1 {
		share = v
	}
	c := *l
	c.Rate = max(1, int64(float64(l.Rate)*share))
	c.Burst = max(1, int64(float64(l.Burst)*share))
	c.capTP = satMul(c.Burst, int64(c.Period))
	c.fillTP = c.capTP/c.Rate + 1
	v, _ := s.localLim.LoadOrStore(l, &c)
	return v.(*Limit)
}

// denyCache remembers keys denied by Redis until their retry time.
type denyCache struct {
	mu  sync.Mutex
	max int
	m   map[denyKey]int64
}

type denyKey struct {
	l   *Limit
	key string
}

// check returns the index of a request that is still denied locally and
// its remaining wait, or -1.
func (d *denyCache) check(reqs []Request, now int64) (int, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.m) == 0 {
		return -1, 0
	}
	for i := range reqs {
		k := denyKey{reqs[i].Limit, reqs[i].Key}
		if until, ok := d.m[k]; ok {
			if until > now {
				return i, until - now
			}
			delete(d.m, k)
		}
	}
	return -1, 0
}

func (d *denyCache) add(l *Limit, key string, until int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.m) >= d.max {
		for k := range d.m { // full: drop an arbitrary entry
			delete(d.m, k)
			break
		}
	}
	d.m[denyKey{l, key}] = until
}

type redisMetrics struct {
	latency              prometheus.Histogram
	errors, localDenials prometheus.Counter
	breaker              prometheus.Gauge
	fallback             *prometheus.CounterVec
}

func newRedisMetrics(reg prometheus.Registerer) redisMetrics {
	m := redisMetrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rampart_ratelimit_redis_seconds",
			Help:    "Latency of the Redis round trip of one rate-limit decision (all its limits), failures included.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25}}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "rampart_ratelimit_redis_errors_total",
			Help: "Rate-limit decisions whose Redis call failed or timed out."}),
		localDenials: prometheus.NewCounter(prometheus.CounterOpts{Name: "rampart_ratelimit_local_denials_total",
			Help: "Requests denied from the local cache of keys over their limit, without a Redis call."}),
		breaker: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rampart_ratelimit_redis_breaker_open",
			Help: "1 while the Redis circuit breaker is open."}),
		fallback: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_ratelimit_fallback_total",
			Help: "Limit decisions made by the failure policy instead of Redis."}, []string{"policy"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.latency, m.errors, m.localDenials, m.breaker, m.fallback} {
			_ = reg.Register(c) // a second store on one registry keeps its own, unregistered
		}
	}
	return m
}
