package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/bits"
	"sync"
	"sync/atomic"
)

// MaxUpstreams is the largest upstream list a Sharder accepts: a shard is a
// 64-bit set of upstream indexes, so choosing one never allocates.
const MaxUpstreams = 64

// MinShardKeyLen is the shortest shard key NewSharder accepts: the output
// length of SHA-256, as RFC 2104 §3 strongly discourages HMAC keys shorter
// than the hash output.
const MinShardKeyLen = sha256.Size

// Domain-separation labels, so a shard key reused elsewhere (or a tenant
// named like an upstream) never yields the same HMAC input twice.
const (
	shardTenantLabel   = "rampart/gateway/shard/v1/tenant\x00"
	shardUpstreamLabel = "rampart/gateway/shard/v1/upstream\x00"
)

// Sharder assigns each tenant its own k-of-n subset (its shard) of a route's
// upstreams by shuffle sharding (AWS Builders' Library, "Workload isolation
// using shuffle-sharding"), so a tenant whose traffic breaks its upstreams
// takes down only tenants with the very same shard. It is safe for
// concurrent use and immutable but for the round-robin counter.
//
// # Choice: rendezvous hashing
//
// Each upstream scores each tenant with a keyed hash of (tenant, upstream
// identity) and the shard is the k best scores (highest-random-weight
// hashing, Thaler & Ravishankar 1998). A score depends only on the tenant
// and that one upstream, so adding an upstream changes a tenant's shard only
// where the newcomer out-scores one of its k members, swapping in the
// newcomer for the weakest (expected fraction of tenants k/(n+1)); removing
// one changes only the shards that held it. Scores are keyed by identity
// (the upstream URL), not list position, so reordering the list changes no
// shard (only the indexes that name its members).
//
// # Choice: a keyed hash
//
// Tenant keys are attacker-influenced (a claim value a tenant admin may
// choose). With an unkeyed hash (FNV, plain SHA-256) anyone can compute
// every tenant's shard offline and search for tenant names that land on a
// victim's exact shard (about one name in C(n,k) does: 28 for n = 8, k = 2),
// then kill those upstreams to take the victim down; the same class of
// attack as hash flooding (CVE-2011-4885). The tenant and upstream hashes
// are therefore HMAC-SHA-256 (RFC 2104) under a per-deployment secret of at
// least MinShardKeyLen bytes, truncated to 64 bits, so placements cannot be
// computed without the key; the score of a pair, SplitMix64 of the two
// hashes' XOR, only spreads them and needs no secrecy of its own. What is
// left is an online search (register tenants, watch where they land), which
// needs the victim's shard and the upstreams' identities, neither of which
// the gateway reveals. The hash must be the same on every gateway of a
// fleet, so the key is a constructor argument (to be derived from the kms
// master key) and not a per-process random seed such as hash/maphash's.
//
// # The overlap math
//
// For n upstreams and shards of k there are C(n,k) distinct shards. With
// tenants placed uniformly (what the keyed hash gives), for a victim and a
// random other tenant:
//
//   - the same full shard: 1/C(n,k); n = 8, k = 2: 1/28 ≈ 3.6 %, so a tenant
//     that kills its own two upstreams fully takes down 1 tenant in 28;
//   - no shared upstream: C(n-k,k)/C(n,k); n = 8, k = 2: 15/28 ≈ 53.6 %;
//   - at least one shared upstream: 1 - C(n-k,k)/C(n,k) = 13/28 ≈ 46.4 %
//     (these tenants keep being served by their other members);
//   - exactly j shared: C(k,j)·C(n-k,k-j)/C(n,k); j = 1: 12/28.
//
// Each upstream serves an expected k/n of the tenants (1/4 for n = 8,
// k = 2). k == n puts every tenant on every upstream: allowed, but it gives
// no isolation at all; k == 1 isolates best but leaves a tenant no spare.
type Sharder struct {
	k         int
	upstreams []uint64 // per-upstream keyed identity hash, by index
	key       []byte
	pool      sync.Pool // *shardHasher
	next      atomic.Uint64
}

// shardHasher is one pooled HMAC state with fixed buffers, so hashing a
// tenant of any length allocates nothing and retains at most chunk bytes.
type shardHasher struct {
	mac   hash.Hash
	chunk [256]byte
	sum   [sha256.Size]byte
}

// NewSharder returns a Sharder placing tenants on k of upstreams, which are
// the upstreams' identities (their URLs): 1 to MaxUpstreams distinct
// strings. k must be 1..len(upstreams). key is the deployment's shard
// secret, at least MinShardKeyLen bytes, the same on every gateway instance
// that must agree on placements; NewSharder keeps a copy.
func NewSharder(upstreams []string, k int, key []byte) (*Sharder, error) {
	n := len(upstreams)
	switch {
	case n == 0 || n > MaxUpstreams:
		return nil, fmt.Errorf("gateway: shard: %d upstreams: want 1 to %d", n, MaxUpstreams)
	case k < 1 || k > n:
		return nil, fmt.Errorf("gateway: shard size %d: want 1 to the number of upstreams (%d)", k, n)
	case len(key) < MinShardKeyLen:
		return nil, fmt.Errorf("gateway: shard key of %d bytes: want at least %d (RFC 2104 §3)", len(key), MinShardKeyLen)
	}
	s := &Sharder{k: k, key: append([]byte(nil), key...), upstreams: make([]uint64, n)}
	s.pool.New = func() any { return &shardHasher{mac: hmac.New(sha256.New, s.key)} }
	seen := make(map[string]struct{}, n)
	for i, u := range upstreams {
		if u == "" {
			return nil, fmt.Errorf("gateway: shard: upstream %d is empty", i)
		}
		if _, dup := seen[u]; dup {
			return nil, fmt.Errorf("gateway: shard: upstream %q listed twice", u)
		}
		seen[u] = struct{}{}
		s.upstreams[i] = s.hash(shardUpstreamLabel, u)
	}
	return s, nil
}

