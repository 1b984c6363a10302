package ca_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
)

var (
	oidNameConstraints  = asn1.ObjectIdentifier{2, 5, 29, 30}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
)

func critical(c *x509.Certificate, oid asn1.ObjectIdentifier) (present, crit bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true, e.Critical
		}
	}
	return false, false
}

// TestRootAndIntermediateProfile asserts every field contract.md fixes for
// the root and the intermediate.
func TestRootAndIntermediateProfile(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		now := e.clock.Now()
		root := e.a.Root()
		auth := e.a.Authorities()
		if len(auth) != 2 || !auth[0].Equal(root) {
			t.Fatalf("bundle = %d certs, want root + intermediate", len(auth))
		}
		inter := auth[1]
		for name, c := range map[string]*x509.Certificate{"root": root, "intermediate": inter} {
			pub, ok := c.PublicKey.(*ecdsa.PublicKey)
			if !ok || pub.Curve != elliptic.P256() {
				t.Errorf("%s: key %T, want ECDSA P-256", name, c.PublicKey)
			}
			if !c.IsCA || !c.BasicConstraintsValid {
				t.Errorf("%s: not CA:true", name)
			}
			if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Errorf("%s: key usage %v, want certSign|cRLSign", name, c.KeyUsage)
			}
			if _, crit := critical(c, oidKeyUsage); !crit {
				t.Errorf("%s: key usage not critical", name)
			}
			if _, crit := critical(c, oidNameConstraints); !crit {
				t.Errorf("%s: name constraints missing or not critical", name)
			}
			if len(c.PermittedURIDomains) != 1 || c.PermittedURIDomains[0] != "example.test" {
				t.Errorf("%s: permitted URI domains %v", name, c.PermittedURIDomains)
			}
			if len(c.ExcludedURIDomains) != 1 || c.ExcludedURIDomains[0] != ".example.test" {
				t.Errorf("%s: excluded URI domains %v, want the subdomains", name, c.ExcludedURIDomains)
			}
			if len(c.PermittedDNSDomains)+len(c.ExcludedDNSDomains)+len(c.PermittedIPRanges)+len(c.ExcludedIPRanges) != 0 {
				t.Errorf("%s: DNS/IP constrained", name)
			}
			if len(c.URIs) != 1 || c.URIs[0].String() != "spiffe://example.test" {
				t.Errorf("%s: URI SANs %v, want spiffe://example.test", name, c.URIs)
			}
		}
		if err := root.CheckSignatureFrom(root); err != nil {
			t.Errorf("root not self-signed: %v", err)
		}
		if got := root.NotAfter.Sub(now); got < ca.RootTTL-time.Minute || got > ca.RootTTL {
			t.Errorf("root lifetime %s, want 10 years", got)
		}
		if err := inter.CheckSignatureFrom(root); err != nil {
			t.Errorf("intermediate not signed by the root: %v", err)
		}
		if inter.MaxPathLen != 0 || !inter.MaxPathLenZero {
			t.Errorf("intermediate MaxPathLen %d (zero %v), want 0", inter.MaxPathLen, inter.MaxPathLenZero)
		}
		if got := inter.NotAfter.Sub(now); got != 720*time.Hour {
			t.Errorf("intermediate lifetime %s, want 720h", got)
		}
		if ev := e.rec.find(audit.ActionCAInit, audit.OutcomeSuccess); len(ev) != 1 {
			t.Errorf("ca.init events %d, want 1", len(ev))
		}
	})
}

