package app

import (
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// BenchmarkHTTPGetSecret reads a current secret through the real HTTP
// handler of a running serve (SQLite, a real client_credentials token,
// keep-alive connections), every read audited durably, and reports
// reads/s.
func BenchmarkHTTPGetSecret(b *testing.B) {
	s := startSecretsServer(b, "sqlite", "")
	tok := s.token(b, "app", secAppSecret, "secrets")
	s.json(b, "PUT", "/secrets/v1/data/team/a/bench", tok, map[string]any{"value": "bench-value"}, 200, nil)
	url := s.base + "/secrets/v1/data/team/a/bench"
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := s.client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	reportReads(b, start, cpu0)
}

// reportReads reports reads/s (wall clock) and reads/cpu-s: the reads
// per second of CPU the whole process (server, client and audit writer)
// used. On a machine shared with other work the wall-clock figure is
// what this process got; 2 x reads/cpu-s is what the 2 cores would give
// it alone.
func reportReads(b *testing.B, start time.Time, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reads/s")
	if used := cpuTime(b) - cpu0; used > 0 {
		b.ReportMetric(float64(b.N)/used.Seconds(), "reads/cpu-s")
	}
}

// cpuTime is the process's user + system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
