package jwtauth

import (
	"sync"
	"time"
)

// tokenCache is a bounded cache of verified tokens, keyed by the SHA-256 of
// the whole token (so a cached entry can only be hit by the identical
// token). Entries live until the token's expiry or the cache's max age,
// whichever comes first; expiry and the deny list are re-checked on every
// hit by the verifier. It is sharded to keep lock contention low.
type tokenCache struct {
	shards [cacheShards]cacheShard
	per    int
}

const cacheShards = 32

type cacheShard struct {
	mu sync.RWMutex
	m  map[[32]byte]cacheEntry
}

type cacheEntry struct {
	claims *Claims
	until  time.Time
}

func newTokenCache(size int) *tokenCache {
	per := size / cacheShards
	if per < 1 {
		per = 1
	}
	c := &tokenCache{per: per}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(k [32]byte) *cacheShard { return &c.shards[k[0]%cacheShards] }

// get returns the claims for k when present and not past their entry's end.
func (c *tokenCache) get(k [32]byte, now time.Time) (*Claims, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok || now.After(e.until) {
		return nil, false
	}
	return e.claims, true
}

// put stores claims until `until`. A full shard first drops expired
// entries, then arbitrary ones (Go map iteration order is random), so
// memory stays bounded whatever the traffic.
func (c *tokenCache) put(k [32]byte, claims *Claims, until, now time.Time) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.per {
		for key, e := range s.m {
			if now.After(e.until) {
				delete(s.m, key)
			}
		}
		for key := range s.m {
			if len(s.m) < c.per {
				break
			}
			delete(s.m, key)
		}
	}
	s.m[k] = cacheEntry{claims: claims, until: until}
}
