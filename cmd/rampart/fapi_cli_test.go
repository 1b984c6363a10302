package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestClientCreateFAPI2: `rampart client create --profile fapi2` registers
// a private_key_jwt client without a secret (an empty --auth-method means
// private_key_jwt), the running server holds it to the profile (its plain
// authorization request is refused: PAR required), and every
// contradiction of the profile is refused with the key named.
func TestClientCreateFAPI2(t *testing.T) {
	base, cfg := authServer(t, "")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "ES256", Use: "sig"}}})
	jwksFile := writeFile(t, t.TempDir(), "jwks.json", string(set))
	fapi := []string{"client", "create", "--config", cfg, "--profile", "fapi2", "--grant-type", "authorization_code,refresh_token",
		"--redirect-uri", "https://bank.example.com/cb", "--scope", "openid"}
	code, out, errOut := cli(t, "", append(fapi, "--id", "bank", "--jwks-uri", "https://bank.example.com/jwks.json", "--json")...)
	if code != 0 || strings.Contains(out, "client_secret") || !strings.Contains(out, `"profile": "fapi2"`) || !strings.Contains(out, `"private_key_jwt"`) {
		t.Fatalf("client create: %d %s %s", code, out, errOut)
	}
	// A plain authorization request of the stored client: refused and
	// sent back to its redirect URI (PAR is required, FAPI 2.0 SP §5.3.2.2).
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"response_type": {"code"}, "client_id": {"bank"}, "redirect_uri": {"https://bank.example.com/cb"}, "scope": {"openid"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}, "state": {"s"}}
	resp, err := noRedirect.Get(base + "/oauth2/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "https://bank.example.com/cb?") || !strings.Contains(loc, "error=invalid_request") {
		t.Fatalf("plain request of the stored fapi2 client: %d %q", resp.StatusCode, loc)
	}
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"usage/unknown-profile", []string{"--profile", "fapi1", "--jwks-file", jwksFile}, "not a profile"},
		{"usage/public", []string{"--public"}, "confidential"},
		{"usage/secret-method", []string{"--auth-method", "client_secret_basic"}, "token_endpoint_auth_method"},
		{"usage/no-keys", nil, "jwks"},
		{"usage/loopback-http", []string{"--jwks-file", jwksFile, "--redirect-uri", "http://127.0.0.1:9000/cb"}, "loopback http is refused"},
		{"usage/client-credentials", []string{"--jwks-file", jwksFile, "--grant-type", "client_credentials"}, "client_credentials is outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, errOut := cli(t, "", append(fapi, append([]string{"--id", "x"}, tc.args...)...)...); code != 2 || !strings.Contains(errOut, tc.err) {
				t.Fatalf("exit %d %q, want 2 and %q", code, errOut, tc.err)
			}
		})
	}
}

// TestConfigCheckFAPI2: `config check` refuses a fapi2 client with a
// secret and keys.algorithm RS256 (FAPI 2.0 SP §5.4.1) and accepts the
// same client correctly configured.
func TestConfigCheckFAPI2(t *testing.T) {
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "master.key", testkit.MasterKeyHex+"\n")
	head := fmt.Sprintf("issuer: http://127.0.0.1:8080\ndata_dir: %s\nmaster_key_file: %s\n", filepath.Join(dir, "data"), keyFile)
	client := "clients:\n  - id: bank\n    profile: fapi2\n    grant_types: [authorization_code]\n    redirect_uris: [https://bank.example.com/cb]\n" +
		"    jwks_uri: https://bank.example.com/jwks.json\n"
	good := writeFile(t, dir, "good.yaml", head+client)
	if code, out, errOut := cli(t, "", "config", "check", "--config", good); code != 0 {
		t.Fatalf("good: exit %d\n%s\n%s", code, out, errOut)
	}
	bad := writeFile(t, dir, "bad.yaml", head+client+"    secret_env: BANK_SECRET\nkeys: {algorithm: RS256}\n")
	code, _, errOut := cli(t, "", "config", "check", "--config", bad)
	if code != 1 || !strings.Contains(errOut, "keys.algorithm") || !strings.Contains(errOut, "clients[0] (bank).secret_env") {
		t.Fatalf("bad: exit %d, stderr %s", code, errOut)
	}
}

// TestClientCreateFAPI2RS256: with keys.algorithm RS256 the store refuses
// a new fapi2 client as the file does (FAPI 2.0 SP §5.4.1).
func TestClientCreateFAPI2RS256(t *testing.T) {
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "master.key", testkit.MasterKeyHex+"\n")
	cfg := writeFile(t, dir, "rampart.yaml", fmt.Sprintf("issuer: http://127.0.0.1:8080\ndata_dir: %s\nmaster_key_file: %s\nkeys: {algorithm: RS256}\n", filepath.Join(dir, "data"), keyFile))
	if code, out, errOut := cli(t, "", "migrate", "--config", cfg); code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}
	code, out, errOut := cli(t, "", "client", "create", "--config", cfg, "--id", "bank", "--profile", "fapi2", "--grant-type", "authorization_code",
		"--redirect-uri", "https://bank.example.com/cb", "--jwks-uri", "https://bank.example.com/jwks.json")
	if code == 0 || !strings.Contains(errOut, "keys.algorithm is RS256") {
		t.Fatalf("fapi2 client with RS256 keys: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := cli(t, "", "client", "create", "--config", cfg, "--id", "plain", "--grant-type", "client_credentials"); code != 0 {
		t.Fatalf("a client without the profile: exit %d\n%s\n%s", code, out, errOut)
	}
}
