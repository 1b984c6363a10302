package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-auth/rampart/jwtauth"
)

// Client authentication methods (RFC 7591 §2 token_endpoint_auth_method).
const (
	AuthMethodSecretBasic   = "client_secret_basic"
	AuthMethodSecretPost    = "client_secret_post"
	AuthMethodPrivateKeyJWT = "private_key_jwt"
	AuthMethodNone          = "none"
)

// MaxJWKSBytes bounds an inline JWK Set.
const MaxJWKSBytes = 64 << 10

// JWKSet is an inline JWK Set (RFC 7517 §5) kept as its JSON text. In
// YAML it is written either as a mapping (`jwks: {keys: [...]}`) or as a
// string holding the JSON.
type JWKSet []byte

// UnmarshalYAML accepts a mapping (converted to JSON) or a scalar holding
// the JSON text.
func (j *JWKSet) UnmarshalYAML(n *yaml.Node) error {
	b, err := jwkSetJSON(n)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*j = b
	return nil
}

// MarshalYAML writes the set back as its JSON text.
func (j JWKSet) MarshalYAML() (any, error) { return string(j), nil }

func jwkSetJSON(n *yaml.Node) ([]byte, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []byte(n.Value), nil
	case yaml.MappingNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, errors.New("jwks: not representable as JSON (use string keys)")
		}
		return b, nil
	}
	return nil, errors.New("jwks must be a JWK Set: a mapping with keys, or its JSON text")
}

// CheckJWKS parses an inline JWK Set with the verifier's key policy
// (jwtauth.KeyFromJWK: public asymmetric keys only, each with its alg; RFC
// 8725 §3.1 one algorithm per key) and returns its keys. Symmetric (oct)
// keys are refused: a client's registered keys are public by definition,
// and HMAC with a published "secret" authenticates nobody.
func CheckJWKS(data []byte) ([]*jwtauth.Key, error) {
	if len(data) == 0 || len(data) > MaxJWKSBytes {
		return nil, fmt.Errorf("a JWK Set has 1 to %d bytes", MaxJWKSBytes)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&set); err != nil {
		return nil, errors.New("not a JWK Set (a JSON object with a \"keys\" array)")
	}
	if len(set.Keys) == 0 || len(set.Keys) > jwtauth.MaxJWKSKeys {
		return nil, fmt.Errorf("a JWK Set needs 1 to %d keys", jwtauth.MaxJWKSKeys)
	}
	keys := make([]*jwtauth.Key, 0, len(set.Keys))
	seen := map[string]bool{}
	for i, raw := range set.Keys {
		k, err := jwtauth.ParseJWK(raw, "")
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %v (every key needs kty, alg and the public parameters)", i, err)
		}
		if k.IsSymmetric() {
			return nil, fmt.Errorf("keys[%d]: symmetric keys are not allowed", i)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("keys[%d]: kid %q appears twice", i, k.ID)
		}
		seen[k.ID] = true
		keys = append(keys, k)
	}
	if len(keys) > 1 && seen[""] {
		return nil, errors.New("with several keys each needs a kid")
	}
	return keys, nil
}

// CheckJWKSURI accepts an https URL, or http on a loopback host (the keys
// would otherwise be replaceable on the path; jwtauth.JWKSConfig.URL), no
// user info, no fragment.
func CheckJWKSURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || len(s) > 2000 {
		return errors.New("not an absolute URL")
	}
	if u.User != nil || u.Fragment != "" {
		return errors.New("must not carry user info or a fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return errors.New("http is allowed only on a loopback host; use https")
		}
	default:
		return errors.New("use https")
	}
	return nil
}

// CheckClientAuth checks a client's authentication method against what it
// holds: a private_key_jwt client has keys (jwks or jwks_uri, exactly one)
// and no secret; other methods have no keys; none is for public clients
// only, and public clients use none. hasSecret tells whether the client
// has a secret. The CLI and the configuration share it.
func CheckClientAuth(method string, public, hasSecret bool, jwks []byte, jwksURI string) error {
	hasKeys := len(jwks) > 0 || jwksURI != ""
	switch method {
	case "", AuthMethodSecretBasic, AuthMethodSecretPost, AuthMethodNone, AuthMethodPrivateKeyJWT:
	default:
		return fmt.Errorf("token_endpoint_auth_method %q is not a method; use client_secret_basic, client_secret_post, private_key_jwt or none", method)
	}
	switch {
	case method == AuthMethodPrivateKeyJWT && public:
		return errors.New("private_key_jwt is for confidential clients; remove public: true")
	case method == AuthMethodPrivateKeyJWT && hasSecret:
		return errors.New("a private_key_jwt client has no secret; remove secret_env/secret_hash")
	case method == AuthMethodPrivateKeyJWT && !hasKeys:
		return errors.New("a private_key_jwt client needs jwks (inline keys) or jwks_uri")
	case method != AuthMethodPrivateKeyJWT && hasKeys:
		return errors.New("jwks and jwks_uri are for token_endpoint_auth_method: private_key_jwt")
	case method == AuthMethodNone && !public:
		return errors.New("token_endpoint_auth_method none is for public clients; set public: true")
	case public && method != "" && method != AuthMethodNone:
		return fmt.Errorf("a public client authenticates with none, not %s", method)
	case len(jwks) > 0 && jwksURI != "":
		return errors.New("set jwks or jwks_uri, not both")
	}
	if len(jwks) > 0 {
		if _, err := CheckJWKS(jwks); err != nil {
			return fmt.Errorf("jwks: %w", err)
		}
	}
	if jwksURI != "" {
		if err := CheckJWKSURI(jwksURI); err != nil {
			return fmt.Errorf("jwks_uri %q: %w", jwksURI, err)
		}
	}
	return nil
}

// validateClientAuth is the parjwt part of validateClients.
func validateClientAuth(key string, cl Client, bad func(string, string, ...any)) {
	if err := CheckClientAuth(cl.EffectiveAuthMethod(), cl.Public, cl.SecretEnv != "" || cl.SecretHash != "", cl.JWKS, cl.JWKSURI); err != nil {
		bad(key, "%v", err)
	}
}
