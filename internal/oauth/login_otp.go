package oauth

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/web"
)

// Paths of the second step.
const (
	PathLoginOTP   = "/login/otp"   // the TOTP (or recovery) code after the password
	PathLoginEnrol = "/login/enrol" // the first code of a set-up the sign-in requires
)

// Messages of the second step.
const (
	otpMessage     = "That code is not valid. Enter the current code from your app, or a recovery code."
	expiredMessage = "Your sign-in expired or was already used. Sign in again."
	lockedMessage  = "Too many codes were tried. Sign in again in "
)

func (s *Server) registerMFA(mux *http.ServeMux) {
	mux.Handle("POST "+PathLoginOTP, s.cop.Handler(http.HandlerFunc(s.handleLoginOTP)))
	mux.Handle("POST "+PathLoginEnrol, s.cop.Handler(http.HandlerFunc(s.handleLoginEnrol)))
	mux.Handle("POST "+PathAccount+"/mfa/setup", s.cop.Handler(http.HandlerFunc(s.handleMFASetup)))
	mux.Handle("POST "+PathAccount+"/mfa/confirm", s.cop.Handler(http.HandlerFunc(s.handleMFAConfirm)))
	mux.Handle("POST "+PathAccount+"/mfa/disable", s.cop.Handler(http.HandlerFunc(s.handleMFADisable)))
}

// secondStep answers a correct password when the user needs a second
// factor: the OTP form for a user with TOTP, the enrolment for an admin
// without it. It reports whether it answered.
func (s *Server) secondStep(w http.ResponseWriter, r *http.Request, ret string, user *identity.User) bool {
	rec, err := s.opts.MFA.Status(r.Context(), user.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "login mfa status", "err", err)
		s.renderLogin(w, r, http.StatusServiceUnavailable, ret, "", "Sign-in is unavailable right now. Try again shortly.")
		return true
	}
	switch {
	case rec != nil && rec.Confirmed():
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionLogin, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess,
			Reason: "second_factor_required", Details: map[string]string{"step": "password"}})
		s.renderOTPStep(w, r, http.StatusOK, ret, "", pendingLogin{User: user.ID, Kind: pendingOTP, Uses: rec.Uses})
		return true
	case user.Role == identity.RoleAdmin:
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionLogin, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess,
			Reason: "enrolment_required", Details: map[string]string{"step": "password"}})
		s.beginEnrol(w, r, ret, user, true)
		return true
	}
	return false
}

// stepUp asks a signed-in user for the second factor an authorization
// needs (the session lacks otp): the OTP form, or the enrolment when the
// user has no TOTP. The session is replaced (a new id) once it is done.
func (s *Server) stepUp(w http.ResponseWriter, r *http.Request, a *authzContext, user *identity.User) {
	rec, err := s.opts.MFA.Status(r.Context(), user.ID)
	if err != nil {
		s.redirectError(w, r, a, serverError(err))
		return
	}
	if rec != nil && rec.Confirmed() {
		s.renderOTPStep(w, r, http.StatusOK, a.canon, "", pendingLogin{User: user.ID, Kind: pendingOTP, Uses: rec.Uses})
		return
	}
	s.beginEnrol(w, r, a.canon, user, true)
}

// renderOTPStep renders the login page's OTP form carrying p.
func (s *Server) renderOTPStep(w http.ResponseWriter, r *http.Request, status int, ret, msg string, p pendingLogin) {
	s.renderLoginStep(w, r, status, ret, "", msg, func(csrf string) string { return s.mintPending(p, csrf, ret) })
}

// secondStepForm is what both second-step posts carry, checked: the
// form, the CSRF token, the return value and the pending sign-in of kind.
// On failure the answer is written and ok is false.
func (s *Server) secondStepForm(w http.ResponseWriter, r *http.Request, kind string) (ret string, p *pendingLogin, user *identity.User, ok bool) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The form is malformed.", ErrInvalidRequest)
		return "", nil, nil, false
	}
	ret = r.PostForm.Get("return")
	if _, valid := returnTarget(ret); !valid {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The sign-in link is malformed.", ErrInvalidRequest)
		return "", nil, nil, false
	}
	if !s.opts.CSRF.Valid(r) {
		s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionCSRF, Target: "path:" + r.URL.Path, Outcome: audit.OutcomeDenied, Reason: "bad_token"})
		s.renderLogin(w, r, http.StatusForbidden, ret, "", "The form expired or was not submitted from this site. Try again.")
		return "", nil, nil, false
	}
	p, valid := s.openPending(r.PostForm.Get("pending"), r.PostForm.Get(web.CSRFField), ret, kind)
	if valid {
		u, err := s.opts.Users.ByID(r.Context(), p.User)
		if err == nil && !u.Disabled {
			return ret, p, u, true
		}
	}
	s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionMFAVerify, Target: "path:" + r.URL.Path, Outcome: audit.OutcomeDenied, Reason: "bad_pending"})
	s.renderLogin(w, r, http.StatusBadRequest, ret, "", expiredMessage)
	return "", nil, nil, false
}

