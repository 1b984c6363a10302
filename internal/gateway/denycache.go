package gateway

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/rampart-auth/rampart/jwtauth"
)

// denyCacheTTL is how long a "not revoked" answer of the shared deny list
// is reused for the same jti. Issue 12 promises that a revoked token is
// refused fleet-wide within one second of revocation; half of that leaves
// room for the revocation's own write. A "revoked" answer is final (a jti
// is never un-revoked) and is kept as long as an entry lives.
const denyCacheTTL = 500 * time.Millisecond

// denyCacheShards and denyCacheShardMax bound the cache: 64 × 4096 jtis
// (about 20 MiB at worst); a full shard is emptied, which costs only
// lookups, never correctness.
const (
	denyCacheShards   = 64
	denyCacheShardMax = 4096
)

// denyCache sits between every self-issuer verifier and the shared deny
// list (Redis across a fleet), so a busy token costs one deny-list lookup
// per denyCacheTTL instead of one per request. Errors are never cached:
// the verifier fails closed on them.
type denyCache struct {
	next   jwtauth.DenyList
	now    func() time.Time
	seed   maphash.Seed
	shards [denyCacheShards]denyShard
}

type denyShard struct {
	mu sync.Mutex
	m  map[string]denyEntry
}

type denyEntry struct {
	at      time.Time
	revoked bool
}

func newDenyCache(next jwtauth.DenyList, now func() time.Time) *denyCache {
	c := &denyCache{next: next, now: now, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[string]denyEntry{}
	}
	return c
}

// IsRevoked implements jwtauth.DenyList.
func (c *denyCache) IsRevoked(ctx context.Context, jti string) (bool, error) {
	sh := &c.shards[maphash.String(c.seed, jti)%denyCacheShards]
	now := c.now()
	sh.mu.Lock()
	e, ok := sh.m[jti]
	sh.mu.Unlock()
	if ok && (e.revoked || now.Sub(e.at) < denyCacheTTL && !now.Before(e.at)) {
		return e.revoked, nil
	}
	revoked, err := c.next.IsRevoked(ctx, jti)
	if err != nil {
		return false, err
	}
	sh.mu.Lock()
	if len(sh.m) >= denyCacheShardMax {
		clear(sh.m)
	}
	sh.m[jti] = denyEntry{at: now, revoked: revoked}
	sh.mu.Unlock()
	return revoked, nil
}
