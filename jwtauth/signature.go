package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"math/big"
)

// verifySignature checks sig over input with key, using the key's own
// algorithm (the caller has already checked the header's alg equals it).
// Verification uses the standard library directly: go-jose parses the JWKs,
// but its JWS layer would re-parse the token that we already parsed
// strictly, for no gain.
func verifySignature(key *Key, input string, sig []byte) bool {
	switch key.Algorithm {
	case RS256, RS384, RS512, PS256, PS384, PS512:
		pub, ok := key.public.(*rsa.PublicKey)
		if !ok {
			return false
		}
		h, ch := hashFor(key.Algorithm)
		h.Write([]byte(input))
		digest := h.Sum(nil)
		if key.Algorithm[0] == 'P' {
			// RFC 7518 §3.5: the salt length equals the hash output size.
			return rsa.VerifyPSS(pub, ch, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: ch}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, ch, digest, sig) == nil
	case ES256, ES384, ES512:
		pub, ok := key.public.(*ecdsa.PublicKey)
		if !ok {
			return false
		}
		size := (pub.Curve.Params().BitSize + 7) / 8
		// RFC 7518 §3.4: R || S, each exactly the curve size; DER or other
		// lengths are refused.
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		// r and s must be in [1, n-1]; r = s = 0 ("psychic signatures",
		// CVE-2022-21449) is refused here and again by ecdsa.Verify.
		n := pub.Curve.Params().N
		if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(n) >= 0 || s.Cmp(n) >= 0 {
			return false
		}
		h, _ := hashFor(key.Algorithm)
		h.Write([]byte(input))
		return ecdsa.Verify(pub, h.Sum(nil), r, s)
	case EdDSA:
		pub, ok := key.public.(ed25519.PublicKey)
		return ok && len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, []byte(input), sig)
	case HS256, HS384, HS512:
		if key.secret == nil {
			return false
		}
		h, _ := hashFor(key.Algorithm)
		m := hmac.New(func() hash.Hash { return cloneEmpty(h) }, key.secret)
		m.Write([]byte(input))
		return hmac.Equal(m.Sum(nil), sig)
	}
	return false
}

func hashFor(alg string) (hash.Hash, crypto.Hash) {
	switch alg[2:] {
	case "384":
		return sha512.New384(), crypto.SHA384
	case "512":
		return sha512.New(), crypto.SHA512
	default:
		return sha256.New(), crypto.SHA256
	}
}

func cloneEmpty(h hash.Hash) hash.Hash {
	switch h.Size() {
	case sha512.Size384:
		return sha512.New384()
	case sha512.Size:
		return sha512.New()
	default:
		return sha256.New()
	}
}
