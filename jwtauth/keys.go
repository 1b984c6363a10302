package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// Algorithms. A Key has exactly one; the token header never chooses it
// (RFC 8725 §3.1, DESIGN "pin, don't negotiate").
const (
	RS256 = "RS256"
	RS384 = "RS384"
	RS512 = "RS512"
	PS256 = "PS256"
	PS384 = "PS384"
	PS512 = "PS512"
	ES256 = "ES256"
	ES384 = "ES384"
	ES512 = "ES512"
	EdDSA = "EdDSA"
	HS256 = "HS256"
	HS384 = "HS384"
	HS512 = "HS512"
)

// DefaultAlgorithms is the allowlist when a Config names none: the
// asymmetric algorithms Rampart issues. HMAC must be allowed explicitly.
var DefaultAlgorithms = []string{ES256, EdDSA, RS256, PS256}

// MinRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
const MinRSABits = 2048

// Key is a verification key bound to exactly one algorithm.
type Key struct {
	// ID is the kid; an opaque lookup key, never a path or URL.
	ID string
	// Algorithm is the only algorithm this key verifies.
	Algorithm string

	public crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey
	secret []byte           // HMAC keys only (static configuration)
}

// Public returns the public key (nil for HMAC keys).
func (k *Key) Public() crypto.PublicKey { return k.public }

// IsSymmetric reports whether this is an HMAC key.
func (k *Key) IsSymmetric() bool { return k.secret != nil }

// NewKey wraps a public key for one algorithm after checking that they fit
// (type, curve, size).
func NewKey(id, alg string, pub crypto.PublicKey) (*Key, error) {
	if err := checkPublicKey(alg, pub); err != nil {
		return nil, err
	}
	return &Key{ID: id, Algorithm: alg, public: pub}, nil
}

// NewHMACKey makes a static HMAC key. The secret must be at least as long
// as the hash output (RFC 7518 §3.2): 32 bytes for HS256, 48 for HS384, 64
// for HS512. HMAC keys can only be configured statically, never come from a
// JWKS, so a public key can never be used as an HMAC secret (the classic
// RS256→HS256 key-confusion attack).
func NewHMACKey(id, alg string, secret []byte) (*Key, error) {
	size := map[string]int{HS256: 32, HS384: 48, HS512: 64}[alg]
	if size == 0 {
		return nil, fmt.Errorf("jwtauth: %q is not an HMAC algorithm", alg)
	}
	if len(secret) < size {
		return nil, fmt.Errorf("jwtauth: %s secrets must be at least %d bytes (%d bits)", alg, size, size*8)
	}
	return &Key{ID: id, Algorithm: alg, secret: append([]byte(nil), secret...)}, nil
}

// ParseJWK parses one JWK (JSON: one object without duplicate members) into
// a Key. defaultAlg is used when the JWK has no "alg"; when both are present
// they must agree. Errors are *Error with ReasonBadKey.
func ParseJWK(data []byte, defaultAlg string) (*Key, error) {
	if err := checkJSONObjectNames(data, jwkNames); err != nil {
		return nil, &Error{Reason: ReasonBadKey, Detail: "JWK: " + err.Error(), Err: err}
	}
	var jwk jose.JSONWebKey
	if err := json.Unmarshal(data, &jwk); err != nil {
		return nil, &Error{Reason: ReasonBadKey, Detail: "JWK: " + err.Error(), Err: err}
	}
	return KeyFromJWK(jwk, defaultAlg)
}

