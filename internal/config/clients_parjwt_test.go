package config

import (
	"strings"
	"testing"
)

// ecJWK is a P-256 public key (RFC 7515 A.3).
const ecJWK = `{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`

// TestClientAuthConfig: private_key_jwt clients with inline keys (as a
// YAML mapping or JSON text) or a jwks_uri parse; contradictions are
// refused with the key named.
func TestClientAuthConfig(t *testing.T) {
	head := "issuer: https://auth.example.com\nclients:\n  - id: signer\n    grant_types: [client_credentials]\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string // "" = valid
	}{
		{"accept/jwks-mapping", head + "    token_endpoint_auth_method: private_key_jwt\n    jwks:\n      keys:\n        - " + ecJWK + "\n", nil},
		{"accept/jwks-json-text", head + "    token_endpoint_auth_method: private_key_jwt\n    jwks: '{\"keys\":[" + ecJWK + "]}'\n", nil},
		{"accept/jwks-uri", head + "    token_endpoint_auth_method: private_key_jwt\n    jwks_uri: https://keys.example.com/jwks.json\n", nil},
		{"accept/global-par", head + "    secret_env: S\noauth:\n  require_pushed_authorization_requests: true\n", nil},
		{"reject/both-key-sources", head + "    token_endpoint_auth_method: private_key_jwt\n    jwks_uri: https://keys.example.com/jwks.json\n    jwks: {keys: [" + ecJWK + "]}\n", []string{"not both"}},
		{"reject/no-keys", head + "    token_endpoint_auth_method: private_key_jwt\n", []string{"clients[0] (signer)", "needs jwks"}},
		{"reject/with-secret", head + "    token_endpoint_auth_method: private_key_jwt\n    secret_env: S\n    jwks_uri: https://keys.example.com/jwks.json\n", []string{"no secret"}},
		{"reject/http-jwks-uri", head + "    token_endpoint_auth_method: private_key_jwt\n    jwks_uri: http://keys.example.com/jwks.json\n", []string{"https"}},
		{"reject/oct-key", head + "    token_endpoint_auth_method: private_key_jwt\n    jwks: {keys: [{kty: oct, k: c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MDE, alg: HS256}]}\n", []string{"symmetric"}},
		{"reject/private-key", head + "    token_endpoint_auth_method: private_key_jwt\n    jwks: {keys: [{kty: EC, crv: P-256, alg: ES256, x: f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU, y: x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0, d: jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI}]}\n", []string{"private"}},
		{"reject/key-without-alg", head + "    token_endpoint_auth_method: private_key_jwt\n    jwks: {keys: [{kty: EC, crv: P-256, x: f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU, y: x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0}]}\n", []string{"alg"}},
		{"reject/jwks-list", head + "    token_endpoint_auth_method: private_key_jwt\n    jwks: [1]\n", []string{"jwks"}},
		{"reject/keys-on-secret-client", head + "    secret_env: S\n    jwks_uri: https://keys.example.com/jwks.json\n", []string{"private_key_jwt"}},
		{"reject/unknown-method", head + "    secret_env: S\n    token_endpoint_auth_method: client_secret_jwt\n", []string{"not a method"}},
		{"reject/none-on-confidential", head + "    secret_env: S\n    token_endpoint_auth_method: none\n", []string{"public"}},
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
