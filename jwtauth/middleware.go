package jwtauth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// MiddlewareConfig configures Middleware.
type MiddlewareConfig struct {
	// Realm is put in WWW-Authenticate (default "api").
	Realm string
	// ExternalURL is the scheme://host[:port] at which clients reach this
	// server. DPoP's htu is built from it and the request path, never from
	// Host or X-Forwarded-* headers a client controls. Required for DPoP.
	ExternalURL string
	// RequiredScopes must all be granted; otherwise 403 insufficient_scope.
	RequiredScopes []string
	// OnReject, when set, is called with every rejection (for logs and
	// audit); the error carries the Reason. It is never shown to the client.
	OnReject func(r *http.Request, err error)
}

// Middleware authenticates requests with `Authorization: Bearer <token>` or
// `Authorization: DPoP <token>` plus a `DPoP` proof header, stores the claims
// in the request context (ClaimsFrom) and answers failures per RFC 6750 §3
// and RFC 9449 §7.1: 401 with WWW-Authenticate error="invalid_token" (or
// invalid_dpop_proof / use_dpop_nonce), 403 error="insufficient_scope", 400
// invalid_request for ambiguous credentials, 503 when keys or the deny list
// cannot be consulted (fail closed). Neither the token nor the failure
// detail is ever echoed.
func Middleware(v *Verifier, cfg MiddlewareConfig) func(http.Handler) http.Handler {
	if cfg.Realm == "" {
		cfg.Realm = "api"
	}
	base := ""
	if u, err := url.Parse(cfg.ExternalURL); err == nil && u.Host != "" {
		base = u.Scheme + "://" + u.Host
	}
	dpopOn := v.DPoPEnabled() && base != ""
	m := &mw{v: v, cfg: cfg, base: base, dpop: dpopOn, realm: quoteParam(cfg.Realm), scopes: quoteParam(strings.Join(cfg.RequiredScopes, " "))}
	if dpopOn {
		m.algs = strings.Join(v.DPoPAlgorithms(), " ")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(next, w, r) })
	}
}

type mw struct {
	v      *Verifier
	cfg    MiddlewareConfig
	base   string
	dpop   bool
	algs   string
	realm  string
	scopes string
}

func (m *mw) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Values("Authorization")
	if len(auth) == 0 {
		m.challenge(w, http.StatusUnauthorized, "", "") // RFC 6750 §3.1: no error code
		return
	}
	if len(auth) > 1 {
		m.fail(w, r, http.StatusBadRequest, "Bearer", "invalid_request", fmt.Errorf("jwtauth: %d Authorization headers", len(auth)))
		return
	}
	scheme, token, _ := strings.Cut(auth[0], " ")
	token = strings.TrimSpace(token)
	var (
		c   *Claims
		err error
	)
	switch {
	case strings.EqualFold(scheme, "Bearer") && token != "":
		if len(r.Header.Values("DPoP")) > 0 {
			// A proof with a Bearer token is a confused or downgraded client.
			m.fail(w, r, http.StatusBadRequest, "Bearer", "invalid_request", reject(ReasonDPoPRequired, "DPoP proof sent with the Bearer scheme"))
			return
		}
		c, err = m.v.Verify(r.Context(), token)
		scheme = "Bearer"
	case strings.EqualFold(scheme, "DPoP") && token != "" && m.dpop:
		proofs := r.Header.Values("DPoP")
		if len(proofs) != 1 {
			// RFC 9449 §4.3 step 1: exactly one DPoP header.
			m.fail(w, r, http.StatusUnauthorized, "DPoP", "invalid_dpop_proof", reject(ReasonDPoPInvalid, "%d DPoP headers", len(proofs)))
			return
		}
		c, err = m.v.VerifyDPoP(r.Context(), token, proofs[0], r.Method, m.base+r.URL.EscapedPath())
		scheme = "DPoP"
	default:
		m.fail(w, r, http.StatusUnauthorized, "Bearer", "invalid_token", reject(ReasonMalformed, "unsupported Authorization scheme"))
		return
	}
	if err != nil {
		status, code := http.StatusUnauthorized, "invalid_token"
		switch ReasonOf(err) {
		case ReasonKeySourceError, ReasonDenyListError:
			status, code = http.StatusServiceUnavailable, ""
		case ReasonScope:
			status, code = http.StatusForbidden, "insufficient_scope"
		case ReasonDPoPInvalid, ReasonDPoPMismatch, ReasonDPoPReplay, ReasonDPoPStale:
			if scheme == "DPoP" {
				code = "invalid_dpop_proof"
			}
		case ReasonDPoPNonce:
			code = "use_dpop_nonce"
			w.Header().Set("DPoP-Nonce", m.v.cfg.DPoP.Nonces.Current())
		}
		m.fail(w, r, status, scheme, code, err)
		return
	}
	for _, s := range m.cfg.RequiredScopes {
		if !c.HasScope(s) {
			m.fail(w, r, http.StatusForbidden, scheme, "insufficient_scope", reject(ReasonScope, "scope %q missing", s))
			return
		}
	}
	next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
}

func (m *mw) fail(w http.ResponseWriter, r *http.Request, status int, scheme, code string, err error) {
	if m.cfg.OnReject != nil {
		m.cfg.OnReject(r, err)
	}
	m.challenge(w, status, scheme, code)
}

// challenge writes the WWW-Authenticate header(s) and a minimal JSON body
// holding only the error code.
func (m *mw) challenge(w http.ResponseWriter, status int, scheme, code string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		bearer := "Bearer realm=" + m.realm
		dpop := "DPoP realm=" + m.realm
		if m.algs != "" {
			dpop += `, algs="` + m.algs + `"`
		}
		params := ""
		if code != "" {
			params = `, error="` + code + `"`
			if code == "insufficient_scope" && m.scopes != `""` {
				params += ", scope=" + m.scopes
			}
		}
		if scheme == "DPoP" {
			dpop += params
		} else {
			bearer += params
		}
		h.Add("WWW-Authenticate", bearer)
		if m.dpop {
			h.Add("WWW-Authenticate", dpop)
		}
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if code == "" {
		code = map[int]string{http.StatusUnauthorized: "unauthorized", http.StatusServiceUnavailable: "temporarily_unavailable"}[status]
	}
	_, _ = fmt.Fprintf(w, "{\"error\":%q}\n", code)
}

// quoteParam makes an RFC 9110 quoted-string (drops quotes, backslashes and
// control characters rather than escaping them).
func quoteParam(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r >= 0x20 && r != 0x7f && r != '"' && r != '\\' {
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
