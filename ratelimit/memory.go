package ratelimit

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"
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

// MonotonicClock reads the process's monotonic clock.
func MonotonicClock() Clock {
	start := time.Now()
	return func() int64 { return int64(time.Since(start)) + 1 }
}

const memShards = 64

// MemoryBytesPerKey bounds the memory one key costs in a MemoryStore: the
// map slot (a 24-byte key of limit pointer and string header, a pointer
// to the 24-byte state, Go map overhead at its load factor). The key's bytes themselves
// belong to the caller's string. Measured by TestMemoryBoundAndEviction.
const MemoryBytesPerKey = 160

// MemoryStore keeps limit state in process: 64 shards, each a map from
// (limit, key) to a 24-byte state under its own mutex. No goroutine per
// key: a key whose bucket has refilled is in the same state as an unseen
// key, so it is dropped by the next sweep of its shard, which runs when the
// shard has doubled since its last sweep (amortized O(1) per insert).
type MemoryStore struct {
	clock  Clock
	seed   maphash.Seed
	shards [memShards]memShard
}

type memKey struct {
	limit *Limit
	key   string
}

type memState struct {
	a, b int64
	full int64 // when the state equals a fresh key's (evictable)
}

type memShard struct {
	mu        sync.Mutex
	m         map[memKey]*memState
	nextSweep int
	_         [40]byte // keep shards on separate cache lines
}

// NewMemoryStore returns an in-process store. clock may be nil (the
// monotonic clock).
func NewMemoryStore(clock Clock) *MemoryStore {
	if clock == nil {
		clock = MonotonicClock()
	}
	s := &MemoryStore{clock: clock, seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = make(map[memKey]*memState)
		s.shards[i].nextSweep = 1024
	}
	return s
}

func (s *MemoryStore) shardOf(key string) int {
	return int(maphash.String(s.seed, key) % memShards)
}

// Decide implements Store.
func (s *MemoryStore) Decide(_ context.Context, reqs []Request, results []Result) (bool, error) {
	if len(reqs) == 1 { // the common case: one lock, no sorting
		return s.decideOne(&reqs[0], &results[0]), nil
	}
	now := s.clock()
	// Several limits: lock every shard involved, in index order (no
	// deadlock), decide all, charge only if all allow.
	var idx, ord [8]int
	shards, order := idx[:0], ord[:0]
	for i := range reqs {
		shards = append(shards, s.shardOf(reqs[i].Key))
	}
	order = append(order, shards...)
	slices.Sort(order)
	order = slices.Compact(order)
	for _, i := range order {
		s.shards[i].mu.Lock()
	}
	allowed := true
	for i := range reqs {
		if !s.shards[shards[i]].apply(&reqs[i], now, &results[i], false) {
			allowed = false
		}
	}
	if allowed {
		for i := range reqs {
			s.shards[shards[i]].apply(&reqs[i], now, &results[i], true)
		}
	}
	for _, i := range order {
		s.shards[i].sweepIfDue(now)
		s.shards[i].mu.Unlock()
	}
	return allowed, nil
}

// decideOne decides a single request under its shard's lock.
func (s *MemoryStore) decideOne(r *Request, res *Result) bool {
	sh := &s.shards[s.shardOf(r.Key)]
	sh.mu.Lock()
	now := s.clock()
	ok := sh.apply(r, now, res, true)
	sh.sweepIfDue(now)
	sh.mu.Unlock()
	return ok
}

// apply decides one request; with commit it stores the new state when the
// request is allowed. States are updated in place, so a known key costs
// one map lookup; only a new key allocates (its 24-byte state).
func (sh *memShard) apply(r *Request, now int64, res *Result, commit bool) bool {
	k := memKey{r.Limit, r.Key}
	st := sh.m[k]
	var a, b int64
	if st != nil && (st.full == 0 || st.full > now) {
		a, b = st.a, st.b
	}
	na, nb, out := r.Limit.decide(a, b, now, r.Cost)
	*res = out
	if commit && out.Allowed {
		full := now + int64(out.Reset)
		if st == nil {
			sh.m[k] = &memState{a: na, b: nb, full: full}
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
	for k, st := range sh.m {
		if st.full <= now {
			delete(sh.m, k)
		}
	}
	sh.nextSweep = max(1024, 2*len(sh.m))
}

// Sweep drops every key whose bucket has refilled, and returns how many
// keys remain. Calling it is optional (shards sweep themselves as they
// grow); a janitor may call it to return memory after a burst of keys.
func (s *MemoryStore) Sweep() int {
	now := s.clock()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, st := range sh.m {
			if st.full <= now {
				delete(sh.m, k)
			}
		}
		sh.nextSweep = max(1024, 2*len(sh.m))
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Len returns the number of keys held.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.Lock()
		n += len(s.shards[i].m)
		s.shards[i].mu.Unlock()
	}
	return n
}
