package ca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/ca"
)

// FuzzParseCSR: the parser never panics, and whatever it accepts has a
// valid signature and at most one URI SAN that is a canonical SPIFFE ID.
func FuzzParseCSR(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.Add(csrWith(f, key, "spiffe://example.test/svc/a", "a.internal"))
	f.Add(csrWith(f, key, ""))
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := ca.ParseCSR(der)
		if err != nil {
			return
		}
		if err := c.CheckSignature(); err != nil {
			t.Fatalf("accepted a CSR with a bad signature: %v", err)
		}
		if len(c.URIs) > 1 {
			t.Fatal("accepted several URI SANs")
		}
		if len(c.URIs) == 1 {
			id, err := spiffeid.FromURI(c.URIs[0])
			if err != nil || id.String() != c.URIs[0].String() {
				t.Fatalf("accepted a non-canonical ID %q", c.URIs[0])
			}
		}
	})
}
