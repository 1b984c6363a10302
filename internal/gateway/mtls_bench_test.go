package gateway

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGatewayMTLS: one gateway request over an established
// connection, for a SPIFFE mTLS listener with an mTLS-only route (the
// peer's ID read from the connection state, the allowlist, X-Rampart-Peer-Id)
// beside a plain TLS 1.3 listener with the same certificate and an
// `auth: none` route; both forward to the same plain-HTTP upstream. The
// handshake is outside the loop: this is the per-request cost of the
// mTLS route.
//
//	go test -run '^$' -bench MTLS -benchmem ./internal/gateway
func BenchmarkGatewayMTLS(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer up.Close()
	ca := newTestCA(b, tdName)
	gwSrc := ca.source(b, gwPath)
	client := ca.source(b, pathOrd)

	b.Run("plain-tls", func(b *testing.B) {
		gwCert, _ := gwSrc.SVID()
		plain := &tls.Config{Certificates: []tls.Certificate{*gwCert}, MinVersion: tls.VersionTLS13}
		m := newMTLSHarness(b, ca, mtlsOpts{src: gwSrc, serverTLS: plain})
		m.load(b, route("public", "/public", []string{up.URL}, nil))
		runRequests(b, m, anonClient(b, client, m.gwID), "/public/x")
	})
	b.Run("mtls", func(b *testing.B) {
		m := newMTLSHarness(b, ca, mtlsOpts{src: gwSrc, required: true})
		m.load(b, route("billing", "/billing", []string{up.URL}, mtlsAuth(ca.id(pathOrd).String())))
		runRequests(b, m, spiffeClient(b, client, m.gwID), "/billing/x")
	})
}

func runRequests(b *testing.B, m *mtlsHarness, c *http.Client, path string) {
	if resp := m.mustGet(b, c, path, ""); resp.StatusCode != http.StatusOK { // the handshake, outside the timing
		b.Fatalf("status %d", resp.StatusCode)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := m.get(b, c, path, "")
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%v %v", resp, err)
		}
	}
}
