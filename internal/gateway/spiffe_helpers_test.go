package gateway

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
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/jwtauth"
	"github.com/rampart-auth/rampart/mtls"
	"github.com/rampart-auth/rampart/ratelimit"
)

// testCA is a trust domain's hierarchy, built in the test as the issue 14
// contract describes it: an ECDSA P-256 root and an intermediate
// (MaxPathLen 0), both with URI SAN spiffe://<td>, certSign|cRLSign and
// name constraints to the trust domain's URIs; SVIDs are signed by the
// intermediate and sent as [leaf, intermediate]; the bundle holds both.
type testCA struct {
	td            spiffeid.TrustDomain
	cert, inter   *x509.Certificate // root, intermediate
	key, interKey *ecdsa.PrivateKey
}

func newTestCA(t testing.TB, td string) *testCA {
	t.Helper()
	c := &testCA{td: spiffeid.RequireTrustDomainFromString(td)}
	c.cert, c.key = caCert(t, td, "root", nil, nil)
	c.inter, c.interKey = caCert(t, td, "intermediate", c.cert, c.key)
	return c
}

// caCert makes a CA certificate of td, self-signed when parent is nil.
func caCert(t testing.TB, td, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:                randSerial(t),
		Subject:                     pkix.Name{Organization: []string{"Rampart"}, CommonName: "test " + name + " " + td},
		NotBefore:                   now.Add(-time.Hour),
		NotAfter:                    now.Add(24 * time.Hour),
		IsCA:                        true,
		BasicConstraintsValid:       true,
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:                        []*url.URL{{Scheme: "spiffe", Host: td}},
		PermittedURIDomains:         []string{td},
		PermittedDNSDomainsCritical: true,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	} else {
		tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func randSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

// id is the SPIFFE ID of path in the CA's trust domain.
func (c *testCA) id(path string) spiffeid.ID {
	id, err := spiffeid.FromPath(c.td, path)
	if err != nil {
		panic(err)
	}
	return id
}

// svid issues an X509-SVID for path (contract leaf rules: one URI SAN,
// CA false, digitalSignature, serverAuth + clientAuth, backdated 1 min).
func (c *testCA) svid(t testing.TB, path string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := c.id(path)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(t),
		Subject:               pkix.Name{Organization: []string{"Rampart"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:                  []*url.URL{id.URL()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.inter, &key.PublicKey, c.interKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, c.inter.Raw}, PrivateKey: key, Leaf: leaf}
}

// bundle is the trust domain's X.509 authorities: the root and the
// intermediate.
func (c *testCA) bundle() map[spiffeid.TrustDomain][]*x509.Certificate {
	return map[spiffeid.TrustDomain][]*x509.Certificate{c.td: {c.cert, c.inter}}
}

// source is a StaticSource holding an SVID for path and the CA's bundle.
func (c *testCA) source(t testing.TB, path string) *mtls.StaticSource {
	t.Helper()
	return mtls.NewStaticSource(c.svid(t, path), c.bundle())
}

// writeDir writes an SVID for path and the bundle in the agent's --out
// layout (contract: svid.key first, then svid.pem, then bundle.pem), each
// file's mtime moved ahead by bump seconds so a renewal is seen on file
// systems with coarse timestamps. It returns the SVID written.
func (c *testCA) writeDir(t testing.TB, dir, path string, bump int) *tls.Certificate {
	t.Helper()
	cert := c.svid(t, path)
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name string
		mode os.FileMode
		pem  []byte
	}{
		{"svid.key", 0o600, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})},
		{"svid.pem", 0o644, append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.inter.Raw})...)},
		{"bundle.pem", 0o644, append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}),
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.inter.Raw})...)},
	}
	ts := time.Now().Add(time.Duration(bump) * time.Second)
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, f.pem, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, ts, ts); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
	return cert
}

