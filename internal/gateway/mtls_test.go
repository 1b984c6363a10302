package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/mtls"
)

// mtlsAuth is an mTLS-only rule admitting the given SPIFFE IDs.
func mtlsAuth(ids ...string) *config.RouteAuth {
	return &config.RouteAuth{MTLS: &config.RouteMTLS{Allow: ids}}
}

func lastDenial(t *testing.T, a *hAudit) audit.Event {
	t.Helper()
	ev := a.find(audit.ActionGatewayDenied)
	if len(ev) == 0 {
		t.Fatal("no gateway.denied event")
	}
	return ev[len(ev)-1]
}

// TestMTLSRouteAllowlist: an mTLS-only route serves the listed service
// and refuses every other one (deny by default) with 403 problem+json and
// an audit event naming the refused peer; without a client certificate
// the mtls route refuses while the `auth: none` route, with an optional
// client certificate, serves. The upstream learns the caller from the
// gateway alone: a spoofed X-Rampart-Peer-Id is dropped.
func TestMTLSRouteAllowlist(t *testing.T) {
	ca := newTestCA(t, tdName)
	m := newMTLSHarness(t, ca, mtlsOpts{})
	up := newEcho(t, m.harness)
	orders := ca.id(pathOrd).String()
	m.load(t, route("billing", "/billing", []string{up.srv.URL}, mtlsAuth(orders)),
		route("public", "/public", []string{up.srv.URL}, nil))
	ordersC := spiffeClient(t, ca.source(t, pathOrd), m.gwID)
	reportsC := spiffeClient(t, ca.source(t, pathRep), m.gwID)
	anon := anonClient(t, ca.source(t, pathRep), m.gwID)

	t.Run("accept/allowlisted-peer", func(t *testing.T) {
		resp := m.mustGet(t, ordersC, "/billing/invoices", "", HeaderPeerID, "spiffe://example.test/svc/admin", "X-Rampart-Subject", "admin")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		got := up.last(t)
		if v := got.Header.Values(HeaderPeerID); len(v) != 1 || v[0] != orders {
			t.Errorf("X-Rampart-Peer-Id %q, want exactly %s (the spoofed copy dropped)", v, orders)
		}
		if v := got.Header.Values(HeaderSubject); len(v) != 1 || v[0] != orders {
			t.Errorf("X-Rampart-Subject %q, want %s", v, orders)
		}
		if got.AssertionErr != nil || got.Assertion.Subject != orders || got.Assertion.Route != "billing" {
			t.Errorf("assertion %+v, %v; want sub %s", got.Assertion, got.AssertionErr, orders)
		}
	})
	t.Run("reject/other-peer-same-trust-domain", func(t *testing.T) {
		n := up.count()
		resp := m.mustGet(t, reportsC, "/billing/invoices", "")
		if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("status %d %q, want 403 problem+json", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if up.count() != n {
			t.Error("the refused request reached the upstream")
		}
		ev := lastDenial(t, m.audit)
		if ev.Reason != reasonMTLSNotAllowed || ev.Actor != ca.id(pathRep).String() || ev.Target != "route:billing" {
			t.Errorf("audit %+v", ev)
		}
		if c := m.counter(t, "rampart_gateway_auth_failures_total", "reason", reasonMTLSNotAllowed); c != 1 {
			t.Errorf("auth failures{mtls_not_allowed} = %v", c)
		}
	})
	t.Run("reject/no-client-cert-on-mtls-route", func(t *testing.T) {
		n := up.count()
		resp := m.mustGet(t, anon, "/billing/invoices", "", HeaderPeerID, orders)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
		if up.count() != n {
			t.Error("the refused request reached the upstream")
		}
		if ev := lastDenial(t, m.audit); ev.Reason != reasonMTLSRequired || ev.Actor != auditActorAnonymous {
			t.Errorf("audit %+v", ev)
		}
	})
	t.Run("accept/no-client-cert-on-public-route", func(t *testing.T) {
		resp := m.mustGet(t, anon, "/public/x", "", HeaderPeerID, orders)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if v := up.last(t).Header.Values(HeaderPeerID); len(v) != 0 {
			t.Errorf("public route forwarded X-Rampart-Peer-Id %q", v)
		}
	})
	t.Run("accept/reload-changes-the-allowlist", func(t *testing.T) {
		// The allowlist is the route table's: a reload applies to the next
		// request, on the connection already open.
		m.load(t, route("billing", "/billing", []string{up.srv.URL}, mtlsAuth(ca.id(pathRep).String())))
		if resp := m.mustGet(t, reportsC, "/billing/x", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("reports after reload: %d", resp.StatusCode)
		}
		if resp := m.mustGet(t, ordersC, "/billing/x", ""); resp.StatusCode != http.StatusForbidden {
			t.Errorf("orders after reload: %d", resp.StatusCode)
		}
	})
}

// TestMTLSHandshakeRefusals performs the attacks the listener must stop
// before any HTTP: a plaintext client, a client SVID of another trust
// domain, a forged SVID of the gateway's own trust domain from an
// attacker's CA, and, with require_client_cert, a client without a
// certificate. None reaches the gateway's handler.
func TestMTLSHandshakeRefusals(t *testing.T) {
	ca := newTestCA(t, tdName)
	other := newTestCA(t, "other.test")
	forger := newTestCA(t, tdName)   // same trust domain name, not in the bundle
	gwTrust := ca.source(t, pathRep) // the clients' view of the gateway's trust domain
	for _, required := range []bool{false, true} {
		m := newMTLSHarness(t, ca, mtlsOpts{required: required})
		up := newEcho(t, m.harness)
		m.load(t, route("public", "/public", []string{up.srv.URL}, nil),
			route("billing", "/billing", []string{up.srv.URL}, mtlsAuth(ca.id(pathOrd).String())))
		// A client trusting the gateway's bundle, presenting a cert of
		// another CA.
		foreign := func(src *testCA) *tls.Config {
			cfg := mtls.SPIFFEClientConfig(gwTrust, mtls.AuthorizeID(m.gwID))
			cert := src.svid(t, pathOrd)
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
			return cfg
		}
		cases := []struct {
			name string
			cfg  *tls.Config
		}{
			{"reject/wrong-trust-domain", foreign(other)},
			{"reject/forged-same-trust-domain", foreign(forger)},
		}
		if required {
			anon := mtls.SPIFFEClientConfig(gwTrust, mtls.AuthorizeID(m.gwID))
			anon.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }
			cases = append(cases, struct {
				name string
				cfg  *tls.Config
			}{"reject/no-client-cert-when-required", anon})
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/required=%v", tc.name, required), func(t *testing.T) {
				n := up.count()
				// At the TLS layer: the server answers the client's
				// certificate with an alert (in TLS 1.3 the client sees it
				// on its first read, RFC 8446 §4.4.2.4).
				if err := tlsExchange(m.addr, tc.cfg); !isAlert(err) {
					t.Errorf("raw TLS: %v; want the server's alert", err)
				}
				// And through an HTTP client, on both kinds of route.
				c := clientWith(t, tc.cfg)
				for _, p := range []string{"/public/x", "/billing/x"} {
					if resp, err := m.get(t, c, p, ""); err == nil {
						t.Fatalf("%s: answered %d; want the handshake refused", p, resp.StatusCode)
					}
				}
				if up.count() != n {
					t.Error("a refused connection reached the upstream")
				}
			})
		}
		t.Run(fmt.Sprintf("reject/plaintext/required=%v", required), func(t *testing.T) {
			n := up.count()
			resp, err := http.Get("http://" + m.addr + "/public/x")
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("plaintext answered %d", resp.StatusCode)
				}
			}
			if up.count() != n {
				t.Error("a plaintext request reached the upstream")
			}
		})
		t.Run(fmt.Sprintf("accept/valid-svid/required=%v", required), func(t *testing.T) {
			if resp := m.mustGet(t, spiffeClient(t, ca.source(t, pathOrd), m.gwID), "/billing/x", ""); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
		})
	}
}