// otpInput is the form's one otp value ("" when absent or repeated).
func otpInput(r *http.Request) string {
	if len(r.PostForm["otp"]) != 1 {
		return ""
	}
	return r.PostForm.Get("otp")
}

// handleLoginOTP is the second step: the code (or a recovery code) for
// the pending sign-in. Only now is the session started, with amr
// pwd + otp.
func (s *Server) handleLoginOTP(w http.ResponseWriter, r *http.Request) {
	ret, p, user, ok := s.secondStepForm(w, r, pendingOTP)
	if !ok {
		return
	}
	last, ok := s.limitOTP(w, r, user, func(status int, msg string) { s.renderLogin(w, r, status, ret, "", msg) })
	if !ok {
		return
	}
	method, err := s.opts.MFA.Verify(r.Context(), user.ID, otpInput(r), p.Uses)
	switch {
	case errors.Is(err, identity.ErrInvalidOTP):
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionMFAVerify, Target: "user:" + user.ID, Outcome: audit.OutcomeFailure, Reason: "invalid_code"})
		if last {
			s.lockOTP(w, r, user, 0, func(status int, msg string) { s.renderLogin(w, r, status, ret, "", msg) })
			return
		}
		// The same pending sign-in stays valid for another try (its
		// expiry is unchanged): it is re-minted for the page's token.
		s.renderOTPStep(w, r, http.StatusUnauthorized, ret, otpMessage, *p)
		return
	case errors.Is(err, identity.ErrMFANotEnrolled):
		s.renderLogin(w, r, http.StatusBadRequest, ret, "", expiredMessage)
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "login otp", "err", err)
		s.renderLogin(w, r, http.StatusServiceUnavailable, ret, "", "Sign-in is unavailable right now. Try again shortly.")
		return
	}
	s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionMFAVerify, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"method": method}})
	if method == identity.MethodRecovery {
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionMFARecoveryUsed, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess})
	}
	s.startSession(w, r, ret, user, []string{identity.AMRPassword, identity.AMROTP}, nil)
}

// limitOTP spends one second-factor attempt of user (rate_limits.
// otp_per_user), separate from the password's counters. A spent budget
// ends the attempt (lockOTP). last reports that this attempt is the
// budget's last: if it fails, the attempt ends too. refuse renders the
// refusal. ok is false when the attempt was refused (answered).
func (s *Server) limitOTP(w http.ResponseWriter, r *http.Request, user *identity.User, refuse func(status int, msg string)) (last, ok bool) {
	l := s.opts.OTPLimiter
	if l == nil {
		return false, true
	}
	d, err := l.Allow(r.Context(), user.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "otp rate limiter", "err", err)
		refuse(http.StatusServiceUnavailable, "Sign-in is unavailable right now. Try again shortly.")
		return false, false
	}
	if !d.Allowed {
		s.lockOTP(w, r, user, d.RetryAfter, refuse)
		return false, false
	}
	return d.Remaining == 0, true
}

// lockOTP ends every pending sign-in of user (their use counter moves on,
// on every instance) and answers 429: the user starts over with the
// password, and no code counts until the budget refills. The password
// counters are not touched: a lockout of the second factor locks no one
// out of anything else (Keycloak #46164).
func (s *Server) lockOTP(w http.ResponseWriter, r *http.Request, user *identity.User, retry time.Duration, refuse func(status int, msg string)) {
	if err := s.opts.MFA.EndPending(r.Context(), user.ID); err != nil {
		s.log.ErrorContext(r.Context(), "otp lockout", "err", err)
	}
	if l := s.opts.OTPLimiter; retry <= 0 && l != nil {
		// The attempt that spent the last unit: the next one is back
		// after one refill interval.
		lim := l.Limits()[0]
		retry = lim.Period / time.Duration(lim.Rate)
	}
	secs := retrySecs(retry)
	s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionMFAVerify, Target: "user:" + user.ID, Outcome: audit.OutcomeDenied,
		Reason: "otp_locked", Details: map[string]string{"retry_after_s": strconv.FormatInt(secs, 10)}})
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	refuse(http.StatusTooManyRequests, lockedMessage+strconv.FormatInt((secs+59)/60, 10)+" minute(s).")
}

