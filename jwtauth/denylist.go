package jwtauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultMaxEntries bounds MemoryDenyList and MemoryReplayCache when no
// other bound is given.
const DefaultMaxEntries = 1_000_000

// sweepEvery is how often Add/Seen purge every expired entry.
const sweepEvery = time.Minute

// ErrStoreFull is returned when a bounded in-memory store has no room left
// for a live entry. Entries are never dropped to make room: a dropped
// revocation or proof id would silently re-admit a token or a replay.
var ErrStoreFull = errors.New("jwtauth: store is full")

// MemoryDenyList is an in-process DenyList: revoked jtis with the time
// until which they stay revoked (normally the token's exp: after that the
// token is rejected as expired anyway). It suits a single instance; use
// RedisDenyList when several share revocations. Safe for concurrent use.
type MemoryDenyList struct {
	clock func() time.Time
	max   int

	mu        sync.RWMutex
	until     map[string]time.Time
	lastSweep time.Time
}

var _ DenyList = (*MemoryDenyList)(nil)

// MemoryDenyListOption configures a MemoryDenyList.
type MemoryDenyListOption func(*MemoryDenyList)

// WithMaxEntries bounds the number of revocations held (default
// DefaultMaxEntries). When full, Add returns ErrStoreFull.
func WithMaxEntries(n int) MemoryDenyListOption {
	return func(d *MemoryDenyList) {
		if n > 0 {
			d.max = n
		}
	}
}

// NewMemoryDenyList returns an empty deny list; clock nil means time.Now.
func NewMemoryDenyList(clock func() time.Time, opts ...MemoryDenyListOption) *MemoryDenyList {
	if clock == nil {
		clock = time.Now
	}
	d := &MemoryDenyList{clock: clock, max: DefaultMaxEntries, until: make(map[string]time.Time)}
	for _, o := range opts {
		o(d)
	}
	d.lastSweep = clock()
	return d
}

// Add revokes jti until the given time. A later Add for the same jti can
// extend the revocation, never shorten it. An until already past is a no-op
// (the token has expired). When the list is full even after purging expired
// entries, Add returns ErrStoreFull: it never drops a live revocation.
func (d *MemoryDenyList) Add(_ context.Context, jti string, until time.Time) error {
	if jti == "" {
		return errors.New("jwtauth: deny list: empty jti")
	}
	now := d.clock()
	if !until.After(now) {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Sub(d.lastSweep) >= sweepEvery {
		d.sweepLocked(now)
	}
	if old, ok := d.until[jti]; ok {
		if until.After(old) {
			d.until[jti] = until
		}
		return nil
	}
	if len(d.until) >= d.max {
		d.sweepLocked(now)
		if len(d.until) >= d.max {
			return fmt.Errorf("%w: deny list holds %d live revocations", ErrStoreFull, d.max)
		}
	}
	d.until[jti] = until
	return nil
}

func (d *MemoryDenyList) sweepLocked(now time.Time) {
	for k, u := range d.until {
		if !u.After(now) {
			delete(d.until, k)
		}
	}
	d.lastSweep = now
}

// IsRevoked implements DenyList. It takes a read lock and allocates
// nothing; an expired entry found here is purged.
func (d *MemoryDenyList) IsRevoked(_ context.Context, jti string) (bool, error) {
	now := d.clock()
	d.mu.RLock()
	u, ok := d.until[jti]
	d.mu.RUnlock()
	if !ok {
		return false, nil
	}
	if u.After(now) {
		return true, nil
	}
	d.mu.Lock()
	if u2, ok := d.until[jti]; ok && !u2.After(now) {
		delete(d.until, jti)
	}
	d.mu.Unlock()
	return false, nil
}

// Len returns the number of entries held, expired ones not yet purged
// included.
func (d *MemoryDenyList) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.until)
}

// RedisDenyList is a DenyList shared through Redis. Each revoked jti is a
// key prefix+hex(SHA-256(jti)) that expires when the revocation does, so
// Redis purges it. Redis errors are returned, and the verifier then
// rejects the token (fail closed).
type RedisDenyList struct {
	c      redis.UniversalClient
	prefix string
}

var _ DenyList = (*RedisDenyList)(nil)

// NewRedisDenyList returns a deny list on c whose keys start with prefix
// (for example "rampart:deny:").
func NewRedisDenyList(c redis.UniversalClient, prefix string) *RedisDenyList {
	return &RedisDenyList{c: c, prefix: prefix}
}

// Add revokes jti until the given time (SET key PXAT until NX, then
// PEXPIREAT … GT when the key exists, so a revocation is extended, never
// shortened; Redis ≥ 7). An until already past is a no-op.
func (d *RedisDenyList) Add(ctx context.Context, jti string, until time.Time) error {
	if jti == "" {
		return errors.New("jwtauth: deny list: empty jti")
	}
	if !until.After(time.Now()) {
		return nil
	}
	key := redisKey(d.prefix, jti)
	ms := until.UnixMilli()
	err := d.c.Do(ctx, "SET", key, "1", "PXAT", ms, "NX").Err()
	if errors.Is(err, redis.Nil) {
		err = d.c.Do(ctx, "PEXPIREAT", key, ms, "GT").Err()
	}
	if err != nil {
		return fmt.Errorf("jwtauth: deny list: redis: %w", err)
	}
	return nil
}

// IsRevoked implements DenyList (EXISTS).
func (d *RedisDenyList) IsRevoked(ctx context.Context, jti string) (bool, error) {
	n, err := d.c.Exists(ctx, redisKey(d.prefix, jti)).Result()
	if err != nil {
		return false, fmt.Errorf("jwtauth: deny list: redis: %w", err)
	}
	return n > 0, nil
}

// redisKey is prefix+hex(SHA-256(id)): the id is attacker-controlled, so it
// is hashed; it can then neither be huge nor carry glob or key-pattern
// characters into Redis.
func redisKey(prefix, id string) string {
	sum := sha256.Sum256([]byte(id))
	return prefix + hex.EncodeToString(sum[:])
}
