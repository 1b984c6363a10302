package mtls

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"
)

// TestServerConfigHandshakes: a server on ServerConfig negotiates TLS 1.3
// when offered, TLS 1.2 with AEAD suites only, and refuses TLS 1.1 and
// CBC-only clients.
func TestServerConfigHandshakes(t *testing.T) {
	now := time.Now()
	certFile, keyFile, _ := writeCertPair(t, t.TempDir(), "server", now.Add(-time.Hour), now.Add(24*time.Hour))
	cfg, err := filesTLS(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, cfg)
	pool := caPool(t, certFile)
	cases := []struct {
		name    string
		client  *tls.Config
		wantErr string
		version uint16
	}{
		{"accept/tls13", &tls.Config{RootCAs: pool, ServerName: "localhost"}, "", tls.VersionTLS13},
		{"accept/tls12-gcm", &tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}}, "", tls.VersionTLS12},
		{"reject/tls11", &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS10,
			MaxVersion: tls.VersionTLS11}, "protocol version", 0},
		{"reject/tls12-cbc-only", &tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, "handshake failure", 0},
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

// TestBaseConfigIsFresh: each call returns a config the caller may change
// without affecting the next.
func TestBaseConfigIsFresh(t *testing.T) {
	a := BaseConfig()
	a.MinVersion = tls.VersionTLS13
	a.CipherSuites[0] = 0
	if b := BaseConfig(); b.MinVersion != tls.VersionTLS12 || b.CipherSuites[0] == 0 {
		t.Fatal("BaseConfig shares state between calls")
	}
}
