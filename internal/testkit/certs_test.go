package testkit_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"sync"
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

// TestServeTLS: the server answers "ok" over TLS to a client trusting the
// certificate, and a client trusting nothing fails the handshake.
func TestServeTLS(t *testing.T) {
	now := time.Now()
	certFile, keyFile, _ := testkit.WriteCertPair(t, t.TempDir(), "srv", now.Add(-time.Hour), now.Add(time.Hour))
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := testkit.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	get := func(pool *x509.CertPool) (string, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		resp, err := c.Get("https://" + addr + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if body, err := get(testkit.CertPool(t, certFile)); err != nil || body != "ok" {
		t.Fatalf("trusted client: %q %v", body, err)
	}
	if _, err := get(x509.NewCertPool()); err == nil {
		t.Fatal("a client trusting nothing connected")
	}
}

// TestSyncBuffer: concurrent writes all land.
func TestSyncBuffer(t *testing.T) {
	var b testkit.SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = b.Write([]byte("x")) }()
	}
	wg.Wait()
	if b.String() != "xxxxxxxx" {
		t.Fatalf("got %q", b.String())
	}
}
