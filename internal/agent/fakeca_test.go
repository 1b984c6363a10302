package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/mtls"
)

// fakeCA is an in-test enrolment server speaking contract.md's HTTP API
// over real TLS on 127.0.0.1: a root with the URI SAN spiffe://<td> and
// name constraints, an intermediate, a server certificate
// spiffe://<td>/rampart/ca sent as [leaf, intermediate, root]. It is not
// H3's server: it is the contract as the agent's tests read it.
type fakeCA struct {
	t        testing.TB
	td       spiffeid.TrustDomain
	root     *x509.Certificate
	rootKey  *ecdsa.PrivateKey
	inter    *x509.Certificate
	interKey *ecdsa.PrivateKey
	srv      *httptest.Server

	ttl         atomic.Int64 // SVID lifetime, nanoseconds
	backdate    time.Duration
	crlValidity time.Duration
	serverPath  string
	down        atomic.Bool // answer 503 to everything
	wrongKey    atomic.Bool // issue for a key other than the CSR's
	unnamed     bool        // the root carries no URI SAN (imported)

	mu        sync.Mutex
	tokens    map[string]*fakeToken
	clients   map[string]fakeClient
	revoked   map[string]bool // serial hex
	issuedAt  []time.Time     // every successful POST /ca/v1/svid
	notAfter  []time.Time     // the NotAfter of each
	crlNumber int64

	issues, renewals, requests, refusals atomic.Int32
	lastAuth                             atomic.Value // string: the last Authorization header seen
}

type fakeToken struct {
	id   spiffeid.ID
	used bool
}

type fakeClient struct {
	secret string
	id     spiffeid.ID
}

type fakeOpt func(*fakeCA)

// withUnnamedRoot makes the root carry no URI SAN and no name
// constraints, like a root imported with `rampart ca init --import` from
// another PKI; the intermediate still names the trust domain.
func withUnnamedRoot() fakeOpt {
	return func(f *fakeCA) { f.unnamed = true }
}

// withServerID makes the server certificate carry another SPIFFE ID
// (a workload posing as the CA).
func withServerID(path string) fakeOpt {
	return func(f *fakeCA) { f.serverPath = path }
}

func newFakeCA(t testing.TB, td string, opts ...fakeOpt) *fakeCA {
	t.Helper()
	f := &fakeCA{t: t, td: spiffeid.RequireTrustDomainFromString(td), backdate: time.Minute, crlValidity: 10 * time.Minute,
		tokens: map[string]*fakeToken{}, clients: map[string]fakeClient{}, revoked: map[string]bool{}, serverPath: caPath}
	f.ttl.Store(int64(time.Hour))
	for _, o := range opts {
		o(f)
	}
	now := time.Now()
	tdURL := f.td.ID().URL()
	f.rootKey = genKey(t)
	rootTmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "fake root", Organization: []string{"Rampart"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: []*url.URL{tdURL}, PermittedURIDomains: []string{f.td.Name()}, PermittedDNSDomainsCritical: true,
	}
	if f.unnamed {
		rootTmpl.URIs, rootTmpl.PermittedURIDomains, rootTmpl.PermittedDNSDomainsCritical = nil, nil, false
	}
	f.root = signCert(t, rootTmpl, nil, &f.rootKey.PublicKey, f.rootKey)
	f.interKey = genKey(t)
	f.inter = signCert(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "fake intermediate", Organization: []string{"Rampart"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: []*url.URL{tdURL}, PermittedURIDomains: []string{f.td.Name()}, PermittedDNSDomainsCritical: true,
	}, f.root, &f.interKey.PublicKey, f.rootKey)
	srvKey := genKey(t)
	srvID, err := spiffeid.FromPath(f.td, f.serverPath)
	if err != nil {
		t.Fatal(err)
	}
	srvCert := signCert(t, &x509.Certificate{
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(6 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{srvID.URL()}, DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}, f.inter, &srvKey.PublicKey, f.interKey)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ca/v1/svid", f.serveSVID)
	mux.HandleFunc("GET /ca/v1/bundle", f.serveBundle)
	mux.HandleFunc("GET /ca/v1/crl", f.serveCRL)
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		f.lastAuth.Store(r.Header.Get("Authorization"))
		if f.down.Load() {
			problem(w, http.StatusServiceUnavailable, "CA unavailable")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	f.srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13, ClientAuth: tls.RequestClientCert,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw, f.inter.Raw, f.root.Raw}, PrivateKey: srvKey}}}
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some tests
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCA) url() string { return f.srv.URL }

func (f *fakeCA) setTTL(d time.Duration) { f.ttl.Store(int64(d)) }

// joinToken returns a new one-time token for id, pinning the root.
func (f *fakeCA) joinToken(id string) string {
	f.t.Helper()
	sid := spiffeid.RequireFromString(id)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	pin := sha256.Sum256(f.root.Raw)
	tok := "rjt1." + base64.RawURLEncoding.EncodeToString(secret) + "." + base64.RawURLEncoding.EncodeToString(pin[:])
	f.mu.Lock()
	f.tokens[tok] = &fakeToken{id: sid}
	f.mu.Unlock()
	return tok
}

func (f *fakeCA) addClient(clientID, secret, id string) {
	f.mu.Lock()
	f.clients[clientID] = fakeClient{secret: secret, id: spiffeid.RequireFromString(id)}
	f.mu.Unlock()
}

func (f *fakeCA) revoke(serial *big.Int) {
	f.mu.Lock()
	f.revoked[serial.Text(16)] = true
	f.mu.Unlock()
}