// TestMTLSBindToken: on a route with bind_token the token must carry
// cnf.x5t#S256 of the connection's client certificate (RFC 8705 §3): a
// token bound to another certificate (stolen from another service) and an
// unbound token are refused with 401 invalid_token, reason
// certificate_binding; the bound token passes.
func TestMTLSBindToken(t *testing.T) {
	ca := newTestCA(t, tdName)
	m := newMTLSHarness(t, ca, mtlsOpts{})
	up := newEcho(t, m.harness)
	a := selfAuth()
	a.MTLS = &config.RouteMTLS{Allow: []string{ca.id(pathOrd).String(), ca.id(pathRep).String()}, BindToken: true}
	m.load(t, route("bound", "/bound", []string{up.srv.URL}, a))
	ordSrc, repSrc := ca.source(t, pathOrd), ca.source(t, pathRep)
	ordCert, _ := ordSrc.SVID()
	repCert, _ := repSrc.SVID()
	ordersC := spiffeClient(t, ordSrc, m.gwID)
	bound := func(der []byte) map[string]any {
		return map[string]any{"cnf": map[string]any{"x5t#S256": mtls.CertThumbprint(der)}}
	}
	cases := []struct {
		name  string
		token string
		want  int
	}{
		{"accept/bound-to-this-cert", m.token(t, bound(ordCert.Certificate[0])), http.StatusOK},
		{"reject/bound-to-another-cert", m.token(t, bound(repCert.Certificate[0])), http.StatusUnauthorized},
		{"reject/unbound", m.token(t, nil), http.StatusUnauthorized},
		{"reject/thumbprint-of-sha1-length", m.token(t, map[string]any{"cnf": map[string]any{"x5t#S256": "AAAAAAAAAAAAAAAAAAAAAAAAAAA"}}), http.StatusUnauthorized},
		{"reject/thumbprint-not-string", m.token(t, map[string]any{"cnf": map[string]any{"x5t#S256": 7}}), http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := up.count()
			resp := m.mustGet(t, ordersC, "/bound/x", tc.token)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusOK {
				got := up.last(t)
				if got.Header.Get(HeaderSubject) != "alice" || got.Header.Get(HeaderPeerID) != ca.id(pathOrd).String() {
					t.Errorf("identity headers %v", got.Header)
				}
				return
			}
			if up.count() != n {
				t.Error("the refused request reached the upstream")
			}
			if w := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(w, "Bearer ") || !strings.Contains(w, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q", w)
			}
			if ev := lastDenial(t, m.audit); ev.Reason != reasonCertBinding || ev.Actor != ca.id(pathOrd).String() {
				t.Errorf("audit %+v", ev)
			}
		})
	}
	t.Run("reject/stolen-token-from-another-allowed-peer", func(t *testing.T) {
		stolen := m.token(t, bound(ordCert.Certificate[0]))
		resp := m.mustGet(t, spiffeClient(t, repSrc, m.gwID), "/bound/x", stolen)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
	})
}

