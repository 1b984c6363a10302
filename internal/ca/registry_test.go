package ca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
)

// TestRegistrations: upsert, TTL cap, client id unique, client
// credentials issuance, DNS names limited to the registration, revoked ID
// cleared by re-registering, unregister.
func TestRegistrations(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		api := mustID("spiffe://example.test/svc/api")
		if _, err := e.a.Register(ctx, ca.Registration{ID: api, TTL: 25 * time.Hour}, "cli:test"); err == nil {
			t.Fatal("a TTL over max_svid_ttl was accepted")
		}
		if _, err := e.a.Register(ctx, ca.Registration{ID: mustID("spiffe://evil.test/x")}, "cli:test"); err == nil {
			t.Fatal("an ID of another trust domain was registered")
		}
		if _, err := e.a.Register(ctx, ca.Registration{ID: api, DNSNames: []string{"Bad_Name"}}, "cli:test"); err == nil {
			t.Fatal("an invalid DNS name was registered")
		}
		if _, err := e.a.Register(ctx, ca.Registration{ID: api, DNSNames: []string{"api.internal"}, ClientID: "api-client"}, "cli:test"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.a.Register(ctx, ca.Registration{ID: mustID("spiffe://example.test/svc/other"), ClientID: "api-client"}, "cli:test"); err == nil ||
			!strings.Contains(err.Error(), "another SPIFFE ID") {
			t.Fatalf("a client id mapped to two IDs: %v", err)
		}
		// Upsert keeps one row.
		if _, err := e.a.Register(ctx, ca.Registration{ID: api, DNSNames: []string{"api.internal", "api"}, ClientID: "api-client", TTL: 2 * time.Hour}, "cli:test"); err != nil {
			t.Fatal(err)
		}
		regs, err := e.a.Registrations(ctx)
		if err != nil || len(regs) != 1 || regs[0].TTL != 2*time.Hour || len(regs[0].DNSNames) != 2 || regs[0].ClientID != "api-client" {
			t.Fatalf("registrations %+v %v", regs, err)
		}
		// Client credentials.
		s, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, "", "api"), Cred: ca.ClientCred{ClientID: "api-client"}})
		if err != nil || s.ID != api || !s.NotAfter.Equal(e.clock.Now().UTC().Add(2*time.Hour)) {
			t.Fatalf("client issue: %v %+v", err, s)
		}
		for _, tc := range []struct {
			name string
			req  ca.IssueRequest
			want ca.ErrorCode
		}{
			{"reject/unregistered-client", ca.IssueRequest{CSR: mustCSR(t, ""), Cred: ca.ClientCred{ClientID: "nobody"}}, ca.CodeForbidden},
			{"reject/client-other-id", ca.IssueRequest{CSR: mustCSR(t, "spiffe://example.test/svc/admin"), Cred: ca.ClientCred{ClientID: "api-client"}}, ca.CodeForbidden},
			{"reject/dns-not-registered", ca.IssueRequest{CSR: mustCSR(t, "", "admin.internal"), Cred: ca.ClientCred{ClientID: "api-client"}}, ca.CodeForbidden},
			{"reject/dns-unregistered-id", ca.IssueRequest{CSR: mustCSR(t, "spiffe://example.test/svc/x", "x.internal"), Cred: ca.JoinTokenCred{Token: e.token("spiffe://example.test/svc/x")}}, ca.CodeForbidden},
			{"reject/trust-domain-id", ca.IssueRequest{CSR: mustCSR(t, "spiffe://example.test"), Cred: ca.AdminCred{ID: mustID("spiffe://example.test"), Actor: "cli:test"}}, ca.CodeForbidden},
			{"reject/bad-csr", ca.IssueRequest{CSR: []byte("nope"), Cred: ca.ClientCred{ClientID: "api-client"}}, ca.CodeBadRequest},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := e.a.Issue(ctx, tc.req); code(err) != tc.want {
					t.Fatalf("err %v, want code %d", err, tc.want)
				}
			})
		}
		// Revoked ID: refused for every credential until re-registered.
		if n, err := e.a.Revoke(ctx, ca.RevokeSpec{ID: &api, Reason: "decommissioned"}, "cli:test"); err != nil || n != 1 {
			t.Fatalf("revoke by ID: %d %v", n, err)
		}
		if _, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, ""), Cred: ca.ClientCred{ClientID: "api-client"}}); code(err) != ca.CodeForbidden {
			t.Fatalf("issue for a revoked ID: %v", err)
		}
		if _, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, api.String()), Cred: ca.JoinTokenCred{Token: e.token(api.String())}}); code(err) != ca.CodeForbidden {
			t.Fatalf("join token for a revoked ID: %v", err)
		}
		if _, err := e.a.Register(ctx, ca.Registration{ID: api, ClientID: "api-client"}, "cli:test"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, ""), Cred: ca.ClientCred{ClientID: "api-client"}}); err != nil {
			t.Fatalf("issue after re-registering: %v", err)
		}
		certs, err := e.a.Certs(ctx, false)
		revoked := 0
		for _, c := range certs {
			if c.RevokedAt != nil {
				revoked++
			}
		}
		if err != nil || len(certs) != 2 || revoked != 1 {
			t.Fatalf("certs %+v %v", certs, err)
		}
		if err := e.a.Unregister(ctx, api, "cli:test"); err != nil {
			t.Fatal(err)
		}
		if err := e.a.Unregister(ctx, api, "cli:test"); err == nil {
			t.Fatal("unregistering twice succeeded")
		}
		for _, action := range []string{audit.ActionCARegister, audit.ActionCAUnregister, audit.ActionCARevoke} {
			if len(e.rec.find(action, audit.OutcomeSuccess)) == 0 {
				t.Errorf("no %s event", action)
			}
		}
	})
}

