package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/web"
)

// accountStore is what the account page lists and withdraws: a user's
// consents and the grants made under them.
type accountStore interface {
	ListConsents(ctx context.Context, userID string) ([]Consent, error) // ordered by client id
	DeleteConsent(ctx context.Context, userID, clientID string) error   // store.ErrNotFound
	// RevokeUserClient revokes every family of the user with the client.
	RevokeUserClient(ctx context.Context, userID, clientID string, now time.Time) ([]IssuedAccess, error)
}

// loginMessage is the one message for every failed login (OWASP
// Authentication Cheat Sheet, "Authentication and Error Messages").
const loginMessage = "Invalid username or password."

// returnTarget turns the login form's return value (an authorization
// request's query) into the URL to continue at. The path is fixed, so the
// value cannot send the browser anywhere else (no open redirect).
func returnTarget(ret string) (string, bool) {
	if ret == "" {
		return PathAccount, true
	}
	if len(ret) > maxRawRequest {
		return "", false
	}
	if strings.HasPrefix(ret, "/") {
		// An authorization request's query never starts with '/' (it is
		// url.Values.Encode output, which escapes '/' in keys): this is
		// the device page's return value.
		return deviceTarget(ret)
	}
	v, err := url.ParseQuery(ret)
	if err != nil {
		return "", false
	}
	return PathAuthorize + "?" + v.Encode(), true
}

// withLoginProof is the URL to continue at after the sign-in that started
// sess: the return value's authorization request with a proof of that
// sign-in for exactly this request (ParamLoginProof, replacing any).
func (s *Server) withLoginProof(ret string, sess *identity.Session) string {
	if t, ok := deviceTarget(ret); ok {
		return t
	}
	v, err := url.ParseQuery(ret)
	if ret == "" || err != nil {
		return PathAccount
	}
	v.Del(ParamLoginProof)
	v.Set(ParamLoginProof, s.loginProof(sess, v.Encode()))
	return PathAuthorize + "?" + v.Encode()
}

// deviceTarget is the device page to return to after sign-in: exactly
// PathDevice, optionally with one user_code, re-encoded. Anything else (a
// host, another path, other parameters) is refused: the value comes from
// a link anyone can build (no open redirect, RFC 9700 §4.11).
func deviceTarget(ret string) (string, bool) {
	path, query, _ := strings.Cut(ret, "?")
	if path != PathDevice {
		return "", false
	}
	if query == "" {
		return PathDevice, true
	}
	v, err := url.ParseQuery(query)
	if err != nil || len(v) != 1 || len(v["user_code"]) != 1 || len(v.Get("user_code")) > maxTypedUserCode {
		return "", false
	}
	return PathDevice + "?" + url.Values{"user_code": {v.Get("user_code")}}.Encode(), true
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, ret, username, msg string) {
	s.renderLoginStep(w, r, status, ret, username, msg, nil)
}

// renderLoginStep renders the login page; with pending non-nil it is the
// second step (the form with input otp), carrying the pending sign-in
// pending makes for the page's CSRF token.
func (s *Server) renderLoginStep(w http.ResponseWriter, r *http.Request, status int, ret, username, msg string, pending func(csrf string) string) {
	tok, err := s.opts.CSRF.Token(w, r)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	// The form posts to /login, which redirects to the authorize endpoint
	// (same origin), which redirects to the client: allow the client's
	// origin in form-action for that chain. The page names the client only
	// when the return value is for a registered client and one of its
	// redirect URIs: anyone can build a login link, and an unregistered
	// client_id ("IT-Security password reset") is a phishing text, never
	// shown (RFC 6749 §10.2, client impersonation).
	var target, clientName string
	if v, err := url.ParseQuery(ret); err == nil && len(v["client_id"]) == 1 && len(v["redirect_uri"]) == 1 {
		if c, err := s.opts.Clients.Get(r.Context(), v.Get("client_id")); err == nil {
			if m := c.MatchRedirectURI(v.Get("redirect_uri")); m != "" {
				target, clientName = redirectOrigin(m), DisplayClient(c).Name
			}
		}
	}
	// After a failed attempt with a username the password field gets the
	// focus (autofocus, no script: the pages load none), so the user
	// retypes only what was likely wrong.
	focus := "username"
	if msg != "" && username != "" {
		focus = "password"
	}
	data := map[string]string{"CSRF": tok, "Return": ret, "Username": username, "Error": msg, "ClientName": clientName, "Focus": focus}
	if pending != nil {
		data["Pending"] = pending(tok)
	}
	web.Render(w, s.log, status, "login.html", data, target)
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	ret := r.URL.Query().Get("return")
	if _, ok := returnTarget(ret); !ok {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The sign-in link is malformed.", ErrInvalidRequest)
		return
	}
	s.renderLogin(w, r, http.StatusOK, ret, "", "")
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The form is malformed.", ErrInvalidRequest)
		return
	}
	ret := r.PostForm.Get("return")
	if _, ok := returnTarget(ret); !ok {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The sign-in link is malformed.", ErrInvalidRequest)
		return
	}
	if !s.opts.CSRF.Valid(r) {
		s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionCSRF, Target: "path:" + PathLogin, Outcome: audit.OutcomeDenied, Reason: "bad_token"})
		s.renderLogin(w, r, http.StatusForbidden, ret, "", "The form expired or was not submitted from this site. Try again.")
		return
	}
	username := r.PostForm.Get("username")
	password := r.PostForm.Get("password")
	if len(r.PostForm["username"]) != 1 || len(r.PostForm["password"]) != 1 {
		username, password = "", ""
	}
	shown := username
	if len(shown) > 64 {
		shown = ""
	}
	if !s.limitLogin(w, r, ret, username, shown) {
		return
	}
	user, err := s.opts.Users.Authenticate(r.Context(), username, password)
	if errors.Is(err, identity.ErrInvalidCredentials) {
		// The actor is a pseudonym of the attempted name: the trail links
		// attempts on one name without storing what may be a password
		// typed into the username field.
		s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionLogin, Target: "username:" + s.opts.Audit.Pseudonymize(username),
			Outcome: audit.OutcomeFailure, Reason: "invalid_credentials"})
		s.renderLogin(w, r, http.StatusUnauthorized, ret, shown, loginMessage)
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "login", "err", err)
		s.renderLogin(w, r, http.StatusServiceUnavailable, ret, shown, "Sign-in is unavailable right now. Try again shortly.")
		return
	}
	// A user with TOTP, or an admin (who must have it), continues to the
	// second step; no session exists until it is done.
	if s.secondStep(w, r, ret, user) {
		return
	}
	s.startSession(w, r, ret, user, []string{identity.AMRPassword}, nil)
}

