package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// testAuthority is a CA over a fresh SQLite store.
func testAuthority(t *testing.T) *ca.Authority {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	mk, err := kms.NewMasterKey(testkit.MasterKey())
	if err != nil {
		t.Fatal(err)
	}
	kr, err := kms.Open(ctx, st.KMS(), mk)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ca.Init(ctx, ca.Options{Store: st.CA(), Sealer: kr, Audit: discardAudit{}, TrustDomain: spiffeid.RequireTrustDomainFromString("example.test"),
		Logger: slog.New(slog.DiscardHandler)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAutoTLSHandshakes (ported from the file CA's tests): a client
// trusting only ca.pem connects with TLS 1.3 or 1.2 AEAD suites and the
// names of the certificate; older versions, CBC suites, other names and
// the system roots fail; the leaf is a serverAuth-only certificate of at
// most seven days, never written to disk, chained [leaf, intermediate,
// root].
func TestAutoTLSHandshakes(t *testing.T) {
	a := testAuthority(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "tls", "ca.pem")
	if _, err := WriteCAFile(caFile, a.Root()); err != nil {
		t.Fatal(err)
	}
	cfg, err := serverTLS(config.TLS{Mode: config.TLSAuto}, []string{"localhost", "127.0.0.1"}, a, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				_ = c.(*tls.Conn).Handshake()
				_ = c.Close()
			}(c)
		}
	}()
	pem, _ := os.ReadFile(caFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
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
		{"reject/tls11", &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, "protocol version", 0},
		{"reject/tls12-cbc-only", &tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}, "handshake failure", 0},
		{"reject/name-not-in-cert", &tls.Config{RootCAs: pool, ServerName: "example.com"}, "certificate is valid for", 0},
		{"reject/system-roots", &tls.Config{ServerName: "localhost"}, "unknown authority", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", ln.Addr().String(), tc.client)
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
			cs := conn.ConnectionState()
			if cs.Version != tc.version {
				t.Errorf("version %x, want %x", cs.Version, tc.version)
			}
			leaf := cs.PeerCertificates[0]
			if leaf.IsCA || len(leaf.URIs) != 0 || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth ||
				leaf.NotAfter.Sub(leaf.NotBefore) > 7*24*time.Hour+2*time.Minute || len(cs.PeerCertificates) != 3 {
				t.Errorf("leaf %v usage %v validity %s–%s, %d certificates", leaf.URIs, leaf.ExtKeyUsage, leaf.NotBefore, leaf.NotAfter, len(cs.PeerCertificates))
			}
		})
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tls")); len(ents) != 1 {
		t.Fatalf("auto-TLS wrote more than ca.pem: %v", ents)
	}
}

type discardAudit struct{}

func (discardAudit) Record(context.Context, audit.Event) error { return nil }
