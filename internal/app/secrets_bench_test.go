package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
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
	b.SetParallelism(32)
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

// BenchmarkManagerGet reads a current secret in process, in parallel,
// through the Manager OpenSecrets builds (SQLite, the real keyring and
// a durable audit log: every read is recorded before it returns).
func BenchmarkManagerGet(b *testing.B) {
	ctx := context.Background()
	st := storetest.Open(b, "sqlite")
	mk, err := kms.NewMasterKey(testkit.MasterKey())
	if err != nil {
		b.Fatal(err)
	}
	kr, err := OpenKeyring(ctx, st.DB, mk)
	if err != nil {
		b.Fatal(err)
	}
	cfg := &config.Config{}
	cfg.Defaults()
	al, err := OpenAudit(cfg, st.DB, kr, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = al.Close(ctx) })
	stack, err := OpenSecrets(cfg, st.DB, kr, al, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	admin := secrets.Principal{Kind: secrets.KindAdmin}
	path, _ := secrets.ParsePath("team/a/bench")
	if _, err := stack.Manager.Put(ctx, admin, path, secrets.NewValue([]byte("bench-value")), secrets.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := stack.Manager.Get(ctx, admin, path, secrets.Selector{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	reportReads(b, start, cpu0)
}
