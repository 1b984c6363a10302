package ratelimit

import (
	"context"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
)

// Request is one limit applied to one key with a cost.
type Request struct {
	Limit *Limit
	Key   string
	Cost  int64
}

// Store decides requests atomically: either every request of the slice is
// allowed and charged, or none is charged (a denied request consumes
// nothing from any of its limits). results receives one Result per
// request.
type Store interface {
	Decide(ctx context.Context, reqs []Request, results []Result) (allowed bool, err error)
}

// Clock returns monotonic time in nanoseconds since an arbitrary origin;
// it must be > 0 and never go backwards.
type Clock func() int64

const memShards = 64

// MemoryBytesPerKey bounds the memory one key costs in a MemoryStore: the
// map slot (an 8-byte hash and a pointer) and the 64-byte entry (limit,
// key header, state, chain link), with Go map overhead at its load factor.
// The store keeps its own copy of the key's bytes, on top: at most
// MaxKeyLength through a Limiter, which stores longer keys as their
// SHA-256. Measured by TestMemoryBoundAndEviction.
const MemoryBytesPerKey = 160

// MemoryStore keeps limit state in process: 64 shards, each a map from
// (limit, key) to a 24-byte state under its own mutex. No goroutine per
// key: a key whose bucket has refilled is in the same state as an unseen
// key, so it is dropped by the next sweep of its shard, which runs when the
// shard has doubled since its last sweep (amortized O(1) per insert).
type MemoryStore struct {
	clock  Clock // nil: the process's monotonic clock, read directly
	seed   maphash.Seed
	shards [memShards]memShard
}

// memState is one key's state. The shard map is keyed by a 64-bit seeded
// hash of (limit, key), computed once per request and also used to pick
// the shard; the entry keeps the limit and key to confirm the match, and
// entries whose hashes collide are chained.
type memState struct {
	limit *Limit
	key   string
	a, b  int64
	full  int64 // when the state equals a fresh key's (evictable)
	next  *memState
}

type memShard struct {
	mu        sync.Mutex
	m         map[uint64]*memState
	nextSweep int
	_         [40]byte // keep shards on separate cache lines
}

// NewMemoryStore returns an in-process store. clock may be nil (the
// monotonic clock).
func NewMemoryStore(clock Clock) *MemoryStore {
	s := &MemoryStore{clock: clock, seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = make(map[uint64]*memState)
		s.shards[i].nextSweep = 1024
	}
	return s
}

// now reads the store's clock. The default monotonic clock is called
// directly (inlined) rather than through a func value: this is on every
// decision's path.
func (s *MemoryStore) now() int64 {
	if s.clock == nil {
		return monoNow()
	}
	return s.clock()
}

// hashOf hashes (limit, key) with the store's random seed, so an attacker
// cannot aim keys at one shard or one map bucket.
func (s *MemoryStore) hashOf(l *Limit, key string) uint64 {
	return maphash.String(s.seed, key) ^ l.salt
}

func shardOf(h uint64) int { return int(h >> 58) } // top 6 bits: 64 shards

// Decide implements Store.
func (s *MemoryStore) Decide(_ context.Context, reqs []Request, results []Result) (bool, error) {
	if len(reqs) == 1 { // the common case: one lock, no sorting
		return s.decideOne(&reqs[0], &results[0]), nil
	}
	now := s.now()
	// Several limits: lock every shard involved, in index order (no
	// deadlock), decide all, charge only if all allow.
	var idx, ord [8]int
	var hs [8]uint64
	hashes := hs[:0]
	shards, order := idx[:0], ord[:0]
	for i := range reqs {
		h := s.hashOf(reqs[i].Limit, reqs[i].Key)
		hashes = append(hashes, h)
		shards = append(shards, shardOf(h))
	}
	order = append(order, shards...)
	slices.Sort(order)
	order = slices.Compact(order)
	for _, i := range order {
		s.shards[i].mu.Lock()
	}
	allowed := true
	for i := range reqs {
		if !s.shards[shards[i]].apply(&reqs[i], hashes[i], now, &results[i], false) {
			allowed = false
		}
	}
	if allowed {
		for i := range reqs {
			s.shards[shards[i]].apply(&reqs[i], hashes[i], now, &results[i], true)
		}
	}
	for _, i := range order {
		s.shards[i].sweepIfDue(now)
		s.shards[i].mu.Unlock()
	}
	return allowed, nil
}

// decideKey is decideOne for the single-limit fast path: the result comes
// back in registers rather than through memory.
func (s *MemoryStore) decideKey(l *Limit, key string, cost int64) (res Result) {
	r := Request{Limit: l, Key: key, Cost: cost}
	s.decideOne(&r, &res)
	return res
}

// decideOne decides a single request under its shard's lock.
func (s *MemoryStore) decideOne(r *Request, res *Result) bool {
	h := s.hashOf(r.Limit, r.Key)
	sh := &s.shards[shardOf(h)]
	sh.mu.Lock()
	now := s.now()
	ok := sh.apply(r, h, now, res, true)
	sh.sweepIfDue(now)
	sh.mu.Unlock()
	return ok
}

// apply decides one request; with commit it stores the new state when the
// request is allowed. States are updated in place, so a known key costs
// one map lookup; only a new key allocates (its 24-byte state).
func (sh *memShard) apply(r *Request, h uint64, now int64, res *Result, commit bool) bool {
	head := sh.m[h]
	st := head
	for st != nil && (st.limit != r.Limit || st.key != r.Key) {
		st = st.next
	}
	var a, b int64
	if st != nil && st.full > now {
		a, b = st.a, st.b
	}
	na, nb, out := r.Limit.decide(a, b, now, r.Cost)
	*res = out
	if commit && out.Allowed {
		full := now + int64(out.Reset)
		if st == nil {
			// A copy of the key: a key sliced from a larger buffer (a
			// request body, a header block) must not keep it alive.
			sh.m[h] = &memState{limit: r.Limit, key: strings.Clone(r.Key), a: na, b: nb, full: full, next: head}
		} else {
			st.a, st.b, st.full = na, nb, full
		}
	}
	return out.Allowed
}

func (sh *memShard) sweepIfDue(now int64) {
	if len(sh.m) < sh.nextSweep {
		return
	}
	sh.sweep(now)
}

// sweep drops refilled states, keeping live ones of a collision chain.
func (sh *memShard) sweep(now int64) {
	for h, st := range sh.m {
		var live *memState
		for e := st; e != nil; {
			next := e.next
			if e.full > now {
				e.next = live
				live = e
			}
			e = next
		}
		if live == nil {
			delete(sh.m, h)
		} else if live != st {
			sh.m[h] = live
		}
	}
	sh.nextSweep = max(1024, 2*len(sh.m))
}

// Sweep drops every key whose bucket has refilled, and returns how many
// keys remain. Calling it is optional (shards sweep themselves as they
// grow); a janitor may call it to return memory after a burst of keys.
func (s *MemoryStore) Sweep() int {
	now := s.now()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.sweep(now)
		for _, st := range sh.m {
			for e := st; e != nil; e = e.next {
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}

// Len returns the number of keys held.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.Lock()
		for _, st := range s.shards[i].m {
			for e := st; e != nil; e = e.next {
				n++
			}
		}
		s.shards[i].mu.Unlock()
	}
	return n
}
