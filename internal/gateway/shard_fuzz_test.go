package gateway

import (
	"math/bits"
	"sync"
	"testing"
)

// fuzzShardUpstreams are the identities the fuzz target shards over.
var fuzzShardUpstreams = upstreamNames(MaxUpstreams)

// fuzzSharders caches one Sharder per (n, k), so the fuzz target spends
// its time in Shard rather than in NewSharder's HMAC setup.
var fuzzSharders sync.Map // [2]int{n, k} -> *Sharder

func fuzzSharder(t *testing.T, n, k int) *Sharder {
	if s, ok := fuzzSharders.Load([2]int{n, k}); ok {
		return s.(*Sharder)
	}
	s := mustSharder(t, fuzzShardUpstreams[:n], k)
	fuzzSharders.Store([2]int{n, k}, s)
	return s
}

// FuzzShard checks the contract of Shard on any tenant and any n in
// 1..64, k in 1..n: exactly k distinct indexes, all below n; the same
// answer twice and from a second Sharder built alike (another gateway of
// the fleet, the cached one); the same members by identity when the upstream list grows by
// one, but for at most one swapped for the newcomer; and ShardFor never
// answers outside the shard.
func FuzzShard(f *testing.F) {
	for _, s := range []struct {
		tenant string
		n, k   uint8
	}{
		{"acme", 8, 2}, {"", 1, 1}, {"tenant-000001", 64, 4}, {"x", 64, 64},
		{"caf\xc3\xa9", 9, 3}, {"\x00\xff", 2, 1}, {string(make([]byte, 600)), 33, 17},
	} {
		f.Add(s.tenant, s.n, s.k)
	}
	f.Fuzz(func(t *testing.T, tenant string, nb, kb uint8) {
		n := 1 + int(nb)%MaxUpstreams
		k := 1 + int(kb)%n
		s := fuzzSharder(t, n, k)
		if nb%7 == 0 { // a fresh build one time in seven checks fleet agreement
			s = mustSharder(t, fuzzShardUpstreams[:n], k)
		}
		set := s.Shard(tenant)
		if set.Len() != k || (n < MaxUpstreams && uint64(set)>>n != 0) {
			t.Fatalf("n %d k %d: shard %b", n, k, set)
		}
		if again := fuzzSharder(t, n, k).Shard(tenant); again != set || s.Shard(tenant) != set {
			t.Fatalf("n %d k %d: %b then %b", n, k, set, again)
		}
		if n < MaxUpstreams {
			grown := fuzzSharder(t, n+1, k).Shard(tenant)
			if kept := bits.OnesCount64(uint64(grown & set)); grown != set && (kept != k-1 || grown&(1<<n) == 0) {
				t.Fatalf("n %d k %d: adding an upstream moved %b to %b", n, k, set, grown)
			}
		}
		members := set.AppendTo(nil)
		down := members[len(tenant)%len(members)]
		u, err := s.ShardFor(tenant, func(i int) bool { return i != down })
		switch {
		case k == 1 && (err == nil || u != -1):
			t.Fatalf("only member down: %d, %v", u, err)
		case k > 1 && (err != nil || !set.Contains(u) || u == down):
			t.Fatalf("ShardFor = %d, %v outside healthy shard %b", u, err, set)
		}
	})
}