// TestMTLSBoundTokenOnUnboundRoute: a certificate-bound token
// (cnf.x5t#S256) stays bound on a token route without bind_token (RFC
// 8705 §3: the resource checks the binding of a bound token): with its
// certificate it passes, with another SVID or no client certificate it is
// refused with 401 invalid_token; an unbound token passes as before.
func TestMTLSBoundTokenOnUnboundRoute(t *testing.T) {
	ca := newTestCA(t, tdName)
	m := newMTLSHarness(t, ca, mtlsOpts{})
	up := newEcho(t, m.harness)
	m.load(t, route("plain", "/plain", []string{up.srv.URL}, selfAuth()))
	ordSrc, repSrc := ca.source(t, pathOrd), ca.source(t, pathRep)
	ordCert, _ := ordSrc.SVID()
	bound := m.token(t, map[string]any{"cnf": map[string]any{"x5t#S256": mtls.CertThumbprint(ordCert.Certificate[0])}})
	noCert := anonClient(t, ordSrc, m.gwID)
	cases := []struct {
		name   string
		client *http.Client
		token  string
		want   int
	}{
		{"accept/bound-with-its-cert", spiffeClient(t, ordSrc, m.gwID), bound, http.StatusOK},
		{"accept/unbound-without-cert", noCert, m.token(t, nil), http.StatusOK},
		{"reject/bound-with-another-svid", spiffeClient(t, repSrc, m.gwID), bound, http.StatusUnauthorized},
		{"reject/bound-without-cert", noCert, bound, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := m.mustGet(t, tc.client, "/plain/x", tc.token)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want != http.StatusOK {
				if w := resp.Header.Get("WWW-Authenticate"); !strings.Contains(w, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate %q", w)
				}
				if ev := lastDenial(t, m.audit); ev.Reason != reasonCertBinding {
					t.Errorf("audit %+v", ev)
				}
			}
		})
	}
}

