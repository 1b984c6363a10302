package testkit_test

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestCertPair: the pair is for 127.0.0.1 and localhost, valid in its
// window, a CA only when asked, and its file verifies against CertPool.
func TestCertPair(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	certFile, _, cert := testkit.WriteCertPair(t, dir, "srv", now.Add(-time.Hour), now.Add(time.Hour))
	if cert.IsCA || cert.VerifyHostname("localhost") != nil || cert.VerifyHostname("127.0.0.1") != nil {
		t.Fatalf("leaf: CA %v, names %v %v", cert.IsCA, cert.DNSNames, cert.IPAddresses)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: testkit.CertPool(t, certFile), CurrentTime: now, DNSName: "localhost"}); err != nil {
		t.Fatalf("the written certificate does not verify against its own pool: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: testkit.CertPool(t, certFile), CurrentTime: now.Add(2 * time.Hour)}); err == nil {
		t.Fatal("the certificate verifies outside its validity window")
	}
	_, _, ca := testkit.CertPair(t, "ca", now, now.Add(time.Hour), true)
	if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatal("isCA did not make a CA")
	}
}
