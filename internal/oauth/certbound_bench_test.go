package oauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkCertBound issues client-credentials tokens at the mTLS alias's
// handler, with a verified client SVID (the binder's mtls.VerifySVID, the
// thumbprint, a token with cnf.x5t#S256) and without a certificate (an
// unbound token through the same handler): the difference is the cost of
// the binding. The TLS handshake is the connection's, not the request's,
// and is left out (the connection state is set on the request).
// go test -run '^$' -bench CertBound -benchmem ./internal/oauth/
func BenchmarkCertBound(b *testing.B) {
	c := newCertEnv(b, "sqlite")
	h := c.as.MTLSHandler()
	svid := c.ca.svid(b, "/svc/reporting", false)
	body := "grant_type=client_credentials&scope=reports%3Aread"
	for _, bc := range []struct {
		name  string
		peers []*x509.Certificate
	}{{"bound", []*x509.Certificate{svid.Leaf}}, {"unbound", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(256)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, c.tokenURL, strings.NewReader(body))
					req.RemoteAddr = "192.0.2.1:1234"
					req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, PeerCertificates: bc.peers}
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.SetBasicAuth(svcID, svcSecret)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}
