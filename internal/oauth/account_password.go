package oauth

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/web"
)

// PathAccountPassword is the password change form.
const PathAccountPassword = PathAccount + "/password" // #nosec G101 -- an endpoint path, not a credential

// toPasswordChange sends the browser to the forced password change,
// carrying the authorization request to continue with (ret, "" for the
// account page).
func (s *Server) toPasswordChange(w http.ResponseWriter, r *http.Request, ret string) {
	target := PathAccountPassword
	if ret != "" {
		target += "?" + url.Values{"return": {ret}}.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (s *Server) renderPassword(w http.ResponseWriter, r *http.Request, status int, user *identity.User, ret, msg string) {
	tok, err := s.opts.CSRF.Token(w, r)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	web.Render(w, s.log, status, "password.html", map[string]any{
		"CSRF": tok, "Return": ret, "Username": user.Username, "Forced": user.MustChangePassword, "Error": msg,
		"MinLength": identity.MinPasswordLength,
	})
}

// passwordUser is the signed-in user of a password change request (the
// forced change included, unlike accountUser).
func (s *Server) passwordUser(w http.ResponseWriter, r *http.Request) (*identity.Session, *identity.User, bool) {
	sess, err := s.opts.Sessions.Get(r.Context(), r)
	if err != nil {
		http.Redirect(w, r, PathLogin, http.StatusSeeOther)
		return nil, nil, false
	}
	user, err := s.opts.Users.ByID(r.Context(), sess.UserID)
	if err != nil || user.Disabled {
		http.Redirect(w, r, PathLogin, http.StatusSeeOther)
		return nil, nil, false
	}
	return sess, user, true
}

func (s *Server) handlePasswordPage(w http.ResponseWriter, r *http.Request) {
	ret := r.URL.Query().Get("return")
	if _, ok := returnTarget(ret); !ok {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The link is malformed.", ErrInvalidRequest)
		return
	}
	_, user, ok := s.passwordUser(w, r)
	if !ok {
		return
	}
	s.renderPassword(w, r, http.StatusOK, user, ret, "")
}

// handlePasswordChange changes the user's password. The current password
// is required (a stolen session alone cannot take the account over) and
// its checks count against the sign-in limits of the user's name and the
// address, like a sign-in (it is one guess more). On success every
// session of the user ends and every refresh-token family is revoked
// (EndUserAccess): a thief holding a copied cookie or a refresh token
// loses it. This browser gets a new session with a new id (OWASP Session
// Management Cheat Sheet, "Renew the Session ID After Any Privilege Level
// Change").
func (s *Server) handlePasswordChange(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The form is malformed.", ErrInvalidRequest)
		return
	}
	ret := r.PostForm.Get("return")
	if _, ok := returnTarget(ret); !ok {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The link is malformed.", ErrInvalidRequest)
		return
	}
	if !s.opts.CSRF.Valid(r) {
		s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionCSRF, Target: "path:" + PathAccountPassword, Outcome: audit.OutcomeDenied, Reason: "bad_token"})
		s.errorPage(w, r, http.StatusForbidden, "Request refused", "The form expired or was not submitted from this site.", "")
		return
	}
	_, user, ok := s.passwordUser(w, r)
	if !ok {
		return
	}
	current, next, again := r.PostForm.Get("current_password"), r.PostForm.Get("new_password"), r.PostForm.Get("new_password_again")
	if next != again {
		s.renderPassword(w, r, http.StatusBadRequest, user, ret, "The two new passwords differ.")
		return
	}
	if !s.limitPasswordCheck(w, r, user, ret) {
		return
	}
	err := s.opts.Users.ChangePassword(r.Context(), user.ID, current, next)
	switch {
	case errors.Is(err, identity.ErrInvalidCredentials):
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionPasswordChange, Target: "user:" + user.ID, Outcome: audit.OutcomeFailure, Reason: "invalid_credentials"})
		s.renderPassword(w, r, http.StatusUnauthorized, user, ret, "The current password is wrong.")
		return
	case errors.Is(err, identity.ErrSamePassword):
		s.renderPassword(w, r, http.StatusBadRequest, user, ret, "Choose a password different from the current one.")
		return
	case err != nil && identity.CheckPassword(next) != nil:
		s.renderPassword(w, r, http.StatusBadRequest, user, ret, "Choose a password of at least 12 characters (a few words make a good one).")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "password change", "err", err)
		s.renderPassword(w, r, http.StatusServiceUnavailable, user, ret, "The password could not be changed right now. Try again shortly.")
		return
	}
	if _, err := s.ender.EndUserAccess(r.Context(), "user:"+user.ID, user.ID, "password_change"); err != nil {
		// The password is changed; what the old one let in may not all be
		// ended. Say so and let the user retry from a fresh sign-in.
		s.log.ErrorContext(r.Context(), "password change: end access", "err", err)
		_ = s.opts.Sessions.End(r.Context(), w, r)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Password changed", "Your password was changed, but signing out your other sessions failed. Sign in again and end them on your account page.", ErrServerError)
		return
	}
	sess, err := s.opts.Sessions.Start(r.Context(), w, r, user.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "password change: new session", "err", err)
		http.Redirect(w, r, PathLogin, http.StatusSeeOther)
		return
	}
	s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionLogin, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess, Reason: "password_change"})
	if ret == "" {
		http.Redirect(w, r, PathAccount+"?done=password", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, s.withLoginProof(ret, sess), http.StatusSeeOther) // #nosec G710 -- PathAuthorize with a re-encoded query (withLoginProof): the path is fixed
}
