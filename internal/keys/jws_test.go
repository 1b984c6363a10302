package keys_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/keys"
)

// opaqueSigner hides the concrete key type, as a hardware or cloud KMS
// signer would: SignJWS must then convert the ASN.1 ECDSA signature.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, d, opts)
}

// TestSignJWSVerifies: tokens from the in-memory and the opaque ES256
// signer verify with go-jose under the pinned algorithm, with the header
// {alg, kid, typ}.
func TestSignJWSVerifies(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, signer := range map[string]crypto.Signer{"in-memory": priv, "opaque": opaqueSigner{priv}} {
		t.Run(name, func(t *testing.T) {
			k := keys.ActiveKey{KID: "k1", Algorithm: keys.AlgES256, Signer: signer}
			tok, err := keys.SignJWS(rand.Reader, k, "at+jwt", []byte(`{"sub":"s"}`))
			if err != nil {
				t.Fatal(err)
			}
			jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			h := jws.Signatures[0].Protected
			if h.KeyID != "k1" || h.ExtraHeaders["typ"] != "at+jwt" {
				t.Fatalf("header %+v", h)
			}
			if out, err := jws.Verify(&priv.PublicKey); err != nil || string(out) != `{"sub":"s"}` {
				t.Fatalf("verify: %q %v", out, err)
			}
		})
	}
}

// TestSignJWSRefusesUnknownAlgorithm: a key whose algorithm is not one of
// Rampart's four never signs.
func TestSignJWSRefusesUnknownAlgorithm(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := keys.SignJWS(rand.Reader, keys.ActiveKey{KID: "k", Algorithm: "none", Signer: priv}, "JWT", []byte("{}")); err == nil {
		t.Fatal("signed with alg none")
	}
}
