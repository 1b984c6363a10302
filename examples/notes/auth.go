package notes

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/rampart-auth/rampart/jwtauth"
)

// Scopes this service checks on top of the gateway's route rules.
const (
	ScopeRead  = "notes:read"
	ScopeWrite = "notes:write"
)

// requireIdentity admits only requests with exactly one valid, unused
// X-Rampart-Assertion for this service that names a subject, and stores the
// verified assertion in the context (jwtauth.AssertionFrom).
//
// It runs the same check as jwtauth's RequireAssertion (VerifyAssertion:
// signature, pinned algorithm, typ, iss, aud = this origin, lifetime, jti
// single use) but answers like the rest of this API, an RFC 9457 problem:
// 401 for a missing, repeated, invalid, replayed or re-targeted assertion
// and for one without a subject (an `auth: none` route: nobody is signed
// in, and every endpoint here acts for a user); 503 when the key source or
// the replay cache cannot answer (fail closed). A 401 carries a
// WWW-Authenticate challenge, which RFC 9110 §11.6.1 requires. The reason
// goes to the log, never to the client.
func (s *Service) requireIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := s.verify(r)
		if err != nil {
			s.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(jwtauth.WithAssertion(r.Context(), a)))
	})
}

// errNoSubject refuses an assertion minted for an `auth: none` route.
var errNoSubject = &jwtauth.Error{Reason: jwtauth.ReasonMissingClaim, Detail: "assertion has no subject"}

func (s *Service) verify(r *http.Request) (*jwtauth.Assertion, error) {
	vals := r.Header.Values(jwtauth.AssertionHeader)
	switch len(vals) {
	case 0:
		return nil, &jwtauth.Error{Reason: jwtauth.ReasonMissingClaim, Detail: "no assertion header"}
	case 1:
	default:
		// Two assertions are one too many: which one would we trust, and
		// would every proxy on the way agree?
		return nil, &jwtauth.Error{Reason: jwtauth.ReasonMalformed, Detail: "repeated assertion header"}
	}
	a, err := s.av.VerifyAssertion(r.Context(), vals[0])
	if err != nil {
		return nil, err
	}
	if a.Subject == "" {
		return nil, errNoSubject
	}
	if strings.IndexByte(a.Subject, 0) >= 0 {
		// A NUL cannot be stored in a PostgreSQL text column: refused here
		// rather than failing later as a 500.
		return nil, &jwtauth.Error{Reason: jwtauth.ReasonBadClaim, Detail: "subject contains NUL"}
	}
	return a, nil
}

func (s *Service) refuse(w http.ResponseWriter, r *http.Request, err error) {
	reason := jwtauth.ReasonOf(err)
	s.log.LogAttrs(r.Context(), slog.LevelWarn, "notes: assertion refused",
		slog.String("reason", string(reason)), slog.String("method", r.Method),
		slog.String("path", r.URL.EscapedPath()), slog.String("error", err.Error()))
	switch reason {
	case jwtauth.ReasonKeySourceError, jwtauth.ReasonReplayCacheError:
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable"})
		return
	}
	// The scheme names the header to send; the gateway is the only party
	// that can, so there is no realm or token to ask the client for.
	w.Header().Set("WWW-Authenticate", `Rampart-Assertion error="invalid_assertion"`)
	writeProblem(w, problem{Status: http.StatusUnauthorized, Code: "invalid_assertion",
		Detail: "This service is only reachable through the Rampart gateway, signed in."})
}

// requireScope wraps next so that it runs only when the assertion carries
// scope; otherwise 403 insufficient_scope. The gateway's route rule should
// already have refused such a request: this is the second lock (OWASP
// Authorization Cheat Sheet, "enforce authorization checks on every
// request" and defence in depth).
func (s *Service) requireScope(scope string, next handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, a *jwtauth.Assertion) error {
		if !a.HasScope(scope) {
			return fail(http.StatusForbidden, "insufficient_scope", "The token lacks the scope "+scope+".")
		}
		return next(w, r, a)
	}
}

// handlerFunc is an endpoint: it gets the verified assertion and returns
// an error that handle renders.
type handlerFunc func(w http.ResponseWriter, r *http.Request, a *jwtauth.Assertion) error

// handle adapts a handlerFunc. The assertion is always there behind
// requireIdentity; its absence is a wiring bug and fails closed.
func (s *Service) handle(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := jwtauth.AssertionFrom(r.Context())
		if !ok || a.Subject == "" {
			s.refuse(w, r, errNoSubject)
			return
		}
		if err := fn(w, r, a); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// requestID is the gateway's request id from the assertion, echoed in
// problems so a user can quote it to an operator.
func requestID(r *http.Request) string {
	if a, ok := jwtauth.AssertionFrom(r.Context()); ok {
		return a.RequestID
	}
	return ""
}
