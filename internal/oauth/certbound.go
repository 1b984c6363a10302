package oauth

import (
	"context"
	"crypto/subtle"
	"net/http"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/jwtauth"
	"github.com/rampart-auth/rampart/mtls"
)

// Certificate-bound access tokens (RFC 8705 §3). The token endpoint is
// also served on the CA's enrolment listener, which asks every client for
// a certificate (the mTLS endpoint alias, §5: mtls_endpoint_aliases in
// discovery). A token request there with a client certificate that is a
// valid X509-SVID of the CA's trust domain gets access tokens bound to
// it: cnf.x5t#S256 is the certificate's thumbprint (mtls.CertThumbprint).
// The CertBinder verifies the certificate (crypto/tls only requested it);
// the thumbprint reaches the grant and the issuer through the request
// context (withCertThumb), as the DPoP key does. A public client's refresh
// tokens are bound to it as well (§4). Rampart's own resources accept a
// bound token only with that certificate on the connection
// (certBindingHolds); the main listener requests none, so there they
// refuse it.

// CertBinder verifies the client certificate of a token request on the
// mTLS endpoint alias (the enrolment listener's connection state).
type CertBinder interface {
	// Thumbprint returns the RFC 8705 §3.1 thumbprint of r's client
	// certificate (mtls.CertThumbprint of the leaf's DER) when the
	// connection presented one that is a valid, unexpired, unrevoked
	// X509-SVID of the trust domain; presented false when there is none
	// (thumb "", err nil); err when one was presented and does not verify.
	Thumbprint(r *http.Request) (thumb string, presented bool, err error)
}

// MTLSAlias is the mTLS endpoint alias of the token endpoint (RFC 8705
// §5): where it is served and how its client certificates are verified.
type MTLSAlias struct {
	// TokenEndpoint returns the alias's URL, published in discovery and
	// the htu of the DPoP proofs sent to it: <ca.external_url>/oauth2/token.
	// A function, because the listener's port may be known only once it is
	// bound (ca.listen with port 0); it is called per request and must be
	// cheap and constant once serving started.
	TokenEndpoint func() string
	Binder        CertBinder
}

// certThumbCtx carries the verified client certificate's thumbprint from
// the token endpoint to the grant and the issuer.
type certThumbCtx struct{}

// withCertThumb returns ctx carrying x5t ("" for none).
func withCertThumb(ctx context.Context, x5t string) context.Context {
	if x5t == "" {
		return ctx
	}
	return context.WithValue(ctx, certThumbCtx{}, x5t)
}

// certThumb is the thumbprint of the token request's verified client
// certificate, "" for none.
func certThumb(ctx context.Context) string {
	x5t, _ := ctx.Value(certThumbCtx{}).(string)
	return x5t
}

// MTLSHandler is the token endpoint of the mTLS endpoint alias, for the
// enrolment listener to mount at POST PathToken. It is nil when the server
// has no alias (Options.MTLS).
func (s *Server) MTLSHandler() http.Handler {
	if s.opts.MTLS == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.token(w, r, true) })
}

// checkTokenCert finds the thumbprint a token request's tokens are bound
// to: the verified client certificate's on the alias, none on the main
// listener. A certificate that does not verify is refused, never silently
// ignored (the client asked for binding and would get a bearer token); a
// client registered with certificate_bound_access_tokens is refused
// without one (RFC 8705 §3.4 semantics: every token it gets is bound).
func (s *Server) checkTokenCert(r *http.Request, c *Client, alias bool) (string, *Error) {
	x5t := ""
	if alias {
		thumb, presented, err := s.opts.MTLS.Binder.Thumbprint(r)
		if presented && err != nil {
			s.log.InfoContext(r.Context(), "token endpoint: client certificate refused", "client", c.ID, "err", err)
			s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionToken, Target: "client:" + c.ID, Outcome: audit.OutcomeDenied, Reason: "client_certificate_invalid"})
			return "", oerr(ErrInvalidRequest, "the client certificate is not a valid SVID")
		}
		x5t = thumb
	}
	if x5t == "" && c.CertificateBoundAccessTokens {
		s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionToken, Target: "client:" + c.ID, Outcome: audit.OutcomeDenied, Reason: "client_certificate_required"})
		return "", oerr(ErrInvalidRequest, "the client requires certificate-bound access tokens: send the request to the mtls_endpoint_aliases token_endpoint with its X509-SVID")
	}
	return x5t, nil
}

// bindingDetails adds a certificate-bound issuance's audit details to d:
// cert_bound=true and the thumbprint (x5t_s256). d unchanged otherwise.
func bindingDetails(ctx context.Context, d map[string]string) map[string]string {
	if x5t := certThumb(ctx); x5t != "" {
		d["cert_bound"] = "true"
		d["x5t_s256"] = x5t
	}
	return d
}

// sameThumb compares two thumbprints in constant time.
func sameThumb(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// certBindingHolds reports whether a verified access token may be used on
// r's connection: a token without cnf.x5t#S256 always, a certificate-bound
// one only when the connection's client certificate is the one it is bound
// to (RFC 8705 §3: the resource "MUST reject the request" otherwise). The
// TLS handshake proved possession of that certificate's key.
func certBindingHolds(r *http.Request, claims *jwtauth.Claims) bool {
	if _, bound := mtls.CnfX5tS256(claims.Raw); !bound {
		return true
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	return mtls.TokenBoundToCert(claims.Raw, r.TLS.PeerCertificates[0].Raw)
}