// TestMTLSUpstream: upstream_tls.spiffe_id connects with the gateway's
// SVID (the upstream sees spiffe://example.test/gateway) and accepts only
// an upstream presenting exactly that ID: another SVID of the same trust
// domain is a 502 and the request is not sent.
func TestMTLSUpstream(t *testing.T) {
	ca := newTestCA(t, tdName)
	gwSrc := ca.source(t, gwPath)
	billing := newSpiffeEcho(t, ca.source(t, pathBill), mtls.AuthorizeMemberOf(ca.td))
	impostor := newSpiffeEcho(t, ca.source(t, "/svc/impostor"), mtls.AuthorizeMemberOf(ca.td))
	up := func(name, addr string) config.GatewayRoute {
		r := route(name, "/"+name, []string{"https://" + addr}, nil)
		r.UpstreamTLS = config.UpstreamTLS{SPIFFEID: ca.id(pathBill).String()}
		return r
	}
	m := newMTLSHarness(t, ca, mtlsOpts{src: gwSrc})
	m.load(t, up("right", billing.addr), up("wrong", impostor.addr))
	c := spiffeClient(t, ca.source(t, pathOrd), m.gwID)

	t.Run("accept/right-upstream-id", func(t *testing.T) {
		if resp := m.mustGet(t, c, "/right/x", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if peer, _ := billing.last(t); peer != m.gwID {
			t.Errorf("upstream saw %v, want the gateway's SVID %v", peer, m.gwID)
		}
	})
	t.Run("reject/wrong-upstream-id", func(t *testing.T) {
		resp := m.mustGet(t, c, "/wrong/x", "")
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("status %d, want 502", resp.StatusCode)
		}
		if impostor.count() != 0 {
			t.Error("the request reached an upstream with the wrong SPIFFE ID")
		}
	})
}

