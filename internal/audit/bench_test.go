package audit_test

import (
	"context"
	"testing"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// BenchmarkAppend measures batched append throughput with many concurrent
// recorders, as a busy server produces them:
//
//	go test -run '^$' -bench Append -benchtime 3s ./internal/audit/
func BenchmarkAppend(b *testing.B) {
	for _, driver := range storetest.Drivers(b) {
		b.Run(driver, func(b *testing.B) {
			s := storetest.Open(b, driver)
			l, err := audit.New(audit.Options{Store: s, HMACKey: testKey, BatchSize: 512})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			e := event(1)
			b.ReportAllocs()
			b.SetParallelism(64)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Record(context.Background(), e); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkCanonicalHash is the CPU cost of chaining one event.
func BenchmarkCanonicalHash(b *testing.B) {
	e := event(1)
	prev := audit.GenesisHash()
	b.ReportAllocs()
	for b.Loop() {
		_ = audit.ChainHash(prev, audit.Canonical(42, &e))
	}
}
