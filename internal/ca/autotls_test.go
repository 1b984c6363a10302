package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAutoTLSClientTrustingOnlyCAConnects(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	cfg, err := AutoTLS(AutoTLSOptions{Dir: dir, Hosts: []string{"localhost", "127.0.0.1"}, Sealer: testMasterKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, cfg)
	pool := caPool(t, CAFile(dir))

	cases := []struct {
		name    string
		client  *tls.Config
		wantErr string
		version uint16
	}{
		{"accept/ip-tls13", &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, "", tls.VersionTLS13},
		{"accept/localhost-tls13", &tls.Config{RootCAs: pool, ServerName: "localhost"}, "", tls.VersionTLS13},
		{"accept/tls12-gcm", &tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, "", tls.VersionTLS12},
		{"accept/tls12-chacha", &tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, "", tls.VersionTLS12},
		{"reject/tls11", &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS10,
			MaxVersion: tls.VersionTLS11}, "protocol version", 0},
		{"reject/tls12-cbc-only", &tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}},
			"handshake failure", 0},
		{"reject/name-not-in-cert", &tls.Config{RootCAs: pool, ServerName: "example.com"}, "certificate is valid for localhost", 0},
		{"reject/system-roots", &tls.Config{ServerName: "localhost"}, "unknown authority", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", ts.Addr, tc.client)
			if tc.wantErr != "" {
				if err == nil {
					conn.Close()
					t.Fatal("handshake succeeded")
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if v := conn.ConnectionState().Version; v != tc.version {
				t.Errorf("version %x, want %x", v, tc.version)
			}
		})
	}
}

