package ratelimit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// MaxLimits is the most limits one Limiter composes.
const MaxLimits = 8

// MaxKeyLength bounds the key a store keeps: a longer key (a header value
// an attacker chose, say) is replaced by its SHA-256, so memory per key
// stays bounded whatever the key functions return.
const MaxKeyLength = 128

func boundKey(k string) string {
	if len(k) <= MaxKeyLength {
		return k
	}
	h := sha256.Sum256([]byte(k))
	return "sha256:" + hex.EncodeToString(h[:])
}

// Limiter applies a fixed set of limits together: a request is allowed
// only if every limit allows it, and a denied request is charged to none
// of them (all or nothing).
type Limiter struct {
	limits []*Limit
	store  Store
	mem    *MemoryStore // fast path when the store is in process
	rds    *RedisStore  // concrete call: buffers stay on the stack
}

// NewLimiter composes limits over store. Limit names must be unique.
func NewLimiter(store Store, limits ...Limit) (*Limiter, error) {
	if store == nil {
		return nil, errors.New("ratelimit: nil store")
	}
	if len(limits) == 0 || len(limits) > MaxLimits {
		return nil, fmt.Errorf("ratelimit: a limiter takes 1 to %d limits", MaxLimits)
	}
	l := &Limiter{store: store}
	seen := map[string]bool{}
	var errs []error
	for i := range limits {
		lim := limits[i]
		if err := lim.Validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[lim.Name] {
			errs = append(errs, fmt.Errorf("ratelimit: limit name %q used twice", lim.Name))
		}
		seen[lim.Name] = true
		var salt [8]byte
		_, _ = rand.Read(salt[:]) // crypto/rand never fails (Go 1.24+)
		lim.salt = binary.LittleEndian.Uint64(salt[:])
		lim.capTP = satMul(lim.Burst, int64(lim.Period))
		if lim.Rate > 0 {
			lim.fillTP = lim.capTP/lim.Rate + 1
		}
		l.limits = append(l.limits, &lim)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	l.mem, _ = store.(*MemoryStore)
	l.rds, _ = store.(*RedisStore)
	return l, nil
}

// Limits returns the limiter's limits.
func (l *Limiter) Limits() []Limit {
	out := make([]Limit, len(l.limits))
	for i, p := range l.limits {
		out[i] = *p
	}
	return out
}

// Decision is the outcome of a request against every limit of a Limiter.
type Decision struct {
	Allowed bool
	// Results holds one Result per limit, in the limiter's order.
	Results [MaxLimits]Result
	N       int
	// Denied is the index of the limit that denied the request with the
	// longest wait (-1 when allowed).
	Denied int
	// RetryAfter is the wait the denying limit asks for.
	RetryAfter time.Duration
}

// Allow charges cost 1 to each limit, keys[i] naming the key for limit i.
func (l *Limiter) Allow(ctx context.Context, keys ...string) (Decision, error) {
	return l.AllowN(ctx, 1, keys...)
}

// AllowN charges cost to each limit. A key that is "" skips its limit (a
// limit on the user does not apply to an anonymous request).
func (l *Limiter) AllowN(ctx context.Context, cost int64, keys ...string) (d Decision, err error) {
	// d is the named result: filled in place, never copied.
	d.Denied, d.N = -1, len(l.limits)
	if len(keys) != len(l.limits) {
		return d, fmt.Errorf("ratelimit: %d keys for %d limits", len(keys), len(l.limits))
	}
	if cost < 1 {
		return d, errors.New("ratelimit: cost must be at least 1")
	}
	if l.mem != nil {
		// A separate function keeps the buffers on the stack: passing
		// them to an interface method would move them to the heap.
		err = l.decideMem(ctx, cost, keys, &d)
		return d, err
	}
	// Kept out of AllowN too: its buffers would otherwise be cleared on
	// every call, in-process ones included.
	err = l.decideStore(ctx, cost, keys, &d)
	return d, err
}

func (l *Limiter) decideStore(ctx context.Context, cost int64, keys []string, d *Decision) error {
	if l.rds != nil {
		return l.decideRedis(ctx, cost, keys, d)
	}
	var reqs [MaxLimits]Request
	var res [MaxLimits]Result
	var at [MaxLimits]int
	n := l.build(cost, keys, d, &reqs, &at)
	if n == 0 {
		d.Allowed = true
		return nil
	}
	ok, err := l.store.Decide(ctx, reqs[:n], res[:n])
	l.finish(ok, err, d, res[:n], at[:n])
	return err
}

// decideRedis, decideMemMany and the generic tail of decideStore differ only
// in the store they call. They are kept as three concrete copies on
// purpose: calling Decide through the Store interface (or a type
// parameter) moves the request buffers to the heap, which the benchmarks
// show as allocations on every decision.
func (l *Limiter) decideRedis(ctx context.Context, cost int64, keys []string, d *Decision) error {
	var reqs [MaxLimits]Request
	var res [MaxLimits]Result
	var at [MaxLimits]int
	n := l.build(cost, keys, d, &reqs, &at)
	if n == 0 {
		d.Allowed = true
		return nil
	}
	ok, err := l.rds.Decide(ctx, reqs[:n], res[:n])
	l.finish(ok, err, d, res[:n], at[:n])
	return err
}

func (l *Limiter) decideMem(ctx context.Context, cost int64, keys []string, d *Decision) error {
	if len(keys) == 1 && keys[0] != "" { // one limit: no buffers to clear
		req := Request{Limit: l.limits[0], Key: boundKey(keys[0]), Cost: cost}
		ok := l.mem.decideOne(&req, &d.Results[0])
		d.Allowed = ok
		if !ok {
			d.Denied, d.RetryAfter = 0, d.Results[0].RetryAfter
		}
		return nil
	}
	return l.decideMemMany(ctx, cost, keys, d)
}

func (l *Limiter) decideMemMany(ctx context.Context, cost int64, keys []string, d *Decision) error {
	var reqs [MaxLimits]Request
	var res [MaxLimits]Result
	var at [MaxLimits]int
	n := l.build(cost, keys, d, &reqs, &at)
	if n == 0 {
		d.Allowed = true
		return nil
	}
	ok, err := l.mem.Decide(ctx, reqs[:n], res[:n])
	l.finish(ok, err, d, res[:n], at[:n])
	return err
}

// build turns keys into requests; an empty key skips its limit.
func (l *Limiter) build(cost int64, keys []string, d *Decision, reqs *[MaxLimits]Request, at *[MaxLimits]int) int {
	n := 0
	for i, k := range keys {
		if k == "" {
			d.Results[i] = Result{Allowed: true, Remaining: l.limits[i].Burst}
			continue
		}
		at[n] = i
		reqs[n] = Request{Limit: l.limits[i], Key: boundKey(k), Cost: cost}
		n++
	}
	return n
}

func (l *Limiter) finish(ok bool, err error, d *Decision, res []Result, at []int) {
	for j := range res {
		d.Results[at[j]] = res[j]
	}
	d.Allowed = ok && err == nil
	if !ok {
		for j, r := range res {
			if !r.Allowed && r.RetryAfter >= d.RetryAfter {
				d.RetryAfter, d.Denied = r.RetryAfter, at[j]
			}
		}
	}
}
