package oauth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/config"
)

// private_key_jwt test clients: signer-inline registers its key inline,
// signer-uri through a jwks_uri served on 127.0.0.1; parID must push its
// authorization requests.
const (
	signerInline = "signer-inline"
	signerURI    = "signer-uri"
	parID        = "par-app"
	parSecret    = "par-secret-0123456789abcdefghijklmnopqrstu"
	basicOnlyID  = "basic-only"  // token_endpoint_auth_method: client_secret_basic, secret svcSecret
	signerDown   = "signer-down" // its jwks_uri answers 500
)

var (
	assertKeyOnce sync.Once
	assertKey     *ecdsa.PrivateKey // registered for both signers
	strangerKey   *ecdsa.PrivateKey // registered for nobody
)

func testAssertKeys() {
	assertKeyOnce.Do(func() {
		var err error
		if assertKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if strangerKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
}

// assertJWKS is the public JWK Set of assertKey.
func assertJWKS() []byte {
	testAssertKeys()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &assertKey.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return b
}

// startJWKSServer serves assertJWKS on a loopback address.
func startJWKSServer(t testing.TB) string {
	body := assertJWKS()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/jwks.json"
}

func parjwtClients(e *env) []config.Client {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	e.t.Cleanup(down.Close)
	return []config.Client{
		{ID: signerDown, TokenEndpointAuthMethod: config.AuthMethodPrivateKeyJWT, JWKSURI: down.URL + "/jwks.json",
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}},
		{ID: signerInline, TokenEndpointAuthMethod: config.AuthMethodPrivateKeyJWT, JWKS: assertJWKS(),
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}},
		{ID: signerURI, TokenEndpointAuthMethod: config.AuthMethodPrivateKeyJWT, JWKSURI: e.jwksURL,
			GrantTypes: []string{"client_credentials", "authorization_code"}, RedirectURIs: []string{e.callback}, Scopes: []string{"openid"}},
		{ID: basicOnlyID, SecretEnv: "SVC", TokenEndpointAuthMethod: config.AuthMethodSecretBasic,
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}},
		{ID: parID, SecretEnv: "PAR", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{e.callback},
			Scopes: []string{"openid"}, SkipConsent: true, RequirePushedAuthorizationRequests: true},
	}
}

// signAssertion signs claims with key under kid and alg.
func signAssertion(t testing.TB, key crypto.Signer, kid string, alg jose.SignatureAlgorithm, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertionClaims are valid claims of client id for issuer.
func assertionClaims(id, issuer string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": id, "sub": id, "aud": issuer, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": randomJTI()}
}

func randomJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
