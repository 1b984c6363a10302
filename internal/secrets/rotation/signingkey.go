package rotation

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// Signing-key algorithms (RFC 7518 §3.1, RFC 8037 §3.1).
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
	AlgPS256 = "PS256"
)

// signingRSABits is 128-bit strength (NIST SP 800-57 Pt.1 Rev.5 Table 2),
// keys.DefaultRSABits.
const signingRSABits = 3072

// Metadata keys the signing-key rotator sets on the secret.
const (
	// MetaPublicJWK is the newest key's public JWK (JSON, with its kid),
	// for every algorithm (an RSA-3072 JWK is about 600 bytes); should one
	// not fit a metadata value it is left empty and only the kid is set.
	MetaPublicJWK = "public_jwk"
	// MetaKID is the newest key's kid, its RFC 7638 SHA-256 thumbprint.
	MetaKID = "public_jwk_kid"
)

// maxMetadataValue is the Manager's bound on a metadata value.
const maxMetadataValue = 2048

// SigningKey is the signing-key rotator: each value is the PKCS#8 PEM of
// a fresh private key of one pinned algorithm (RFC 8725 §3.1: the key
// fixes its algorithm). The key lives in the secret; consumers read it,
// so Set and Finish have nothing to do at a target.
type SigningKey struct {
	alg string
}

var (
	_ Rotator         = (*SigningKey)(nil)
	_ MetadataRotator = (*SigningKey)(nil)
)

// NewSigningKey returns a signing-key rotator for alg (ES256, EdDSA,
// RS256, PS256).
func NewSigningKey(alg string) (*SigningKey, error) {
	switch alg {
	case AlgES256, AlgEdDSA, AlgRS256, AlgPS256:
		return &SigningKey{alg: alg}, nil
	}
	return nil, fmt.Errorf("rotation: %q is not a signing algorithm (ES256, EdDSA, RS256, PS256)", alg)
}

// NewValue makes a fresh key and returns its PKCS#8 PEM.
func (k *SigningKey) NewValue(context.Context, secrets.Secret) (secrets.Value, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch k.alg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		priv, err = rsa.GenerateKey(rand.Reader, signingRSABits)
	}
	if err != nil {
		return secrets.Value{}, fmt.Errorf("rotation: signing key: generate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return secrets.Value{}, fmt.Errorf("rotation: signing key: marshal: %w", err)
	}
	defer clear(der)
	b := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	defer clear(b)
	return secrets.NewValue(b), nil
}

// Metadata returns the pending key's public JWK (when it fits) and kid.
func (k *SigningKey) Metadata(_ context.Context, pending secrets.Value) (map[string]string, error) {
	priv, err := k.parse(pending)
	if err != nil {
		return nil, err
	}
	jwk, err := publicJWK(k.alg, priv)
	if err != nil {
		return nil, err
	}
	js, err := jwk.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("rotation: signing key: public JWK: %w", err)
	}
	md := map[string]string{MetaKID: jwk.KeyID, MetaPublicJWK: string(js)}
	if len(js) > maxMetadataValue {
		md[MetaPublicJWK] = ""
	}
	return md, nil
}

// Set does nothing: the key has no target.
func (k *SigningKey) Set(context.Context, secrets.Secret, secrets.Secret, bool) error { return nil }

// Test parses the pending PEM as a key of the pinned algorithm and signs
// and verifies a probe JWS with it.
func (k *SigningKey) Test(_ context.Context, pending secrets.Secret) error {
	priv, err := k.parse(pending.Value)
	if err != nil {
		return err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: priv}, nil)
	if err != nil {
		return fmt.Errorf("rotation: signing key: signer: %w", err)
	}
	probe := []byte("rampart rotation probe")
	jws, err := signer.Sign(probe)
	if err != nil {
		return fmt.Errorf("rotation: signing key: sign: %w", err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		return fmt.Errorf("rotation: signing key: serialize: %w", err)
	}
	parsed, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(k.alg)})
	if err != nil {
		return fmt.Errorf("rotation: signing key: parse probe: %w", err)
	}
	got, err := parsed.Verify(priv.Public())
	if err != nil || string(got) != string(probe) {
		return errors.New("rotation: signing key: the probe signature does not verify")
	}
	return nil
}

// Finish does nothing.
func (k *SigningKey) Finish(context.Context, secrets.Secret, secrets.Secret, bool) error { return nil }

// parse reads a PKCS#8 PEM private key of k's algorithm. Its errors never
// quote the PEM.
func (k *SigningKey) parse(v secrets.Value) (crypto.Signer, error) {
	b := v.Bytes()
	defer clear(b)
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" || len(rest) != 0 {
		return nil, errors.New("rotation: signing key: the value is not one PKCS#8 PEM block")
	}
	defer clear(blk.Bytes)
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, errors.New("rotation: signing key: the value is not a PKCS#8 private key")
	}
	ok := false
	switch p := key.(type) {
	case *ecdsa.PrivateKey:
		ok = k.alg == AlgES256 && p.Curve == elliptic.P256()
	case ed25519.PrivateKey:
		ok = k.alg == AlgEdDSA
	case *rsa.PrivateKey:
		ok = (k.alg == AlgRS256 || k.alg == AlgPS256) && p.N.BitLen() >= signingRSABits
	}
	if !ok {
		return nil, fmt.Errorf("rotation: signing key: the key is not a %s key", k.alg)
	}
	return key.(crypto.Signer), nil
}

// publicJWK returns the public JWK of priv with its RFC 7638 kid (the
// SHA-256 thumbprint, base64url without padding), as internal/keys does.
func publicJWK(alg string, priv crypto.Signer) (jose.JSONWebKey, error) {
	jwk := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("rotation: signing key: thumbprint: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return jwk, nil
}
