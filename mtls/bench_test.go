package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// benchHandshake runs b.N full TLS 1.3 mutual-authentication handshakes
// over net.Pipe between server and client configs (session tickets off:
// every handshake is a full one), waiting for the server's verdict.
func benchHandshake(b *testing.B, server, client *tls.Config) {
	b.Helper()
	server, client = server.Clone(), client.Clone()
	server.SessionTicketsDisabled = true
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c1, c2 := net.Pipe()
		srv, cli := tls.Server(c1, server), tls.Client(c2, client)
		done := make(chan error, 1)
		go func() { done <- srv.Handshake() }()
		if err := cli.Handshake(); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		// The pipes, not the tls.Conns: Close would wait up to 5 s to
		// deliver close_notify over the unbuffered pipe.
		_ = c1.Close()
		_ = c2.Close()
	}
}

// BenchmarkHandshake compares full mTLS handshakes through the SPIFFE
// configs (SVID verification against the trust domain's bundle, CRL
// lookup, authorizer) with a plain crypto/tls config on the same
// certificates (RequireAndVerifyClientCert, TLS 1.3).
func BenchmarkHandshake(b *testing.B) {
	ca := newTestCA(b, "example.test", true)
	server := ca.leaf(b, leafSpec{path: "/svc/server", dns: []string{"server.example.test"}})
	client := ca.leaf(b, leafSpec{path: "/svc/client"})
	serverID, clientID := mustID(b, server), mustID(b, client)
	crl := ca.crl(b, 3600e9, randSerial(b), randSerial(b))

	b.Run("spiffe", func(b *testing.B) {
		benchHandshake(b,
			SPIFFEServerConfig(NewStaticSource(server, ca.bundles(), crl), AuthorizeID(clientID)),
			SPIFFEClientConfig(NewStaticSource(client, ca.bundles(), crl), AuthorizeID(serverID)))
	})
	b.Run("plain-crypto-tls", func(b *testing.B) {
		roots := x509.NewCertPool()
		roots.AddCert(ca.root)
		benchHandshake(b,
			&tls.Config{Certificates: []tls.Certificate{*server}, ClientCAs: roots,
				ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13},
			&tls.Config{Certificates: []tls.Certificate{*client}, RootCAs: roots,
				ServerName: "server.example.test", MinVersion: tls.VersionTLS13})
	})
}

// BenchmarkVerifySVID is the SPIFFE verification alone, per handshake.
func BenchmarkVerifySVID(b *testing.B) {
	ca := newTestCA(b, "example.test", true)
	leaf := ca.leaf(b, leafSpec{})
	src := NewStaticSource(nil, ca.bundles(), ca.crl(b, 3600e9, randSerial(b)))
	certs := []*x509.Certificate{leaf.Leaf, ca.inter}
	now := leaf.Leaf.NotBefore.Add(60e9)
	b.ReportAllocs()
	for range b.N {
		if _, _, err := verifyCerts(certs, src, src, now, x509.ExtKeyUsageClientAuth); err != nil {
			b.Fatal(err)
		}
	}
}

func mustID(b *testing.B, c *tls.Certificate) spiffeid.ID {
	b.Helper()
	id, err := IDFromCert(c.Leaf)
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// BenchmarkDirSourceSVID is the per-handshake cost of a DirSource: the
// interval check and, once per interval, a stat of the four files.
func BenchmarkDirSourceSVID(b *testing.B) {
	ca := newTestCA(b, "example.test", true)
	dir := b.TempDir()
	writeAgentDir(b, dir, ca.leaf(b, leafSpec{}), ca.bundle(), ca.crl(b, 3600e9))
	for _, tc := range []struct {
		name     string
		interval time.Duration
	}{{"default-interval", DefaultDirReloadInterval}, {"stat-every-call", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			src, err := NewDirSource(dir, WithReloadInterval(tc.interval))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for range b.N {
				if _, err := src.SVID(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIsRevoked is the CRL lookup with 10,000 revoked serials: a map
// lookup, independent of the CRL's size.
func BenchmarkIsRevoked(b *testing.B) {
	ca := newTestCA(b, "example.test", true)
	serials := make([]*big.Int, 10000)
	for i := range serials {
		serials[i] = randSerial(b)
	}
	src := NewStaticSource(nil, ca.bundles(), ca.crl(b, 3600e9, serials...))
	leaf := ca.leaf(b, leafSpec{}).Leaf
	chain := []*x509.Certificate{leaf, ca.inter}
	b.ReportAllocs()
	for range b.N {
		if src.checkChain(ca.td, chain) != nil {
			b.Fatal("revoked")
		}
	}
}
