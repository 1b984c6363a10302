package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFilesTLSValidation(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	goodCert, goodKey, _ := writeCertPair(t, dir, "good", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	_, otherKey, _ := writeCertPair(t, dir, "other", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	expCert, expKey, _ := writeCertPair(t, dir, "expired", now.Add(-48*time.Hour), now.Add(-time.Hour))
	futCert, futKey, _ := writeCertPair(t, dir, "future", now.Add(time.Hour), now.Add(48*time.Hour))
	cases := []struct {
		name, cert, key, wantErr string
	}{
		{"accept/good", goodCert, goodKey, ""},
		{"reject/key-mismatch", goodCert, otherKey, "private key does not match public key"},
		{"reject/expired", expCert, expKey, "expired"},
		{"reject/not-yet-valid", futCert, futKey, "not valid before"},
		{"reject/missing", filepath.Join(dir, "nope.crt"), goodKey, "no such file"},
		{"reject/key-as-cert", goodKey, goodKey, "tls files"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := filesTLS(tc.cert, tc.key, WithLogger(nil))
			if tc.wantErr == "" {
				if err != nil || cfg.MinVersion != tls.VersionTLS12 || cfg.GetCertificate == nil {
					t.Fatalf("cfg %v err %v", cfg, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestFilesTLSReload(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	certFile, keyFile, first := writeCertPair(t, dir, "server", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	logs := &logBuf{}
	cfg, err := filesTLS(certFile, keyFile, WithLogger(jsonLogger(logs, slog.LevelDebug)), WithClock(time.Now), WithReloadInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, cfg)
	tmp := t.TempDir()
	newCert, newKey, second := writeCertPair(t, tmp, "server", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	// The client trusts both self-signed certificates, to see which one
	// is served.
	pool := caPool(t, certFile)
	pool.AddCert(second)
	served := func() *x509.Certificate {
		t.Helper()
		conn, err := tls.Dial("tcp", ts.Addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	if served().SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatal("not serving the first certificate")
	}

	// A renewal caught half-way (new certificate, old key) is refused and
	// the current certificate kept.
	copyFile(t, newCert, certFile)
	bump(t, certFile, 1)
	if got := served(); got.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatal("half-written renewal served")
	}
	if !strings.Contains(logs.String(), "TLS reload failed") {
		t.Error("failed reload not logged")
	}
	// The key arrives: the pair is complete and served.
	copyFile(t, newKey, keyFile)
	bump(t, keyFile, 2)
	if got := served(); got.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Fatal("new certificate not picked up")
	}
}

func TestFilesTLSReloadInterval(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	certFile, keyFile, first := writeCertPair(t, dir, "server", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	var mu sync.Mutex
	clock := now
	cfg, err := filesTLS(certFile, keyFile, WithLogger(jsonLogger(&logBuf{}, slog.LevelError)),
		WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }), WithReloadInterval(DefaultReloadInterval))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	c2, k2, second := writeCertPair(t, tmp, "server", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	copyFile(t, c2, certFile)
	copyFile(t, k2, keyFile)
	bump(t, certFile, 1)
	get := func() *x509.Certificate {
		c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf
	}
	if get().SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatal("files looked at before the interval passed")
	}
	mu.Lock()
	clock = clock.Add(DefaultReloadInterval)
	mu.Unlock()
	if get().SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Fatal("not reloaded after the interval")
	}
}
