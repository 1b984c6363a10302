package caapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/ratelimit"
)

var testNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// fakeAuthority records what the handlers hand the CA and answers what the
// test chose.
type fakeAuthority struct {
	mu      sync.Mutex
	reqs    []ca.IssueRequest
	err     error // Issue's error
	crlErr  error
	jwksErr error
	crl     []byte
}

func (f *fakeAuthority) Issue(_ context.Context, req ca.IssueRequest) (*ca.SVID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if f.err != nil {
		return nil, f.err
	}
	id := spiffeid.RequireFromString("spiffe://example.org/svc/a")
	return &ca.SVID{ID: id, Chain: [][]byte{{1, 2, 3}, {4, 5}}, Serial: "0a1b", NotAfter: testNow.Add(time.Hour)}, nil
}

func (f *fakeAuthority) BundleJWKS() ([]byte, error) {
	if f.jwksErr != nil {
		return nil, f.jwksErr
	}
	return []byte(`{"keys":[],"spiffe_sequence":1}`), nil
}

func (f *fakeAuthority) BundlePEM() []byte {
	return []byte("-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n")
}

func (f *fakeAuthority) CRL(context.Context) ([]byte, error) {
	if f.crlErr != nil {
		return nil, f.crlErr
	}
	return f.crl, nil
}

func (f *fakeAuthority) requests() []ca.IssueRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ca.IssueRequest(nil), f.reqs...)
}

// fakeClients authenticates the one client "svc" with secret "s3cret".
type fakeClients struct{ err error }

func (f fakeClients) AuthenticateClient(r *http.Request) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != "svc" || secret != "s3cret" {
		return "", &AuthError{Status: http.StatusUnauthorized, Err: errors.New("bad secret")}
	}
	return id, nil
}

// testCRL is a CRL whose nextUpdate is next.
func testCRL(t testing.TB, next time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: next.Add(-10 * time.Minute), NextUpdate: next}, root, key)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

// testCSR is a PEM CSR for uri (none when "").
func testCSR(t testing.TB, uri string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{}
	if uri != "" {
		u, _ := url.Parse(uri)
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// newTestHandlers returns handlers over fa with a limit of burst requests
// per address.
func newTestHandlers(t testing.TB, fa *fakeAuthority, clients ClientAuthenticator, burst int64) *Handlers {
	t.Helper()
	l, err := ratelimit.NewLimiter(ratelimit.NewMemoryStore(nil), ratelimit.Limit{Name: "ca_svid_ip", Rate: 1, Period: time.Hour, Burst: burst})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Authority: fa, Clients: clients, Limiter: l, Clock: func() time.Time { return testNow }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// peerState is a TLS connection state whose client presented cert.
func peerState(cert *x509.Certificate) *tls.ConnectionState {
	return &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert}}
}
