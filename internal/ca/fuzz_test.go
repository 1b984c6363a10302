package ca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
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

// FuzzJoinTokenCredential: whatever the presented token, Issue never
// panics and never issues: a token not created by CreateJoinToken is
// refused as an invalid credential (one code, one message).
func FuzzJoinTokenCredential(f *testing.F) {
	e := makeEnv(f, "sqlite")
	a, err := ca.Init(context.Background(), e.opts, nil)
	if err != nil {
		f.Fatal(err)
	}
	id := mustID("spiffe://example.test/svc/a")
	real, _, err := a.CreateJoinToken(context.Background(), ca.JoinTokenSpec{ID: &id}, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	der := mustCSR(f, "spiffe://example.test/svc/a")
	f.Add(real + "x")
	f.Add(real[:len(real)-1])
	f.Add(strings.ToUpper(real))
	f.Add("rjt1..")
	f.Add("rjt1.a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		if tok == real {
			return
		}
		_, err := a.Issue(context.Background(), ca.IssueRequest{CSR: der, Cred: ca.JoinTokenCred{Token: tok}})
		var ce *ca.Error
		if !errors.As(err, &ce) || ce.Code != ca.CodeUnauthorized || ce.Public != "invalid credential" {
			t.Fatalf("token %q: %v", tok, err)
		}
	})
}