func (f *fakeCA) issueTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.issuedAt...)
}

// expiries returns the NotAfter of every SVID issued, in order.
func (f *fakeCA) expiries() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.notAfter...)
}

func (f *fakeCA) bundlePEM() []byte { return encodeCerts([]*x509.Certificate{f.root, f.inter}) }

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
}

func (f *fakeCA) serveSVID(w http.ResponseWriter, r *http.Request) {
	var req struct {
		CSR string `json:"csr"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		problem(w, http.StatusBadRequest, "bad JSON")
		return
	}
	blk, _ := pem.Decode([]byte(req.CSR))
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		problem(w, http.StatusBadRequest, "bad CSR")
		return
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil || csr.CheckSignature() != nil || len(csr.URIs) > 1 {
		problem(w, http.StatusBadRequest, "bad CSR")
		return
	}
	var asked spiffeid.ID
	if len(csr.URIs) == 1 {
		if asked, err = spiffeid.FromURI(csr.URIs[0]); err != nil {
			problem(w, http.StatusBadRequest, "bad CSR")
			return
		}
	}
	id, renewal, status := f.authenticate(r)
	if status != 0 {
		f.refusals.Add(1)
		problem(w, status, "credential refused")
		return
	}
	if !asked.IsZero() && asked != id {
		f.refusals.Add(1)
		problem(w, http.StatusForbidden, "ID not allowed")
		return
	}
	pub := csr.PublicKey
	if f.wrongKey.Load() {
		pub = &genKey(f.t).PublicKey
	}
	now := time.Now()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	serial.Add(serial, big.NewInt(1))
	leaf := signCert(f.t, &x509.Certificate{SerialNumber: serial,
		Subject:   pkix.Name{Organization: []string{"Rampart"}},
		NotBefore: now.Add(-f.backdate), NotAfter: now.Add(time.Duration(f.ttl.Load())),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{id.URL()},
	}, f.inter, pub, f.interKey)
	f.mu.Lock()
	f.issuedAt = append(f.issuedAt, now)
	f.notAfter = append(f.notAfter, leaf.NotAfter)
	f.mu.Unlock()
	if renewal {
		f.renewals.Add(1)
	} else {
		f.issues.Add(1)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(svidResponse{
		SPIFFEID: id.String(), SVID: string(encodeCerts([]*x509.Certificate{leaf, f.inter})),
		Bundle: string(f.bundlePEM()), CRL: string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: f.crl()})),
		ExpiresAt: leaf.NotAfter.UTC().Format(time.RFC3339), Serial: leaf.SerialNumber.Text(16),
	})
}

// authenticate applies contract.md's "exactly one credential" rule.
func (f *fakeCA) authenticate(r *http.Request) (id spiffeid.ID, renewal bool, status int) {
	auth := r.Header.Get("Authorization")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case strings.HasPrefix(auth, "Bearer "):
		tok := f.tokens[strings.TrimPrefix(auth, "Bearer ")]
		if tok == nil || tok.used {
			return id, false, http.StatusUnauthorized
		}
		tok.used = true
		return tok.id, false, 0
	case strings.HasPrefix(auth, "Basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Basic "))
		user, pass, ok := strings.Cut(string(raw), ":")
		if err != nil || !ok {
			return id, false, http.StatusUnauthorized
		}
		user, err1 := url.QueryUnescape(user)
		pass, err2 := url.QueryUnescape(pass)
		c, found := f.clients[user]
		if err1 != nil || err2 != nil || !found || c.secret != pass {
			return id, false, http.StatusUnauthorized
		}
		return c.id, false, 0
	case auth != "":
		return id, false, http.StatusUnauthorized
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return id, false, http.StatusUnauthorized
	}
	src := mtls.NewStaticSource(nil, map[spiffeid.TrustDomain][]*x509.Certificate{f.td: {f.root, f.inter}})
	raw := make([][]byte, len(r.TLS.PeerCertificates))
	for i, c := range r.TLS.PeerCertificates {
		raw[i] = c.Raw
	}
	got, chain, err := mtls.VerifySVID(raw, src, src, time.Now())
	if err != nil {
		return id, false, http.StatusUnauthorized
	}
	if f.revoked[chain[0].SerialNumber.Text(16)] {
		return id, false, http.StatusForbidden
	}
	return got, true, 0
}

func (f *fakeCA) serveBundle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("format") != "pem" {
		problem(w, http.StatusNotAcceptable, "the fake serves PEM only")
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(f.bundlePEM())
}

func (f *fakeCA) serveCRL(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/pkix-crl")
	_, _ = w.Write(f.crl())
}

// crl returns a fresh CRL signed by the root listing the revoked serials.
func (f *fakeCA) crl() []byte {
	f.mu.Lock()
	f.crlNumber++
	n := f.crlNumber
	var entries []x509.RevocationListEntry
	for s := range f.revoked {
		serial, _ := new(big.Int).SetString(s, 16)
		entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: time.Now()})
	}
	f.mu.Unlock()
	now := time.Now()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(n),
		ThisUpdate: now, NextUpdate: now.Add(f.crlValidity), RevokedCertificateEntries: entries}, f.root, f.rootKey)
	if err != nil {
		f.t.Error(err)
	}
	return der
}

func genKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signCert signs tmpl with key as parent (self-signed when parent is nil).
func signCert(t testing.TB, tmpl, parent *x509.Certificate, pub any, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber, _ = rand.Int(rand.Reader, big.NewInt(1<<62))
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