// KeyFromJWK applies the key policy to a parsed JWK: public asymmetric keys
// only (an "oct" key or private material is refused), "use" absent or
// "sig" (RFC 7517 §4.2), "alg" equal to defaultAlg when both are set and
// one of them present (RFC 7517 §4.4, RFC 8725 §3.1: one algorithm per
// key), RSA ≥ 2048 bits, EC points on the named curve that the algorithm
// requires, Ed25519 keys of 32 bytes. Errors are *Error with ReasonBadKey.
func KeyFromJWK(jwk jose.JSONWebKey, defaultAlg string) (*Key, error) {
	id := clip(jwk.KeyID)
	if jwk.Use != "" && jwk.Use != "sig" {
		return nil, reject(ReasonBadKey, "JWK %q has use %q, not sig", id, clip(jwk.Use))
	}
	alg := jwk.Algorithm
	switch {
	case alg == "" && defaultAlg == "":
		return nil, reject(ReasonBadKey, "JWK %q has no alg; name the algorithm", id)
	case alg == "":
		alg = defaultAlg
	case defaultAlg != "" && alg != defaultAlg:
		return nil, reject(ReasonBadKey, "JWK %q has alg %s, not %s", id, clip(alg), defaultAlg)
	}
	if _, ok := jwk.Key.([]byte); ok {
		// RFC 8725 §3.2: symmetric keys never come from a key set.
		return nil, reject(ReasonBadKey, "JWK %q is a symmetric (oct) key; HMAC keys are configured statically only", id)
	}
	if !jwk.IsPublic() {
		return nil, reject(ReasonBadKey, "JWK %q holds private key material; a verification key must be public", id)
	}
	k, err := NewKey(jwk.KeyID, alg, jwk.Key)
	if err != nil {
		return nil, &Error{Reason: ReasonBadKey, Detail: fmt.Sprintf("JWK %q: %v", id, err), Err: err}
	}
	return k, nil
}

// checkPublicKey checks that pub is a sound key of the type alg needs.
func checkPublicKey(alg string, pub crypto.PublicKey) error {
	switch alg {
	case RS256, RS384, RS512, PS256, PS384, PS512:
		k, ok := pub.(*rsa.PublicKey)
		if !ok || k == nil || k.N == nil {
			return fmt.Errorf("%s needs an RSA key", alg)
		}
		if k.N.BitLen() < MinRSABits {
			return fmt.Errorf("RSA key of %d bits is too short (minimum %d)", k.N.BitLen(), MinRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return errors.New("RSA public exponent is invalid")
		}
	case ES256, ES384, ES512:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k == nil || k.Curve == nil {
			return fmt.Errorf("%s needs an EC key", alg)
		}
		want := map[string]elliptic.Curve{ES256: elliptic.P256(), ES384: elliptic.P384(), ES512: elliptic.P521()}[alg]
		if k.Curve != want {
			return fmt.Errorf("%s needs curve %s", alg, want.Params().Name)
		}
		// Invalid-curve attacks: the point must lie on the named curve
		// (Bytes refuses an invalid point; ECDH checks it against the curve).
		if _, err := k.Bytes(); err != nil {
			return errors.New("EC point is not on its curve")
		}
		if _, err := k.ECDH(); err != nil {
			return errors.New("EC point is not on its curve")
		}
	case EdDSA:
		k, ok := pub.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return errors.New("EdDSA needs a 32-byte Ed25519 key")
		}
	case HS256, HS384, HS512:
		return fmt.Errorf("%s keys are made with NewHMACKey", alg)
	default:
		return fmt.Errorf("algorithm %q is not supported", alg)
	}
	return nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of an asymmetric key,
// base64url without padding (as DPoP's cnf.jkt uses it).
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("jwtauth: thumbprint: %w", err)
	}
	return b64.EncodeToString(tp), nil
}

// StaticKeys is a KeySource over configured keys.
type StaticKeys struct {
	byID map[string]*Key
	only *Key
}

var _ KeySource = (*StaticKeys)(nil)

// NewStaticKeys builds a KeySource from keys; kids must be unique.
func NewStaticKeys(keys ...*Key) (*StaticKeys, error) {
	if len(keys) == 0 {
		return nil, errors.New("jwtauth: no keys")
	}
	s := &StaticKeys{byID: make(map[string]*Key, len(keys))}
	for _, k := range keys {
		if _, dup := s.byID[k.ID]; dup {
			return nil, fmt.Errorf("jwtauth: duplicate kid %q", k.ID)
		}
		s.byID[k.ID] = k
	}
	if len(keys) == 1 {
		s.only = keys[0]
	}
	return s, nil
}

// Key implements KeySource.
func (s *StaticKeys) Key(_ context.Context, kid string) (*Key, error) {
	if k, ok := s.byID[kid]; ok {
		return k, nil
	}
	if kid == "" && s.only != nil {
		return s.only, nil
	}
	return nil, ErrUnknownKey
}

// tokenHash is the verified-token cache key.
func tokenHash(token string) [32]byte { return sha256.Sum256([]byte(token)) }
