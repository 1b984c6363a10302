package keys

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// maxSignatureLen is the longest signature SignJWS appends (RSA-4096).
const maxSignatureLen = 512

// SignJWS serializes payload (the JSON claims) as a compact JWS (RFC 7515
// §7.1) signed with k, with the protected header {"alg", "kid", "typ"}.
// It is the one JWS signer of Rampart's own tokens (access and ID tokens,
// gateway assertions). The header is fixed per key and type, so it is
// encoded once and cached; the algorithm always comes from the key, never
// from input (RFC 8725 §3.1). ECDSA signatures are the fixed-size R||S of
// RFC 7518 §3.4, RSA-PSS uses a salt the size of the hash (RFC 7518 §3.5),
// Ed25519 signs the message itself (RFC 8037 §3.1). rnd is the signing
// randomness (crypto/rand in production).
func SignJWS(rnd io.Reader, k ActiveKey, typ string, payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	hdr := jwsHeader(k.KID, k.Algorithm, typ)
	n := len(hdr) + 1 + enc.EncodedLen(len(payload))
	buf := make([]byte, n, n+1+enc.EncodedLen(maxSignatureLen))
	copy(buf, hdr)
	buf[len(hdr)] = '.'
	enc.Encode(buf[len(hdr)+1:], payload)
	sig, err := signInput(rnd, k, buf)
	if err != nil {
		return "", fmt.Errorf("keys: sign with %s: %w", k.KID, err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// signInput signs the JWS signing input with the key's one algorithm.
func signInput(rnd io.Reader, k ActiveKey, input []byte) ([]byte, error) {
	switch k.Algorithm {
	case AlgES256:
		// Through crypto.Signer for every key (in memory or a KMS): Go's
		// ecdsa.PrivateKey.Sign is its constant-time fast path, and the
		// ASN.1 conversion measured no slower and allocates less than the
		// big.Int API (BenchmarkSignJWSES256).
		d := sha256.Sum256(input)
		der, err := k.Signer.Sign(rnd, d[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		return ecdsaRS(der, 32)
	case AlgRS256:
		d := sha256.Sum256(input)
		return k.Signer.Sign(rnd, d[:], crypto.SHA256)
	case AlgPS256:
		d := sha256.Sum256(input)
		return k.Signer.Sign(rnd, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	case AlgEdDSA:
		return k.Signer.Sign(rnd, input, crypto.Hash(0))
	}
	return nil, fmt.Errorf("unsupported algorithm %q", k.Algorithm)
}

var errECDSASignature = errors.New("malformed ECDSA signature")

// ecdsaRS converts an ASN.1 ECDSA-Sig-Value (SEC 1 §C.5), as a
// crypto.Signer returns it, into R||S, each left-padded to size bytes.
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

// jwsHeaders holds encoded protected headers by kid/alg/typ.
var jwsHeaders sync.Map

func jwsHeader(kid, alg, typ string) string {
	key := kid + "\x00" + alg + "\x00" + typ
	if v, ok := jwsHeaders.Load(key); ok {
		return v.(string)
	}
	b, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		KID string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, typ})
	h := base64.RawURLEncoding.EncodeToString(b)
	jwsHeaders.Store(key, h)
	return h
}
