package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/jwtauth"
)

// Reasons of authentication failures that jwtauth does not name itself.
const (
	reasonMissingToken  = "missing_token"
	reasonDPoPScheme    = "dpop_required"
	reasonUnclassified  = "invalid_token"
	gatewayRealm        = "rampart-gateway"
	selfIssuer          = "self"
	dpopModeRequired    = "required"
	auditActorAnonymous = "anonymous"
)

// authStage builds a route's authentication: a jwtauth Verifier for the
// route's issuer, audience and claim values on the issuer's shared key
// source (one JWKS cache per issuer, however many routes trust it), and
// jwtauth's middleware for the RFC 6750 / RFC 9449 answers: 401 with
// WWW-Authenticate, 403 insufficient_scope, 503 when keys or the deny list
// cannot answer (fail closed). Every refusal is counted by reason and
// audited with the canonical path and the client address.
func (g *Gateway) authStage(name string, a config.RouteAuth, externalURL string, next http.Handler) (http.Handler, error) {
	keys, issuer, err := g.issuers.source(a.Issuer)
	if err != nil {
		return nil, err
	}
	vc := jwtauth.Config{
		Issuer: issuer, Keys: keys, Audiences: a.Audience, RequiredClaimValues: a.Claims,
		DPoP:  jwtauth.DPoPConfig{Replay: g.d.DPoPReplay},
		Clock: g.d.Clock,
	}
	if a.Issuer == selfIssuer && g.d.Deny != nil {
		// Rampart's own tokens are checked against the deny list revocation
		// writes to, through a cache that remembers "not revoked" for at
		// most denyCacheTTL: a revoked token is refused fleet-wide within
		// that time (issue 12: within one second).
		vc.DenyList = g.deny
	}
	v, err := jwtauth.New(vc)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", name, err)
	}
	mw := jwtauth.Middleware(v, jwtauth.MiddlewareConfig{
		Realm: gatewayRealm, ExternalURL: externalURL, RequiredScopes: a.Scopes,
		OnReject: func(r *http.Request, err error) {
			if ri := infoFrom(r.Context()); ri != nil {
				ri.reason = string(jwtauth.ReasonOf(err))
			}
		},
	})
	bind := a.MTLS != nil && a.MTLS.BindToken
	passed := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := infoFrom(r.Context())
		ri.claims, _ = jwtauth.ClaimsFrom(r.Context())
		if (bind || certBoundToken(ri)) && !bindingHolds(r, ri) {
			// RFC 8705 §3: a certificate-bound token is accepted only on a
			// connection with that certificate, on every route (a route
			// without bind_token does not make a bound token a bearer
			// token); an unbound token is not accepted where binding is
			// required, so a token stolen from one service is useless from
			// another.
			ri.claims, ri.reason = nil, reasonCertBinding
			bindingChallenge(w, r)
			return
		}
		next.ServeHTTP(w, r)
	}))
	requireDPoP := a.DPoP == dpopModeRequired
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := infoFrom(r.Context())
		if requireDPoP && !dpopScheme(r) {
			// RFC 9449 §7.1: a resource that requires DPoP answers a
			// bearer (or missing) token with a DPoP challenge; a bearer
			// token, even a valid one, is never accepted here, so a stolen
			// token without its key is useless on this route.
			ri.reason = reasonDPoPScheme
			dpopChallenge(w, v)
		} else {
			passed.ServeHTTP(w, r)
		}
		if ri.claims == nil {
			g.denied(r, ri)
		}
	}), nil
}

// dpopScheme reports whether the request authenticates with the DPoP
// scheme and one proof.
func dpopScheme(r *http.Request) bool {
	auth := r.Header.Values("Authorization")
	if len(auth) != 1 {
		return false
	}
	scheme, _, _ := strings.Cut(auth[0], " ")
	return strings.EqualFold(scheme, "DPoP") && len(r.Header.Values("DPoP")) == 1
}

func dpopChallenge(w http.ResponseWriter, v *jwtauth.Verifier) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("WWW-Authenticate", `DPoP realm="`+gatewayRealm+`", algs="`+strings.Join(v.DPoPAlgorithms(), " ")+`", error="invalid_token"`)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"error":"invalid_token"}` + "\n"))
}

// denied counts and audits one refused request. The audit event carries
// the canonical path (the one the route matched, not the raw target) and
// the one client address, never the token.
func (g *Gateway) denied(r *http.Request, ri *reqInfo) {
	reason := ri.reason
	if reason == "" {
		reason = reasonMissingToken
		if len(r.Header.Values("Authorization")) > 0 {
			reason = reasonUnclassified
		}
	}
	g.m.authFailures.WithLabelValues(ri.route.name, reason).Inc()
	// A detached context: the client hanging up must not drop the record.
	ctx := context.WithoutCancel(r.Context())
	actor := auditActorAnonymous
	if !ri.peer.IsZero() {
		// The SPIFFE ID the handshake verified: who was refused.
		actor = ri.peer.String()
	}
	err := g.d.Audit.Record(ctx, audit.Event{Actor: actor, Action: audit.ActionGatewayDenied,
		Target: "route:" + ri.route.name, Outcome: audit.OutcomeDenied, Reason: reason,
		ClientAddr: ri.client, RequestID: httpx.RequestIDFrom(r.Context()),
		Details: map[string]string{"path": ri.path, "method": r.Method}})
	if err != nil {
		g.d.Logger.ErrorContext(ctx, "cannot record a gateway denial in the audit log", "err", err, "route", ri.route.name)
	}
}
