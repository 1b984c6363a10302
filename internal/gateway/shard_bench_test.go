package gateway

import (
	"fmt"
	"testing"
)

// BenchmarkShard measures choosing a tenant's shard, once per gateway
// request with shuffle sharding on, for a small and the largest pool.
func BenchmarkShard(b *testing.B) {
	for _, c := range []struct{ n, k int }{{8, 2}, {64, 4}} {
		b.Run(fmt.Sprintf("n=%d/k=%d", c.n, c.k), func(b *testing.B) {
			s := mustSharder(b, upstreamNames(c.n), c.k)
			b.ReportAllocs()
			for b.Loop() {
				_ = s.Shard("tenant-8f14e45f-ceea-467f")
			}
		})
	}
}

// BenchmarkShardFor measures the per-request pick: the shard plus the
// round-robin over its healthy members.
func BenchmarkShardFor(b *testing.B) {
	s := mustSharder(b, upstreamNames(8), 2)
	healthy := func(int) bool { return true }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.ShardFor("tenant-8f14e45f-ceea-467f", healthy); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkShardUnkeyedFNV is the usual alternative for comparison:
// rendezvous over unkeyed FNV-1a 64 of (tenant, upstream), which costs less
// but lets anyone compute placements offline and pick a tenant name that
// lands on a victim's shard (see Sharder).
func BenchmarkShardUnkeyedFNV(b *testing.B) {
	for _, c := range []struct{ n, k int }{{8, 2}, {64, 4}} {
		b.Run(fmt.Sprintf("n=%d/k=%d", c.n, c.k), func(b *testing.B) {
			names := upstreamNames(c.n)
			b.ReportAllocs()
			for b.Loop() {
				_ = fnvShard("tenant-8f14e45f-ceea-467f", names, c.k)
			}
		})
	}
}

// fnvShard is the top k of FNV-1a 64 over tenant, a NUL and each upstream,
// with the tenant's prefix hashed once.
func fnvShard(tenant string, upstreams []string, k int) ShardSet {
	const prime = 1099511628211
	t := uint64(14695981039346656037)
	for j := 0; j < len(tenant); j++ {
		t = (t ^ uint64(tenant[j])) * prime
	}
	t *= prime // the NUL separator
	var scores [MaxUpstreams]uint64
	for i, u := range upstreams {
		h := t
		for j := 0; j < len(u); j++ {
			h = (h ^ uint64(u[j])) * prime
		}
		scores[i] = h
	}
	var set ShardSet
	for range k {
		best := -1
		for i := range upstreams {
			if !set.Contains(i) && (best < 0 || scores[i] > scores[best]) {
				best = i
			}
		}
		set |= 1 << best
	}
	return set
}
