package gateway

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/jwtauth"
)

// encodedHeader is the base64url protected header of one signing key.
type encodedHeader struct {
	kid, alg string
	b64      string
}

// header returns the encoded header {alg, kid, typ} for k, rebuilt only
// when the active key changed (rotation). The algorithm always comes from
// the key, never from input (RFC 8725 §3.1).
func (m *AssertionMinter) header(k keys.ActiveKey) string {
	if h := m.hdr.Load(); h != nil && h.kid == k.KID && h.alg == k.Algorithm {
		return h.b64
	}
	b, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		KID string `json:"kid"`
		Typ string `json:"typ"`
	}{k.Algorithm, k.KID, jwtauth.AssertionType})
	h := &encodedHeader{kid: k.KID, alg: k.Algorithm, b64: base64.RawURLEncoding.EncodeToString(b)}
	m.hdr.Store(h)
	return h.b64
}

// maxSignatureLen is the longest signature appended (RSA-4096).
const maxSignatureLen = 512

// sign serializes payload as a compact JWS (RFC 7515 §7.1) signed with k,
// refusing a result over jwtauth.MaxAssertionSize.
func (m *AssertionMinter) sign(k keys.ActiveKey, payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	hdr := m.header(k)
	n := len(hdr) + 1 + enc.EncodedLen(len(payload))
	if n > jwtauth.MaxAssertionSize {
		return "", ErrAssertionTooLarge
	}
	buf := make([]byte, n, n+1+enc.EncodedLen(maxSignatureLen))
	copy(buf, hdr)
	buf[len(hdr)] = '.'
	enc.Encode(buf[len(hdr)+1:], payload)
	sig, err := m.signInput(k, buf)
	if err != nil {
		return "", fmt.Errorf("gateway: assertion: sign with %s: %w", k.KID, err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	if len(buf) > jwtauth.MaxAssertionSize {
		return "", ErrAssertionTooLarge
	}
	return string(buf), nil
}

// signInput signs the JWS signing input with the key's one algorithm,
// through crypto.Signer so any signer (in memory or a KMS) works: ECDSA
// signatures are converted from ASN.1 to the fixed-size R||S of RFC 7518
// §3.4, RSA-PSS uses a salt the size of the hash (RFC 7518 §3.5), Ed25519
// signs the message itself (RFC 8037 §3.1).
func (m *AssertionMinter) signInput(k keys.ActiveKey, input []byte) ([]byte, error) {
	switch k.Algorithm {
	case jwtauth.ES256:
		d := sha256.Sum256(input)
		der, err := k.Signer.Sign(m.rand, d[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		return ecdsaRS(der, 32)
	case jwtauth.RS256:
		d := sha256.Sum256(input)
		return k.Signer.Sign(m.rand, d[:], crypto.SHA256)
	case jwtauth.PS256:
		d := sha256.Sum256(input)
		return k.Signer.Sign(m.rand, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	case jwtauth.EdDSA:
		return k.Signer.Sign(m.rand, input, crypto.Hash(0))
	}
	return nil, fmt.Errorf("unsupported algorithm %q", k.Algorithm)
}

var errECDSASignature = errors.New("malformed ECDSA signature")

// ecdsaRS converts an ASN.1 ECDSA-Sig-Value (SEC 1 §C.5) into R||S, each
// left-padded to size bytes.
func ecdsaRS(der []byte, size int) ([]byte, error) {
	var seq, r, s cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1(&r, asn1.INTEGER) || !seq.ReadASN1(&s, asn1.INTEGER) || !seq.Empty() {
		return nil, errECDSASignature
	}
	out := make([]byte, 2*size)
	for i, v := range [][]byte{r, s} {
		if len(v) == 0 || v[0]&0x80 != 0 { // negative: not a valid R or S
			return nil, errECDSASignature
		}
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) == 0 || len(v) > size {
			return nil, errECDSASignature
		}
		copy(out[(i+1)*size-len(v):], v)
	}
	return out, nil
}
