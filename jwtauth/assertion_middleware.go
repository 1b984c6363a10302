package jwtauth

import (
	"context"
	"net/http"
)

type assertionKey struct{}

// WithAssertion returns ctx carrying a (RequireAssertion does this).
func WithAssertion(ctx context.Context, a *Assertion) context.Context {
	return context.WithValue(ctx, assertionKey{}, a)
}

// AssertionFrom returns the assertion RequireAssertion stored in ctx.
func AssertionFrom(ctx context.Context) (*Assertion, bool) {
	a, ok := ctx.Value(assertionKey{}).(*Assertion)
	return a, ok
}

// RequireAssertion returns middleware that admits only requests carrying
// exactly one valid X-Rampart-Assertion header, and stores the verified
// *Assertion in the request context (AssertionFrom). Identity must be read
// from that assertion, never from the plain X-Rampart-Subject, -Client or
// -Scopes headers, which are informative only: a request that did not come
// through the gateway can carry any of them.
//
// A missing, repeated or invalid assertion gets 403 with
// {"error":"invalid_assertion"} (the caller is not the gateway, and no
// credential the caller could add would change that, so there is no
// WWW-Authenticate challenge; RFC 9110 §15.5.4); an unavailable key source
// or replay cache gets 503 (fail closed). The detail of a rejection goes
// only to the Observer, never to the client; onReject, when not nil, is
// also called with the error (for logs and audit).
func (av *AssertionVerifier) RequireAssertion(next http.Handler, onReject func(*http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vals := r.Header.Values(AssertionHeader)
		var (
			a   *Assertion
			err error
		)
		switch len(vals) {
		case 1:
			a, err = av.VerifyAssertion(r.Context(), vals[0])
		case 0:
			err = reject(ReasonMissingClaim, "no %s header", AssertionHeader)
		default:
			// Two assertions are one too many: which would the service
			// trust, and would a proxy in between agree?
			err = reject(ReasonMalformed, "%d %s headers", len(vals), AssertionHeader)
		}
		if err != nil {
			if onReject != nil {
				onReject(r, err)
			}
			status, body := http.StatusForbidden, "{\"error\":\"invalid_assertion\"}\n"
			switch ReasonOf(err) {
			case ReasonKeySourceError, ReasonReplayCacheError:
				status, body = http.StatusServiceUnavailable, "{\"error\":\"temporarily_unavailable\"}\n"
			}
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return
		}
		next.ServeHTTP(w, r.WithContext(WithAssertion(r.Context(), a)))
	})
}
