package mtls

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// TestIDFromCert: the X509-SVID rules on the leaf, each refusal performed
// as an attack.
func TestIDFromCert(t *testing.T) {
	ca := newTestCA(t, "example.test", true)
	cases := []struct {
		name    string
		spec    leafSpec
		want    string
		wantErr string
	}{
		{"accept/svid", leafSpec{}, "spiffe://example.test/svc/a", ""},
		{"accept/mixed-case-path", leafSpec{uris: []string{"spiffe://example.test/Svc/A_b-c.d"}}, "spiffe://example.test/Svc/A_b-c.d", ""},
		{"reject/no-uri-san", leafSpec{noSAN: true}, "", "exactly one URI SAN"},
		{"reject/two-uri-sans", leafSpec{uris: []string{"spiffe://example.test/svc/a", "spiffe://example.test/svc/admin"}}, "", "exactly one URI SAN"},
		{"reject/two-identical-uri-sans", leafSpec{uris: []string{"spiffe://example.test/svc/a", "spiffe://example.test/svc/a"}}, "", "exactly one URI SAN"},
		{"reject/uppercase-trust-domain", leafSpec{uris: []string{"spiffe://EXAMPLE.test/svc/a"}}, "", "not canonical"},
		{"reject/uppercase-scheme", leafSpec{uris: []string{"SPIFFE://example.test/svc/a"}}, "", "not canonical"},
		{"reject/trailing-slash", leafSpec{uris: []string{"spiffe://example.test/svc/a/"}}, "", "SPIFFE ID"},
		{"reject/dot-segment", leafSpec{uris: []string{"spiffe://example.test/svc/./a"}}, "", "SPIFFE ID"},
		{"reject/dot-dot-segment", leafSpec{uris: []string{"spiffe://example.test/svc/../admin"}}, "", "SPIFFE ID"},
		{"reject/empty-segment", leafSpec{uris: []string{"spiffe://example.test/svc//a"}}, "", "SPIFFE ID"},
		{"reject/percent-encoding", leafSpec{uris: []string{"spiffe://example.test/svc/%61"}}, "", "not canonical"},
		{"reject/embedded-nul-escaped", leafSpec{uris: []string{"spiffe://example.test/a%00b"}}, "", "not canonical"},
		{"reject/query", leafSpec{uris: []string{"spiffe://example.test/svc/a?x=1"}}, "", "not canonical"},
		{"reject/fragment", leafSpec{uris: []string{"spiffe://example.test/svc/a#x"}}, "", "not canonical"},
		{"reject/userinfo", leafSpec{uris: []string{"spiffe://admin@example.test/svc/a"}}, "", "not canonical"},
		{"reject/port", leafSpec{uris: []string{"spiffe://example.test:443/svc/a"}}, "", "not canonical"},
		{"reject/ipv6-zone-host", leafSpec{uris: []string{"spiffe://[fe80::1%25eth0]/x"}}, "", "not canonical"},
		{"reject/bare-trust-domain", leafSpec{uris: []string{"spiffe://example.test"}}, "", "bare trust domain"},
		{"reject/other-scheme", leafSpec{uris: []string{"https://example.test/svc/a"}}, "", "not canonical"},
		{"reject/ca-as-leaf", leafSpec{isCA: true, ku: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, kuSet: true}, "", "CA certificate"},
		{"reject/no-digital-signature", leafSpec{ku: x509.KeyUsageKeyEncipherment, kuSet: true}, "", "digitalSignature"},
		{"reject/cert-sign-usage", leafSpec{ku: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, kuSet: true}, "", "keyCertSign"},
		{"reject/crl-sign-usage", leafSpec{ku: x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign, kuSet: true}, "", "keyCertSign"},
		{"reject/no-key-usage", leafSpec{ku: 0, kuSet: true}, "", "digitalSignature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ca.leaf(t, tc.spec)
			if c.Leaf == nil {
				if tc.wantErr == "" {
					t.Fatal("leaf does not parse")
				}
				return // crypto/x509 itself refuses it: also a refusal
			}
			id, err := IDFromCert(c.Leaf)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("IDFromCert = %v, %v; want error %q", id, err, tc.wantErr)
				}
				return
			}
			if err != nil || id.String() != tc.want {
				t.Fatalf("IDFromCert = %v, %v; want %s", id, err, tc.want)
			}
		})
	}
	if _, err := IDFromCert(nil); err == nil {
		t.Error("nil certificate accepted")
	}
}

