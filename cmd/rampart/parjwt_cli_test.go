package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// TestClientCreatePrivateKeyJWT: `rampart client create --jwks-file`
// registers a private_key_jwt client without a secret; it gets a token
// with an assertion signed by its key, and never with a secret.
func TestClientCreatePrivateKeyJWT(t *testing.T) {
	base, cfg := authServer(t, "")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "ES256", Use: "sig"}}})
	jwksFile := writeFile(t, t.TempDir(), "jwks.json", string(set))
	code, out, errOut := cli(t, "", "client", "create", "--config", cfg, "--id", "signer", "--grant-type", "client_credentials",
		"--scope", "a", "--jwks-file", jwksFile, "--require-par", "--json")
	if code != 0 || strings.Contains(out, "client_secret") || !strings.Contains(out, `"private_key_jwt"`) || !strings.Contains(out, `"require_pushed_authorization_requests": true`) {
		t.Fatalf("client create: %d %s %s", code, out, errOut)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"iss": "signer", "sub": "signer", "aud": base, "jti": "j1", "exp": time.Now().Add(time.Minute).Unix()})
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	assertion, _ := obj.CompactSerialize()
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	resp, err := http.PostForm(base+"/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("assertion: %d", resp.StatusCode)
	}
	if st := tokenStatus(t, base, "signer", ""); st != http.StatusUnauthorized {
		t.Fatalf("private_key_jwt client without assertion: %d", st)
	}
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"usage/both-key-flags", []string{"--jwks-file", jwksFile, "--jwks-uri", "https://keys.example/jwks"}, "not both"},
		{"usage/http-jwks-uri", []string{"--jwks-uri", "http://keys.example/jwks"}, "https"},
		{"usage/public-with-keys", []string{"--public", "--jwks-uri", "https://keys.example/jwks"}, "confidential"},
		{"usage/pkjwt-without-keys", []string{"--auth-method", "private_key_jwt"}, "needs jwks"},
		{"usage/bad-method", []string{"--auth-method", "client_secret_jwt"}, "not a method"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"client", "create", "--config", cfg, "--id", "x", "--grant-type", "client_credentials"}, tc.args...)
			if code, _, errOut := cli(t, "", args...); code != 2 || !strings.Contains(errOut, tc.err) {
				t.Fatalf("exit %d %q, want 2 and %q", code, errOut, tc.err)
			}
		})
	}
}
