package mtls

import (
	"crypto/tls"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// filesTLS is ServerConfig over a NewFileSource, or its error.
func filesTLS(certFile, keyFile string, opts ...FileOption) (*tls.Config, error) {
	src, err := NewFileSource(certFile, keyFile, opts...)
	if err != nil {
		return nil, err
	}
	return ServerConfig(src), nil
}

// logBuf is a goroutine-safe log sink.
type logBuf struct{ testkit.SyncBuffer }

// jsonLogger logs JSON lines at level and above to w.
func jsonLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// testServer is an HTTPS server on 127.0.0.1:0 with cfg.
type testServer struct{ Addr string }

// startServer serves HTTPS with cfg on 127.0.0.1:0 until the test ends.
func startServer(t *testing.T, cfg *tls.Config) *testServer {
	t.Helper()
	return &testServer{Addr: testkit.ServeTLS(t, cfg)}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, to, b)
}

// bump sets a file's mtime n seconds ahead, so the change is seen even on
// file systems with coarse timestamps.
func bump(t *testing.T, path string, n int) {
	t.Helper()
	ts := time.Now().Add(time.Duration(n) * time.Second)
	if err := os.Chtimes(path, ts, ts); err != nil {
		t.Fatal(err)
	}
}

// The certificate helpers are the test kit's.
var (
	writeCertPair = testkit.WriteCertPair
	newCertPair   = testkit.CertPair
	mustWrite     = testkit.WriteFile
	caPool        = testkit.CertPool
)
