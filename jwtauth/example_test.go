package jwtauth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/jwtauth"
)

// The examples run at a fixed time with a fixed issuer key.
var (
	exampleNow   = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	exampleClock = func() time.Time { return exampleNow }
	issuerKey    = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
)

// issue signs an access token as the issuer would (typ at+jwt, kid "k1").
func issue(claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: issuerKey},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		panic(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	tok, _ := jws.CompactSerialize()
	return tok
}

func accessClaims() map[string]any {
	return map[string]any{
		"iss": "https://auth.example.com", "aud": "https://api.example.com", "sub": "alice",
		"iat": exampleNow.Unix(), "exp": exampleNow.Add(10 * time.Minute).Unix(),
		"jti": "t-1", "scope": "notes:read",
	}
}

// newVerifier trusts the issuer's single EdDSA key, configured statically.
func newVerifier(dpop jwtauth.DPoPConfig) *jwtauth.Verifier {
	key, err := jwtauth.NewKey("k1", jwtauth.EdDSA, issuerKey.Public())
	if err != nil {
		panic(err)
	}
	keys, err := jwtauth.NewStaticKeys(key)
	if err != nil {
		panic(err)
	}
	v, err := jwtauth.New(jwtauth.Config{
		Issuer:    "https://auth.example.com",
		Keys:      keys,
		Audiences: []string{"https://api.example.com"},
		DPoP:      dpop,
		Clock:     exampleClock,
	})
	if err != nil {
		panic(err)
	}
	return v
}

// A verifier for one issuer, with static keys.
func ExampleNew() {
	v := newVerifier(jwtauth.DPoPConfig{})
	claims, err := v.Verify(context.Background(), issue(accessClaims()))
	if err != nil {
		fmt.Println("rejected:", jwtauth.ReasonOf(err))
		return
	}
	fmt.Println(claims.Subject, claims.Scopes())
	// Output: alice [notes:read]
}

// Rejections carry a Reason for logs and metrics.
func ExampleReasonOf() {
	v := newVerifier(jwtauth.DPoPConfig{})
	expired := accessClaims()
	expired["exp"] = exampleNow.Add(-time.Hour).Unix()
	_, err := v.Verify(context.Background(), issue(expired))
	fmt.Println(jwtauth.ReasonOf(err))
	// Output: expired
}

// Keys from the issuer's JWK Set, fetched and cached (https in production;
// http is accepted only on loopback, as for this test server).
func ExampleNewJWKS() {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: issuerKey.Public(), KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()

	keys, err := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: srv.URL, Clock: exampleClock})
	if err != nil {
		panic(err)
	}
	// In a server: go keys.Start(ctx) refreshes the set ahead of expiry.
	v, err := jwtauth.New(jwtauth.Config{
		Issuer: "https://auth.example.com", Keys: keys,
		Audiences: []string{"https://api.example.com"}, Clock: exampleClock,
	})
	if err != nil {
		panic(err)
	}
	claims, err := v.Verify(context.Background(), issue(accessClaims()))
	fmt.Println(claims.Subject, err)
	// Output: alice <nil>
}

// The middleware answers RFC 6750 challenges and puts the claims in the
// request context.
func ExampleMiddleware() {
	v := newVerifier(jwtauth.DPoPConfig{})
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtauth.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "hello %s", c.Subject)
	})
	h := jwtauth.Middleware(v, jwtauth.MiddlewareConfig{RequiredScopes: []string{"notes:read"}})(api)

	for _, auth := range []string{"Bearer " + issue(accessClaims()), "", "Bearer forged"} {
		r := httptest.NewRequest(http.MethodGet, "/notes", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			fmt.Println(w.Code, w.Body.String())
			continue
		}
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// 200 hello alice
	// 401 Bearer realm="api"
	// 401 Bearer realm="api", error="invalid_token"
}

// A DPoP-bound access token (cnf.jkt) and its proof (RFC 9449).
func ExampleVerifier_VerifyDPoP() {
	clientKey := ed25519.NewKeyFromSeed([]byte("client-key-seed-for-the-example!"))
	jkt, _ := jwtauth.Thumbprint(clientKey.Public())

	v := newVerifier(jwtauth.DPoPConfig{Replay: jwtauth.NewMemoryReplayCache(exampleClock, 0)})
	claims := accessClaims()
	claims["cnf"] = map[string]string{"jkt": jkt}
	token := issue(claims)

	// The client signs a proof for this request with its key, embedded as jwk.
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: clientKey},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	ath := sha256.Sum256([]byte(token))
	payload, _ := json.Marshal(map[string]any{
		"jti": "p-1", "htm": "GET", "htu": "https://api.example.com/notes", "iat": exampleNow.Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(ath[:]),
	})
	jws, _ := signer.Sign(payload)
	proof, _ := jws.CompactSerialize()

	ctx := context.Background()
	c, err := v.VerifyDPoP(ctx, token, proof, "GET", "https://api.example.com/notes")
	fmt.Println(c.Subject, err)
	_, err = v.VerifyDPoP(ctx, token, proof, "GET", "https://api.example.com/notes")
	fmt.Println(jwtauth.ReasonOf(err))
	_, err = v.Verify(ctx, token) // the bound token without its proof
	fmt.Println(jwtauth.ReasonOf(err))
	// Output:
	// alice <nil>
	// dpop_replay
	// dpop_required
}
