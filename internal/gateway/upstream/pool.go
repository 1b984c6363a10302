package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoHealthyUpstream is Pick's answer (wrapped with the route's name)
// when no target it may use is up; the proxy answers 503.
var ErrNoHealthyUpstream = errors.New("upstream: no healthy upstream")

// ErrNoTenant is Pick's answer on a sharded route for a request with no
// tenant: the empty string is a tenant like any other to the Sharder, so
// serving it would pool every tenant-less request on one shard. The proxy
// should refuse such a request before it gets here.
var ErrNoTenant = errors.New("upstream: a shuffle-sharded route needs a tenant")

// Target is one upstream of a Pool. URL (normalized: see Validate) is the
// base the proxy's Rewrite passes to SetURL and Origin its
// scheme://host[:port] in jwtauth.NormalizeOrigin form, the aud of the
// identity assertion. Both are shared: callers must not modify them.
type Target struct {
	URL    *url.URL
	Origin string

	pool  *Pool
	index int

	healthy      atomic.Bool  // active checks' verdict; starts true
	ejectedUntil atomic.Int64 // Unix nanoseconds; 0 when not ejected
	failures     atomic.Int32 // consecutive passive failures
	level        atomic.Int32 // ejections without a quiet MaxTime since
	ejections    atomic.Uint64

	mu         sync.Mutex // serializes ejection decisions
	returnedAt int64      // when the last ejection ended (Unix ns)

	passes, fails int // active streaks: only the target's probe touches them
}

// Pool is one route's upstreams with their shared transport, health and
// ejection state. It is safe for concurrent use.
type Pool struct {
	route     string
	targets   []*Target
	sharder   Sharder
	transport *http.Transport
	health    Health
	ejection  Ejection
	logger    *slog.Logger
	clock     func() time.Time

	next        atomic.Uint64
	running     atomic.Bool
	errNone     error
	availableFn func(int) bool
}

// New validates o (as Validate), reads the TLS files and builds the pool
// with every target up: active checks have not run yet, and a target is
// not presumed dead before anything said so. The pool serves at once;
// call Run for active checks.
func New(o Options) (*Pool, error) {
	if err := Validate(o); err != nil {
		return nil, err
	}
	o = withDefaults(o)
	p := &Pool{
		route: o.Route, health: o.Health, ejection: o.Ejection, logger: o.Logger, clock: o.Clock,
		errNone: fmt.Errorf("upstream: route %q: %w", o.Route, ErrNoHealthyUpstream),
	}
	for i, raw := range o.URLs {
		t, err := parseTarget(raw)
		if err != nil { // Validate passed: cannot happen
			return nil, err
		}
		t.pool, t.index = p, i
		t.healthy.Store(true)
		p.targets = append(p.targets, t)
	}
	p.sharder = o.Shard
	p.availableFn = func(i int) bool {
		if i < 0 || i >= len(p.targets) {
			return false
		}
		var now int64
		return p.targets[i].available(&now, p.clock)
	}
	tr, err := newTransport(o, len(p.targets))
	if err != nil {
		return nil, fmt.Errorf("upstream: route %q: %w", o.Route, err)
	}
	p.transport = tr
	return p, nil
}

// Route returns the route's name.
func (p *Pool) Route() string { return p.route }

// Transport returns the pool's shared transport. Every request to the
// route's upstreams, health checks included, goes through it, so
// connections are pooled per route and TLS settings apply alike.
func (p *Pool) Transport() http.RoundTripper { return p.transport }

// Pick returns the target for one request of tenant: round-robin over
// the targets that are up (active checks pass and not ejected); with
// sharding, over the up members of the tenant's shard only
// (gateway.Sharder.ShardFor), never spilling over to another tenant's
// upstreams. When none is up it returns ErrNoHealthyUpstream (wrapped).
//
// # Choice: no panic threshold
//
// Envoy, when too few hosts are healthy (50 % by default), ignores health
// and spreads load over all hosts ("panic mode"). Pick does not: a target
// down by active checks or ejected by its own 5xx/connect failures would
// mostly fail the request anyway, a fast 503 (with Retry-After from the
// proxy) is the honest answer, and with sharding, panic routing to other
// upstreams is exactly the spill-over that would let one tenant take
// down the rest. The case the threshold exists for, hosts not yet
// checked, cannot arise: targets start up and only evidence (Unhealthy
// failed probes, Consecutive failed requests) takes them down.
func (p *Pool) Pick(tenant string) (*Target, error) {
	if p.sharder != nil {
		if tenant == "" {
			return nil, ErrNoTenant
		}
		i, err := p.sharder.ShardFor(tenant, p.availableFn)
		if err != nil || i < 0 || i >= len(p.targets) {
			return nil, p.errNone
		}
		return p.targets[i], nil
	}
	var up uint64
	var now int64
	for i, t := range p.targets {
		if t.available(&now, p.clock) {
			up |= 1 << i
		}
	}
	if up == 0 {
		return nil, p.errNone
	}
	return p.targets[nth(up, int(p.next.Add(1)%uint64(bits.OnesCount64(up))))], nil // #nosec G115 -- below 64
}

// nth returns the index of the j-th set bit of m (j below its count).
func nth(m uint64, j int) int {
	for ; j > 0; j-- {
		m &= m - 1
	}
	return bits.TrailingZeros64(m)
}

// available reports whether t may take a request: healthy by active
// checks and not ejected. *now caches the clock for one Pick, read only
// when some ejection is recorded.
func (t *Target) available(now *int64, clock func() time.Time) bool {
	if !t.healthy.Load() {
		return false
	}
	until := t.ejectedUntil.Load()
	if until == 0 {
		return true
	}
	if *now == 0 {
		*now = clock().UnixNano()
	}
	return *now >= until
}

// TargetStatus is one target's state, for /readyz and metrics.
type TargetStatus struct {
	URL          string
	Healthy      bool      // the active checks' verdict (true before any check)
	EjectedUntil time.Time // zero when not ejected now
	Ejections    uint64    // passive ejections since New
}

// Status returns every target's state, in the order of Options.URLs.
func (p *Pool) Status() []TargetStatus {
	now := p.clock().UnixNano()
	out := make([]TargetStatus, len(p.targets))
	for i, t := range p.targets {
		out[i] = TargetStatus{URL: t.URL.String(), Healthy: t.healthy.Load(), Ejections: t.ejections.Load()}
		if until := t.ejectedUntil.Load(); until > now {
			out[i].EjectedUntil = time.Unix(0, until)
		}
	}
	return out
}

// targetKey is the context key of WithTarget.
type targetKey struct{}

// WithTarget returns ctx carrying t, the target Pick chose for the
// request. The proxy sets it on the inbound request before
// ReverseProxy.ServeHTTP; the outbound request shares the context, so
// Rewrite, ModifyResponse and ErrorHandler all find it with TargetFrom.
func WithTarget(ctx context.Context, t *Target) context.Context {
	return context.WithValue(ctx, targetKey{}, t)
}

// TargetFrom returns the target set by WithTarget, or nil.
func TargetFrom(ctx context.Context) *Target {
	t, _ := ctx.Value(targetKey{}).(*Target)
	return t
}
