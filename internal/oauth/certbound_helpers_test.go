package oauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/mtls"
)

const (
	certSvcID = "cert-svc" // confidential, certificate_bound_access_tokens (harness_test.go)
	certTD    = "example.test"
)

// svidCA is a small trust domain CA for the token endpoint's mTLS alias:
// a name-constrained root that signs X509-SVID leaves directly.
type svidCA struct {
	td   spiffeid.TrustDomain
	root *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newSVIDCA(t testing.TB) *svidCA {
	t.Helper()
	key := mustKey(t)
	td := spiffeid.RequireTrustDomainFromString(certTD)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: []*url.URL{td.ID().URL()}, PermittedURIDomains: []string{certTD},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	return &svidCA{td: td, root: root, key: key}
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// svid issues an X509-SVID for path, signed by the CA, or self-signed
// (a forgery with the same SPIFFE ID) when selfSigned.
func (ca *svidCA) svid(t testing.TB, path string, selfSigned bool) *tls.Certificate {
	t.Helper()
	key := mustKey(t)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber: serial, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{spiffeid.RequireFromPath(ca.td, path).URL()},
	}
	parent, signer := ca.root, ca.key
	if selfSigned {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// staticBinder verifies client certificates against the test CA with
// mtls.VerifySVID, as the enrolment listener's binder does with the CA.
type staticBinder struct{ src *mtls.StaticSource }

func (b staticBinder) Thumbprint(r *http.Request) (string, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", false, nil
	}
	raw := make([][]byte, len(r.TLS.PeerCertificates))
	for i, c := range r.TLS.PeerCertificates {
		raw[i] = c.Raw
	}
	if _, _, err := mtls.VerifySVID(raw, b.src, b.src, time.Now()); err != nil {
		return "", true, err
	}
	return mtls.CertThumbprint(raw[0]), true, nil
}

// certEnv is an authorization server with its mTLS alias: a TLS server
// that requests client certificates and serves the alias's token
// endpoint (and the test resource, to show a bound token accepted with
// its certificate).
type certEnv struct {
	*env
	ca       *svidCA
	alias    *httptest.Server
	tokenURL string // the alias's token endpoint
}

func newCertEnv(t testing.TB, driver string) *certEnv {
	t.Helper()
	ca := newSVIDCA(t)
	alias := httptest.NewUnstartedServer(nil)
	alias.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS13}
	tokenURL := "https://" + alias.Listener.Addr().String() + oauth.PathToken
	src := mtls.NewStaticSource(nil, map[spiffeid.TrustDomain][]*x509.Certificate{ca.td: {ca.root}})
	e := newEnvOpts(t, driver, func(o *oauth.Options) {
		o.MTLS = &oauth.MTLSAlias{TokenEndpoint: func() string { return tokenURL }, Binder: staticBinder{src: src}}
	})
	mux := http.NewServeMux()
	mux.Handle("POST "+oauth.PathToken, e.as.MTLSHandler())
	mux.Handle(testResourcePath, testResource(e.as))
	alias.Config.Handler = mux
	alias.StartTLS()
	t.Cleanup(alias.Close)
	return &certEnv{env: e, ca: ca, alias: alias, tokenURL: tokenURL}
}

// client is an HTTPS client of the alias presenting cert (nil: none).
func (c *certEnv) client(cert *tls.Certificate) *http.Client {
	tr := c.alias.Client().Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	c.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// aliasToken posts a token request to the alias with cert.
func (c *certEnv) aliasToken(cert *tls.Certificate, form url.Values, basicID, basicSecret string, proofs ...string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := c.client(cert).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &out); err != nil {
		c.t.Fatalf("alias answered non-JSON %q", body)
	}
	return resp.StatusCode, out
}

// cnfX5t is the token's cnf.x5t#S256 ("" for none).
func cnfX5t(t *testing.T, tok string) string {
	t.Helper()
	c, _ := claimsOf(t, tok)["cnf"].(map[string]any)
	s, _ := c["x5t#S256"].(string)
	return s
}