// serveSPIFFE serves h over TLS with cfg through httpx.Server (HTTP/2 and
// HTTP/1.1 by ALPN, as serve runs the gateway) on 127.0.0.1:0 until the
// test ends, and returns the address.
func serveSPIFFE(t testing.TB, h http.Handler, cfg *tls.Config) string {
	t.Helper()
	srv := httpx.NewServer(httpx.ServerOptions{Addr: "127.0.0.1:0", Handler: h, TLSConfig: cfg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	addr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return addr.String()
}

// spiffeClient is an HTTPS client presenting src's SVID and accepting only
// a server SVID of want (the gateway's ID).
func spiffeClient(t testing.TB, src mtls.Source, want spiffeid.ID) *http.Client {
	t.Helper()
	return clientWith(t, mtls.SPIFFEClientConfig(src, mtls.AuthorizeID(want)))
}

// anonClient verifies the gateway's SVID as spiffeClient does but presents
// no client certificate.
func anonClient(t testing.TB, trust mtls.Source, want spiffeid.ID) *http.Client {
	t.Helper()
	cfg := mtls.SPIFFEClientConfig(trust, mtls.AuthorizeID(want))
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }
	return clientWith(t, cfg)
}

func clientWith(t testing.TB, cfg *tls.Config) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// mtlsHarness is a gateway behind a real SPIFFE listener: the gateway's
// SVID spiffe://example.test/gateway from gwSrc, client SVIDs of the
// gateway's trust domain verified at the handshake.
type mtlsHarness struct {
	*harness
	ca    *testCA
	gwID  spiffeid.ID
	gwSrc mtls.Source
	addr  string
}

const (
	tdName   = "example.test"
	gwPath   = "/gateway"
	pathOrd  = "/svc/orders"
	pathRep  = "/svc/reports"
	pathBill = "/svc/billing"
)

type mtlsOpts struct {
	required  bool
	src       mtls.Source // the gateway's source; default: a StaticSource
	serverTLS *tls.Config // the listener's config; default: SPIFFEServerConfig over src
}

// newMTLSHarness starts the gateway with no routes; load gives it some.
func newMTLSHarness(t testing.TB, ca *testCA, o mtlsOpts) *mtlsHarness {
	t.Helper()
	if o.src == nil {
		o.src = ca.source(t, gwPath)
	}
	km := keyManager(t)
	h := &harness{km: km, audit: &hAudit{}, reg: prometheus.NewRegistry(), deny: jwtauth.NewMemoryDenyList(nil)}
	h.jwks = httptest.NewServer(km.JWKSHandler())
	t.Cleanup(h.jwks.Close)
	d := Deps{Issuer: hIssuer, SelfKeys: selfKeys{km}, Deny: h.deny, Signer: km,
		Limits: ratelimit.NewMemoryStore(nil), ShardSecret: []byte(strings.Repeat("s", 32)), TLS: true,
		MTLSListener: true, TrustDomain: ca.td, SPIFFE: o.src,
		Audit: h.audit, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registerer: h.reg}
	gw, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	h.gw = gw
	var opts []mtls.ConfigOption
	if !o.required {
		opts = append(opts, mtls.WithOptionalClientCert())
	}
	cfg := mtls.SPIFFEServerConfig(o.src, mtls.AuthorizeMemberOf(ca.td), opts...)
	if o.serverTLS != nil {
		cfg = o.serverTLS
	}
	addr := serveSPIFFE(t, httpx.Chain(gw, httpx.ClientAddr(nil, ""), httpx.RequestID, httpx.Recover(d.Logger)), cfg)
	h.cfg = &config.Config{Issuer: hIssuer, Gateway: &config.Gateway{Listen: addr, TLS: config.TLS{Mode: config.TLSSPIFFE}}}
	return &mtlsHarness{harness: h, ca: ca, gwID: ca.id(gwPath), gwSrc: o.src, addr: addr}
}

// load replaces the route table (as a reload does).
func (m *mtlsHarness) load(t testing.TB, routes ...config.GatewayRoute) {
	t.Helper()
	cfg := *m.cfg
	gc := *cfg.Gateway
	gc.Routes = routes
	cfg.Gateway = &gc
	if err := m.gw.Load(&cfg); err != nil {
		t.Fatal(err)
	}
}

// get sends GET path with extra header pairs through c.
func (m *mtlsHarness) get(t testing.TB, c *http.Client, path, token string, hdr ...string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://"+m.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	return resp, err
}

// mustGet is get that fails the test on a transport error.
func (m *mtlsHarness) mustGet(t testing.TB, c *http.Client, path, token string, hdr ...string) *http.Response {
	t.Helper()
	resp, err := m.get(t, c, path, token, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// spiffeEcho is an upstream served over SPIFFE mTLS: it presents its own
// SVID, requires the caller's, and records the caller's verified ID and
// the headers it got.
type spiffeEcho struct {
	addr  string
	mu    sync.Mutex
	peers []spiffeid.ID
	hdrs  []http.Header
}

func newSpiffeEcho(t testing.TB, src mtls.Source, allow mtls.Authorizer) *spiffeEcho {
	t.Helper()
	e := &spiffeEcho{}
	e.addr = serveSPIFFE(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := mtls.PeerID(r.TLS)
		e.mu.Lock()
		e.peers, e.hdrs = append(e.peers, id), append(e.hdrs, r.Header.Clone())
		e.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}), mtls.SPIFFEServerConfig(src, allow))
	return e
}

func (e *spiffeEcho) last(t testing.TB) (spiffeid.ID, http.Header) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.peers) == 0 {
		t.Fatal("nothing reached the mTLS upstream")
	}
	return e.peers[len(e.peers)-1], e.hdrs[len(e.hdrs)-1]
}

func (e *spiffeEcho) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.peers)
}

// tlsExchange dials addr with cfg, completes the client's side of the
// handshake and sends one HTTP/1.1 request, returning the first error.
func tlsExchange(addr string, cfg *tls.Config) error {
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET /public/x HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
		return err
	}
	_, err = conn.Read(make([]byte, 1))
	return err
}

// isAlert reports whether err is a TLS alert the peer sent.
func isAlert(err error) bool {
	var alert tls.AlertError
	return err != nil && (errors.As(err, &alert) || strings.Contains(err.Error(), "remote error: tls:"))
}

// crl is a CRL of the trust domain, signed by the root, listing serials.
func (c *testCA) crl(t testing.TB, number int64, certs ...*tls.Certificate) *x509.RevocationList {
	t.Helper()
	now := time.Now()
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(10 * time.Minute)}
	for _, cert := range certs {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: cert.Leaf.SerialNumber, RevocationTime: now})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.cert, c.key)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return rl
}
