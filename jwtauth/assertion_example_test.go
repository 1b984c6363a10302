package jwtauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/jwtauth"
)

// gatewayAssertion signs an identity assertion as Rampart's gateway would
// for the upstream https://notes.example.com (typ rampart-assertion+jwt,
// the issuer's key "k1", 30 s lifetime).
func gatewayAssertion(jti string) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: issuerKey},
		(&jose.SignerOptions{}).WithType(jwtauth.AssertionType).WithHeader("kid", "k1"))
	if err != nil {
		panic(err)
	}
	payload, _ := json.Marshal(map[string]any{
		"iss": "https://auth.example.com", "aud": "https://notes.example.com",
		"sub": "alice", "client_id": "web", "scope": "notes:read",
		"route": "notes-read", "rid": "4f3c2a", "jti": jti,
		"iat": exampleNow.Unix(), "exp": exampleNow.Add(30 * time.Second).Unix(),
	})
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	tok, _ := jws.CompactSerialize()
	return tok
}

// A service behind the gateway admits only requests with a valid, unused
// X-Rampart-Assertion minted for its own origin, and reads the identity
// from it. In production Keys is a JWKS over the issuer's
// /.well-known/jwks.json and, with several instances, Replay is a
// RedisReplayCache.
func ExampleAssertionVerifier_RequireAssertion() {
	key, _ := jwtauth.NewKey("k1", jwtauth.EdDSA, issuerKey.Public())
	keys, _ := jwtauth.NewStaticKeys(key)
	av, err := jwtauth.NewAssertionVerifier(jwtauth.AssertionConfig{
		Issuer:   "https://auth.example.com",
		Keys:     keys,
		Audience: "https://notes.example.com",
		Replay:   jwtauth.NewMemoryReplayCache(exampleClock, 0),
		Clock:    exampleClock,
	})
	if err != nil {
		panic(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := jwtauth.AssertionFrom(r.Context())
		fmt.Fprintf(w, "hello %s via %s", a.Subject, a.Route)
	})
	h := av.RequireAssertion(api, nil)

	tok := gatewayAssertion("a-1")
	for _, assertion := range []string{tok, tok, ""} { // fresh, replayed, absent
		r := httptest.NewRequest(http.MethodGet, "/notes", nil)
		if assertion != "" {
			r.Header.Set(jwtauth.AssertionHeader, assertion)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 200 hello alice via notes-read
	// 403 {"error":"invalid_assertion"}
	// 403 {"error":"invalid_assertion"}
}

// VerifyAssertion is the same check as one call, with a Reason on failure.
func ExampleAssertionVerifier_VerifyAssertion() {
	key, _ := jwtauth.NewKey("k1", jwtauth.EdDSA, issuerKey.Public())
	keys, _ := jwtauth.NewStaticKeys(key)
	// This service is https://billing.example.com: an assertion minted for
	// the notes service is refused here (re-targeted).
	av, _ := jwtauth.NewAssertionVerifier(jwtauth.AssertionConfig{
		Issuer: "https://auth.example.com", Keys: keys, Audience: "https://billing.example.com",
		Replay: jwtauth.NewMemoryReplayCache(exampleClock, 0), Clock: exampleClock,
	})
	_, err := av.VerifyAssertion(context.Background(), gatewayAssertion("a-2"))
	fmt.Println(jwtauth.ReasonOf(err))
	// An access token is not an assertion, even from the same key.
	_, err = av.VerifyAssertion(context.Background(), issue(accessClaims()))
	fmt.Println(jwtauth.ReasonOf(err))
	// Output:
	// wrong_audience
	// wrong_type
}