// TestAdminIssue: `rampart ca issue` with its own DNS names and TTL.
func TestAdminIssue(t *testing.T) {
	e := newEnv(t, "sqlite")
	id := mustID("spiffe://example.test/ops/tool")
	s, err := e.a.Issue(context.Background(), ca.IssueRequest{CSR: mustCSR(t, "", "tool.internal"),
		Cred: ca.AdminCred{ID: id, DNSNames: []string{"tool.internal"}, TTL: 10 * time.Minute, Actor: "cli:alice"}})
	if err != nil || s.ID != id || !s.NotAfter.Equal(e.clock.Now().UTC().Add(10*time.Minute)) {
		t.Fatalf("admin issue %v %+v", err, s)
	}
	if ev := e.rec.find(audit.ActionCASVIDIssue, audit.OutcomeSuccess); len(ev) != 1 || ev[0].Actor != "cli:alice" || ev[0].Details["credential"] != "admin" {
		t.Errorf("admin issue event %+v", ev)
	}
	if _, err := e.a.Issue(context.Background(), ca.IssueRequest{CSR: mustCSR(t, ""), Cred: ca.AdminCred{ID: id, TTL: 25 * time.Hour}}); code(err) != ca.CodeBadRequest {
		t.Errorf("admin TTL over the max: %v", err)
	}
}

