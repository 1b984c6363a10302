package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/jwtauth"
)

// TestSignEveryAlgorithm: tokens minted by sign verify with jwtauth and
// with go-jose for every algorithm a key may have, and carry the kid, the
// key's algorithm and the type.
func TestSignEveryAlgorithm(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	for _, tc := range []struct {
		alg string
		key crypto.Signer
	}{{"ES256", ec}, {"RS256", rsaKey}, {"PS256", rsaKey}, {"EdDSA", ed}} {
		t.Run(tc.alg, func(t *testing.T) {
			ak := keys.ActiveKey{KID: "k-" + tc.alg, Algorithm: tc.alg, Signer: tc.key}
			tok, err := sign(ak, "at+jwt", accessClaims{Issuer: "https://iss", Subject: "s", Audience: []string{"a"},
				Expiry: now.Add(time.Minute).Unix(), IssuedAt: now.Unix(), ID: "j", ClientID: "c"})
			if err != nil {
				t.Fatal(err)
			}
			pub, err := jwtauth.NewKey(ak.KID, tc.alg, tc.key.Public())
			if err != nil {
				t.Fatal(err)
			}
			ks, err := jwtauth.NewStaticKeys(pub)
			if err != nil {
				t.Fatal(err)
			}
			v, err := jwtauth.New(jwtauth.Config{Issuer: "https://iss", Keys: ks, Audiences: []string{"a"}, Algorithms: []string{tc.alg}})
			if err != nil {
				t.Fatal(err)
			}
			if c, err := v.Verify(context.Background(), tok); err != nil || c.ClientID != "c" {
				t.Fatalf("jwtauth: %+v %v", c, err)
			}
			jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tc.alg)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify(tc.key.Public()); err != nil {
				t.Fatalf("go-jose: %v", err)
			}
			h := jws.Signatures[0].Protected
			if h.KeyID != ak.KID || h.Algorithm != tc.alg || h.ExtraHeaders["typ"] != "at+jwt" {
				t.Fatalf("header %+v", h)
			}
		})
	}
}
