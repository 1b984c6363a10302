package oauth

import (
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/rampart-auth/rampart/internal/audit"
)

// readForm parses an application/x-www-form-urlencoded body (RFC 6749
// §4.1.3) and returns only the body's parameters: credentials and codes in
// the query string would be logged by every proxy on the way.
func readForm(r *http.Request) (url.Values, *Error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oerr(ErrInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	if r.URL.RawQuery != "" {
		return nil, oerr(ErrInvalidRequest, "parameters must be sent in the body, not the URL")
	}
	if err := r.ParseForm(); err != nil {
		return nil, oerr(ErrInvalidRequest, "the body is not a valid form")
	}
	return r.PostForm, nil
}

// handleToken is the token endpoint (RFC 6749 §3.2) of the main listener.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) { s.token(w, r, false) }

// token answers a token request: it reads the form, authenticates the
// client behind the per-address limits, applies the client's token
// budget, and hands the request to the handler of its grant_type. A public
// client's budget is charged only once the grant succeeded (limitToken).
// alias is true on the mTLS endpoint alias (MTLSHandler, RFC 8705 §5),
// whose verified client certificate binds the tokens (checkTokenCert).
func (s *Server) token(w http.ResponseWriter, r *http.Request, alias bool) {
	s.setNonce(w)
	form, e := readForm(r)
	if e != nil {
		writeError(w, e, false)
		return
	}
	client, basic := s.authClient(w, r, form, audit.ActionToken)
	if client == nil {
		return
	}
	if !s.limitToken(w, r, client) {
		return
	}
	req, e := ParseTokenRequest(form)
	if e != nil {
		s.fail(w, r, e, basic)
		return
	}
	x5t, e := s.checkTokenCert(r, client, alias)
	if e != nil {
		s.fail(w, r, e, basic)
		return
	}
	// The DPoP proof is checked before the grant is dispatched, the same
	// for every grant type (RFC 9449 §5), for the URL the request was sent
	// to (§4.3: htu; the alias has its own); the grant binds what it
	// issues to the proof's key and the client certificate, which it
	// finds in the request context. With both, the token carries both
	// cnf members (RFC 9449 §6 and RFC 8705 §3 define them side by side).
	htu := s.opts.Issuer + PathToken
	if alias {
		htu = s.opts.MTLS.TokenEndpoint()
	}
	jkt, e := s.checkTokenProof(r, client, htu)
	if e != nil {
		s.fail(w, r, e, basic)
		return
	}
	r = r.WithContext(withCertThumb(withProofKey(r.Context(), jkt), x5t))
	resp, e := s.grant(r, client, req)
	if e != nil {
		s.fail(w, r, e, basic)
		return
	}
	s.chargeToken(r, client)
	writeJSON(w, http.StatusOK, resp)
}

// grant dispatches a token request to the handler of its grant type; a
// type without one is unsupported_grant_type (RFC 6749 §5.2).
func (s *Server) grant(r *http.Request, c *Client, req *TokenRequest) (*tokenResponse, *Error) {
	h, ok := s.grants[req.GrantType]
	if !ok {
		return nil, oerr(ErrUnsupportedGrantType, "the grant type is not supported")
	}
	return h.grant(r, c, req)
}

// fail logs a server error's cause and answers the error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, e *Error, basic bool) {
	if e.Code == ErrServerError {
		s.log.ErrorContext(r.Context(), "token endpoint", "err", e.Cause)
	}
	writeError(w, e, basic)
}

func itoa(n int) string { return strconv.Itoa(n) }
