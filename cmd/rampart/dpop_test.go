package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// dpopProof signs an RFC 9449 proof for POST to htu with key, and nonce
// when not empty.
func dpopProof(t *testing.T, key *ecdsa.PrivateKey, htu, nonce string) string {
	t.Helper()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	c := map[string]any{"jti": hex.EncodeToString(b), "htm": "POST", "htu": htu, "iat": time.Now().Unix()}
	if nonce != "" {
		c["nonce"] = nonce
	}
	payload, _ := json.Marshal(c)
	opts := (&jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: &key.PublicKey}}}).WithType("dpop+jwt")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func dpopTokenRequest(t *testing.T, base, id, secret, proof string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// TestServeDPoPConfig: `serve` wires the DPoP configuration: a config
// client with require_dpop and a store client made with `client create
// --require-dpop` get nothing without a proof; oauth.dpop.nonce makes the
// token endpoint ask for a nonce (use_dpop_nonce, DPoP-Nonce) from the
// kms data key, and the retry with it gets a DPoP token.
func TestServeDPoPConfig(t *testing.T) {
	const cfgSecret = "configured-secret-0123456789abcdefghijklmn"
	t.Setenv("CFG_SECRET", cfgSecret)
	base, cfg := authServer(t, `oauth:
  dpop:
    nonce: true
clients:
  - id: from-config
    secret_env: CFG_SECRET
    grant_types: [client_credentials]
    require_dpop: true
`)
	code, out, errOut := cli(t, "", "client", "create", "--config", cfg, "--id", "svc", "--grant-type", "client_credentials", "--require-dpop", "--json")
	var created struct {
		Secret      string `json:"client_secret"`
		RequireDPoP bool   `json:"require_dpop"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || !created.RequireDPoP {
		t.Fatalf("client create --require-dpop: %d %s %s", code, out, errOut)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, c := range []struct{ id, secret string }{{"from-config", cfgSecret}, {"svc", created.Secret}} {
		status, body, _ := dpopTokenRequest(t, base, c.id, c.secret, "")
		if status != http.StatusBadRequest || body["error"] != "invalid_dpop_proof" {
			t.Fatalf("%s without proof: %d %v", c.id, status, body)
		}
		status, body, h := dpopTokenRequest(t, base, c.id, c.secret, dpopProof(t, key, base+"/oauth2/token", ""))
		nonce := h.Get("DPoP-Nonce")
		if status != http.StatusBadRequest || body["error"] != "use_dpop_nonce" || nonce == "" {
			t.Fatalf("%s without nonce: %d %v %q", c.id, status, body, nonce)
		}
		status, body, _ = dpopTokenRequest(t, base, c.id, c.secret, dpopProof(t, key, base+"/oauth2/token", nonce))
		if status != http.StatusOK || body["token_type"] != "DPoP" {
			t.Fatalf("%s with nonce: %d %v", c.id, status, body)
		}
	}
}