// startSession starts the session of a finished sign-in with the methods
// amr (a new id: Sessions.Start deletes the one the browser had, so a
// step-up also rotates it), records auth.login, and continues at ret
// (with a login proof) or, when then is not nil, lets then answer.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, ret string, user *identity.User, amr []string, then func(sess *identity.Session)) {
	sess, err := s.opts.Sessions.StartWith(r.Context(), w, r, user.ID, amr)
	if err != nil {
		s.log.ErrorContext(r.Context(), "login session", "err", err)
		s.renderLogin(w, r, http.StatusServiceUnavailable, ret, "", "Sign-in is unavailable right now. Try again shortly.")
		return
	}
	if err := s.mustAudit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionLogin, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"amr": strings.Join(amr, " ")}}); err != nil {
		_ = s.opts.Sessions.End(r.Context(), w, r)
		s.log.ErrorContext(r.Context(), "login audit", "err", err)
		s.renderLogin(w, r, http.StatusServiceUnavailable, ret, "", "Sign-in is unavailable right now. Try again shortly.")
		return
	}
	if then != nil {
		then(sess)
		return
	}
	if user.MustChangePassword {
		// The one-time password (dev mode) is replaced before anything
		// else completes; the change rotates the session again and then
		// continues with ret.
		s.toPasswordChange(w, r, ret)
		return
	}
	http.Redirect(w, r, s.withLoginProof(ret, sess), http.StatusSeeOther) // #nosec G710 -- target is PathAccount, PathDevice or PathAuthorize with a re-encoded query (withLoginProof, deviceTarget): the path is fixed
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !s.opts.CSRF.Valid(r) {
		s.errorPage(w, r, http.StatusForbidden, "Request refused", "The form expired or was not submitted from this site.", "")
		return
	}
	if sess, err := s.opts.Sessions.Get(r.Context(), r); err == nil {
		s.audit(r, audit.Event{Actor: "user:" + sess.UserID, Action: audit.ActionLogout, Target: "user:" + sess.UserID, Outcome: audit.OutcomeSuccess})
	}
	if err := s.opts.Sessions.End(r.Context(), w, r); err != nil {
		s.log.ErrorContext(r.Context(), "logout", "err", err)
	}
	http.Redirect(w, r, PathLogin, http.StatusSeeOther)
}

// handleRevokeConsent withdraws a consent and revokes every token the
// client holds for the user.
func (s *Server) handleRevokeConsent(w http.ResponseWriter, r *http.Request) {
	sess, _, ok := s.accountPost(w, r)
	if !ok {
		return
	}
	clientID := r.PostForm.Get("client_id")
	// The consent looked up is the session user's own: a user can only
	// withdraw what they granted (no IDOR through client_id).
	err := s.account.DeleteConsent(r.Context(), sess.UserID, clientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	if err == nil {
		now := s.now().UTC()
		tokens, rerr := s.account.RevokeUserClient(r.Context(), sess.UserID, clientID, now)
		if rerr == nil {
			rerr = s.denyAccess(r.Context(), tokens)
		}
		if rerr != nil {
			s.log.ErrorContext(r.Context(), "revoke consent", "err", rerr)
			s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
			return
		}
		s.audit(r, audit.Event{Actor: "user:" + sess.UserID, Action: audit.ActionConsentRevoke, Target: s.clientTarget(clientID), Outcome: audit.OutcomeSuccess})
	}
	http.Redirect(w, r, PathAccount, http.StatusSeeOther)
}
