package ca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
)

// BenchmarkIssueSigningOnly is the cryptographic floor of an issuance
// (ECDSA P-256): parse and verify the CSR, create the certificate.
func BenchmarkIssueSigningOnly(b *testing.B) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: now, NotAfter: now.Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	der := mustCSR(b, "spiffe://example.test/svc/a")
	id, _ := url.Parse("spiffe://example.test/svc/a")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c, err := ca.ParseCSR(der)
		if err != nil {
			b.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), NotBefore: now, NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			BasicConstraintsValid: true, URIs: []*url.URL{id}}
		if _, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, c.PublicKey, caKey); err != nil {
			b.Fatal(err)
		}
	}
}

type noopAuditor struct{}

func (noopAuditor) Record(context.Context, audit.Event) error { return nil }

// BenchmarkIssueFull is Issue end to end on the SQLite store with a no-op
// auditor (admin credential: no token to mint per iteration; the
// registration, revoked-ID and record queries all run).
func BenchmarkIssueFull(b *testing.B) {
	e := uninitEnvB(b)
	a, err := ca.Init(context.Background(), e.opts, nil)
	if err != nil {
		b.Fatal(err)
	}
	der := mustCSR(b, "")
	cred := ca.AdminCred{ID: mustID("spiffe://example.test/svc/a"), Actor: "bench"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Issue(ctx, ca.IssueRequest{CSR: der, Cred: cred}); err != nil {
			b.Fatal(err)
		}
	}
}
