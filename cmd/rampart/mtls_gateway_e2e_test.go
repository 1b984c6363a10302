package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/agent"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/mtls"
)

// TestMTLSThroughGateway: the gateway in tls mode spiffe over its agent's
// directory, with a route `auth: {mtls: {allow: [A]}}` to service B over
// upstream mTLS (upstream_tls.spiffe_id B). A gets 200 (B sees the
// gateway as its peer and A in X-Rampart-Peer-Id), a third workload C of
// the same trust domain gets 403, a client without a certificate 403, an
// upstream presenting another SVID than upstream_tls.spiffe_id gets no
// request (502); the gateway keeps serving while its own SVID renews.
func TestMTLSThroughGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: three agents and the gateway")
	}
	idA, idB, idC, idGW := e2eID("/svc/a"), e2eID("/svc/b"), e2eID("/svc/c"), e2eID("/svc/gateway")
	// The upstreams' addresses go into the routes before they have SVIDs.
	lnB, lnImpostor := listenLoopback(t), listenLoopback(t)
	base := t.TempDir()
	gwDir := filepath.Join(base, "gateway-svid")
	cfgPath, dir := e2eCAConfig(t, fmt.Sprintf(`gateway:
  listen: 127.0.0.1:0
  tls: {mode: spiffe}
  spiffe: {dir: %s}
  routes:
    - name: b
      match: {path_prefix: /b, methods: [GET]}
      upstreams: [https://%s]
      auth: {mtls: {allow: [%s]}}
      upstream_tls: {spiffe_id: %s}
    - name: impostor
      match: {path_prefix: /impostor, methods: [GET]}
      upstreams: [https://%s]
      auth: {mtls: {allow: [%s]}}
      upstream_tls: {spiffe_id: %s}
`, gwDir, lnB.Addr(), idA, idB, lnImpostor.Addr(), idA, idB))

	// serve needs the gateway's SVID before it starts: the CA is
	// initialised and the gateway's first SVID issued with the CLI, then
	// its agent renews it (over mTLS, with that SVID) once serve runs.
	caCLI(t, cfgPath, "init", "--trust-domain", e2eTD)
	tokGW := registerWithToken(t, cfgPath, idGW)
	caCLI(t, cfgPath, "issue", "--spiffe-id", idGW.String(), "--out", gwDir, "--ttl", "2m")
	issued, err := tls.LoadX509KeyPair(filepath.Join(gwDir, "svid.pem"), filepath.Join(gwDir, "svid.key"))
	if err != nil {
		t.Fatal(err)
	}
	issuedSerial := serialOf(tlsChain(t, &issued)[0])

	addrs := e2eServe(t, cfgPath)
	server, gw := "https://"+addrs["ca"], "https://"+addrs["gateway"]
	tokA, tokB, tokC := registerWithToken(t, cfgPath, idA), registerWithToken(t, cfgPath, idB), registerWithToken(t, cfgPath, idC)
	sockA, outB, outC := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b-svid"), filepath.Join(dir, "c-svid")
	startAgent(t, "gateway", agent.Config{Server: server, JoinTokenFile: tokGW, OutDir: gwDir})
	startAgent(t, "A", agent.Config{Server: server, JoinTokenFile: tokA, Socket: sockA})
	startAgent(t, "B", agent.Config{Server: server, JoinTokenFile: tokB, OutDir: outB})
	startAgent(t, "C", agent.Config{Server: server, JoinTokenFile: tokC, OutDir: outC})
	srcA, srcB, srcC := waitSocketSource(t, sockA), waitDirSource(t, outB), waitDirSource(t, outC)
	svcB := startServiceOn(t, lnB, srcB, mtls.AuthorizeID(idGW))
	// C, a valid SVID of the trust domain, listens where the gateway
	// expects B.
	impostor := startServiceOn(t, lnImpostor, srcC, mtls.AuthorizeID(idGW))

	getPath := func(t *testing.T, c *http.Client, path string) (int, string, []*x509.Certificate) {
		t.Helper()
		resp, err := c.Get(gw + path)
		if err != nil {
			t.Fatalf("GET through the gateway: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if resp.StatusCode != http.StatusOK && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%d with Content-Type %q, want application/problem+json", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, string(b), resp.TLS.PeerCertificates
	}
	get := func(t *testing.T, c *http.Client) (int, string, []*x509.Certificate) {
		t.Helper()
		return getPath(t, c, "/b/hello")
	}
	clientA := spiffeClient(t, srcA, mtls.AuthorizeID(idGW), false)

	t.Run("accept/allowlisted-a", func(t *testing.T) {
		code, body, _ := get(t, clientA)
		if code != http.StatusOK || !strings.Contains(body, `"peer":"`+idGW.String()+`"`) {
			t.Fatalf("A through the gateway: %d %s (want 200 and B's peer the gateway)", code, body)
		}
		if _, h := svcB.served(); h.Get("X-Rampart-Peer-Id") != idA.String() {
			t.Fatalf("B got X-Rampart-Peer-Id %q, want %s", h.Get("X-Rampart-Peer-Id"), idA)
		}
	})
	t.Run("reject/not-allowlisted-c", func(t *testing.T) {
		hits, _ := svcB.served()
		if code, body, _ := get(t, spiffeClient(t, srcC, mtls.AuthorizeID(idGW), false)); code != http.StatusForbidden {
			t.Fatalf("C through the gateway: %d %s, want 403", code, body)
		}
		if n, _ := svcB.served(); n != hits {
			t.Fatal("C's request reached B")
		}
	})
	t.Run("reject/no-client-certificate", func(t *testing.T) {
		bundle, err := os.ReadFile(filepath.Join(outC, "bundle.pem")) // #nosec G304 -- written by the test's agent in t.TempDir().
		if err != nil {
			t.Fatal(err)
		}
		if code, body, _ := get(t, noCertClient(t, bundlesOf{idGW.TrustDomain(): tlsChainPEM(t, bundle)}, idGW)); code != http.StatusForbidden {
			t.Fatalf("no client certificate on an mtls route: %d %s, want 403", code, body)
		}
	})
	t.Run("reject/upstream-with-another-id", func(t *testing.T) {
		if code, body, _ := getPath(t, clientA, "/impostor/hello"); code != http.StatusBadGateway {
			t.Fatalf("an upstream presenting C's SVID where B is expected: %d %s, want 502", code, body)
		}
		if n, _ := impostor.served(); n != 0 {
			t.Fatal("the gateway sent the request to the upstream with the wrong SPIFFE ID")
		}
		// The gateway reached it and broke off the handshake (it
		// verified C's SVID and refused the ID), not a dial failure.
		testkit.WaitFor(t, "the impostor to log the aborted handshake", 10*time.Second, func() bool {
			return strings.Contains(impostor.errLog.String(), "TLS handshake error")
		})
		t.Logf("impostor: %s", strings.TrimSpace(impostor.errLog.String()))
	})
	t.Run("accept/gateway-svid-renews", func(t *testing.T) {
		// A new handshake per request: the gateway presents the SVIDs
		// its agent renews (every 5 s) without a restart, and a renewal
		// during the calls costs no request.
		gwSVIDs := newCertLog()
		testkit.WaitFor(t, "the gateway to present two renewed SVIDs", 45*time.Second, func() bool {
			code, body, chain := get(t, clientA)
			if code != http.StatusOK {
				t.Fatalf("A through the gateway: %d %s", code, body)
			}
			if serialOf(chain[0]) != issuedSerial {
				gwSVIDs.add(chain)
			}
			time.Sleep(100 * time.Millisecond)
			return gwSVIDs.count() >= 2
		})
	})
}
