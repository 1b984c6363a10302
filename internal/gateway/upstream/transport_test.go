package upstream

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// tlsFixture is an upstream requiring client certificates, with the files
// a pool needs to reach it.
type tlsFixture struct {
	url                      string
	caFile, otherCA          string
	clientCert, clientKey    string
	strangerCert, strangerKy string // a client certificate from a CA the upstream does not trust
}

func newTLSFixture(t *testing.T, maxVersion uint16) tlsFixture {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	nb, na := now.Add(-time.Hour), now.Add(time.Hour)
	var f tlsFixture
	srvCert, srvKey, _ := testkit.CertPair(t, "upstream", nb, na, false)
	f.caFile = filepath.Join(dir, "upstream-ca.pem")
	testkit.WriteFile(t, f.caFile, srvCert)
	otherCert, _, _ := testkit.CertPair(t, "other", nb, na, false)
	f.otherCA = filepath.Join(dir, "other-ca.pem")
	testkit.WriteFile(t, f.otherCA, otherCert)

	clientCA := newCA(t, "client-ca")
	f.clientCert, f.clientKey = clientCA.issueClient(t, dir, "gateway")
	f.strangerCert, f.strangerKy = newCA(t, "stranger-ca").issueClient(t, dir, "stranger")

	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(clientCA.cert)
	addr := testkit.ServeTLS(t, &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
		NextProtos:   []string{"h2", "http/1.1"},
		MaxVersion:   maxVersion,
		MinVersion:   tls.VersionTLS10, // #nosec G402 -- the test server offers old versions to prove the pool refuses them.
	})
	f.url = "https://" + addr
	return f
}

type testCA struct {
	cert *x509.Certificate
	key  any
}

// newCA makes a client CA. testkit.CertPair's CAs carry the server-auth
// extended key usage, which Go applies to the whole chain, so a client CA
// is made here without one.
func newCA(t *testing.T, name string) testCA {
	t.Helper()
	now := time.Now()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{cert: cert, key: key}
}

// issueClient writes a client-auth leaf signed by ca to dir.
func (ca testCA) issueClient(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	now := time.Now()
	leafPEM, leafKeyPEM, _ := testkit.CertPair(t, name, now.Add(-time.Hour), now.Add(time.Hour), false)
	b, _ := pem.Decode(leafPEM)
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := pem.Decode(leafKeyPEM)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, leaf.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	testkit.WriteFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	testkit.WriteFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb.Bytes}))
	return certFile, keyFile
}

func roundTrip(t *testing.T, p *Pool) (*http.Response, error) {
	t.Helper()
	tg, err := p.Pick("")
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, tg.URL.String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Transport().RoundTrip(req)
	if err == nil {
		t.Cleanup(func() { _ = resp.Body.Close() })
	}
	return resp, err
}

func TestUpstreamMutualTLS(t *testing.T) {
	f := newTLSFixture(t, 0)
	p := mustPool(t, Options{Route: "mtls", URLs: []string{f.url},
		TLS: TLS{CAFile: f.caFile, CertFile: f.clientCert, KeyFile: f.clientKey}})
	resp, err := roundTrip(t, p)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if resp.ProtoMajor != 2 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("proto %s, TLS %+v: want HTTP/2 over TLS 1.2+", resp.Proto, resp.TLS)
	}
	// Through the proxy too.
	gw := gatewayFor(t, p, nil)
	if r := get(t, gw.URL+"/", ""); r.status != 200 || r.body != "ok" {
		t.Fatalf("through the gateway: %d %q", r.status, r.body)
	}
}

