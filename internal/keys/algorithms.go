package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/kms"
)

// Signing algorithms (RFC 7518 §3.1, RFC 8037 §3.1). A key has exactly one
// (RFC 8725 §3.1: the algorithm is pinned by the key, never chosen by a
// token header).
const (
	AlgES256 = "ES256" // ECDSA P-256 SHA-256: the default; small, fast, universally supported
	AlgEdDSA = "EdDSA" // Ed25519 (RFC 8037)
	AlgRS256 = "RS256" // RSASSA-PKCS1-v1_5 SHA-256, for verifiers that know nothing else
	AlgPS256 = "PS256" // RSASSA-PSS SHA-256
)

// MinRSABits is the smallest RSA modulus accepted: RFC 7518 §3.3 requires
// 2048 bits, and NIST SP 800-131A disallows less.
const MinRSABits = 2048

// DefaultRSABits is 128-bit strength (NIST SP 800-57 Pt.1 Rev.5 Table 2).
const DefaultRSABits = 3072

// Envelope format of private_enc. The version is stored in enc_version and
// bound into the associated data with the kid, so a ciphertext copied to
// another row, or replayed under another format, fails to decrypt.
// The associated data of format 1 is kms.SigningKeyAD(kid); the key
// version of the master key is in the ciphertext's own header (kms.KEK).
const envelopeV1 = 1

func envelopeAD(version int, kid string) ([]byte, error) {
	if version != envelopeV1 {
		return nil, fmt.Errorf("keys: unknown envelope version %d", version)
	}
	return kms.SigningKeyAD(kid), nil
}

func validAlgorithm(alg string) bool {
	switch alg {
	case AlgES256, AlgEdDSA, AlgRS256, AlgPS256:
		return true
	}
	return false
}

// generateKey makes a new private key for alg. Since Go 1.26 the standard
// library draws key material from its own CSPRNG and ignores r unless
// GODEBUG=cryptocustomrand=1 (tests use testing/cryptotest instead).
func generateKey(alg string, rsaBits int, r io.Reader) (crypto.Signer, error) {
	switch alg {
	case AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), r)
	case AlgEdDSA:
		_, priv, err := ed25519.GenerateKey(r)
		return priv, err
	case AlgRS256, AlgPS256:
		if rsaBits < MinRSABits {
			return nil, fmt.Errorf("keys: RSA keys must be at least %d bits (RFC 7518 §3.3), got %d", MinRSABits, rsaBits)
		}
		return rsa.GenerateKey(r, rsaBits)
	}
	return nil, fmt.Errorf("keys: unsupported algorithm %q; use ES256, EdDSA, RS256 or PS256", alg)
}

// checkKeyAlg verifies that priv is the kind of key alg needs, so a row
// whose algorithm column was edited cannot make a key sign with another
// algorithm (RFC 8725 §3.1).
func checkKeyAlg(alg string, priv crypto.Signer) error {
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		if alg == AlgES256 && k.Curve == elliptic.P256() {
			return nil
		}
	case ed25519.PrivateKey:
		if alg == AlgEdDSA {
			return nil
		}
	case *rsa.PrivateKey:
		if (alg == AlgRS256 || alg == AlgPS256) && k.N.BitLen() >= MinRSABits {
			return nil
		}
	}
	return fmt.Errorf("keys: a %T cannot be a %s key", priv, alg)
}

// publicJWK returns the public JWK of priv with its RFC 7638 kid. Only
// public members are ever produced: the key is the public half.
func publicJWK(alg string, priv crypto.Signer) (jose.JSONWebKey, error) {
	jwk := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("keys: thumbprint: %w", err)
	}
	// RFC 7638 §3: the SHA-256 JWK thumbprint, base64url without padding,
	// is a kid derived from the key itself: unique, and checkable on load.
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return jwk, nil
}

// sealPrivate serializes priv as PKCS#8 and seals it under the master key,
// bound to kid and the envelope version.
func sealPrivate(mk Sealer, kid string, priv crypto.Signer) ([]byte, int, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, 0, fmt.Errorf("keys: marshal private key: %w", err)
	}
	defer clear(der) // best effort: do not leave the DER on the heap longer than needed
	ad, _ := envelopeAD(envelopeV1, kid)
	ct, err := mk.Seal(ad, der)
	if err != nil {
		return nil, 0, err
	}
	return ct, envelopeV1, nil
}

// openPrivate reverses sealPrivate and checks the key against its record:
// right type for alg, and a thumbprint equal to kid. A row that fails here
// was tampered with or sealed under another master key; it is never
// published nor used.
func openPrivate(mk Sealer, rec *KeyRecord) (crypto.Signer, jose.JSONWebKey, error) {
	ad, err := envelopeAD(rec.EncVersion, rec.KID)
	if err != nil {
		return nil, jose.JSONWebKey{}, err
	}
	der, err := mk.Open(ad, rec.PrivateEnc)
	if err != nil {
		return nil, jose.JSONWebKey{}, err
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, jose.JSONWebKey{}, fmt.Errorf("keys: parse private key: %w", err)
	}
	priv, ok := k.(crypto.Signer)
	if !ok {
		return nil, jose.JSONWebKey{}, errors.New("keys: private key is not a signer")
	}
	if err := checkKeyAlg(rec.Algorithm, priv); err != nil {
		return nil, jose.JSONWebKey{}, err
	}
	jwk, err := publicJWK(rec.Algorithm, priv)
	if err != nil {
		return nil, jose.JSONWebKey{}, err
	}
	if jwk.KeyID != rec.KID {
		return nil, jose.JSONWebKey{}, errors.New("keys: private key does not match its kid")
	}
	return priv, jwk, nil
}
