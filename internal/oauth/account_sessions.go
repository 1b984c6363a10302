package oauth

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/web"
)

// Paths of the account page's session forms.
const (
	PathAccountSessionEnd  = PathAccount + "/sessions/end"
	PathAccountSessionsEnd = PathAccount + "/sessions/end-others"
)

// AccessEnder is the server's way of ending everything a user holds
// (sessions, refresh-token families, live access tokens), for the
// administrative use cases that must do the same (password reset,
// disabling a user).
func (s *Server) AccessEnder() AccessEnder { return s.ender }

// sessionView is one row of the account page's session list.
type sessionView struct {
	Handle   string
	Current  bool
	Created  string
	LastSeen string
	Address  string
	Browser  string
}

func timeText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// browserName is a short, human name for a User-Agent ("Firefox on
// Linux"); the raw (truncated) value is the fallback.
func browserName(ua string) string {
	var b, o string
	switch {
	case strings.Contains(ua, "Edg/"):
		b = "Edge"
	case strings.Contains(ua, "Firefox/"):
		b = "Firefox"
	case strings.Contains(ua, "Chrome/") || strings.Contains(ua, "Chromium/"):
		b = "Chrome"
	case strings.Contains(ua, "Safari/"):
		b = "Safari"
	}
	switch {
	case strings.Contains(ua, "Android"):
		o = "Android"
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad"):
		o = "iOS"
	case strings.Contains(ua, "Windows"):
		o = "Windows"
	case strings.Contains(ua, "Mac OS X"):
		o = "macOS"
	case strings.Contains(ua, "Linux"):
		o = "Linux"
	}
	switch {
	case b != "" && o != "":
		return b + " on " + o
	case b != "":
		return b
	case ua == "":
		return "unknown"
	}
	if len(ua) > 60 {
		return ua[:60] + "…"
	}
	return ua
}

// accountUser is the signed-in user of an account request, or a redirect
// already written (to sign in, or to the forced password change).
func (s *Server) accountUser(w http.ResponseWriter, r *http.Request) (*identity.Session, *identity.User, bool) {
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
	if user.MustChangePassword {
		s.toPasswordChange(w, r, "")
		return nil, nil, false
	}
	return sess, user, true
}

// handleAccount lists the user's sessions and consents, each revocable,
// and links the password change.
func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := s.accountUser(w, r)
	if !ok {
		return
	}
	consents, err := s.account.ListConsents(r.Context(), user.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "account", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	sessions, err := s.opts.Sessions.List(r.Context(), user.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "account sessions", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	views := make([]sessionView, 0, len(sessions))
	current := sess.Handle()
	for _, x := range sessions {
		views = append(views, sessionView{Handle: x.Handle(), Current: x.Handle() == current, Created: timeText(x.CreatedAt),
			LastSeen: timeText(lastSeen(x)), Address: x.ClientAddr, Browser: browserName(x.UserAgent)})
	}
	rec, err := s.opts.MFA.Status(r.Context(), user.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "account mfa", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	tok, err := s.opts.CSRF.Token(w, r)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "password":
		notice = "Your password was changed. Every other session was signed out and every application must sign in again."
	case "sessions":
		notice = "The other sessions were signed out."
	}
	web.Render(w, s.log, http.StatusOK, "account.html", map[string]any{"Username": user.Username, "Consents": s.consentViews(r, consents),
		"Sessions": views, "CSRF": tok, "Notice": notice,
		"MFA": rec != nil && rec.Confirmed(), "MFARequired": user.Role == identity.RoleAdmin})
}

func lastSeen(x identity.Session) time.Time {
	if x.LastSeenAt.IsZero() {
		return x.CreatedAt
	}
	return x.LastSeenAt
}

// accountPost checks an account form (CSRF, session) and returns its user.
func (s *Server) accountPost(w http.ResponseWriter, r *http.Request) (*identity.Session, *identity.User, bool) {
	if err := r.ParseForm(); err != nil || !s.opts.CSRF.Valid(r) {
		s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionCSRF, Target: "path:" + r.URL.Path, Outcome: audit.OutcomeDenied, Reason: "bad_token"})
		s.errorPage(w, r, http.StatusForbidden, "Request refused", "The form expired or was not submitted from this site.", "")
		return nil, nil, false
	}
	return s.accountUser(w, r)
}

// handleEndAccountSession ends one of the user's sessions (named by its handle;
// only the user's own sessions are looked up, so no handle reaches
// another user's).
func (s *Server) handleEndAccountSession(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := s.accountPost(w, r)
	if !ok {
		return
	}
	handle := r.PostForm.Get("session")
	err := s.opts.Sessions.EndSession(r.Context(), user.ID, handle)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.ErrorContext(r.Context(), "end session", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	if err == nil {
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionSessionEnd, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess,
			Reason: "user_ended", Details: map[string]string{"sessions": "1", "scope": "one"}})
	}
	if handle == sess.Handle() {
		_ = s.opts.Sessions.End(r.Context(), w, r) // clears this browser's cookie too
		http.Redirect(w, r, PathLogin, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, PathAccount, http.StatusSeeOther)
}

// handleEndOtherSessions ends every session of the user but this one.
func (s *Server) handleEndOtherSessions(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := s.accountPost(w, r)
	if !ok {
		return
	}
	n, err := s.opts.Sessions.EndOthers(r.Context(), user.ID, sess)
	if err != nil {
		s.log.ErrorContext(r.Context(), "end other sessions", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Try again later.", ErrServerError)
		return
	}
	s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionSessionEnd, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess,
		Reason: "user_ended_others", Details: map[string]string{"sessions": strconv.Itoa(n), "scope": "others"}})
	http.Redirect(w, r, PathAccount+"?done=sessions", http.StatusSeeOther)
}
