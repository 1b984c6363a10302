package caapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/caapi"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
	"github.com/rampart-auth/rampart/ratelimit"
)

type events struct{ n map[string]int }

func (e *events) Record(_ context.Context, ev audit.Event) error {
	e.n[ev.Action+"/"+ev.Outcome]++
	return nil
}

// enrolment is a real CA behind the real enrolment listener.
type enrolment struct {
	a    *ca.Authority
	url  string
	root *x509.Certificate
	rec  *events
}

func startEnrolment(t *testing.T) *enrolment {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	mk, err := kms.NewMasterKey(testkit.MasterKey())
	if err != nil {
		t.Fatal(err)
	}
	kr, err := kms.Open(ctx, st.KMS(), mk)
	if err != nil {
		t.Fatal(err)
	}
	rec := &events{n: map[string]int{}}
	logger := slog.New(slog.DiscardHandler)
	a, err := ca.Init(ctx, ca.Options{Store: st.CA(), Sealer: kr, Audit: rec, TrustDomain: spiffeid.RequireTrustDomainFromString("example.test"),
		RotationPropagation: time.Minute, Logger: logger}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ratelimit.NewLimiter(ratelimit.NewMemoryStore(nil), ratelimit.Limit{Name: "ca_svid_ip", Rate: 100, Period: time.Second, Burst: 100})
	if err != nil {
		t.Fatal(err)
	}
	h, err := caapi.New(caapi.Options{Authority: a, Limiter: l, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.RegisterEnrolment(mux)
	srv := httpx.NewServer(httpx.ServerOptions{Addr: "127.0.0.1:0", Handler: httpx.MuxProblems(mux),
		TLSConfig: caapi.TLSConfig(a.ServerCertSource([]string{"127.0.0.1"}, caapi.EnrolmentServerID)), Logger: logger})
	addr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &enrolment{a: a, url: "https://" + addr.String(), root: a.Root(), rec: rec}
}

// client is an HTTPS client trusting the CA's root, presenting cert (nil:
// none).
func (e *enrolment) client(cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(e.root)
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

// post asks for an SVID for key's CSR (URI SAN id) with the given
// Authorization ("" for none).
func (e *enrolment) post(t *testing.T, hc *http.Client, key *ecdsa.PrivateKey, id, auth string) (int, map[string]string) {
	t.Helper()
	tmpl := &x509.CertificateRequest{}
	if id != "" {
		u, _ := url.Parse(id)
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
	req, _ := http.NewRequest(http.MethodPost, e.url+caapi.PathSVID, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]string
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("answer %q: %v", b, err)
		}
	}
	return resp.StatusCode, out
}

// tlsCert is the answer's SVID chain with key.
func tlsCert(t *testing.T, out map[string]string, key *ecdsa.PrivateKey) *tls.Certificate {
	t.Helper()
	var c tls.Certificate
	rest := []byte(out["svid"])
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c.Certificate = append(c.Certificate, b.Bytes)
	}
	c.PrivateKey = key
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	c.Leaf = leaf
	return &c
}

// TestEnrolmentHandshake: over real TLS 1.3 handshakes, a join token
// obtains an SVID, the SVID renews itself over mTLS (no Authorization),
// and a forged certificate (self-signed, the same SPIFFE ID) does not.
func TestEnrolmentHandshake(t *testing.T) {
	e := startEnrolment(t)
	ctx := context.Background()
	id := spiffeid.RequireFromString("spiffe://example.test/svc/a")
	if _, err := e.a.Register(ctx, ca.Registration{ID: id}, "test"); err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.a.CreateJoinToken(ctx, ca.JoinTokenSpec{ID: &id}, "test")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	st, first := e.post(t, e.client(nil), key, id.String(), "Bearer "+tok)
	if st != http.StatusOK || first["spiffe_id"] != id.String() {
		t.Fatalf("join token: %d %v", st, first)
	}
	svid := tlsCert(t, first, key)

	t.Run("accept/server-certificate-is-the-ca-svid", func(t *testing.T) {
		hc := e.client(nil)
		resp, err := hc.Get(e.url + caapi.PathBundle)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		cs := resp.TLS
		if cs.Version != tls.VersionTLS13 || len(cs.PeerCertificates) != 3 {
			t.Fatalf("TLS %x, %d certificates sent, want TLS 1.3 and [leaf, intermediate, root]", cs.Version, len(cs.PeerCertificates))
		}
		if u := cs.PeerCertificates[0].URIs; len(u) != 1 || u[0].String() != "spiffe://example.test/rampart/ca" {
			t.Fatalf("server URI SANs %v", u)
		}
	})
	t.Run("reject/tls12-client", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(e.root)
		c, err := tls.Dial("tcp", e.url[len("https://"):], &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12})
		if err == nil {
			c.Close()
			t.Fatal("a TLS 1.2 handshake succeeded")
		}
	})
	t.Run("reject/join-token-reused", func(t *testing.T) {
		if st, _ := e.post(t, e.client(nil), key, id.String(), "Bearer "+tok); st != http.StatusUnauthorized {
			t.Fatalf("reused token: %d", st)
		}
	})
	t.Run("accept/renewal-over-mtls", func(t *testing.T) {
		newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		st, out := e.post(t, e.client(svid), newKey, "", "")
		if st != http.StatusOK || out["spiffe_id"] != id.String() || out["serial"] == first["serial"] {
			t.Fatalf("renewal: %d %v", st, out)
		}
		if e.rec.n[audit.ActionCASVIDRenew+"/"+audit.OutcomeSuccess] != 1 {
			t.Fatalf("audit %v", e.rec.n)
		}
	})
	t.Run("reject/forged-self-signed-same-id", func(t *testing.T) {
		fkey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		u, _ := url.Parse(id.String())
		tmpl := &x509.Certificate{SerialNumber: svid.Leaf.SerialNumber, URIs: []*url.URL{u}, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, BasicConstraintsValid: true,
			Subject: pkix.Name{Organization: []string{"Rampart"}}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &fkey.PublicKey, fkey)
		if err != nil {
			t.Fatal(err)
		}
		forged := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: fkey}
		if st, out := e.post(t, e.client(forged), fkey, "", ""); st != http.StatusUnauthorized {
			t.Fatalf("forged certificate: %d %v", st, out)
		}
	})
	t.Run("reject/forged-with-real-intermediate-in-chain", func(t *testing.T) {
		// The forger sends the CA's real intermediate after its own leaf:
		// the chain still does not verify (the leaf is not signed by it).
		fkey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		u, _ := url.Parse(id.String())
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), URIs: []*url.URL{u}, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, BasicConstraintsValid: true}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &fkey.PublicKey, fkey)
		forged := &tls.Certificate{Certificate: [][]byte{der, svid.Certificate[1]}, PrivateKey: fkey}
		if st, _ := e.post(t, e.client(forged), fkey, "", ""); st != http.StatusUnauthorized {
			t.Fatalf("forged chain: %d", st)
		}
	})
	t.Run("reject/revoked-svid-cannot-renew", func(t *testing.T) {
		if _, err := e.a.Revoke(ctx, ca.RevokeSpec{Serial: first["serial"]}, "test"); err != nil {
			t.Fatal(err)
		}
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if st, _ := e.post(t, e.client(svid), k, "", ""); st != http.StatusForbidden {
			t.Fatalf("revoked SVID renewal: %d, want 403", st)
		}
	})
	t.Run("accept/crl-and-bundle", func(t *testing.T) {
		hc := e.client(nil)
		resp, err := hc.Get(e.url + caapi.PathCRL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		der, _ := io.ReadAll(resp.Body)
		crl, err := x509.ParseRevocationList(der)
		if err != nil || resp.Header.Get("Content-Type") != "application/pkix-crl" {
			t.Fatalf("crl: %v %v", err, resp.Header)
		}
		if err := crl.CheckSignatureFrom(e.root); err != nil {
			t.Fatalf("crl signature: %v", err)
		}
		found := false
		for _, rc := range crl.RevokedCertificateEntries {
			found = found || rc.SerialNumber.Cmp(svid.Leaf.SerialNumber) == 0
		}
		if !found {
			t.Fatal("the revoked serial is not in the CRL")
		}
	})
}
