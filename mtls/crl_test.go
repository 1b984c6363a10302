package mtls

import (
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestParseCRL(t *testing.T) {
	ca := newTestCA(t, "example.test", true)
	rl := ca.crl(t, 10*time.Minute, randSerial(t))
	cases := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"accept/pem", crlPEM(rl), true},
		{"accept/der", rl.Raw, true},
		{"reject/certificate-pem", certsPEM(ca.root), false},
		{"reject/two-pem-blocks", append(crlPEM(rl), crlPEM(rl)...), false},
		{"reject/garbage", []byte("not a crl"), false},
		{"reject/empty", nil, false},
		{"reject/too-large", make([]byte, maxCRLSize+1), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCRL(tc.in)
			if tc.ok != (err == nil) {
				t.Fatalf("ParseCRL = %v, %v", got, err)
			}
		})
	}
}

// TestStaticSourceCRL: a CRL is applied only when the trust domain's
// bundle signed it and it is newer; serials are refused in O(1); a CRL
// past nextUpdate stays applied and is reported stale.
func TestStaticSourceCRL(t *testing.T) {
	ca := newTestCA(t, "example.test", true)
	leaf := ca.leaf(t, leafSpec{}).Leaf
	other := ca.leaf(t, leafSpec{path: "/svc/b"}).Leaf
	src := NewStaticSource(nil, ca.bundles())
	if src.IsRevoked(ca.td, leaf) {
		t.Fatal("revoked with no CRL")
	}

	// reject/forged-crl: same issuer name, attacker's key.
	forger := newKey(t)
	fake := &x509.Certificate{SerialNumber: randSerial(t), Subject: ca.root.Subject, NotBefore: ca.root.NotBefore, NotAfter: ca.root.NotAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	fakeRoot := mustCert(t, fake, fake, &forger.PublicKey, forger)
	forged := ca.crlWith(t, fakeRoot, forger, 100, time.Now().Add(time.Hour), leaf.SerialNumber)
	if err := src.SetCRL(forged); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("forged CRL: %v", err)
	}
	// A forged CRL that would un-revoke also changes nothing: first a real one.
	if err := src.SetCRL(ca.crl(t, 10*time.Minute, leaf.SerialNumber)); err != nil {
		t.Fatal(err)
	}
	if !src.IsRevoked(ca.td, leaf) || src.IsRevoked(ca.td, other) {
		t.Fatal("revocation not applied")
	}
	if err := src.SetCRL(ca.crlWith(t, fakeRoot, forger, 100, time.Now().Add(time.Hour))); err == nil || !src.IsRevoked(ca.td, leaf) {
		t.Fatal("forged empty CRL un-revoked the leaf")
	}
	// reject/older-crl-replay: an older CRL (lower number) without the
	// serial does not replace the newer one.
	older := ca.crlWith(t, ca.root, ca.rootKey, 0, time.Now().Add(time.Hour))
	if err := src.SetCRL(older); err == nil || !src.IsRevoked(ca.td, leaf) {
		t.Fatalf("older CRL replaced the newer: %v", err)
	}
	same := ca.crlWith(t, ca.root, ca.rootKey, ca.crlNumber, time.Now().Add(time.Hour))
	if err := src.SetCRL(same); err == nil || !src.IsRevoked(ca.td, leaf) {
		t.Fatal("same-number CRL replaced the held one")
	}
	// An intermediate-signed CRL verifies too (an authority of the bundle).
	if err := src.SetCRL(ca.crlWith(t, ca.inter, ca.interKey, 50, time.Now().Add(time.Hour), other.SerialNumber)); err != nil {
		t.Fatal(err)
	}
	if src.IsRevoked(ca.td, leaf) || !src.IsRevoked(ca.td, other) {
		t.Fatal("newer CRL not applied")
	}
	// A CRL of another trust domain does not apply here.
	b := newTestCA(t, "other.test", true)
	if err := src.SetCRL(b.crl(t, time.Hour, leaf.SerialNumber)); err == nil {
		t.Fatal("CRL of an untrusted domain accepted")
	}
	if src.Stale() {
		t.Fatal("fresh CRL reported stale")
	}
	// Past nextUpdate: stale, and its serials still refused.
	if err := src.SetCRL(ca.crlWith(t, ca.root, ca.rootKey, 60, time.Now().Add(-time.Second), other.SerialNumber)); err != nil {
		t.Fatal(err)
	}
	if !src.Stale() || !src.IsRevoked(ca.td, other) {
		t.Fatal("stale CRL not reported or not applied")
	}
}

// TestSerialKey: serial numbers that differ only in sign or leading bytes
// are distinct keys.
func TestSerialKey(t *testing.T) {
	n := randSerial(t)
	if serialKey(n) == serialKey(new(x509.Certificate).SerialNumber) {
		t.Fatal("nil serial collides")
	}
	m := randSerial(t)
	if serialKey(n) == serialKey(m) && n.Cmp(m) != 0 {
		t.Fatal("different serials collide")
	}
	if serialKey(n) == serialKey(new(big.Int).Neg(n)) {
		t.Fatal("sign ignored")
	}
}