// N returns the number of upstreams.
func (s *Sharder) N() int { return len(s.upstreams) }

// K returns the shard size.
func (s *Sharder) K() int { return s.k }

// hash returns the first 64 bits of HMAC-SHA-256(key, label || v).
func (s *Sharder) hash(label, v string) uint64 {
	h, _ := s.pool.Get().(*shardHasher)
	h.mac.Reset()
	h.write(label)
	h.write(v)
	sum := h.mac.Sum(h.sum[:0])
	out := binary.LittleEndian.Uint64(sum)
	s.pool.Put(h)
	return out
}

// write feeds v to the HMAC through the fixed chunk buffer.
func (h *shardHasher) write(v string) {
	for len(v) > 0 {
		c := copy(h.chunk[:], v)
		h.mac.Write(h.chunk[:c]) // hash.Hash.Write never fails
		v = v[c:]
	}
}

// mix64 is the SplitMix64 finalizer (Steele et al., OOPSLA 2014): a
// bijection with full avalanche, so the scores of one tenant on different
// upstreams behave as independent.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Shard returns the tenant's shard: the k upstream indexes whose scores for
// tenant are highest. It is deterministic for a key and upstream identities
// and allocates nothing. The empty string is a tenant like any other: a
// caller whose request carries no tenant must refuse it, not shard "".
func (s *Sharder) Shard(tenant string) ShardSet {
	t := s.hash(shardTenantLabel, tenant)
	var top [MaxUpstreams]uint64 // scores, best first
	var idx [MaxUpstreams]uint8
	filled, last := 0, s.k-1
	for i, u := range s.upstreams {
		score := mix64(t ^ u)
		j := filled
		switch {
		case filled <= last:
			filled++
		case score <= top[last]:
			continue // ties (2^-64 per pair) keep the lower index
		default:
			j = last // the weakest member drops out
		}
		for ; j > 0 && top[j-1] < score; j-- {
			top[j], idx[j] = top[j-1], idx[j-1]
		}
		top[j], idx[j] = score, uint8(i) // #nosec G115 -- i < MaxUpstreams = 64
	}
	var set ShardSet
	for _, i := range idx[:filled] {
		set |= 1 << i
	}
	return set
}

// ErrNoHealthyUpstream is ShardFor's answer when every member of a tenant's
// shard is down; the proxy answers 503.
var ErrNoHealthyUpstream = errors.New("gateway: no healthy upstream in the tenant's shard")

// ShardFor returns the upstream index for one request of tenant: the
// members of its shard that healthy reports up, taken in turn (round-robin
// over the Sharder, so a tenant's load spreads over its healthy members).
// When no member is healthy it returns ErrNoHealthyUpstream and never an
// upstream outside the shard: spilling over would hand a tenant that is
// killing its upstreams the upstreams of other tenants, one after another,
// which is the exact failure shuffle sharding exists to contain. healthy is
// called once per member and not retained.
func (s *Sharder) ShardFor(tenant string, healthy func(i int) bool) (int, error) {
	set := s.Shard(tenant)
	var up ShardSet
	for m := set; m != 0; m &= m - 1 {
		if i := bits.TrailingZeros64(uint64(m)); healthy(i) {
			up |= 1 << i
		}
	}
	if up == 0 {
		return -1, ErrNoHealthyUpstream
	}
	return up.nth(int(s.next.Add(1) % uint64(up.Len()))), nil // #nosec G115 -- Len <= 64
}

// ShardSet is a set of upstream indexes (bit i for index i).
type ShardSet uint64

// Len returns the number of indexes in the set.
func (m ShardSet) Len() int { return bits.OnesCount64(uint64(m)) }

// Contains reports whether index i is in the set.
func (m ShardSet) Contains(i int) bool {
	return i >= 0 && i < MaxUpstreams && m&(1<<i) != 0
}

// AppendTo appends the set's indexes to dst in ascending order.
func (m ShardSet) AppendTo(dst []int) []int {
	for ; m != 0; m &= m - 1 {
		dst = append(dst, bits.TrailingZeros64(uint64(m)))
	}
	return dst
}

// nth returns the set's j-th smallest index; j must be below Len.
func (m ShardSet) nth(j int) int {
	for ; j > 0; j-- {
		m &= m - 1
	}
	return bits.TrailingZeros64(uint64(m))
}
