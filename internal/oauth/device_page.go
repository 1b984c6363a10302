package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/web"
)

// The device page (RFC 8628 §3.3): the user signs in first, enters the
// user code, sees what the device asks for and allows or denies it. Every
// post that looks a code up spends the user-code limits first (§5.1).

// deviceDecider finds and decides the requests users enter on the page.
type deviceDecider interface {
	// DeviceByUserCode returns the pending, unexpired request with the
	// normalized user code; store.ErrNotFound otherwise.
	DeviceByUserCode(ctx context.Context, userCode string, now time.Time) (*DeviceCode, error)
	// DecideDevice records a decision on the pending, unexpired request
	// with the user code, once: store.ErrNotFound when there is no such
	// request (unknown, expired, or already decided).
	DecideDevice(ctx context.Context, d DeviceDecision) error
}

// maxTypedUserCode bounds the user code carried through the login page
// and shown back in the form.
const maxTypedUserCode = 32

// deviceUser is the signed-in user of the device page, or nil after the
// browser was sent to sign in.
func (s *Server) deviceUser(w http.ResponseWriter, r *http.Request, typed string) (*identity.Session, *identity.User) {
	sess, err := s.opts.Sessions.Get(r.Context(), r)
	if err == nil {
		user, uerr := s.opts.Users.ByID(r.Context(), sess.UserID)
		if uerr == nil && !user.Disabled {
			return sess, user
		}
	} else if !errors.Is(err, identity.ErrNoSession) {
		s.log.ErrorContext(r.Context(), "device page session", "err", err)
	}
	http.Redirect(w, r, PathLogin+"?"+url.Values{"return": {deviceReturn(typed)}}.Encode(), http.StatusSeeOther)
	return nil, nil
}

// deviceReturn is the login return value that comes back to the device
// page with the typed code (returnTarget accepts exactly this shape).
func deviceReturn(typed string) string {
	if typed == "" || len(typed) > maxTypedUserCode {
		return PathDevice
	}
	return PathDevice + "?" + url.Values{"user_code": {typed}}.Encode()
}

func (s *Server) handleDevicePage(w http.ResponseWriter, r *http.Request) {
	typed := r.URL.Query().Get("user_code")
	if len(typed) > maxTypedUserCode {
		typed = ""
	}
	_, user := s.deviceUser(w, r, typed)
	if user == nil {
		return
	}
	s.renderDeviceForm(w, r, http.StatusOK, user, typed, "")
}

func (s *Server) renderDeviceForm(w http.ResponseWriter, r *http.Request, status int, user *identity.User, typed, msg string) {
	tok, err := s.opts.CSRF.Token(w, r)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	web.Render(w, s.log, status, "device.html", map[string]string{"CSRF": tok, "UserCode": typed, "Username": user.Username, "Error": msg})
}

// deviceWrongCode is the one message for a code that is malformed,
// unknown, expired or already decided: the page tells a guesser nothing.
const deviceWrongCode = "That code is not valid or has expired. Check the code on your device and try again."

func (s *Server) handleDevicePost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "The form is malformed.", ErrInvalidRequest)
		return
	}
	typed := r.PostForm.Get("user_code")
	if len(r.PostForm["user_code"]) != 1 || len(typed) > maxTypedUserCode {
		typed = ""
	}
	sess, user := s.deviceUser(w, r, typed)
	if user == nil {
		return
	}
	if !s.opts.CSRF.Valid(r) {
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionCSRF, Target: "path:" + PathDevice, Outcome: audit.OutcomeDenied, Reason: "bad_token"})
		s.errorPage(w, r, http.StatusForbidden, "Request refused", "The form expired or was not submitted from this site. Go back and try again.", "")
		return
	}
	if !s.limitDevice(w, r, user) {
		return
	}
	ctx := r.Context()
	now := s.now().UTC()
	var d *DeviceCode
	code, err := NormalizeUserCode(typed)
	if err == nil {
		d, err = s.deviceDecisions.DeviceByUserCode(ctx, code, now)
	}
	if err != nil && !errors.Is(err, errUserCode) && !errors.Is(err, store.ErrNotFound) {
		s.log.ErrorContext(ctx, "device page", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	if err != nil {
		// Every wrong code is evidence of a mistake or of guessing
		// (RFC 8628 §5.1); the pseudonym links repeated tries of one code
		// without storing it.
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionDeviceVerify, Target: "user_code:" + s.opts.Audit.Pseudonymize(typed),
			Outcome: audit.OutcomeFailure, Reason: "wrong_user_code"})
		s.renderDeviceForm(w, r, http.StatusBadRequest, user, typed, deviceWrongCode)
		return
	}
	client, err := s.opts.Clients.Get(ctx, d.ClientID)
	if err != nil {
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionDeviceVerify, Target: s.clientTarget(d.ClientID),
			Outcome: audit.OutcomeFailure, Reason: "client_unavailable"})
		s.renderDeviceForm(w, r, http.StatusBadRequest, user, typed, deviceWrongCode)
		return
	}
	// The device request gets the same second factor an authorization
	// would (every admin, a require_mfa client): a password session steps
	// up first and comes back here (the sign-in returns to this page).
	if (user.Role == identity.RoleAdmin || client.RequireMFA) && !slices.Contains(sess.AMR, identity.AMROTP) {
		s.deviceStepUp(w, r, user, typed)
		return
	}
	switch decision := r.PostForm.Get("decision"); decision {
	case "":
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionDeviceVerify, Target: "client:" + client.ID, Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"user_code": s.opts.Audit.Pseudonymize(code)}})
		s.renderDeviceConfirm(w, r, user, client, d)
	case "allow", "deny":
		s.decideDevice(w, r, sess, user, client, d, decision == "allow")
	default:
		s.errorPage(w, r, http.StatusBadRequest, "Invalid request", "Choose Allow or Deny.", ErrInvalidRequest)
	}
}

