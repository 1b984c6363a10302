package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// TLSSPIFFE is the gateway listener's service-mTLS mode: the listener
// presents the gateway's X509-SVID (gateway.spiffe) and asks every client
// for its SVID, verified against the trust domain's bundle (issue 14).
const TLSSPIFFE = "spiffe"

// GatewaySPIFFE is where the gateway's own X509-SVID comes from: exactly
// one of Dir (`rampart agent --out DIR`: svid.pem, svid.key, bundle.pem,
// crl.pem) and Socket (`rampart agent --socket PATH`). The certificate and
// the bundle are read again as the agent renews them, so a renewal needs
// no restart.
type GatewaySPIFFE struct {
	Dir    string `yaml:"dir"`
	Socket string `yaml:"socket"`
	// RequireClientCert refuses, at the handshake, a connection without a
	// valid client SVID. False (the default) lets such a connection reach
	// the `auth: none` and JWT routes; the mtls routes refuse it (403).
	RequireClientCert bool `yaml:"require_client_cert"`
}

// RouteMTLS is a route's service-mTLS rule: the SPIFFE IDs allowed to call
// it (deny by default: every other peer gets 403) and, with a token rule
// beside it, whether the token must be bound to the client certificate
// (RFC 8705 §3: cnf.x5t#S256).
type RouteMTLS struct {
	Allow     []string `yaml:"allow"`
	BindToken bool     `yaml:"bind_token"`
}

// MTLSOnly reports whether a is a service-mTLS rule without a token rule:
// the verified peer's SPIFFE ID is the caller's identity.
func (a RouteAuth) MTLSOnly() bool {
	return a.Set && !a.None && a.Issuer == "" && a.MTLS != nil
}

// validateGatewaySPIFFE checks gateway.tls in mode spiffe and the
// gateway.spiffe section.
func validateGatewaySPIFFE(g *Gateway, bad func(string, string, ...any)) {
	s := g.SPIFFE
	if g.TLS.Mode == TLSSPIFFE && s == nil {
		bad("gateway.tls.mode", "spiffe presents the gateway's SVID, but gateway.spiffe is not set; add gateway.spiffe: {dir: /run/rampart/gateway} (the directory of `rampart agent --out`) or {socket: PATH} (`rampart agent --socket`)")
	}
	if s == nil {
		return
	}
	switch {
	case s.Dir == "" && s.Socket == "":
		bad("gateway.spiffe", "needs dir (the directory `rampart agent --out` writes) or socket (the path of `rampart agent --socket`)")
	case s.Dir != "" && s.Socket != "":
		bad("gateway.spiffe", "sets both dir and socket; set exactly one: the gateway reads its SVID from one place")
	}
	for _, p := range []struct{ key, v string }{{"gateway.spiffe.dir", s.Dir}, {"gateway.spiffe.socket", s.Socket}} {
		if strings.ContainsFunc(p.v, func(r rune) bool { return r < 0x20 || r == 0x7F }) {
			bad(p.key, "%q holds control characters; write a file system path", p.v)
		}
	}
	if s.RequireClientCert && g.TLS.Mode != TLSSPIFFE {
		bad("gateway.spiffe.require_client_cert", "applies to the gateway listener in tls mode spiffe, but gateway.tls.mode is %q; set gateway.tls: {mode: spiffe} or remove require_client_cert", g.TLS.Mode)
	}
}

// validateRouteMTLS checks a route's auth.mtls; g is the gateway, whose
// listener must ask for client certificates.
func validateRouteMTLS(key string, g *Gateway, a RouteAuth, bad func(string, string, ...any)) {
	m := a.MTLS
	if m == nil {
		return
	}
	key += ".mtls"
	if g.TLS.Mode != TLSSPIFFE {
		// Without mode spiffe no connection carries a verified client SVID:
		// the route could only refuse everyone, which is a mistake to
		// report, not a rule to serve.
		bad(key, "needs the gateway listener to verify client SVIDs, but gateway.tls.mode is %q; set gateway.tls: {mode: spiffe} and gateway.spiffe", g.TLS.Mode)
	}
	if len(m.Allow) == 0 {
		bad(key+".allow", "is empty; list the SPIFFE IDs that may call this route, like [spiffe://example.test/svc/orders] (every other peer is refused)")
	}
	for j, s := range m.Allow {
		k := fmt.Sprintf("%s.allow[%d]", key, j)
		if err := checkWorkloadID(s); err != nil {
			bad(k, "%q %v", s, err)
		} else if slices.Index(m.Allow[:j], s) >= 0 {
			bad(k, "lists %s twice", s)
		}
	}
	if m.BindToken && a.Issuer == "" {
		bad(key+".bind_token", "binds a token to the client certificate (RFC 8705), but the route has no token rule; add issuer and audience, or remove bind_token")
	}
}

// validateMTLSOnly refuses the token keys on a route without an issuer:
// they would check a token nothing verifies.
func validateMTLSOnly(key string, a RouteAuth, bad func(string, string, ...any)) {
	if len(a.Audience) > 0 || len(a.Scopes) > 0 || len(a.Claims) > 0 || a.DPoP != "" {
		bad(key, "sets audience, scopes, claims or dpop, which check a token, but no issuer; add issuer (the route then needs a token and the client SVID) or remove them for an mTLS-only route")
	}
}

// validateUpstreamSPIFFE checks upstream_tls.spiffe_id: a workload ID,
// alone (the SPIFFE ID replaces the CA file, the client certificate and
// the server name), over the gateway's SVID.
func validateUpstreamSPIFFE(key string, g *Gateway, t UpstreamTLS, bad func(string, string, ...any)) {
	if t.SPIFFEID == "" {
		return
	}
	if err := checkWorkloadID(t.SPIFFEID); err != nil {
		bad(key+".spiffe_id", "%q %v", t.SPIFFEID, err)
	}
	if t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" {
		// One way to verify the upstream: mixing a CA file or a server name
		// with the SPIFFE check would leave a reader unsure which one holds.
		bad(key, "spiffe_id verifies the upstream by its SPIFFE ID with the trust domain's bundle and sends the gateway's SVID; remove ca_file, cert_file, key_file and server_name")
	}
	if g.SPIFFE == nil {
		bad(key+".spiffe_id", "needs the gateway's own SVID to connect with; set gateway.spiffe: {dir: ...} or {socket: ...}")
	}
}

// checkWorkloadID accepts a canonical SPIFFE ID of a workload (SPIFFE-ID
// §2: spiffe://trust-domain/path, lowercase trust domain, a non-empty
// path). IDs are parsed with spiffeid, never compared as strings, and one
// whose String() differs from the text written is refused: it would never
// equal the ID in a certificate (issue 14 contract).
func checkWorkloadID(s string) error {
	id, err := spiffeid.FromString(s)
	switch {
	case err != nil:
		return fmt.Errorf("is not a SPIFFE ID (%v); write it like spiffe://example.test/svc/orders", strings.TrimPrefix(err.Error(), "spiffeid: "))
	case id.String() != s:
		return fmt.Errorf("is not in canonical form; write %s", id)
	case id.Path() == "":
		return fmt.Errorf("names a trust domain, not a workload; add the path, like %s/svc/orders", id)
	}
	return nil
}
