package mtls

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// FuzzParseCanonicalID: whatever string arrives as a URI SAN, the check
// never panics, and an accepted ID is canonical: its String() is the input,
// it re-parses to itself, has a path and uses only the SPIFFE-ID characters.
func FuzzParseCanonicalID(f *testing.F) {
	for _, s := range []string{
		"spiffe://example.test/svc/a", "spiffe://EXAMPLE.test/a", "spiffe://example.test/a/", "spiffe://example.test/./a",
		"spiffe://example.test/a/../b", "spiffe://example.test/a%00b", "spiffe://example.test/a\x00b", "spiffe://[fe80::1%25eth0]/x",
		"spiffe://u@example.test/a", "spiffe://example.test:1/a", "spiffe://example.test/a?q", "spiffe://example.test/a#f",
		"spiffe://example.test", "spiffe:///a", "", "spiffe://example.test//a", "spiffe://xn--bcher-kva.test/a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := parseCanonicalID(raw)
		if err != nil {
			return
		}
		if id.String() != raw || id.Path() == "" || !strictIDChars(raw) {
			t.Fatalf("accepted non-canonical %q as %q", raw, id)
		}
		again, err := spiffeid.FromString(id.String())
		if err != nil || again != id {
			t.Fatalf("accepted %q does not re-parse: %v", raw, err)
		}
		for _, bad := range []string{"%", "?", "#", "@", ":", "[", "\x00", "//", "/./", "/../"} {
			if strings.Contains(raw[len("spiffe://"):], bad) {
				t.Fatalf("accepted %q containing %q", raw, bad)
			}
		}
	})
}

// FuzzIDFromCert: IDFromCert on any certificate crypto/x509 parses never
// panics, and an accepted one has exactly one URI SAN whose text is the ID.
func FuzzIDFromCert(f *testing.F) {
	ca := newTestCA(f, "example.test", true)
	for _, s := range []leafSpec{{}, {uris: []string{"spiffe://example.test/a", "spiffe://example.test/b"}}, {noSAN: true},
		{uris: []string{"spiffe://[fe80::1%25eth0]/x"}}, {isCA: true}} {
		if c := ca.leaf(f, s); c.Leaf != nil {
			f.Add(c.Leaf.Raw)
		}
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		id, err := IDFromCert(cert)
		if err != nil {
			return
		}
		raw, err := rawURISANs(cert)
		if err != nil || len(raw) != 1 || raw[0] != id.String() || cert.IsCA {
			t.Fatalf("accepted %s from SANs %q", id, raw)
		}
	})
}

// FuzzParseCRL: any bytes as a CRL never panic; an accepted CRL verifies
// only against the authority that signed it.
func FuzzParseCRL(f *testing.F) {
	ca := newTestCA(f, "example.test", true)
	other := newTestCA(f, "example.test", true)
	rl := ca.crl(f, time.Hour, randSerial(f), randSerial(f))
	f.Add(crlPEM(rl))
	f.Add(rl.Raw)
	f.Add(certsPEM(ca.root))
	f.Add([]byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseCRL(data)
		if err != nil {
			return
		}
		info, err := verifyCRL(got, other.bundle())
		if err == nil && info != nil {
			t.Fatal("a CRL verified against a CA that did not sign it")
		}
		if info, err := verifyCRL(got, ca.bundle()); err == nil {
			for _, e := range got.RevokedCertificateEntries {
				if _, ok := info.serials[serialKey(e.SerialNumber)]; !ok {
					t.Fatal("a listed serial is not refused")
				}
			}
		}
	})
}

// FuzzDecodeSocketResponse: any agent answer never panics; an accepted
// one has an SVID valid now whose ID is the claimed one and a bundle for
// its trust domain.
func FuzzDecodeSocketResponse(f *testing.F) {
	ca := newTestCA(f, "example.test", true)
	leaf := ca.leaf(f, leafSpec{})
	now := time.Now()
	f.Add(agentBody(f, 1, leaf, map[string][]*x509.Certificate{"example.test": ca.bundle()}, crlPEM(ca.crl(f, time.Hour))))
	f.Add(agentBody(f, 2, leaf, map[string][]*x509.Certificate{"other.test": ca.bundle()}, nil))
	f.Add([]byte(`{"version":1,"spiffe_id":"spiffe://example.test/svc/a","svid":"","key":"","bundles":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sr, err := decodeSocketResponse(body, now)
		if err != nil {
			if sr != nil {
				t.Fatal("response returned with an error")
			}
			return
		}
		id, err := IDFromCert(sr.svid.Leaf)
		if err != nil || id != sr.id || now.After(sr.svid.Leaf.NotAfter) || now.Before(sr.svid.Leaf.NotBefore) {
			t.Fatalf("accepted SVID %v: %v", id, err)
		}
		if _, ok := sr.bundles.X509Authorities(id.TrustDomain()); !ok {
			t.Fatal("accepted without a bundle for the SVID's trust domain")
		}
	})
}
