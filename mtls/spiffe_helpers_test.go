package mtls

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// testCA is a trust domain's CA built in the test as the contract
// describes it: a root with name constraints to the trust domain, an
// intermediate with the same constraints, and leaves.
type testCA struct {
	td        spiffeid.TrustDomain
	root      *x509.Certificate
	rootKey   *ecdsa.PrivateKey
	inter     *x509.Certificate
	interKey  *ecdsa.PrivateKey
	crlNumber int64
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func randSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub, priv any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newTestCA builds the CA of trust domain td; constrained adds the
// PermittedURIDomains name constraint to root and intermediate.
func newTestCA(t testing.TB, td string, constrained bool) *testCA {
	t.Helper()
	now := time.Now()
	ca := &testCA{td: spiffeid.RequireTrustDomainFromString(td), rootKey: newKey(t), interKey: newKey(t)}
	tdURI := ca.td.ID().URL()
	root := &x509.Certificate{
		SerialNumber: randSerial(t), Subject: pkix.Name{Organization: []string{"Rampart"}, CommonName: td + " root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: []*url.URL{tdURI},
	}
	if constrained {
		root.PermittedURIDomains = []string{td}
		root.PermittedDNSDomainsCritical = true
	}
	ca.root = mustCert(t, root, root, &ca.rootKey.PublicKey, ca.rootKey)
	inter := &x509.Certificate{
		SerialNumber: randSerial(t), Subject: pkix.Name{Organization: []string{"Rampart"}, CommonName: td + " intermediate"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, URIs: []*url.URL{tdURI},
	}
	if constrained {
		inter.PermittedURIDomains = []string{td}
		inter.PermittedDNSDomainsCritical = true
	}
	ca.inter = mustCert(t, inter, ca.root, &ca.interKey.PublicKey, ca.rootKey)
	return ca
}

// bundle is the trust domain's authorities: root and intermediate.
func (ca *testCA) bundle() []*x509.Certificate { return []*x509.Certificate{ca.root, ca.inter} }

// bundles is the bundle map of ca alone.
func (ca *testCA) bundles() map[spiffeid.TrustDomain][]*x509.Certificate {
	return map[spiffeid.TrustDomain][]*x509.Certificate{ca.td: ca.bundle()}
}

// leafSpec describes a leaf; zero values mean a valid SVID.
type leafSpec struct {
	uris     []string // raw URI SAN texts; nil: the default ID
	path     string   // the ID's path when uris is nil; default /svc/a
	nb, na   time.Time
	isCA     bool
	ku       x509.KeyUsage
	kuSet    bool
	eku      []x509.ExtKeyUsage
	ekuSet   bool
	noSAN    bool
	selfSign bool     // signed by its own key, not the intermediate
	dns      []string // DNS SANs after the URI
}

// leaf issues an SVID chain [leaf, intermediate] with its key.
func (ca *testCA) leaf(t testing.TB, s leafSpec) *tls.Certificate {
	t.Helper()
	now := time.Now()
	if s.nb.IsZero() {
		s.nb = now.Add(-time.Minute)
	}
	if s.na.IsZero() {
		s.na = now.Add(time.Hour)
	}
	if !s.kuSet {
		s.ku = x509.KeyUsageDigitalSignature
	}
	if !s.ekuSet {
		s.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if s.uris == nil && !s.noSAN {
		p := s.path
		if p == "" {
			p = "/svc/a"
		}
		s.uris = []string{ca.td.IDString() + p}
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(t), Subject: pkix.Name{Organization: []string{"Rampart"}},
		NotBefore: s.nb, NotAfter: s.na, KeyUsage: s.ku, ExtKeyUsage: s.eku,
		BasicConstraintsValid: true, IsCA: s.isCA,
	}
	if len(s.uris) > 0 {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidSubjectAltName, Critical: true, Value: rawSAN(t, s.uris, s.dns...)}}
	}
	parent, signer := ca.inter, ca.interKey
	if s.selfSign {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert := &tls.Certificate{Certificate: [][]byte{der, ca.inter.Raw}, PrivateKey: key}
	if leaf, err := x509.ParseCertificate(der); err == nil {
		cert.Leaf = leaf
	}
	return cert
}

// rawSAN encodes a subjectAltName of URI and DNS names exactly as given.
func rawSAN(t testing.TB, uris []string, dns ...string) []byte {
	t.Helper()
	var names []asn1.RawValue
	for _, u := range uris {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(u)})
	}
	for _, d := range dns {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)})
	}
	b, err := asn1.Marshal(names)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crl returns a CRL of the trust domain, signed by the root, with the
// next CRL number, listing serials; nextUpdate is now+d.
func (ca *testCA) crl(t testing.TB, d time.Duration, serials ...*big.Int) *x509.RevocationList {
	t.Helper()
	ca.crlNumber++
	return ca.crlWith(t, ca.root, ca.rootKey, ca.crlNumber, time.Now().Add(d), serials...)
}

func (ca *testCA) crlWith(t testing.TB, issuer *x509.Certificate, key *ecdsa.PrivateKey, number int64, next time.Time, serials ...*big.Int) *x509.RevocationList {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(number), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: next,
		RevokedCertificateEntries: entries,
	}, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return rl
}

func crlPEM(rl *x509.RevocationList) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: rl.Raw})
}

func certsPEM(certs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

func chainPEM(c *tls.Certificate) []byte {
	var b []byte
	for _, der := range c.Certificate {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return b
}

func keyPEM(t testing.TB, c *tls.Certificate) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// echoServer accepts TLS connections with cfg on 127.0.0.1:0 and echoes
// lines back, prefixed with the peer's SPIFFE ID; it records handshake
// errors.
type echoServer struct {
	addr string
	mu   sync.Mutex
	errs []error
}

func startEcho(t testing.TB, cfg *tls.Config) *echoServer {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	conns := map[net.Conn]struct{}{}
	var cmu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns[c] = struct{}{}
			cmu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				tc := c.(*tls.Conn)
				_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
				if err := tc.Handshake(); err != nil {
					s.mu.Lock()
					s.errs = append(s.errs, err)
					s.mu.Unlock()
					return
				}
				cs := tc.ConnectionState()
				id, _ := PeerID(&cs)
				r := bufio.NewReader(tc)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(tc, id.String()+" "+line); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		for c := range conns {
			c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	return s
}

// waitErr waits for a server handshake error containing want: the client
// may see the alert before the server has recorded why it sent it.
func (s *echoServer) waitErr(t testing.TB, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		for i := len(s.errs) - 1; i >= 0; i-- {
			if strings.Contains(s.errs[i].Error(), want) {
				s.errs = append(s.errs[:i], s.errs[i+1:]...)
				s.mu.Unlock()
				return
			}
		}
		got := append([]error(nil), s.errs...)
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no server handshake error containing %q; got %v", want, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// clientConn is an established connection to an echoServer.
type clientConn struct {
	*tls.Conn
	r *bufio.Reader
}

// dial connects with cfg and makes one round trip, so a refusal the server
// sends after the client's Finished (TLS 1.3 client authentication) is seen.
func dial(t testing.TB, addr string, cfg *tls.Config) (*clientConn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	cc := &clientConn{Conn: c, r: bufio.NewReader(c)}
	if _, err := cc.echo("hello"); err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return cc, nil
}

// echo sends msg and returns the server's answer ("<peer id> msg").
func (c *clientConn) echo(msg string) (string, error) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, " "+msg+"\n") {
		return "", errors.New("unexpected echo " + line)
	}
	return strings.TrimSuffix(line, " "+msg+"\n"), nil
}
