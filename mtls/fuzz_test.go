package mtls

import (
	"testing"
	"time"
)

// FuzzLoadKeyPair: whatever bytes arrive as certificate and key PEM,
// parsing never panics, and an accepted pair has a leaf that is not a CA,
// is valid at the given time and is the first certificate of the chain.
func FuzzLoadKeyPair(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	goodCert, goodKey, _ := newCertPair(f, "good", now.Add(-time.Hour), now.Add(24*time.Hour), false)
	_, otherKey, _ := newCertPair(f, "other", now.Add(-time.Hour), now.Add(24*time.Hour), false)
	expCert, expKey, _ := newCertPair(f, "expired", now.Add(-48*time.Hour), now.Add(-time.Hour), false)
	caCert, caKey, _ := newCertPair(f, "ca", now.Add(-time.Hour), now.Add(24*time.Hour), true)
	for _, s := range [][2][]byte{
		{goodCert, goodKey}, {goodCert, otherKey}, {expCert, expKey}, {caCert, caKey}, {goodKey, goodKey},
		{append(append([]byte{}, goodCert...), caCert...), goodKey}, {nil, nil}, {[]byte("-----BEGIN CERTIFICATE-----\n"), goodKey},
		{goodCert, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		cert, err := parseKeyPair(certPEM, keyPEM, "cert.pem", "key.pem", now)
		if err != nil {
			if cert != nil {
				t.Fatal("certificate returned with an error")
			}
			return
		}
		leaf := cert.Leaf
		if leaf == nil || leaf.IsCA || now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
			t.Fatalf("accepted leaf %+v", leaf)
		}
		if len(cert.Certificate) == 0 || string(cert.Certificate[0]) != string(leaf.Raw) || cert.PrivateKey == nil {
			t.Fatal("leaf is not the first certificate, or no key")
		}
	})
}