// TestParseCSR: accepted key types and each refusal.
func TestParseCSR(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	tampered := csrWith(t, p256, "spiffe://example.test/a")
	tampered[len(tampered)-5] ^= 0xff
	twoURIs := func() []byte {
		tmpl := &x509.CertificateRequest{URIs: []*urlT{mustURL("spiffe://example.test/a"), mustURL("spiffe://example.test/b")}}
		der, _ := x509.CreateCertificateRequest(rand.Reader, tmpl, p256)
		return der
	}()
	for _, tc := range []struct {
		name string
		der  []byte
		ok   bool
	}{
		{"accept/p256", csrWith(t, p256, "spiffe://example.test/a"), true},
		{"accept/p384", csrWith(t, p384, "spiffe://example.test/a"), true},
		{"accept/ed25519", csrWith(t, ed, "spiffe://example.test/a"), true},
		{"accept/rsa-2048", csrWith(t, rsa2048, "spiffe://example.test/a"), true},
		{"accept/no-uri", csrWith(t, p256, ""), true},
		{"reject/p521", csrWith(t, p521, "spiffe://example.test/a"), false},
		{"reject/rsa-1024", csrWith(t, rsa1024, "spiffe://example.test/a"), false},
		{"reject/bad-signature", tampered, false},
		{"reject/two-uri-sans", twoURIs, false},
		{"reject/non-canonical-id", csrWith(t, p256, "spiffe://EXAMPLE.test/a"), false},
		{"reject/dot-segment", csrWith(t, p256, "spiffe://example.test/a/../b"), false},
		{"reject/not-spiffe", csrWith(t, p256, "https://example.test/a"), false},
		{"reject/empty", nil, false},
		{"reject/garbage", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ca.ParseCSR(tc.der)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestServerCertSource: the enrolment listener's SVID-shaped certificate
// and the auto-TLS one, chain [leaf, intermediate, root], over a real
// TLS 1.3 handshake.
func TestServerCertSource(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, tc := range []struct {
		name, id string
		uri      string
		ekus     int
		life     time.Duration
	}{
		{"enrolment", "/rampart/ca", "spiffe://example.test/rampart/ca", 2, time.Hour},
		{"auto-tls", "", "", 1, 7 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := e.a.ServerCertSource([]string{"localhost", "127.0.0.1"}, tc.id)
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS13, GetCertificate: src.GetCertificate})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err == nil {
					_ = c.(*tls.Conn).Handshake()
					_ = c.Close()
				}
			}()
			conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool(e.a.Root()), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			certs := conn.ConnectionState().PeerCertificates
			if len(certs) != 3 || !certs[2].Equal(e.a.Root()) || !certs[1].Equal(e.a.Authorities()[1]) {
				t.Fatalf("chain of %d, want [leaf, intermediate, root]", len(certs))
			}
			leaf := certs[0]
			if tc.uri == "" && len(leaf.URIs) != 0 || tc.uri != "" && (len(leaf.URIs) != 1 || leaf.URIs[0].String() != tc.uri) {
				t.Errorf("URIs %v, want %q", leaf.URIs, tc.uri)
			}
			if len(leaf.ExtKeyUsage) != tc.ekus || leaf.NotAfter.Sub(e.clock.Now()) != tc.life {
				t.Errorf("EKU %v life %s", leaf.ExtKeyUsage, leaf.NotAfter.Sub(e.clock.Now()))
			}
			if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || leaf.DNSNames[0] != "localhost" {
				t.Errorf("SANs %v %v", leaf.DNSNames, leaf.IPAddresses)
			}
		})
	}
	// Renewal at 2/3 of its life, and when another intermediate activates.
	src := e.a.ServerCertSource(nil, "/rampart/ca")
	c1, _ := src.GetCertificate(nil)
	e.clock.Add(30 * time.Minute)
	if c2, _ := src.GetCertificate(nil); c2 != c1 {
		t.Error("renewed before 2/3 of its life")
	}
	e.clock.Add(11 * time.Minute)
	c3, _ := src.GetCertificate(nil)
	if c3 == c1 {
		t.Error("not renewed after 2/3 of its life")
	}
	if _, err := e.a.Rotate(context.Background(), "cli:test"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(ca.DefaultRotationPropagation)
	c4, _ := src.GetCertificate(nil)
	if c4 == c3 || c4.Leaf.CheckSignatureFrom(last(e.a.Authorities())) != nil {
		t.Error("the server certificate is not re-issued by the newly active intermediate")
	}
	if _, err := e.a.ServerCertSource(nil, "no-slash").GetCertificate(nil); err == nil {
		t.Error("an invalid id gives a certificate")
	}
}

// TestReservedIDsRefused: no workload gets an ID under /rampart (the
// enrolment server's own spiffe://<td>/rampart/ca, which agents pin), by
// any path into the CA: issuance, registration, join tokens, patterns.
func TestReservedIDsRefused(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	for _, s := range []string{"spiffe://example.test/rampart/ca", "spiffe://example.test/rampart", "spiffe://example.test/rampart/x/y"} {
		id := mustID(s)
		if _, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, ""), Cred: ca.AdminCred{ID: id, Actor: "cli:alice"}}); code(err) != ca.CodeForbidden {
			t.Errorf("reject/issue %s: %v", s, err)
		}
		if _, err := e.a.Register(ctx, ca.Registration{ID: id}, "cli:alice"); err == nil {
			t.Errorf("reject/register %s", s)
		}
		if _, _, err := e.a.CreateJoinToken(ctx, ca.JoinTokenSpec{ID: &id}, "cli:alice"); err == nil {
			t.Errorf("reject/token %s", s)
		}
	}
	if _, _, err := e.a.CreateJoinToken(ctx, ca.JoinTokenSpec{Pattern: "spiffe://example.test/rampart/*"}, "cli:alice"); err == nil {
		t.Error("reject/pattern under /rampart")
	}
	// Segment-aware: /rampartx is an ordinary workload path.
	ok := mustID("spiffe://example.test/rampartx")
	if _, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, ""), Cred: ca.AdminCred{ID: ok, Actor: "cli:alice"}}); err != nil {
		t.Errorf("accept/rampartx: %v", err)
	}
}
