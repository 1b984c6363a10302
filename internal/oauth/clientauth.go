package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/identity"
)

// Reasons a client authentication failed, for the log and the audit
// trail (the client always gets the same invalid_client).
const (
	reasonInvalidClient = "invalid_client"
	// reasonBasicNotEncoded: HTTP Basic credentials that are not valid
	// form encoding (a bare '%'): RFC 6749 §2.3.1 requires the id and
	// secret to be application/x-www-form-urlencoded before Basic.
	reasonBasicNotEncoded = "basic_credentials_not_form_encoded"
	// reasonBasicSecretNotEncoded: the decoded secret did not match and
	// the raw one holds '+' or '%', which form decoding changes: the
	// caller most likely sent the secret unencoded (`curl -u id:secret`).
	reasonBasicSecretNotEncoded = "secret_mismatch_basic_not_form_encoded"
	// reasonSecretBudget: the client-secret hasher had no free slot
	// within its bounded wait (503, the secret was not checked).
	reasonSecretBudget = "secret_verification_busy"
)

// basicHint is added to the invalid_client description when the raw Basic
// secret holds characters form decoding changes. It depends only on what
// the request sent, so it tells nothing about the client.
const basicHint = "client authentication failed; HTTP Basic credentials are form-encoded (RFC 6749 §2.3.1): send '+' as %2B and '%' as %25"

// authAttempt is what a client authentication learned about the request.
type authAttempt struct {
	id     string // the client id the request named ("" when none)
	basic  bool   // HTTP Basic was used (for the 401 challenge)
	reason string // why it failed (reason* constants)
}

func badClient(desc string) *Error {
	return &Error{Code: ErrInvalidClient, Description: desc, Status: http.StatusUnauthorized}
}

// authenticateClient applies RFC 6749 §2.3.1: client_secret_basic
// (form-urlencoded id and secret in HTTP Basic), client_secret_post, or
// none (public clients send only client_id). Using two methods at once is
// refused (§2.3).
//
// Basic credentials are form-decoded and only the decoded secret is tried:
// that is what §2.3.1 specifies and what Hydra does; also trying the raw
// form would give a guesser two secrets per request and double the argon2id
// work of a wrong one. Rampart's generated secrets (base64url) need no
// encoding, so only a hand-made secret meets this, and its failure is
// explained (reasonBasicSecretNotEncoded).
func (s *Server) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (*Client, authAttempt, *Error) {
	var a authAttempt
	id, secret, basic := r.BasicAuth()
	a.basic = basic
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return s.authenticateAssertion(ctx, r, form, a)
	}
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	presented := false
	if len(form["client_id"]) > 1 || len(form["client_secret"]) > 1 {
		return nil, a, oerr(ErrInvalidRequest, "client credentials appear more than once")
	}
	rawSecret := ""
	switch {
	case basic:
		if form.Has("client_secret") {
			return nil, a, oerr(ErrInvalidRequest, "use one client authentication method")
		}
		rawSecret = secret
		var err1, err2 error
		rawID := id
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			a.id, a.reason = rawID, reasonBasicNotEncoded
			if err1 == nil {
				a.id = id
			}
			return nil, a, badClient(basicHint)
		}
		if formID != "" && formID != id {
			return nil, a, oerr(ErrInvalidRequest, "client_id differs from the authenticated client")
		}
		presented = true
	case form.Has("client_secret"):
		id, secret, presented = formID, formSecret, true
	case formID != "":
		id = formID
	default:
		a.reason = reasonInvalidClient
		return nil, a, badClient("client authentication failed")
	}
	a.id = id
	client, err := s.opts.Clients.Authenticate(ctx, id, secret, presented)
	if errors.Is(err, errBadClient) {
		if strings.ContainsAny(rawSecret, "+%") {
			a.reason = reasonBasicSecretNotEncoded
			return nil, a, badClient(basicHint)
		}
		a.reason = reasonInvalidClient
		return nil, a, badClient("client authentication failed")
	}
	if errors.Is(err, identity.ErrBusy) {
		a.reason = reasonSecretBudget
		return nil, a, &Error{Code: ErrTemporarilyUnavailable, Description: "try again shortly", Status: http.StatusServiceUnavailable, Cause: err}
	}
	if err != nil {
		return nil, a, serverError(err)
	}
	// A method registered explicitly is the only one accepted (RFC 7591
	// §2): a secret the client sends another way was exposed where it
	// should not be (a form body in logs, or Basic to a proxy).
	if (client.AuthMethod == config.AuthMethodSecretBasic && !basic) || (client.AuthMethod == config.AuthMethodSecretPost && basic) {
		a.reason = reasonAssertionMethod
		return nil, a, badClient("client authentication failed")
	}
	return client, a, nil
}

// authClient authenticates the client of a token, revocation or
// introspection request behind the per-address limits (limitClientAuth),
// and audits and logs a failure under action with its reason. It returns
// nil when the request was answered.
func (s *Server) authClient(w http.ResponseWriter, r *http.Request, form url.Values, action string) (*Client, bool) {
	if !s.limitClientAuth(w, r, action, claimedClientID(r, form)) {
		return nil, false
	}
	c, a, e := s.authenticateClient(r.Context(), r, form)
	if e == nil {
		return c, a.basic
	}
	if e.Code == ErrTemporarilyUnavailable {
		// Client-secret verification is saturated (its own bounded
		// hasher), or a private_key_jwt client's keys cannot be fetched:
		// refuse quickly rather than queue, sign-in is not affected, and
		// the client's failure budget is not spent.
		s.log.WarnContext(r.Context(), "client authentication unavailable", "endpoint", r.URL.Path, "client", s.clientTarget(a.id), "reason", a.reason)
		s.audit(r, audit.Event{Actor: "anonymous", Action: action, Target: s.clientTarget(a.id), Outcome: audit.OutcomeDenied, Reason: a.reason})
		writeUnavailable(w, time.Second)
		return nil, a.basic
	}
	if e.Code == ErrInvalidClient {
		s.failedClientAuth(r, a.id)
		target := s.clientTarget(a.id)
		s.log.InfoContext(r.Context(), "client authentication failed", "endpoint", r.URL.Path, "client", target, "reason", a.reason)
		s.audit(r, audit.Event{Actor: "anonymous", Action: action, Target: target, Outcome: audit.OutcomeFailure, Reason: a.reason})
	}
	s.fail(w, r, e, a.basic)
	return nil, a.basic
}

// clientTarget is the audit target of a client id a request named. A valid
// client id is public and recorded as it is; anything else is
// attacker-chosen text (control or format characters would make the event
// invalid and drop it from the trail), so it is recorded as a keyed
// pseudonym, as sign-in does with usernames (OWASP Logging Cheat Sheet,
// "Event data sources"). The prefix differs from "client:" because a
// pseudonym ("hmac:…") could otherwise be read as a client id.
func (s *Server) clientTarget(id string) string {
	if config.ValidClientID(id) {
		return "client:" + id
	}
	return "client-pseudonym:" + s.opts.Audit.Pseudonymize(id)
}

// claimedClientID is the client id a request names, before it is
// authenticated (the key of its failure budget).
func claimedClientID(r *http.Request, form url.Values) string {
	if id, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(id); err == nil {
			return u
		}
		return id
	}
	if id := form.Get("client_id"); id != "" || !form.Has("client_assertion") {
		return id
	}
	if iss, ok := assertionIssuer(form.Get("client_assertion")); ok {
		return iss
	}
	return ""
}
