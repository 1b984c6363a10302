package config

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
)

// rsaJWK is a fresh RSA public key pinned to alg.
func rsaJWK(t *testing.T, alg string) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return `{"kty":"RSA","kid":"r","alg":"` + alg + `","use":"sig","n":"` + b64(k.N.Bytes()) + `","e":"` + b64(big.NewInt(int64(k.E)).Bytes()) + `"}`
}

// TestFAPIProfileConfig: a fapi2 client that follows the profile parses
// (an empty token_endpoint_auth_method means private_key_jwt); each
// contradiction of FAPI 2.0 SP is refused with the key named, and
// keys.algorithm RS256 is refused while a fapi2 client exists (§5.4.1).
func TestFAPIProfileConfig(t *testing.T) {
	head := "issuer: https://auth.example.com\n"
	client := func(extra string) string {
		return head + "clients:\n  - id: bank\n    profile: fapi2\n    grant_types: [authorization_code, refresh_token]\n" +
			"    scopes: [openid]\n" + extra
	}
	const keysURI = "    jwks_uri: https://bank.example.com/jwks.json\n"
	const redirect = "    redirect_uris: [https://bank.example.com/cb]\n"
	rs256, ps256 := rsaJWK(t, "RS256"), rsaJWK(t, "PS256")
	for _, tc := range []struct {
		name, yaml string
		want       []string // nil = valid
	}{
		{"accept/ps256-client-key", client(redirect + "    jwks: {keys: [" + ps256 + "]}\n"), nil},
		{"reject/rs256-client-key", client(redirect + "    jwks: {keys: [" + rs256 + "]}\n"), []string{"(bank).jwks.keys[0]", "RS256", "§5.4.1"}},
		{"accept/default-method", client(keysURI + redirect), nil},
		{"accept/explicit-method", client(keysURI + redirect + "    token_endpoint_auth_method: private_key_jwt\n"), nil},
		{"accept/inline-keys", client(redirect + "    jwks: {keys: [" + ecJWK + "]}\n"), nil},
		{"accept/ps256-keys", client(keysURI+redirect) + "keys:\n  algorithm: PS256\n", nil},
		{"accept/rs256-without-fapi", head + "clients:\n  - id: svc\n    secret_env: S\n    grant_types: [client_credentials]\nkeys:\n  algorithm: RS256\n", nil},
		{"reject/unknown-profile", head + "clients:\n  - id: svc\n    secret_env: S\n    grant_types: [client_credentials]\n    profile: fapi1\n", []string{"clients[0] (svc).profile", "not a profile"}},
		{"reject/public", client(keysURI + redirect + "    public: true\n"), []string{"clients[0] (bank).public", "confidential"}},
		{"reject/secret-basic", client(keysURI + redirect + "    token_endpoint_auth_method: client_secret_basic\n    secret_env: S\n"), []string{"clients[0] (bank).token_endpoint_auth_method", "private_key_jwt"}},
		{"reject/none", client(keysURI + redirect + "    token_endpoint_auth_method: none\n"), []string{".token_endpoint_auth_method", "\"none\" is not allowed"}},
		{"reject/secret-env", client(keysURI + redirect + "    secret_env: S\n"), []string{"clients[0] (bank).secret_env", "no secret"}},
		{"reject/secret-hash", client(keysURI + redirect + "    secret_hash: $argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo\n"), []string{"(bank).secret_env", "secret_hash"}},
		{"reject/no-keys", client(redirect), []string{"clients[0] (bank).jwks", "jwks_uri"}},
		{"reject/http-redirect", client(keysURI + "    redirect_uris: [http://bank.example.com/cb]\n"), []string{"redirect_uris[0]", "https"}},
		{"reject/loopback-http", client(keysURI + "    redirect_uris: [http://127.0.0.1:8080/cb]\n"), []string{"redirect_uris[0]", "loopback http is refused"}},
		{"reject/private-scheme", client(keysURI + "    redirect_uris: [com.example.bank:/cb]\n"), []string{"redirect_uris[0]", "https"}},
		{"reject/client-credentials", head + "clients:\n  - id: bank\n    profile: fapi2\n    grant_types: [authorization_code, client_credentials]\n" + keysURI + redirect,
			[]string{"(bank).grant_types", "client_credentials is outside"}},
		{"reject/device-code", head + "clients:\n  - id: bank\n    profile: fapi2\n    grant_types: [authorization_code, " + GrantDeviceCode + "]\n" + keysURI + redirect,
			[]string{"(bank).grant_types", "not allowed for a fapi2 client"}},
		{"reject/rs256", client(keysURI+redirect) + "keys:\n  algorithm: RS256\n", []string{"keys.algorithm", "RS256", "§5.4.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestFAPIProfileEffectiveAuthMethod: only a fapi2 client defaults to
// private_key_jwt.
func TestFAPIProfileEffectiveAuthMethod(t *testing.T) {
	if m := (Client{Profile: ProfileFAPI2}).EffectiveAuthMethod(); m != AuthMethodPrivateKeyJWT {
		t.Errorf("fapi2: %q", m)
	}
	if m := (Client{}).EffectiveAuthMethod(); m != "" {
		t.Errorf("no profile: %q", m)
	}
}