// deviceView is how the confirmation page names the client (its display
// name and logo, the id beside a display name), the scopes (their
// descriptions) and the time of the request (RFC 8628 §5.4: the user must
// be able to tell a request they did not start).
func (s *Server) deviceView(c *Client, d *DeviceCode) map[string]any {
	return map[string]any{
		"Client":      DisplayClient(c),
		"Scopes":      s.DescribeScopes(d.Scopes),
		"RequestedAt": d.CreatedAt.UTC().Format("2006-01-02 15:04:05 MST"),
		"UserCode":    displayUserCode(d.UserCode),
	}
}

func (s *Server) renderDeviceConfirm(w http.ResponseWriter, r *http.Request, user *identity.User, c *Client, d *DeviceCode) {
	tok, err := s.opts.CSRF.Token(w, r)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	data := s.deviceView(c, d)
	data["CSRF"], data["Username"] = tok, user.Username
	web.RenderWith(w, s.log, http.StatusOK, "device_confirm.html", data, web.Policy{ImageSources: []string{imageOrigin(c.LogoURI)}})
}

// decideDevice records the user's decision, once (a conditional UPDATE: a
// second decision, here or on another instance, finds nothing pending).
func (s *Server) decideDevice(w http.ResponseWriter, r *http.Request, sess *identity.Session, user *identity.User, c *Client, d *DeviceCode, allow bool) {
	status, outcome := DeviceDenied, audit.OutcomeDenied
	if allow {
		status, outcome = DeviceApproved, audit.OutcomeSuccess
	}
	err := s.deviceDecisions.DecideDevice(r.Context(), DeviceDecision{UserCode: d.UserCode, Status: status, UserID: user.ID, AuthTime: sess.AuthTime.UTC(),
		AMR: sessionAMR(sess), At: s.now().UTC()})
	if errors.Is(err, store.ErrNotFound) {
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionDeviceDecision, Target: "client:" + c.ID, Outcome: audit.OutcomeFailure, Reason: "not_pending"})
		s.renderDeviceForm(w, r, http.StatusBadRequest, user, "", deviceWrongCode)
		return
	}
	if err == nil {
		err = s.mustAudit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionDeviceDecision, Target: "client:" + c.ID, Outcome: outcome,
			Details: map[string]string{"scope": scopeString(d.Scopes), "user_code": s.opts.Audit.Pseudonymize(d.UserCode)}})
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "device decision", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	title, msg := "Device denied", "The device was refused. You can close this page."
	if allow {
		title, msg = "Device connected", "You can return to your device; it will continue on its own. You can close this page."
	}
	web.Render(w, s.log, http.StatusOK, "device_done.html", map[string]string{"Title": title, "Message": msg})
}

// sessionAMR is how the session's user signed in (RFC 8176); a session
// without methods recorded signed in with the password.
func sessionAMR(sess *identity.Session) []string {
	if len(sess.AMR) == 0 {
		return []string{identity.AMRPassword}
	}
	return sess.AMR
}

// deviceStepUp asks for the second factor (or its enrolment) before a
// device request that needs it, then returns to the device page with the
// typed code.
func (s *Server) deviceStepUp(w http.ResponseWriter, r *http.Request, user *identity.User, typed string) {
	rec, err := s.opts.MFA.Status(r.Context(), user.ID)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	ret := deviceReturn(typed)
	if rec != nil && rec.Confirmed() {
		s.renderOTPStep(w, r, http.StatusOK, ret, "", pendingLogin{User: user.ID, Kind: pendingOTP, Uses: rec.Uses})
		return
	}
	s.beginEnrol(w, r, ret, user, true)
}

// limitDevice spends one of the address's and one of the global user-code
// budgets before a code is looked up (RFC 8628 §5.1: the server should
// rate-limit user-code attempts). Every lookup is charged, right or wrong:
// a guesser cannot learn which of its tries were cheaper. It returns false
// when the request was refused (429 page with Retry-After, audited).
func (s *Server) limitDevice(w http.ResponseWriter, r *http.Request, user *identity.User) bool {
	l := s.opts.DeviceLimiter
	if l == nil {
		return true
	}
	d, err := l.Allow(r.Context(), s.addrKey(r), deviceGlobalKey)
	if err != nil {
		s.log.ErrorContext(r.Context(), "device rate limiter", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Try again shortly", "The device page is unavailable right now.", ErrTemporarilyUnavailable)
		return false
	}
	if d.Allowed {
		return true
	}
	reason := "rate_limited_ip"
	if d.Denied == 1 {
		reason = "rate_limited_global"
	}
	secs := retrySecs(d.RetryAfter)
	s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionDeviceVerify, Target: "path:" + PathDevice, Outcome: audit.OutcomeDenied, Reason: reason,
		Details: map[string]string{"retry_after_s": strconv.FormatInt(secs, 10)}})
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	mins := (secs + 59) / 60
	s.errorPage(w, r, http.StatusTooManyRequests, "Too many attempts", "Too many codes were tried. Try again in "+strconv.FormatInt(mins, 10)+" minute(s).", "")
	return false
}
