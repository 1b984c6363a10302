package gateway

import (
	"fmt"
	"net/http"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/mtls"
)

// Reasons of service-mTLS refusals (metrics and the gateway.denied audit
// event).
const (
	reasonMTLSRequired   = "mtls_required"
	reasonMTLSNotAllowed = "mtls_not_allowed"
	reasonCertBinding    = "certificate_binding"
)

// mtlsStage builds a route's service-mTLS rule: the peer's SPIFFE ID, as
// the listener's handshake verified it (mtls.PeerID over the connection
// state, never a header), must be one of allow; deny by default.
//
// Both refusals are 403, not 401: HTTP authentication (RFC 9110 §11) has
// no challenge a client could answer on this connection, since the
// certificate is chosen at the TLS handshake, and a 401 without
// WWW-Authenticate is not allowed (RFC 9110 §15.5.2). mtls_required (no
// client certificate on the connection) and mtls_not_allowed (a valid SVID
// of the trust domain, not on the list) are told apart in the audit event
// and the metrics, not in the answer.
func (g *Gateway) mtlsStage(name string, allow []string, next http.Handler) (http.Handler, error) {
	if !g.d.MTLSListener {
		// Fail closed at load: a listener that does not verify client
		// SVIDs would make this route refuse every request.
		return nil, fmt.Errorf("route %s: auth.mtls needs the gateway listener in tls mode spiffe (restart the gateway after changing gateway.tls)", name)
	}
	if len(allow) == 0 {
		return nil, fmt.Errorf("route %s: auth.mtls.allow is empty; list the SPIFFE IDs that may call the route", name)
	}
	ids := make([]spiffeid.ID, 0, len(allow))
	for _, s := range allow {
		id, err := spiffeid.FromString(s)
		if err != nil || id.String() != s {
			return nil, fmt.Errorf("route %s: auth.mtls.allow: %q is not a canonical SPIFFE ID", name, s)
		}
		if !g.d.TrustDomain.IsZero() && !id.MemberOf(g.d.TrustDomain) {
			// The listener admits the gateway's own trust domain only: an
			// ID of another one could never connect.
			return nil, fmt.Errorf("route %s: auth.mtls.allow: %s is not in the gateway's trust domain %s, whose SVIDs alone the listener accepts", name, id, g.d.TrustDomain)
		}
		ids = append(ids, id)
	}
	authz := mtls.AuthorizeOneOf(ids...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := infoFrom(r.Context())
		id, ok := mtls.PeerID(r.TLS)
		switch {
		case !ok:
			ri.reason = reasonMTLSRequired
			g.refuseMTLS(w, r, ri, "This route requires a client certificate (an X509-SVID) at the TLS handshake.")
		case authz(id) != nil:
			ri.reason, ri.peer = reasonMTLSNotAllowed, id
			g.refuseMTLS(w, r, ri, "This service is not allowed to call this route.")
		default:
			ri.peer = id
			next.ServeHTTP(w, r)
		}
	}), nil
}

// refuseMTLS answers 403 problem+json and counts and audits the refusal.
func (g *Gateway) refuseMTLS(w http.ResponseWriter, r *http.Request, ri *reqInfo, detail string) {
	setSecurityHeaders(w.Header(), ri.route.sec)
	httpx.WriteProblem(w, r, http.StatusForbidden, "", detail)
	g.denied(r, ri)
}

// bindingHolds reports whether the verified token in ri is bound to the
// client certificate of r's connection (RFC 8705 §3). The leaf is the one
// the handshake verified as an SVID (the mtls stage ran first).
func bindingHolds(r *http.Request, ri *reqInfo) bool {
	if ri.claims == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	return mtls.TokenBoundToCert(ri.claims.Raw, r.TLS.PeerCertificates[0].Raw)
}

// certBoundToken reports whether the verified token in ri carries
// cnf.x5t#S256 (RFC 8705 §3.1).
func certBoundToken(ri *reqInfo) bool {
	if ri.claims == nil {
		return false
	}
	_, ok := mtls.CnfX5tS256(ri.claims.Raw)
	return ok
}

// bindingChallenge answers a token that is not bound to the connection's
// certificate: 401 invalid_token (RFC 8705 §3: "the protected resource
// MUST reject the request" with the RFC 6750 invalid_token error), in the
// scheme the client used.
func bindingChallenge(w http.ResponseWriter, r *http.Request) {
	scheme := "Bearer"
	if dpopScheme(r) {
		scheme = "DPoP"
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("WWW-Authenticate", scheme+` realm="`+gatewayRealm+`", error="invalid_token", error_description="the token is not bound to the client certificate"`)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"error":"invalid_token"}` + "\n"))
}