// TestVerifySVID: chain verification with the bundle of the leaf's own
// trust domain, name constraints and CRLs.
func TestVerifySVID(t *testing.T) {
	a := newTestCA(t, "example.test", true)
	b := newTestCA(t, "other.test", true)
	loose := newTestCA(t, "loose.test", false) // no name constraints
	now := time.Now()
	both := map[spiffeid.TrustDomain][]*x509.Certificate{a.td: a.bundle(), b.td: b.bundle(), loose.td: loose.bundle()}
	good := a.leaf(t, leafSpec{})
	revoked := a.leaf(t, leafSpec{path: "/svc/revoked"})
	src := NewStaticSource(nil, both, a.crl(t, 10*time.Minute, revoked.Leaf.SerialNumber))
	// A leaf whose ID is in example.test but signed by other.test's CA;
	// and one by the unconstrained CA, which only the trust-domain choice
	// of bundle stops.
	crossConstrained := b.leaf(t, leafSpec{uris: []string{"spiffe://example.test/svc/a"}})
	crossLoose := loose.leaf(t, leafSpec{uris: []string{"spiffe://example.test/svc/a"}})
	// A root with name constraints and a leaf under it outside them.
	violating := a.leaf(t, leafSpec{uris: []string{"spiffe://evil.test/svc/a"}})
	// The root's own constraint, with an unconstrained intermediate and a
	// bundle of the root alone: crypto/x509 applies the root's
	// PermittedURIDomains to the whole chain.
	rootOnly := newTestCA(t, "example.test", true)
	rootOnly.inter = mustCert(t, &x509.Certificate{SerialNumber: randSerial(t), Subject: rootOnly.inter.Subject,
		NotBefore: rootOnly.inter.NotBefore, NotAfter: rootOnly.inter.NotAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, rootOnly.root, &rootOnly.interKey.PublicKey, rootOnly.rootKey)
	violatingRoot := rootOnly.leaf(t, leafSpec{uris: []string{"spiffe://evil.test/svc/a"}})
	evilRootBundle := NewStaticSource(nil, map[spiffeid.TrustDomain][]*x509.Certificate{
		spiffeid.RequireTrustDomainFromString("evil.test"): {rootOnly.root}})
	zone := a.leaf(t, leafSpec{uris: []string{"spiffe://[fe80::1%25eth0]/x"}})
	rawNUL := a.leaf(t, leafSpec{uris: []string{"spiffe://example.test/a\x00b"}})
	expired := a.leaf(t, leafSpec{nb: now.Add(-2 * time.Hour), na: now.Add(-time.Hour)})
	notYet := a.leaf(t, leafSpec{nb: now.Add(time.Hour), na: now.Add(2 * time.Hour)})
	selfSigned := a.leaf(t, leafSpec{selfSign: true})
	// An intermediate revoked: every leaf below it is refused.
	a2 := newTestCA(t, "example.test", true)
	a2leaf := a2.leaf(t, leafSpec{})
	srcA2 := NewStaticSource(nil, a2.bundles(), a2.crl(t, 10*time.Minute, a2.inter.SerialNumber))

	cases := []struct {
		name    string
		raw     [][]byte
		src     *StaticSource
		wantErr string
	}{
		{"accept/svid", good.Certificate, src, ""},
		{"accept/leaf-only-intermediate-in-bundle", good.Certificate[:1], src, ""},
		{"reject/empty", nil, src, "no certificate"},
		{"reject/garbage", [][]byte{[]byte("junk")}, src, "certificate 0"},
		{"reject/revoked-serial", revoked.Certificate, src, "revoked"},
		{"reject/revoked-intermediate", a2leaf.Certificate, srcA2, "revoked"},
		{"reject/cross-domain-ca-constrained", crossConstrained.Certificate, src, "does not verify"},
		{"reject/cross-domain-ca-unconstrained", crossLoose.Certificate, src, "does not verify"},
		{"reject/name-constraint-violation", violating.Certificate, NewStaticSource(nil, map[spiffeid.TrustDomain][]*x509.Certificate{
			spiffeid.RequireTrustDomainFromString("evil.test"): a.bundle()}), "not permitted"},
		{"reject/root-name-constraint-violation", violatingRoot.Certificate, evilRootBundle, "not permitted"},
		{"reject/ipv6-zone-under-constrained-root", zone.Certificate, src, "not canonical"},
		{"reject/raw-nul", rawNUL.Certificate, src, "certificate 0"},
		{"reject/unknown-trust-domain", b.leaf(t, leafSpec{}).Certificate, NewStaticSource(nil, a.bundles()), "no trust bundle"},
		{"reject/expired", expired.Certificate, src, "does not verify"},
		{"reject/not-yet-valid", notYet.Certificate, src, "does not verify"},
		{"reject/self-signed", selfSigned.Certificate[:1], src, "does not verify"},
		{"reject/too-long", append(good.Certificate, make([][]byte, maxChainLen)...), src, "too long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, chain, err := VerifySVID(tc.raw, tc.src, tc.src, now)
			if strings.HasPrefix(tc.name, "reject/") {
				if err == nil {
					t.Fatalf("accepted %s", id)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.String() != "spiffe://example.test/svc/a" || len(chain) < 2 || !chain[0].Equal(good.Leaf) {
				t.Fatalf("id %s chain %d", id, len(chain))
			}
		})
	}
}

// TestVerifySVIDKeyUsage: the config builders demand clientAuth from a
// client and serverAuth from a server.
func TestVerifySVIDKeyUsage(t *testing.T) {
	a := newTestCA(t, "example.test", true)
	src := NewStaticSource(nil, a.bundles())
	serverOnly := a.leaf(t, leafSpec{eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, ekuSet: true})
	noEKU := a.leaf(t, leafSpec{eku: nil, ekuSet: true})
	if _, _, err := verifyCerts([]*x509.Certificate{serverOnly.Leaf}, src, src, time.Now(), x509.ExtKeyUsageClientAuth); err == nil {
		t.Error("reject/server-only-as-client: accepted")
	}
	if _, _, err := verifyCerts([]*x509.Certificate{serverOnly.Leaf}, src, src, time.Now(), x509.ExtKeyUsageServerAuth); err != nil {
		t.Errorf("accept/server-only-as-server: %v", err)
	}
	if _, _, err := verifyCerts([]*x509.Certificate{noEKU.Leaf}, src, src, time.Now(), x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("accept/no-eku: %v", err)
	}
}

// TestNameConstraintsIPv6Zone: crypto/x509 on its own also refuses the
// CVE-2024-45341 shape (a URI host with an IPv6 zone slipping past a
// PermittedURIDomains constraint), beside IDFromCert's refusal.
func TestNameConstraintsIPv6Zone(t *testing.T) {
	a := newTestCA(t, "example.test", true)
	zone := a.leaf(t, leafSpec{uris: []string{"spiffe://[fe80::1%25example.test]/x"}})
	if zone.Leaf == nil {
		return
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.root)
	inters := x509.NewCertPool()
	inters.AddCert(a.inter)
	if _, err := zone.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters}); err == nil {
		t.Fatal("crypto/x509 accepted a zoned IPv6 URI host under a URI name constraint")
	}
	if _, _, err := VerifySVID(zone.Certificate, NewStaticSource(nil, a.bundles()), nil, time.Now()); err == nil {
		t.Fatal("VerifySVID accepted a zoned IPv6 URI host")
	}
}
