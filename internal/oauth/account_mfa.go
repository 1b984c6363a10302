package oauth

import (
	"errors"
	"net/http"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
)

// accountRefusal renders a refusal on the account flow.
func (s *Server) accountRefusal(w http.ResponseWriter, r *http.Request) func(int, string) {
	return func(status int, msg string) { s.errorPage(w, r, status, "Two-step sign-in", msg, "") }
}

// handleMFASetup starts a TOTP set-up from the account page ("Set up
// two-step sign-in"): inactive until its first code is confirmed.
func (s *Server) handleMFASetup(w http.ResponseWriter, r *http.Request) {
	_, user, ok := s.accountPost(w, r)
	if !ok {
		return
	}
	en, err := s.opts.MFA.Begin(r.Context(), user)
	if errors.Is(err, identity.ErrMFAEnrolled) {
		http.Redirect(w, r, PathAccount, http.StatusSeeOther)
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "mfa begin", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	s.renderEnrol(w, r, http.StatusOK, "", user, en, false, "")
}

// handleMFAConfirm activates the set-up with its first code, shows the
// recovery codes once, and rotates the session, which now has otp (a
// privilege change: OWASP Session Management Cheat Sheet, "Renew the
// Session ID After Any Privilege Level Change").
func (s *Server) handleMFAConfirm(w http.ResponseWriter, r *http.Request) {
	_, user, ok := s.accountPost(w, r)
	if !ok {
		return
	}
	refuse := s.accountRefusal(w, r)
	last, ok := s.limitOTP(w, r, user, refuse)
	if !ok {
		return
	}
	codes, ok := s.confirmEnrol(w, r, "", user, false, last, refuse)
	if !ok {
		return
	}
	s.startSession(w, r, "", user, []string{identity.AMRPassword, identity.AMROTP}, func(*identity.Session) {
		s.renderRecovery(w, codes, PathAccount)
	})
}

// handleMFADisable turns TOTP off with a current code (or a recovery
// code): a session alone, stolen or left open, cannot remove the second
// factor. Admins cannot: their role requires it.
func (s *Server) handleMFADisable(w http.ResponseWriter, r *http.Request) {
	_, user, ok := s.accountPost(w, r)
	if !ok {
		return
	}
	refuse := s.accountRefusal(w, r)
	if user.Role == identity.RoleAdmin {
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionMFADisable, Target: "user:" + user.ID, Outcome: audit.OutcomeDenied, Reason: "required_for_role"})
		refuse(http.StatusForbidden, "Your role requires two-step sign-in; it cannot be turned off.")
		return
	}
	last, ok := s.limitOTP(w, r, user, refuse)
	if !ok {
		return
	}
	err := s.opts.MFA.Disable(r.Context(), user.ID, otpInput(r))
	switch {
	case errors.Is(err, identity.ErrInvalidOTP):
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionMFADisable, Target: "user:" + user.ID, Outcome: audit.OutcomeFailure, Reason: "invalid_code"})
		if last {
			s.lockOTP(w, r, user, 0, refuse)
			return
		}
		refuse(http.StatusUnauthorized, "That code is not valid; two-step sign-in is still on.")
		return
	case errors.Is(err, identity.ErrMFANotEnrolled):
		http.Redirect(w, r, PathAccount, http.StatusSeeOther)
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "mfa disable", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionMFADisable, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess})
	http.Redirect(w, r, PathAccount, http.StatusSeeOther)
}
