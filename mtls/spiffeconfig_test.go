package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// spiffePair is a server and a client workload of one trust domain.
type spiffePair struct {
	ca             *testCA
	serverSrc      *StaticSource
	clientSrc      *StaticSource
	server, client *tls.Certificate
	serverID       spiffeid.ID
	clientID       spiffeid.ID
}

func newPair(t *testing.T) *spiffePair {
	t.Helper()
	ca := newTestCA(t, "example.test", true)
	p := &spiffePair{ca: ca,
		server: ca.leaf(t, leafSpec{path: "/svc/server"}), client: ca.leaf(t, leafSpec{path: "/svc/client"}),
		serverID: spiffeid.RequireFromString("spiffe://example.test/svc/server"),
		clientID: spiffeid.RequireFromString("spiffe://example.test/svc/client")}
	p.serverSrc = NewStaticSource(p.server, ca.bundles())
	p.clientSrc = NewStaticSource(p.client, ca.bundles())
	return p
}

// TestSPIFFEHandshake: the configs negotiate TLS 1.3 with the hybrid
// post-quantum key exchange and each side learns the other's ID.
func TestSPIFFEHandshake(t *testing.T) {
	p := newPair(t)
	srv := startEcho(t, SPIFFEServerConfig(p.serverSrc, AuthorizeID(p.clientID)))
	c, err := dial(t, srv.addr, SPIFFEClientConfig(p.clientSrc, AuthorizeID(p.serverID)))
	if err != nil {
		t.Fatal(err)
	}
	cs := c.ConnectionState()
	if cs.Version != tls.VersionTLS13 {
		t.Errorf("version %x", cs.Version)
	}
	if cs.CurveID != tls.X25519MLKEM768 {
		t.Errorf("key exchange %v, want X25519MLKEM768", cs.CurveID)
	}
	if id, ok := PeerID(&cs); !ok || id != p.serverID {
		t.Errorf("PeerID = %v, %v", id, ok)
	}
	if got, err := c.echo("ping"); err != nil || got != p.clientID.String() {
		t.Errorf("server saw %q, %v", got, err)
	}
	if _, ok := PeerID(&tls.ConnectionState{}); ok {
		t.Error("PeerID without certificates")
	}
	if _, ok := PeerID(nil); ok {
		t.Error("PeerID(nil)")
	}
}

