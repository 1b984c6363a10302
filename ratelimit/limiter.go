package ratelimit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxLimits is the most limits one Limiter composes.
const MaxLimits = 8

// MaxKeyLength bounds the key a store keeps: a longer key (a header value
// an attacker chose, say) is replaced by its SHA-256, so memory per key
// stays bounded whatever the key functions return.
const MaxKeyLength = 128

// hashedPrefix starts the stored form of a hashed key.
const hashedPrefix = "sha256:"

// boundKey returns the form in which a key is stored: the key itself, or
// "sha256:" and the hex SHA-256 of the key when it is longer than
// MaxKeyLength or itself begins with "sha256:". Hashing the keys that
// look hashed keeps the two forms disjoint: a key stored as itself never
// begins with the prefix, so a short key that is literally the stored
// form of a long one ("sha256:<hex>") cannot share its bucket, and two
// keys share a stored form only if SHA-256 collides. Ordinary keys (IP
// addresses, ids) pay one length and one prefix comparison.
func boundKey(k string) string {
	if len(k) <= MaxKeyLength && !strings.HasPrefix(k, hashedPrefix) {
		return k
	}
	h := sha256.Sum256([]byte(k))
	return hashedPrefix + hex.EncodeToString(h[:])
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

// Decision summarises a request against every limit of a Limiter. It is
// small on purpose (48 bytes, returned by value on every request); the
// per-limit results are available through Decide.
type Decision struct {
	Allowed bool
	// Denied is the index of the limit that denied the request with the
	// longest wait (-1 when allowed).
	Denied int
	// RetryAfter is the wait the denying limit asks for (0 when allowed;
	// InfDuration when the cost exceeds that limit's Burst, so that no
	// wait helps).
	RetryAfter time.Duration
	// Closest is the index of the applied limit with the fewest remaining
	// requests (-1 when every key was empty, so no limit applied);
	// Remaining and Reset are that limit's. They feed the RateLimit header.
	Closest   int
	Remaining int64
	Reset     time.Duration
}

// Allow charges cost 1 to each limit, keys[i] naming the key for limit i.
func (l *Limiter) Allow(ctx context.Context, keys ...string) (Decision, error) {
	return l.AllowN(ctx, 1, keys...)
}

// AllowN charges cost to each limit. A key that is "" skips its limit (a
// limit on the user does not apply to an anonymous request).
func (l *Limiter) AllowN(ctx context.Context, cost int64, keys ...string) (Decision, error) {
	if l.mem != nil && len(keys) == 1 && len(l.limits) == 1 && keys[0] != "" && cost >= 1 {
		// The common in-process case: one limit, no buffers, the result
		// passed in registers.
		r := l.mem.decideKey(l.limits[0], boundKey(keys[0]), cost)
		if r.Allowed {
			return Decision{Allowed: true, Denied: -1, Remaining: r.Remaining, Reset: r.Reset}, nil
		}
		return Decision{RetryAfter: r.RetryAfter, Remaining: r.Remaining, Reset: r.Reset}, nil
	}
	return l.allowMany(ctx, cost, keys)
}

// allowMany is AllowN's general path, kept apart so that its buffers do
// not weigh on the fast path's frame.
func (l *Limiter) allowMany(ctx context.Context, cost int64, keys []string) (Decision, error) {
	var res [MaxLimits]Result
	return l.decide(ctx, cost, keys, res[:])
}

// Decide is AllowN that also reports every limit's result: results must
// hold at least one Result per limit, and results[i] receives limit i's
// (a skipped limit reports allowed with its full burst).
func (l *Limiter) Decide(ctx context.Context, cost int64, results []Result, keys ...string) (Decision, error) {
	if len(results) < len(l.limits) {
		return Decision{Denied: -1, Closest: -1}, fmt.Errorf("ratelimit: %d results for %d limits", len(results), len(l.limits))
	}
	return l.decide(ctx, cost, keys, results)
}

func (l *Limiter) decide(ctx context.Context, cost int64, keys []string, out []Result) (d Decision, err error) {
	d.Denied, d.Closest = -1, -1
	if len(keys) != len(l.limits) {
		return d, fmt.Errorf("ratelimit: %d keys for %d limits", len(keys), len(l.limits))
	}
	if cost < 1 {
		return d, errors.New("ratelimit: cost must be at least 1")
	}
	if l.mem != nil {
		// A separate function keeps the buffers on the stack: passing
		// them to an interface method would move them to the heap.
		err = l.decideMem(ctx, cost, keys, out, &d)
	} else {
		err = l.decideStore(ctx, cost, keys, out, &d)
	}
	if err == nil {
		l.summarise(keys, out, &d)
	}
	return d, err
}

// summarise fills Closest, Remaining and Reset from the applied limits.
func (l *Limiter) summarise(keys []string, out []Result, d *Decision) {
	for i := range l.limits {
		if keys[i] == "" {
			continue
		}
		if d.Closest < 0 || out[i].Remaining < out[d.Closest].Remaining {
			d.Closest = i
		}
	}
	if d.Closest >= 0 {
		d.Remaining, d.Reset = out[d.Closest].Remaining, out[d.Closest].Reset
	}
}

func (l *Limiter) decideStore(ctx context.Context, cost int64, keys []string, out []Result, d *Decision) error {
	if l.rds != nil {
		return l.decideRedis(ctx, cost, keys, out, d)
	}
	var reqs [MaxLimits]Request
	var res [MaxLimits]Result
	var at [MaxLimits]int
	n := l.build(cost, keys, out, &reqs, &at)
	if n == 0 {
		d.Allowed = true
		return nil
	}
	ok, err := l.store.Decide(ctx, reqs[:n], res[:n])
	l.finish(ok, err, d, out, res[:n], at[:n])
	return err
}

// decideRedis, decideMem and the generic tail of decideStore differ only
// in the store they call. They are kept as three concrete copies on
// purpose: calling Decide through the Store interface (or a type
// parameter) moves the request buffers to the heap, which the benchmarks
// show as allocations on every decision.
func (l *Limiter) decideRedis(ctx context.Context, cost int64, keys []string, out []Result, d *Decision) error {
	var reqs [MaxLimits]Request
	var res [MaxLimits]Result
	var at [MaxLimits]int
	n := l.build(cost, keys, out, &reqs, &at)
	if n == 0 {
		d.Allowed = true
		return nil
	}
	ok, err := l.rds.Decide(ctx, reqs[:n], res[:n])
	l.finish(ok, err, d, out, res[:n], at[:n])
	return err
}

func (l *Limiter) decideMem(ctx context.Context, cost int64, keys []string, out []Result, d *Decision) error {
	var reqs [MaxLimits]Request
	var res [MaxLimits]Result
	var at [MaxLimits]int
	n := l.build(cost, keys, out, &reqs, &at)
	if n == 0 {
		d.Allowed = true
		return nil
	}
	ok, err := l.mem.Decide(ctx, reqs[:n], res[:n])
	l.finish(ok, err, d, out, res[:n], at[:n])
	return err
}

// build turns keys into requests; an empty key skips its limit.
func (l *Limiter) build(cost int64, keys []string, out []Result, reqs *[MaxLimits]Request, at *[MaxLimits]int) int {
	n := 0
	for i, k := range keys {
		if k == "" {
			out[i] = Result{Allowed: true, Remaining: l.limits[i].Burst}
			continue
		}
		at[n] = i
		reqs[n] = Request{Limit: l.limits[i], Key: boundKey(k), Cost: cost}
		n++
	}
	return n
}

func (l *Limiter) finish(ok bool, err error, d *Decision, out, res []Result, at []int) {
	for j := range res {
		out[at[j]] = res[j]
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