// beginEnrol starts a TOTP set-up for user (a new secret) and renders
// it; pending: for a sign-in that requires it (no session yet, or a
// session stepping up), which carries a pending sign-in of kind enrol.
func (s *Server) beginEnrol(w http.ResponseWriter, r *http.Request, ret string, user *identity.User, pending bool) {
	en, err := s.opts.MFA.Begin(r.Context(), user)
	if err != nil {
		s.log.ErrorContext(r.Context(), "mfa begin", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	s.renderEnrol(w, r, http.StatusOK, ret, user, en, pending, "")
}

// renderEnrol renders the set-up page of en: the QR code (a PNG made
// here, as a data: URL: no third-party service sees the secret), the
// secret as text and the form for the first code.
func (s *Server) renderEnrol(w http.ResponseWriter, r *http.Request, status int, ret string, user *identity.User, en *identity.Enrolment, pending bool, msg string) {
	tok, err := s.opts.CSRF.Token(w, r)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	png, err := qrcode.Encode(en.URI, qrcode.Medium, 256)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	data := map[string]any{
		"CSRF": tok, "Secret": en.Secret, "Error": msg, "Action": PathAccount + "/mfa/confirm",
		// #nosec G203 -- a data: URL of a PNG this server just encoded (base64 alphabet only): nothing from the request
		"QR": template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
	}
	if pending {
		data["Action"], data["Return"], data["Required"] = PathLoginEnrol, ret, true
		data["Pending"] = s.mintPending(pendingLogin{User: user.ID, Kind: pendingEnrol}, tok, ret)
	}
	web.RenderDataImages(w, s.log, status, "mfa_enrol.html", data)
}

// handleLoginEnrol confirms the set-up a sign-in required with its first
// code, shows the recovery codes once and only then starts the session
// (amr pwd + otp).
func (s *Server) handleLoginEnrol(w http.ResponseWriter, r *http.Request) {
	ret, _, user, ok := s.secondStepForm(w, r, pendingEnrol)
	if !ok {
		return
	}
	refuse := func(status int, msg string) { s.renderLogin(w, r, status, ret, "", msg) }
	last, ok := s.limitOTP(w, r, user, refuse)
	if !ok {
		return
	}
	codes, ok := s.confirmEnrol(w, r, ret, user, true, last, refuse)
	if !ok {
		return
	}
	s.startSession(w, r, ret, user, []string{identity.AMRPassword, identity.AMROTP}, func(sess *identity.Session) {
		s.renderRecovery(w, codes, s.withLoginProof(ret, sess))
	})
}

// confirmEnrol checks the first code of user's set-up and records
// mfa.enroll. On a wrong code the set-up is shown again (or, when last,
// the attempt ends); ok is false when it answered.
func (s *Server) confirmEnrol(w http.ResponseWriter, r *http.Request, ret string, user *identity.User, pending, last bool, refuse func(int, string)) ([]string, bool) {
	codes, err := s.opts.MFA.Confirm(r.Context(), user.ID, otpInput(r))
	switch {
	case errors.Is(err, identity.ErrInvalidOTP):
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionMFAEnroll, Target: "user:" + user.ID, Outcome: audit.OutcomeFailure, Reason: "invalid_code"})
		if last {
			s.lockOTP(w, r, user, 0, refuse)
			return nil, false
		}
		en, perr := s.opts.MFA.Pending(r.Context(), user)
		if perr != nil {
			refuse(http.StatusBadRequest, expiredMessage)
			return nil, false
		}
		s.renderEnrol(w, r, http.StatusUnauthorized, ret, user, en, pending, otpMessage)
		return nil, false
	case errors.Is(err, identity.ErrMFAEnrolled), errors.Is(err, identity.ErrMFANotEnrolled):
		refuse(http.StatusBadRequest, expiredMessage)
		return nil, false
	case err != nil:
		s.log.ErrorContext(r.Context(), "mfa confirm", "err", err)
		refuse(http.StatusServiceUnavailable, "Sign-in is unavailable right now. Try again shortly.")
		return nil, false
	}
	if err := s.mustAudit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionMFAEnroll, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess}); err != nil {
		s.log.ErrorContext(r.Context(), "mfa enroll audit", "err", err)
	}
	return codes, true
}

// renderRecovery shows the recovery codes, once, and where to continue.
func (s *Server) renderRecovery(w http.ResponseWriter, codes []string, next string) {
	web.Render(w, s.log, http.StatusOK, "mfa_recovery.html", map[string]any{"Codes": codes, "Continue": next})
}
