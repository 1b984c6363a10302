package oauth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/rampart-auth/rampart/jwtauth"
)

// The server's own protected resources (the admin API; userinfo has its
// own answers) authenticate a request's access token here, once, with the
// verifier of the tokens this server signs: signature, issuer, expiry and
// the deny list, and a DPoP-bound token only with a proof of its key.

// ErrNoAccessToken means the request carries no access token at all (the
// resource answers 401 with a bare challenge, RFC 6750 §3.1).
var ErrNoAccessToken = errors.New("oauth: no access token")

// ErrInvalidAccessToken means the token (or its DPoP proof) was refused.
var ErrInvalidAccessToken = errors.New("oauth: invalid access token")

// maxAuthorizationHeader bounds the header we parse (a JWT access token
// is far below it).
const maxAuthorizationHeader = 16 << 10

// AuthenticateRequest returns the claims of the request's access token:
// `Authorization: Bearer <token>` (RFC 6750 §2.1), or `Authorization: DPoP
// <token>` with one `DPoP` proof header (RFC 9449 §7.1) checked against
// the request's method and URL. A DPoP-bound token presented as Bearer is
// refused by the verifier (RFC 9449 §7.2); a certificate-bound token
// (cnf.x5t#S256, RFC 8705 §3) without that client certificate on the
// connection is refused too. The audience is the caller's check.
func (s *Server) AuthenticateRequest(r *http.Request) (*jwtauth.Claims, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return nil, ErrNoAccessToken
	}
	if len(vals) > 1 || len(vals[0]) > maxAuthorizationHeader {
		return nil, ErrInvalidAccessToken
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || tok == "" || strings.ContainsAny(tok, " \t") {
		return nil, ErrInvalidAccessToken
	}
	var (
		claims *jwtauth.Claims
		err    error
	)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if len(r.Header.Values("DPoP")) > 0 {
			// A proof with a Bearer token is a client confused about what
			// it holds; refuse rather than guess.
			return nil, ErrInvalidAccessToken
		}
		claims, err = s.verifier.Verify(r.Context(), tok)
	case strings.EqualFold(scheme, "DPoP"):
		proofs := r.Header.Values("DPoP")
		if len(proofs) != 1 || !s.verifier.DPoPEnabled() {
			return nil, ErrInvalidAccessToken
		}
		claims, err = s.verifier.VerifyDPoP(r.Context(), tok, proofs[0], r.Method, s.opts.Issuer+r.URL.Path)
	default:
		return nil, ErrInvalidAccessToken
	}
	if err != nil {
		if jwtauth.ReasonOf(err) == jwtauth.ReasonKeySourceError {
			s.log.ErrorContext(r.Context(), "access token verification", "err", err)
		}
		return nil, ErrInvalidAccessToken
	}
	if !certBindingHolds(r, claims) {
		// RFC 8705 §3: a certificate-bound token only with its
		// certificate; the main listener requests none, so a bound token
		// is refused there.
		return nil, ErrInvalidAccessToken
	}
	return claims, nil
}
