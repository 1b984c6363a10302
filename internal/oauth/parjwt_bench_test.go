package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// BenchmarkTokenEndpointPrivateKeyJWT is BenchmarkTokenEndpointClientCredentials
// with the client authenticated by a private_key_jwt assertion (ES256
// verification, the jti's conditional insert on SQLite) instead of a
// secret (go test -run '^$' -bench 'TokenEndpoint' -benchmem
// ./internal/oauth/). Assertions are signed before the timer starts, one
// per request: each jti is single-use.
func BenchmarkTokenEndpointPrivateKeyJWT(b *testing.B) {
	e := newEnv(b, "sqlite")
	testAssertKeys()
	h := e.srv.Config.Handler
	bodies := make([]string, b.N)
	for i := range bodies {
		bodies[i] = assertionForm(signAssertion(b, assertKey, "k1", jose.ES256, assertionClaims(signerInline, e.issuer))).Encode()
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(256)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bodies[next.Add(1)-1]
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth2/token", strings.NewReader(body))
			req.RemoteAddr = "192.0.2.1:1234"
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
