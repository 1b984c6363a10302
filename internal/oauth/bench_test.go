package oauth_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The token endpoint against bare signing, measured in the same run
// (go test -run '^$' -bench 'TokenEndpoint|BareES256' -benchmem
// ./internal/oauth/). All run with 256 goroutines per core: a token
// endpoint serves many clients at once, and the audit log's group commit
// depends on concurrent requests sharing a transaction.

// BenchmarkTokenEndpointClientCredentials issues client-credentials tokens
// through the real handler chain, client registry, signer and audit log
// on SQLite.
func BenchmarkTokenEndpointClientCredentials(b *testing.B) {
	e := newEnv(b, "sqlite")
	h := e.srv.Config.Handler
	body := "grant_type=client_credentials&scope=reports%3Aread"
	b.ReportAllocs()
	b.SetParallelism(256)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// http.NewRequest, not httptest.NewRequest: the latter parses a
			// textual HTTP request through a 4 KiB bufio reader, harness
			// cost a server never pays in its handler.
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth2/token", strings.NewReader(body))
			req.RemoteAddr = "192.0.2.1:1234"
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(svcID, svcSecret)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkTokenClientCredentialsDPoP is BenchmarkTokenEndpointClientCredentials
// with a DPoP proof on every request (RFC 9449): the proof's parse, ES256
// verification, thumbprint and replay-cache entry, and a token bound to
// the key. The proofs are made before the timer starts (a client's cost,
// not the server's), one per request since each is single-use.
// go test -run '^$' -bench 'TokenEndpointClientCredentials|TokenClientCredentials' -benchmem ./internal/oauth/
func BenchmarkTokenClientCredentialsDPoP(b *testing.B) {
	e := newEnv(b, "sqlite")
	h := e.srv.Config.Handler
	body := "grant_type=client_credentials&scope=reports%3Aread"
	k := newDPoPKey(b)
	proofs := make(chan string, b.N)
	for range b.N {
		proofs <- k.proof("POST", e.issuer+"/oauth2/token", proofOpts{})
	}
	close(proofs)
	b.ReportAllocs()
	b.SetParallelism(256)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth2/token", strings.NewReader(body))
			req.RemoteAddr = "192.0.2.1:1234"
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("DPoP", <-proofs)
			req.SetBasicAuth(svcID, svcSecret)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkBareES256Sign signs the same access-token signing input with the
// same active key: SHA-256 and crypto/ecdsa, the irreducible cost of an
// ES256 token, and nothing else.
func BenchmarkBareES256Sign(b *testing.B) {
	e := newEnv(b, "sqlite")
	key, err := e.keys.Signer()
	if err != nil {
		b.Fatal(err)
	}
	priv := key.Signer.(*ecdsa.PrivateKey)
	now := time.Now().Unix()
	input := []byte(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"`+key.KID+`","typ":"at+jwt"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+e.issuer+`","sub":"reporting","aud":["https://api.example.test","https://other.example.test"],"exp":`+
			itoa64(now+600)+`,"iat":`+itoa64(now)+`,"nbf":`+itoa64(now)+`,"jti":"0123456789abcdefghijkl","client_id":"reporting","scope":"reports:read"}`)))
	b.ReportAllocs()
	b.SetParallelism(256)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d := sha256.Sum256(input)
			r, s, err := ecdsa.Sign(rand.Reader, priv, d[:])
			if err != nil {
				b.Fatal(err)
			}
			sig := make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	})
}

// BenchmarkBareES256SignGoJose signs the same claims through go-jose (the
// usual way to make a JWT in Go), for comparison.
func BenchmarkBareES256SignGoJose(b *testing.B) {
	e := newEnv(b, "sqlite")
	key, err := e.keys.Signer()
	if err != nil {
		b.Fatal(err)
	}
	signer, err := jose.NewSigner(key.SigningKey(), (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().Unix()
	payload := []byte(`{"iss":"` + e.issuer + `","sub":"reporting","aud":["https://api.example.test","https://other.example.test"],"exp":` +
		itoa64(now+600) + `,"iat":` + itoa64(now) + `,"nbf":` + itoa64(now) + `,"jti":"0123456789abcdefghijkl","client_id":"reporting","scope":"reports:read"}`)
	b.ReportAllocs()
	b.SetParallelism(256)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			jws, err := signer.Sign(payload)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := jws.CompactSerialize(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