// TestMTLSRenewal: the gateway's SVID files are renewed while a client
// holds a keep-alive connection: that connection keeps working on the old
// leaf, and the next handshake presents the new one (no restart, no
// dropped connection).
func TestMTLSRenewal(t *testing.T) {
	ca := newTestCA(t, tdName)
	dir := t.TempDir()
	first := ca.writeDir(t, dir, gwPath, 0)
	src, err := mtls.NewDirSource(dir, mtls.WithReloadInterval(0), mtls.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	m := newMTLSHarness(t, ca, mtlsOpts{src: src})
	up := newEcho(t, m.harness)
	m.load(t, route("billing", "/billing", []string{up.srv.URL}, mtlsAuth(ca.id(pathOrd).String())))
	clientSrc := ca.source(t, pathOrd)
	c := spiffeClient(t, clientSrc, m.gwID)

	serial := func(resp *http.Response) string {
		if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
			t.Fatal("no TLS state")
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	doTraced := func(c *http.Client) (*http.Response, bool) {
		reused := false
		req, _ := http.NewRequest(http.MethodGet, "https://"+m.addr+"/billing/x", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp, reused
	}
	resp, _ := doTraced(c)
	if serial(resp) != first.Leaf.SerialNumber.String() {
		t.Fatal("first handshake did not present the first SVID")
	}
	second := ca.writeDir(t, dir, gwPath, 2)
	resp, reused := doTraced(c)
	if !reused || serial(resp) != first.Leaf.SerialNumber.String() {
		t.Errorf("open connection: reused %v, serial %s; want the same connection on the first leaf", reused, serial(resp))
	}
	fresh := spiffeClient(t, clientSrc, m.gwID)
	resp, reused = doTraced(fresh)
	if reused || serial(resp) != second.Leaf.SerialNumber.String() {
		t.Errorf("new connection: reused %v, serial %s; want the renewed leaf %s", reused, serial(resp), second.Leaf.SerialNumber)
	}
	if _, reused := doTraced(c); !reused {
		t.Error("the old connection was dropped after the renewal")
	}
}

// TestMTLSLoadRefusals: the gateway itself refuses, at load, what would
// make an mtls rule meaningless, whatever config validation said.
func TestMTLSLoadRefusals(t *testing.T) {
	ca := newTestCA(t, tdName)
	h := newHarness(t, nil) // a listener that does not verify client SVIDs
	bad := func(name string, rc config.GatewayRoute, gw *Gateway, want string) {
		t.Run(name, func(t *testing.T) {
			cfg := &config.Config{Issuer: hIssuer, Gateway: &config.Gateway{Listen: "127.0.0.1:1", Routes: []config.GatewayRoute{rc}}}
			if err := gw.Load(cfg); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Load: %v, want an error mentioning %q", err, want)
			}
		})
	}
	bad("reject/mtls-route-on-plain-listener", route("r", "/r", []string{"http://127.0.0.1:1"}, mtlsAuth(ca.id(pathOrd).String())), h.gw, "tls mode spiffe")
	bad("reject/empty-auth-rule", route("r", "/r", []string{"http://127.0.0.1:1"}, &config.RouteAuth{}), h.gw, "neither an issuer nor an mtls rule")
	rc := route("r", "/r", []string{"https://127.0.0.1:1"}, nil)
	rc.UpstreamTLS.SPIFFEID = ca.id(pathBill).String()
	bad("reject/upstream-spiffe-without-source", rc, h.gw, "gateway.spiffe")
	m := newMTLSHarness(t, ca, mtlsOpts{})
	bad("reject/allow-outside-trust-domain", route("r", "/r", []string{"http://127.0.0.1:1"}, mtlsAuth("spiffe://other.test/svc/orders")), m.gw, "not in the gateway's trust domain")
	bad("reject/allow-empty", route("r", "/r", []string{"http://127.0.0.1:1"}, mtlsAuth()), m.gw, "allow is empty")
	bad("reject/allow-not-canonical", route("r", "/r", []string{"http://127.0.0.1:1"}, mtlsAuth("spiffe://example.test/svc/../x")), m.gw, "canonical")
}

// TestMTLSSubjectKey: on an mTLS-only route the subject a limit counts by
// is the verified peer's SPIFFE ID, so each service has its own budget and
// one cannot spend another's; a token route on the same listener serves a
// client without a certificate (optional client certificates).
func TestMTLSSubjectKey(t *testing.T) {
	ca := newTestCA(t, tdName)
	m := newMTLSHarness(t, ca, mtlsOpts{})
	up := newEcho(t, m.harness)
	rc := route("billing", "/billing", []string{up.srv.URL}, mtlsAuth(ca.id(pathOrd).String(), ca.id(pathRep).String()))
	rc.RateLimits = []config.RouteLimit{{Name: "per-service", Key: config.RouteKeySubject, Rate: 1, Period: config.Duration(time.Minute), Burst: 1}}
	m.load(t, rc, route("notes", "/notes", []string{up.srv.URL}, selfAuth()))
	orders := spiffeClient(t, ca.source(t, pathOrd), m.gwID)
	reports := spiffeClient(t, ca.source(t, pathRep), m.gwID)
	for i, want := range []struct {
		c    *http.Client
		code int
	}{{orders, http.StatusOK}, {orders, http.StatusTooManyRequests}, {reports, http.StatusOK}, {reports, http.StatusTooManyRequests}} {
		if resp := m.mustGet(t, want.c, "/billing/x", ""); resp.StatusCode != want.code {
			t.Errorf("request %d: %d, want %d", i, resp.StatusCode, want.code)
		}
	}
	anon := anonClient(t, ca.source(t, pathOrd), m.gwID)
	if resp := m.mustGet(t, anon, "/notes/1", m.token(t, nil)); resp.StatusCode != http.StatusOK {
		t.Errorf("token route without a client certificate: %d", resp.StatusCode)
	}
	if v := up.last(t).Header.Values(HeaderPeerID); len(v) != 0 {
		t.Errorf("token route forwarded X-Rampart-Peer-Id %q", v)
	}
}

// TestMTLSRevokedClient: a client SVID revoked while it holds a
// connection is refused at its next handshake as soon as the gateway's
// source has the new CRL (an allowlisted ID does not help), while an
// unrevoked service keeps connecting.
func TestMTLSRevokedClient(t *testing.T) {
	ca := newTestCA(t, tdName)
	gwSrc := ca.source(t, gwPath)
	m := newMTLSHarness(t, ca, mtlsOpts{src: gwSrc})
	up := newEcho(t, m.harness)
	m.load(t, route("billing", "/billing", []string{up.srv.URL}, mtlsAuth(ca.id(pathOrd).String(), ca.id(pathRep).String())))
	ordSrc := ca.source(t, pathOrd)
	ordCert, _ := ordSrc.SVID()
	if resp := m.mustGet(t, spiffeClient(t, ordSrc, m.gwID), "/billing/x", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("before revocation: %d", resp.StatusCode)
	}
	if err := gwSrc.SetCRL(ca.crl(t, 1, ordCert)); err != nil {
		t.Fatal(err)
	}
	n := up.count()
	cfg := mtls.SPIFFEClientConfig(ordSrc, mtls.AuthorizeID(m.gwID))
	if err := tlsExchange(m.addr, cfg); !isAlert(err) {
		t.Errorf("revoked SVID, raw TLS: %v; want the server's alert", err)
	}
	if resp, err := m.get(t, clientWith(t, cfg), "/billing/x", ""); err == nil {
		t.Errorf("revoked SVID answered %d; want the handshake refused", resp.StatusCode)
	}
	if up.count() != n {
		t.Error("the revoked service reached the upstream")
	}
	if resp := m.mustGet(t, spiffeClient(t, ca.source(t, pathRep), m.gwID), "/billing/x", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("unrevoked service: %d", resp.StatusCode)
	}
}
