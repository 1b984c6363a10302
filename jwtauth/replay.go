package jwtauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// MemoryReplayCache is an in-process ReplayCache for DPoP proof ids (RFC
// 9449 §11.1: a server must not accept the same proof twice within its
// acceptance window). It suits a single instance; several instances behind
// a load balancer must share RedisReplayCache, or a proof could be replayed
// once per instance. Ids are stored as SHA-256 digests, so each entry has a
// fixed size whatever the attacker-chosen jti. Safe for concurrent use.
type MemoryReplayCache struct {
	clock func() time.Time
	max   int

	mu        sync.Mutex
	until     map[[32]byte]time.Time
	lastSweep time.Time
}

var _ ReplayCache = (*MemoryReplayCache)(nil)

// NewMemoryReplayCache returns an empty cache holding at most maxEntries live
// ids (≤ 0 means DefaultMaxEntries); clock nil means time.Now.
func NewMemoryReplayCache(clock func() time.Time, maxEntries int) *MemoryReplayCache {
	if clock == nil {
		clock = time.Now
	}
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &MemoryReplayCache{clock: clock, max: maxEntries, until: make(map[[32]byte]time.Time), lastSweep: clock()}
}

// Seen implements ReplayCache: in one critical section it reports whether
// jti is recorded and live, and records it until the given time if not.
// When the cache is full of live ids it returns ErrStoreFull (the caller
// rejects the proof: fail closed); live ids are never evicted, since an
// evicted id could be replayed. An until not in the future is an error: the
// proof's window is already over.
func (c *MemoryReplayCache) Seen(_ context.Context, jti string, until time.Time) (bool, error) {
	now := c.clock()
	if !until.After(now) {
		return false, errors.New("jwtauth: replay cache: until is not in the future")
	}
	id := sha256.Sum256([]byte(jti))
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.lastSweep) >= sweepEvery {
		c.sweepLocked(now)
	}
	if u, ok := c.until[id]; ok && u.After(now) {
		return true, nil
	}
	if len(c.until) >= c.max {
		c.sweepLocked(now)
		if len(c.until) >= c.max {
			return false, fmt.Errorf("%w: replay cache holds %d live proof ids", ErrStoreFull, c.max)
		}
	}
	c.until[id] = until
	return false, nil
}

func (c *MemoryReplayCache) sweepLocked(now time.Time) {
	for k, u := range c.until {
		if !u.After(now) {
			delete(c.until, k)
		}
	}
	c.lastSweep = now
}

// Len returns the number of ids held, expired ones not yet purged included.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.until)
}

// RedisReplayCache is a ReplayCache shared through Redis, for several
// instances (RFC 9449 §11.1). Each id is a key prefix+hex(SHA-256(jti))
// set with SET NX PXAT, which is atomic: of concurrent Seen calls for one
// id on any number of instances exactly one reports false. Redis errors are
// returned (the caller rejects the proof: fail closed).
type RedisReplayCache struct {
	c      redis.UniversalClient
	prefix string
}

var _ ReplayCache = (*RedisReplayCache)(nil)

// NewRedisReplayCache returns a replay cache on c whose keys start with
// prefix (for example "rampart:dpop:").
func NewRedisReplayCache(c redis.UniversalClient, prefix string) *RedisReplayCache {
	return &RedisReplayCache{c: c, prefix: prefix}
}

// Seen implements ReplayCache with SET key 1 PXAT until NX.
func (c *RedisReplayCache) Seen(ctx context.Context, jti string, until time.Time) (bool, error) {
	if !until.After(time.Now()) {
		return false, errors.New("jwtauth: replay cache: until is not in the future")
	}
	err := c.c.Do(ctx, "SET", redisKey(c.prefix, jti), "1", "PXAT", until.UnixMilli(), "NX").Err()
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, redis.Nil):
		return true, nil
	default:
		return false, fmt.Errorf("jwtauth: replay cache: redis: %w", err)
	}
}
