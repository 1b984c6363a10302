package ca

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/testkit"
)

// The master key is the Sealer the wiring passes to AutoTLS.
var _ Sealer = (*keys.MasterKey)(nil)

// testMasterKey returns the test kit's master key as the Sealer.
func testMasterKey(t testing.TB) *keys.MasterKey { return masterKeyFrom(t, testkit.MasterKey()) }

// otherMasterKey returns a master key different from testMasterKey's.
func otherMasterKey(t testing.TB) *keys.MasterKey { return masterKeyFrom(t, testkit.OtherMasterKey()) }

// masterKeyFrom returns the master key with the raw bytes b.
func masterKeyFrom(t testing.TB, b []byte) *keys.MasterKey {
	t.Helper()
	mk, err := keys.LoadMasterKey("", base64.StdEncoding.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

// testServer is an HTTPS server on 127.0.0.1:0.
type testServer struct{ Addr string }

// startServer serves HTTPS with cfg on 127.0.0.1:0 until the test ends.
func startServer(t *testing.T, cfg *tls.Config) *testServer {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // refused handshakes are the point of some tests
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return &testServer{Addr: ln.Addr().String()}
}

func mustWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// caPool returns a pool holding only the certificates in the PEM file.
func caPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("no certificate in %s", file)
	}
	return pool
}