// TestSVIDProfile parses an issued leaf and asserts each field of the
// X509-SVID profile of contract.md.
func TestSVIDProfile(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		id := "spiffe://example.test/svc/api"
		if _, err := e.a.Register(ctx, ca.Registration{ID: mustID(id), DNSNames: []string{"api.internal", "api"}, TTL: 30 * time.Minute}, "cli:test"); err != nil {
			t.Fatal(err)
		}
		now := e.clock.Now()
		s, key := e.enrol(id, "api.internal")
		leaf, err := x509.ParseCertificate(s.Chain[0])
		if err != nil {
			t.Fatal(err)
		}
		inter := e.a.Authorities()[1]
		if len(s.Chain) != 2 || !bytes.Equal(s.Chain[1], inter.Raw) {
			t.Fatal("chain is not [leaf, intermediate]")
		}
		if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id || s.ID.String() != id {
			t.Errorf("URI SANs %v, want exactly %s", leaf.URIs, id)
		}
		if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "api.internal" {
			t.Errorf("DNS SANs %v", leaf.DNSNames)
		}
		if leaf.IsCA || !leaf.BasicConstraintsValid {
			t.Error("leaf: want CA:false with basic constraints valid")
		}
		if present, _ := critical(leaf, oidBasicConstraints); !present {
			t.Error("leaf: no basic constraints extension")
		}
		if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
			t.Errorf("key usage %v, want digitalSignature only", leaf.KeyUsage)
		}
		if _, crit := critical(leaf, oidKeyUsage); !crit {
			t.Error("key usage not critical")
		}
		if len(leaf.ExtKeyUsage) != 2 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || leaf.ExtKeyUsage[1] != x509.ExtKeyUsageClientAuth {
			t.Errorf("EKU %v, want serverAuth+clientAuth", leaf.ExtKeyUsage)
		}
		if leaf.Subject.CommonName != "api.internal" {
			t.Errorf("CN %q, want the first DNS name", leaf.Subject.CommonName)
		}
		if len(leaf.Subject.Organization) != 1 || leaf.Subject.Organization[0] != "Rampart" {
			t.Errorf("O %v, want Rampart", leaf.Subject.Organization)
		}
		if !leaf.NotBefore.Equal(now.Add(-time.Minute)) {
			t.Errorf("NotBefore %s, want now - 1m", leaf.NotBefore)
		}
		if !leaf.NotAfter.Equal(now.Add(30 * time.Minute)) {
			t.Errorf("NotAfter %s, want now + the registration's 30m", leaf.NotAfter)
		}
		if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 128 || leaf.SerialNumber.BitLen() < 64 {
			t.Errorf("serial %x: want positive, random 128 bits", leaf.SerialNumber)
		}
		if s.Serial != leaf.SerialNumber.Text(16) && s.Serial != "0"+leaf.SerialNumber.Text(16) {
			t.Errorf("Serial %s, leaf %x", s.Serial, leaf.SerialNumber)
		}
		if !publicKeyMatches(leaf, key.Public()) {
			t.Error("leaf key is not the CSR's")
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool(e.a.Root()), Intermediates: pool(inter), CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("leaf does not verify against the root: %v", err)
		}
		ev := e.rec.find(audit.ActionCASVIDIssue, audit.OutcomeSuccess)
		if len(ev) != 1 || ev[0].Target != "spiffe:"+id || ev[0].Details["serial"] != s.Serial ||
			ev[0].Details["credential"] != "join_token" || ev[0].Details["not_after"] == "" {
			t.Errorf("issue audit events %+v", ev)
		}
	})
}

func publicKeyMatches(c *x509.Certificate, pub any) bool {
	k, ok := c.PublicKey.(interface{ Equal(x crypto.PublicKey) bool })
	return ok && k.Equal(pub)
}

// TestSVIDTTL: default ttl, the cap by max_svid_ttl and by the
// intermediate's NotAfter.
func TestSVIDTTL(t *testing.T) {
	e := newEnv(t, "sqlite")
	now := e.clock.Now()
	s, _ := e.enrol("spiffe://example.test/a")
	if !s.NotAfter.Equal(now.Add(time.Hour)) {
		t.Errorf("default NotAfter %s, want now+1h", s.NotAfter)
	}
	// Near the end of the intermediate (and no Run to rotate), the SVID
	// ends with its issuer.
	inter := e.a.Authorities()[1]
	e.clock.Set(inter.NotAfter.Add(-10 * time.Minute))
	s, _ = e.enrol("spiffe://example.test/b")
	if !s.NotAfter.Equal(inter.NotAfter) {
		t.Errorf("NotAfter %s, want the intermediate's %s", s.NotAfter, inter.NotAfter)
	}
}

// TestNameConstraintsStopForeignIDs: a leaf the CA is forced to sign for
// another trust domain does not verify against the root.
func TestNameConstraintsStopForeignIDs(t *testing.T) {
	e := newEnv(t, "sqlite")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, u := range []string{"spiffe://evil.test/svc", "spiffe://sub.example.test/svc", "spiffe://example.testx/svc"} {
		t.Run(u, func(t *testing.T) {
			uri, _ := url.Parse(u)
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), NotBefore: e.clock.Now().Add(-time.Minute), NotAfter: e.clock.Now().Add(time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
				BasicConstraintsValid: true, URIs: []*url.URL{uri}}
			der, err := ca.SignTemplate(e.a, tmpl, &key.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			leaf, _ := x509.ParseCertificate(der)
			_, err = leaf.Verify(x509.VerifyOptions{Roots: pool(e.a.Root()), Intermediates: pool(e.a.Authorities()[1]),
				CurrentTime: e.clock.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			if err == nil {
				t.Fatalf("a leaf for %s verified against the root", u)
			}
		})
	}
}
