package keys_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/rampart-auth/rampart/internal/keys"
)

func BenchmarkSignJWSES256(b *testing.B) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, s := range map[string]crypto.Signer{"in-memory": priv, "opaque": opaqueSigner{priv}} {
		k := keys.ActiveKey{KID: "k", Algorithm: keys.AlgES256, Signer: s}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := keys.SignJWS(rand.Reader, k, "at+jwt", []byte(`{"sub":"s","aud":"a"}`)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