// TestUpstreamTLSRefusals performs the attacks: a pool that trusts the
// wrong CA (an impostor upstream, from the pool's side), no client
// certificate or one the upstream does not trust, a wrong ServerName, and
// an upstream offering only TLS 1.1. Each must fail, and through the
// proxy the client sees a 502 with none of the TLS error's text.
func TestUpstreamTLSRefusals(t *testing.T) {
	f := newTLSFixture(t, 0)
	old := newTLSFixture(t, tls.VersionTLS11)
	cases := []struct {
		name string
		url  string
		tls  TLS
	}{
		{"reject/wrong-ca", f.url, TLS{CAFile: f.otherCA, CertFile: f.clientCert, KeyFile: f.clientKey}},
		{"reject/system-roots", f.url, TLS{CertFile: f.clientCert, KeyFile: f.clientKey}},
		{"reject/no-client-cert", f.url, TLS{CAFile: f.caFile}},
		{"reject/untrusted-client-cert", f.url, TLS{CAFile: f.caFile, CertFile: f.strangerCert, KeyFile: f.strangerKy}},
		{"reject/server-name", f.url, TLS{CAFile: f.caFile, CertFile: f.clientCert, KeyFile: f.clientKey, ServerName: "evil.test"}},
		{"reject/tls1.1", old.url, TLS{CAFile: old.caFile, CertFile: old.clientCert, KeyFile: old.clientKey}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustPool(t, Options{Route: "mtls", URLs: []string{c.url}, TLS: c.tls, Ejection: Ejection{Consecutive: -1}})
			resp, err := roundTrip(t, p)
			t.Logf("refused with: %v", err)
			if err == nil {
				// TLS 1.3 reports a refused client certificate on first read.
				if _, err = io.ReadAll(resp.Body); err == nil && resp.StatusCode == 200 {
					t.Fatal("the request went through")
				}
			}
			gw := gatewayFor(t, p, nil)
			r := get(t, gw.URL+"/", "")
			assertProblem(t, r, http.StatusBadGateway, "x509", "certificate", "tls", "127.0.0.1")
		})
	}
	p := mustPool(t, Options{URLs: []string{f.url}, TLS: TLS{CAFile: f.caFile, CertFile: f.clientCert, KeyFile: f.clientKey, ServerName: "localhost"}})
	if _, err := roundTrip(t, p); err != nil {
		t.Fatalf("ServerName localhost (in the certificate): %v", err)
	}
}

func TestNewTLSFileErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	testkit.WriteFile(t, garbage, []byte("not a certificate"))
	now := time.Now()
	expiredCert, expiredKey, _ := testkit.WriteCertPair(t, dir, "expired", now.Add(-2*time.Hour), now.Add(-time.Hour))
	cases := []struct {
		name string
		tls  TLS
		want string
	}{
		{"reject/ca-missing", TLS{CAFile: filepath.Join(dir, "nope.pem")}, "tls ca_file"},
		{"reject/ca-garbage", TLS{CAFile: garbage}, "no PEM certificate"},
		{"reject/cert-missing", TLS{CertFile: filepath.Join(dir, "c"), KeyFile: filepath.Join(dir, "k")}, "cert_file"},
		{"reject/cert-expired", TLS{CertFile: expiredCert, KeyFile: expiredKey}, "expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(Options{Route: "r", URLs: []string{"https://a"}, TLS: c.tls, Logger: quiet()})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
}

func TestTransportSettings(t *testing.T) {
	p := mustPool(t, Options{URLs: []string{"http://a", "http://b"}})
	tr := p.transport
	switch {
	case tr.Proxy != nil:
		t.Error("the transport reads a proxy from the environment")
	case !tr.DisableCompression:
		t.Error("the transport rewrites encodings")
	case tr.MaxIdleConnsPerHost != DefaultMaxIdleConnsPerHost || tr.MaxIdleConns != 2*DefaultMaxIdleConnsPerHost:
		t.Errorf("idle connections %d/%d", tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
	case tr.ResponseHeaderTimeout != DefaultResponseHeaderTimeout:
		t.Errorf("response header timeout %s", tr.ResponseHeaderTimeout)
	case tr.TLSClientConfig.MinVersion != tls.VersionTLS12:
		t.Error("TLS below 1.2 allowed")
	case tr.MaxResponseHeaderBytes != maxResponseHeaderBytes:
		t.Error("response header size unbounded")
	}
}