func TestAutoTLSCertificates(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg, err := AutoTLS(AutoTLSOptions{Dir: dir, Hosts: []string{"rampart.test", "10.0.0.1", ""}, Sealer: testMasterKey(t),
		Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(CAFile(dir))
	block, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if ca.Subject.CommonName != CAName || !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero ||
		ca.KeyUsage&x509.KeyUsageCertSign == 0 || ca.KeyUsage&x509.KeyUsageDigitalSignature != 0 {
		t.Errorf("CA certificate %+v", ca)
	}
	if pk, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || pk.Curve != elliptic.P256() {
		t.Error("CA key is not P-256")
	}
	if got := ca.NotAfter.Sub(now); got < 9*365*24*time.Hour || got > 11*365*24*time.Hour {
		t.Errorf("CA lifetime %v", got)
	}
	c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	leaf := c.Leaf
	if leaf.IsCA || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth ||
		leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("leaf usage %+v", leaf)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "rampart.test" || len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal([]byte{10, 0, 0, 1}) {
		t.Errorf("SANs %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	if !leaf.NotBefore.Before(now) || leaf.NotAfter.Sub(now) != 7*24*time.Hour {
		t.Errorf("validity %v – %v", leaf.NotBefore, leaf.NotAfter)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "rampart.test", CurrentTime: now}); err != nil {
		t.Errorf("leaf does not chain to ca.pem: %v", err)
	}
	if len(c.Certificate) != 1 {
		t.Errorf("chain has %d certificates", len(c.Certificate))
	}
}

func TestAutoTLSFilesAtRest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	mk := testMasterKey(t)
	if _, err := AutoTLS(AutoTLSOptions{Dir: dir, Sealer: mk}); err != nil {
		t.Fatal(err)
	}
	perm := func(p string) os.FileMode {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	keyPath := filepath.Join(dir, "ca.key.sealed")
	if p := perm(dir); p != 0o700 {
		t.Errorf("dir mode %o", p)
	}
	if p := perm(keyPath); p != 0o600 {
		t.Errorf("sealed key mode %o", p)
	}
	sealed, _ := os.ReadFile(keyPath)
	der, err := mk.Open([]byte("rampart/tls-ca/v1"), sealed)
	if err != nil {
		t.Fatalf("sealed key does not open with its AD: %v", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	scalar, _ := key.(*ecdsa.PrivateKey).Bytes()
	for name, needle := range map[string][]byte{"PEM marker": []byte("PRIVATE KEY"), "PKCS#8 DER": der, "private scalar": scalar} {
		if bytes.Contains(sealed, needle) {
			t.Errorf("sealed file contains the %s in clear", name)
		}
	}
	caPEM, _ := os.ReadFile(CAFile(dir))
	if bytes.Contains(caPEM, []byte("PRIVATE")) || bytes.Contains(caPEM, scalar) {
		t.Error("ca.pem holds key material")
	}
}

func TestAutoTLSReopenReusesCA(t *testing.T) {
	dir := t.TempDir()
	mk := testMasterKey(t)
	if _, err := AutoTLS(AutoTLSOptions{Dir: dir, Sealer: mk}); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(CAFile(dir))
	cfg, err := AutoTLS(AutoTLSOptions{Dir: dir, Sealer: mk})
	if err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(CAFile(dir))
	if !bytes.Equal(first, second) {
		t.Fatal("CA recreated on reopen")
	}
	ts := startServer(t, cfg)
	conn, err := tls.Dial("tcp", ts.Addr, &tls.Config{RootCAs: caPool(t, CAFile(dir)), ServerName: "localhost"})
	if err != nil {
		t.Fatalf("leaf from the reopened CA is not trusted by the first ca.pem: %v", err)
	}
	conn.Close()
}

func TestAutoTLSRefusesBadState(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		sealer  func(t *testing.T) Sealer
		wantErr string
	}{
		{"reject/tampered-sealed-key", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "ca.key.sealed")
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 0x01
			mustWrite(t, p, b)
		}, nil, "cannot decrypt the CA key"},
		{"reject/truncated-sealed-key", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "ca.key.sealed"), []byte("x"))
		}, nil, "cannot decrypt the CA key"},
		{"reject/other-master-key", func(*testing.T, string) {}, func(t *testing.T) Sealer { return otherMasterKey(t) },
			"cannot decrypt the CA key"},
		{"reject/replaced-ca-pem", func(t *testing.T, dir string) {
			other := t.TempDir()
			if _, err := AutoTLS(AutoTLSOptions{Dir: other, Sealer: testMasterKey(t)}); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(CAFile(other))
			if err := os.WriteFile(CAFile(dir), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, nil, "does not belong to the CA key"},
		{"reject/ca-pem-not-pem", func(t *testing.T, dir string) {
			mustWrite(t, CAFile(dir), []byte("hello"))
		}, nil, "no PEM certificate"},
		{"reject/missing-key", func(t *testing.T, dir string) {
			_ = os.Remove(filepath.Join(dir, "ca.key.sealed"))
		}, nil, "does not; restore"},
		{"reject/missing-cert", func(t *testing.T, dir string) {
			_ = os.Remove(CAFile(dir))
		}, nil, "does not; restore"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mk := testMasterKey(t)
			if _, err := AutoTLS(AutoTLSOptions{Dir: dir, Sealer: mk}); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, dir)
			var s Sealer = mk
			if tc.sealer != nil {
				s = tc.sealer(t)
			}
			_, err := AutoTLS(AutoTLSOptions{Dir: dir, Sealer: s})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
	if _, err := AutoTLS(AutoTLSOptions{Dir: t.TempDir()}); err == nil {
		t.Error("no sealer accepted")
	}
}

func TestAutoTLSRenewsLeaf(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cfg, err := AutoTLS(AutoTLSOptions{Dir: t.TempDir(), Sealer: testMasterKey(t), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	get := func() *x509.Certificate {
		c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf
	}
	a := get()
	advance(4 * 24 * time.Hour) // more than a third left (3 days + 5 min)
	if b := get(); b.SerialNumber.Cmp(a.SerialNumber) != 0 {
		t.Fatal("renewed too early")
	}
	advance(24 * time.Hour) // 2 days left: under a third
	b := get()
	if b.SerialNumber.Cmp(a.SerialNumber) == 0 {
		t.Fatal("not renewed")
	}
	advance(time.Hour)
	if c := get(); c.SerialNumber.Cmp(b.SerialNumber) != 0 {
		t.Fatal("renewed again right away")
	}
}
