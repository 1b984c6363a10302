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
