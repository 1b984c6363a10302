package ca

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// legacyDir holds a <data_dir>/tls written by the binary before the CA
// moved out of internal/httpx: created at legacyCreated by AutoTLS with
// the master key legacyMasterKey.
const legacyDir = "testdata/legacy-tls"

var legacyCreated = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// legacyMasterKey is the raw master key the fixture was sealed with:
// bytes 1, 2, …, 32.
func legacyMasterKey() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return b
}

// TestAutoTLSLoadsExistingDataDir: a tls directory made by an earlier
// release loads unchanged (same file names, same sealed associated data),
// is not rewritten, and serves a leaf that chains to its ca.pem.
func TestAutoTLSLoadsExistingDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]os.FileMode{"ca.pem": 0o644, "ca.key.sealed": 0o600}
	orig := map[string][]byte{}
	for name, mode := range files {
		b, err := os.ReadFile(filepath.Join(legacyDir, name))
		if err != nil {
			t.Fatal(err)
		}
		orig[name] = b
		if err := os.WriteFile(filepath.Join(dir, name), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	now := legacyCreated.Add(24 * time.Hour)
	cfg, err := AutoTLS(AutoTLSOptions{Dir: dir, Hosts: []string{"localhost"}, Sealer: masterKeyFrom(t, legacyMasterKey()),
		Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("existing data dir refused: %v", err)
	}
	for name := range files {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.Equal(b, orig[name]) {
			t.Errorf("%s rewritten", name)
		}
	}
	c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: caPool(t, CAFile(dir)), DNSName: "localhost", CurrentTime: now}); err != nil {
		t.Errorf("leaf does not chain to the existing ca.pem: %v", err)
	}
	l, err := OpenLocal(LocalOptions{Dir: dir, Sealer: masterKeyFrom(t, legacyMasterKey()), Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Certificate(); got.Subject.CommonName != CAName || !got.NotBefore.Equal(legacyCreated.Add(-clockSkew)) {
		t.Errorf("CA certificate %v from %v", got.Subject, got.NotBefore)
	}
}