// TestSPIFFEHandshakeRefusals: each refusal as an attack on a real
// loopback listener.
func TestSPIFFEHandshakeRefusals(t *testing.T) {
	p := newPair(t)
	srv := startEcho(t, SPIFFEServerConfig(p.serverSrc, AuthorizePathPrefix(p.ca.td, "/svc")))
	other := newTestCA(t, "other.test", true)
	loose := newTestCA(t, "loose.test", false)
	now := time.Now()
	plain := func(cert *tls.Certificate) *tls.Config {
		c := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} // #nosec G402 -- the attacker's client.
		if cert != nil {
			c.Certificates = []tls.Certificate{*cert}
		}
		return c
	}
	cases := []struct {
		name    string
		client  *tls.Config
		wantErr string // the server's reason
	}{
		{"reject/no-client-cert", plain(nil), "didn't provide a certificate"},
		{"reject/wrong-trust-domain", SPIFFEClientConfig(NewStaticSource(other.leaf(t, leafSpec{path: "/svc/client"}),
			map[spiffeid.TrustDomain][]*x509.Certificate{other.td: other.bundle(), p.ca.td: p.ca.bundle()}), AuthorizeAny()), "no trust bundle for trust domain \"other.test\""},
		{"reject/foreign-ca-claims-our-domain", plain(loose.leaf(t, leafSpec{uris: []string{"spiffe://example.test/svc/client"}})), "unknown authority"},
		{"reject/authorizer", plain(p.ca.leaf(t, leafSpec{path: "/admin"})), "is not under /svc"},
		{"reject/expired-leaf", plain(p.ca.leaf(t, leafSpec{path: "/svc/x", nb: now.Add(-2 * time.Hour), na: now.Add(-time.Minute)})), "expired"},
		{"reject/two-uri-sans", plain(p.ca.leaf(t, leafSpec{uris: []string{"spiffe://example.test/svc/x", "spiffe://example.test/svc/y"}})), "exactly one URI SAN"},
		{"reject/server-only-eku", plain(p.ca.leaf(t, leafSpec{path: "/svc/x", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, ekuSet: true})), "incompatible key usage"},
		{"reject/tls12-only-client", func() *tls.Config { c := plain(p.client); c.MaxVersion = tls.VersionTLS12; return c }(), "unsupported versions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dial(t, srv.addr, tc.client)
			if err == nil {
				t.Fatalf("connected as %v", c.ConnectionState().PeerCertificates)
			}
			srv.waitErr(t, tc.wantErr)
		})
	}
	t.Run("reject/plaintext-client", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", srv.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nhello\n")
		b, _ := io.ReadAll(c)
		if strings.Contains(string(b), "hello") || strings.Contains(string(b), "HTTP/") {
			t.Fatalf("plaintext answered: %q", b)
		}
	})
	t.Run("reject/client-refuses-wrong-server", func(t *testing.T) {
		cfg := SPIFFEClientConfig(p.clientSrc, AuthorizeID(spiffeid.RequireFromString("spiffe://example.test/svc/billing")))
		if _, err := dial(t, srv.addr, cfg); err == nil || !strings.Contains(err.Error(), "is not") {
			t.Fatalf("client accepted the wrong server: %v", err)
		}
	})
	t.Run("reject/client-refuses-untrusted-server", func(t *testing.T) {
		cfg := SPIFFEClientConfig(NewStaticSource(p.client, other.bundles()), AuthorizeAny())
		if _, err := dial(t, srv.addr, cfg); err == nil {
			t.Fatal("client accepted a server of an untrusted domain")
		}
	})
	t.Run("accept/after-refusals", func(t *testing.T) {
		if _, err := dial(t, srv.addr, SPIFFEClientConfig(p.clientSrc, AuthorizeID(p.serverID))); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSPIFFEOptionalClientCert: with WithOptionalClientCert a client
// without a certificate connects, one with a bad certificate does not.
func TestSPIFFEOptionalClientCert(t *testing.T) {
	p := newPair(t)
	srv := startEcho(t, SPIFFEServerConfig(p.serverSrc, AuthorizeID(p.clientID), WithOptionalClientCert()))
	anon := SPIFFEClientConfig(NewStaticSource(nil, p.ca.bundles()), AuthorizeID(p.serverID))
	anon.GetClientCertificate = nil
	c, err := dial(t, srv.addr, anon)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.echo("x"); got != "" {
		t.Errorf("anonymous client seen as %q", got)
	}
	other := p.ca.leaf(t, leafSpec{path: "/svc/other"})
	if _, err := dial(t, srv.addr, SPIFFEClientConfig(NewStaticSource(other, p.ca.bundles()), AuthorizeAny())); err == nil {
		t.Fatal("reject/unauthorized-cert: accepted")
	}
}

// TestSPIFFERevocationAndRotation: a CRL, a renewed leaf and a new bundle
// apply to the next handshake while established connections keep working.
func TestSPIFFERevocationAndRotation(t *testing.T) {
	p := newPair(t)
	srv := startEcho(t, SPIFFEServerConfig(p.serverSrc, AuthorizeMemberOf(p.ca.td)))
	clientCfg := SPIFFEClientConfig(p.clientSrc, AuthorizeID(p.serverID))
	established, err := dial(t, srv.addr, clientCfg)
	if err != nil {
		t.Fatal(err)
	}

	// Revocation: the client's serial enters the server's CRL.
	if err := p.serverSrc.SetCRL(p.ca.crl(t, 10*time.Minute, p.client.Leaf.SerialNumber)); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, srv.addr, clientCfg); err == nil {
		t.Fatal("reject/revoked-after-crl: revoked client connected")
	}
	if _, err := established.echo("still"); err != nil {
		t.Fatalf("established connection dropped: %v", err)
	}
	// The client renews: a new leaf (new serial) connects.
	p.clientSrc.SetSVID(p.ca.leaf(t, leafSpec{path: "/svc/client"}))
	if _, err := dial(t, srv.addr, clientCfg); err != nil {
		t.Fatalf("renewed client: %v", err)
	}

	// Leaf rotation on the server: the next handshake sees the new leaf.
	renewed := p.ca.leaf(t, leafSpec{path: "/svc/server"})
	p.serverSrc.SetSVID(renewed)
	c, err := dial(t, srv.addr, clientCfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ConnectionState().PeerCertificates[0]; !got.Equal(renewed.Leaf) {
		t.Fatal("server leaf not rotated")
	}

	// Bundle rotation: a new CA of the same trust domain. A client with a
	// leaf from it is refused until the server's bundle has the new CA.
	ca2 := newTestCA(t, "example.test", true)
	newClient := SPIFFEClientConfig(NewStaticSource(ca2.leaf(t, leafSpec{path: "/svc/client2"}), p.ca.bundles()), AuthorizeID(p.serverID))
	if _, err := dial(t, srv.addr, newClient); err == nil {
		t.Fatal("client of the new CA accepted before the bundle has it")
	}
	p.serverSrc.SetBundle(p.ca.td, append(p.ca.bundle(), ca2.bundle()...))
	c2, err := dial(t, srv.addr, newClient)
	if err != nil {
		t.Fatalf("client of the new CA after the bundle update: %v", err)
	}
	// Old CA retired from the bundle: old-CA clients are refused from the
	// next handshake, connections open before still served.
	p.serverSrc.SetBundle(p.ca.td, ca2.bundle())
	p.serverSrc.SetSVID(ca2.leaf(t, leafSpec{path: "/svc/server"}))
	if _, err := dial(t, srv.addr, SPIFFEClientConfig(p.clientSrc, AuthorizeAny())); err == nil {
		t.Fatal("old-CA client accepted after the old CA left the bundle")
	}
	for _, conn := range []*clientConn{established, c, c2} {
		if _, err := conn.echo("after-rotation"); err != nil {
			t.Fatalf("established connection dropped by rotation: %v", err)
		}
	}
}

// TestSPIFFESessionResumption: a session resumed from a ticket issued
// before a revocation is refused too (VerifyConnection runs on resumption).
func TestSPIFFESessionResumption(t *testing.T) {
	p := newPair(t)
	srv := startEcho(t, SPIFFEServerConfig(p.serverSrc, AuthorizeMemberOf(p.ca.td)))
	cfg := SPIFFEClientConfig(p.clientSrc, AuthorizeID(p.serverID))
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	c, err := dial(t, srv.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = dial(t, srv.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ConnectionState().DidResume {
		t.Skip("session not resumed; nothing to test")
	}
	c.Close()
	if err := p.serverSrc.SetCRL(p.ca.crl(t, 10*time.Minute, p.client.Leaf.SerialNumber)); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, srv.addr, cfg); err == nil {
		t.Fatal("reject/resumed-after-revocation: connected")
	}
}

// TestSPIFFEConfigShape: TLS 1.3 only, Go's default curves, the client's
// built-in verification replaced, never absent.
func TestSPIFFEConfigShape(t *testing.T) {
	p := newPair(t)
	s := SPIFFEServerConfig(p.serverSrc, AuthorizeAny())
	c := SPIFFEClientConfig(p.clientSrc, AuthorizeAny())
	for _, cfg := range []*tls.Config{s, c} {
		if cfg.MinVersion != tls.VersionTLS13 || cfg.MaxVersion != tls.VersionTLS13 || cfg.CurvePreferences != nil || cfg.VerifyConnection == nil {
			t.Fatalf("config %+v", cfg)
		}
	}
	if s.ClientAuth != tls.RequireAnyClientCert {
		t.Error("client certificate not required")
	}
	if SPIFFEServerConfig(p.serverSrc, AuthorizeAny(), WithOptionalClientCert()).ClientAuth != tls.RequestClientCert {
		t.Error("optional client certificate not requested")
	}
	// A nil authorizer refuses everyone rather than everyone passing.
	srv := startEcho(t, SPIFFEServerConfig(p.serverSrc, nil))
	if _, err := dial(t, srv.addr, SPIFFEClientConfig(p.clientSrc, AuthorizeAny())); err == nil {
		t.Fatal("nil authorizer accepted a peer")
	}
}
