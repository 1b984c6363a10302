package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/store"
)

// Session cookie names. With TLS the cookie is "__Host-" prefixed, which a
// browser accepts only with Secure, Path=/ and no Domain: it cannot be set
// or overwritten by a sibling subdomain or over plain HTTP (RFC 6265bis
// §4.1.3.2). Without TLS (loopback development only) a browser refuses a
// "__Host-" cookie that is not Secure, so the plain name is used.
const (
	SessionCookieTLS   = "__Host-rampart-session"
	SessionCookiePlain = "rampart-session"
)

// ErrNoSession means the request carries no valid session.
var ErrNoSession = errors.New("identity: no session")

// Sessions manages browser login sessions: 256-bit random ids in a cookie,
// stored by their SHA-256 so a database reader cannot replay them.
type Sessions struct {
	store Store
	audit Auditor // nil: timeouts are not recorded
	ttl   time.Duration
	idle  time.Duration
	tls   bool
	now   func() time.Time
	rand  io.Reader
}

// DefaultIdleTTL is the idle timeout when none is configured. The OWASP
// Session Management Cheat Sheet ("Session Expiration") puts common idle
// timeouts at 2-5 minutes for high-value applications and 15-30 minutes
// for low-risk ones. A Rampart session is an identity provider's single
// sign-on session: it does not itself show or change the user's data,
// every client gets short-lived tokens of its own, and the password
// change, account and logout pages require it afresh. 30 minutes is the
// upper end of that range; deployments guarding more set
// login.session_idle_ttl lower.
const DefaultIdleTTL = 30 * time.Minute

// TouchInterval bounds how often a session's last use is written: at most
// once per interval, whatever the request rate (one UPDATE a minute per
// active browser instead of one per request). The idle timeout is
// therefore exact to within this interval.
const TouchInterval = time.Minute

// MaxUserAgent is how many bytes of the User-Agent a session keeps (shown
// on the account page; the rest is noise a client could use to fill the
// table).
const MaxUserAgent = 256

// SessionOptions configures NewSessionsWith.
type SessionOptions struct {
	Store Store
	TTL   time.Duration // absolute lifetime
	// IdleTTL ends a session unused for that long; 0 is DefaultIdleTTL.
	IdleTTL time.Duration
	// Secure selects the __Host- cookie with the Secure attribute (TLS).
	Secure bool
	Now    func() time.Time // nil: time.Now
	Rand   io.Reader        // nil: crypto/rand
	// Audit records session.end when Get ends a timed-out session
	// (optional).
	Audit Auditor
}

// NewSessions returns the session manager with the default idle timeout.
// secure selects the __Host- cookie with the Secure attribute (the server
// runs TLS).
func NewSessions(s Store, ttl time.Duration, secure bool, now func() time.Time, rnd io.Reader) *Sessions {
	return NewSessionsWith(SessionOptions{Store: s, TTL: ttl, Secure: secure, Now: now, Rand: rnd})
}

// NewSessionsWith returns the session manager.
func NewSessionsWith(o SessionOptions) *Sessions {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.IdleTTL <= 0 {
		o.IdleTTL = DefaultIdleTTL
	}
	return &Sessions{store: o.Store, audit: o.Audit, ttl: o.TTL, idle: o.IdleTTL, tls: o.Secure, now: o.Now, rand: o.Rand}
}

// CookieName is the session cookie's name.
func (m *Sessions) CookieName() string {
	if m.tls {
		return SessionCookieTLS
	}
	return SessionCookiePlain
}

func hashSessionID(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// Start begins a new session for the user after a successful login and
// sets its cookie. Any session the request already carried is deleted
// first: the id is always fresh after authentication, which defeats
// session fixation (OWASP Session Management Cheat Sheet, "Renew the
// Session ID After Any Privilege Level Change").
func (m *Sessions) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string) (*Session, error) {
	return m.StartWith(ctx, w, r, userID, []string{AMRPassword})
}

// StartWith is Start for a sign-in that used the methods amr (RFC 8176):
// the two-step sign-in starts its session only after the second factor,
// with ["pwd", "otp"]. It also rotates the id of a session that steps up
// from "pwd" to "pwd otp" (a privilege change).
func (m *Sessions) StartWith(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string, amr []string) (*Session, error) {
	if c, err := r.Cookie(m.CookieName()); err == nil && c.Value != "" {
		if err := m.store.DeleteSession(ctx, hashSessionID(c.Value)); err != nil {
			return nil, err
		}
	}
	raw := make([]byte, 32)
	if _, err := io.ReadFull(m.rand, raw); err != nil {
		return nil, fmt.Errorf("identity: random: %w", err)
	}
	value := base64.RawURLEncoding.EncodeToString(raw)
	now := m.now().UTC()
	s := &Session{IDHash: hashSessionID(value), UserID: userID, AuthTime: now, AMR: slices.Clone(amr), CreatedAt: now, ExpiresAt: now.Add(m.ttl),
		LastSeenAt: now, UserAgent: truncateUTF8(r.UserAgent(), MaxUserAgent), ClientAddr: httpx.ClientIP(r)}
	if err := m.store.CreateSession(ctx, s); err != nil {
		return nil, err
	}
	http.SetCookie(w, m.cookie(value, int(m.ttl/time.Second)))
	return s, nil
}

// cookie builds the session cookie: HttpOnly (no script reads it),
// SameSite=Lax (not sent on cross-site POSTs, but sent on the top-level
// navigation back from a client's authorization link), Secure and
// __Host- on TLS.
func (m *Sessions) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{ // #nosec G124 -- Secure whenever TLS is on; plain HTTP is refused off loopback (config.Validate); HttpOnly and SameSite=Lax always
		Name: m.CookieName(), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: m.tls, SameSite: http.SameSiteLaxMode,
	}
}

// Get returns the request's live session, or ErrNoSession. A session
// past its absolute end or unused for longer than the idle timeout is
// deleted and refused (OWASP Session Management Cheat Sheet, "Session
// Expiration": both timeouts enforced on the server, not by the cookie's
// lifetime). Use of a live session is recorded at most once per
// TouchInterval.
func (m *Sessions) Get(ctx context.Context, r *http.Request) (*Session, error) {
	c, err := r.Cookie(m.CookieName())
	if err != nil || len(c.Value) != 43 {
		return nil, ErrNoSession
	}
	idHash := hashSessionID(c.Value)
	s, err := m.store.GetSession(ctx, idHash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	now := m.now().UTC()
	if expired, idle := !now.Before(s.ExpiresAt), !now.Before(s.lastSeen().Add(m.idle)); expired || idle {
		if err := m.store.DeleteSession(ctx, idHash); err != nil {
			return nil, err
		}
		if m.audit != nil {
			reason := "idle_timeout"
			if expired {
				reason = "absolute_timeout"
			}
			// The session is gone either way; a failed record is not a
			// reason to keep it.
			_ = m.audit.Record(ctx, audit.Event{Actor: "system", Action: audit.ActionSessionEnd, Target: "user:" + s.UserID,
				Outcome: audit.OutcomeSuccess, Reason: reason, Details: map[string]string{"sessions": "1", "scope": "one"}})
		}
		return nil, ErrNoSession
	}
	if now.Sub(s.lastSeen()) >= TouchInterval {
		// A failed touch is not a failed request: the session then times
		// out earlier, never later.
		if err := m.store.TouchSession(ctx, idHash, now, now.Add(-TouchInterval)); err == nil {
			s.LastSeenAt = now
		}
	}
	return s, nil
}

// lastSeen is LastSeenAt, or CreatedAt for a session stored before
// sessions recorded their use.
func (s *Session) lastSeen() time.Time {
	if s.LastSeenAt.IsZero() {
		return s.CreatedAt
	}
	return s.LastSeenAt
}

// Handle is the session's name on the account page: a hash of the stored
// hash, so the page (and its forms) never carry what the database keys
// sessions by, and a handle only means something among the signed-in
// user's own sessions (EndSession looks it up there).
func (s *Session) Handle() string {
	h := sha256.Sum256(append([]byte("rampart session handle v1\x00"), s.IDHash...))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// List returns the user's live sessions, oldest first (idle ones left
// out: Get refuses them).
func (m *Sessions) List(ctx context.Context, userID string) ([]Session, error) {
	now := m.now().UTC()
	all, err := m.store.ListUserSessions(ctx, userID, now)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, s := range all {
		if now.Before(s.lastSeen().Add(m.idle)) {
			out = append(out, s)
		}
	}
	return out, nil
}

// EndSession ends the user's session named by handle (Session.Handle);
// store.ErrNotFound if the user has no such session.
func (m *Sessions) EndSession(ctx context.Context, userID, handle string) error {
	all, err := m.store.ListUserSessions(ctx, userID, m.now().UTC())
	if err != nil {
		return err
	}
	for _, s := range all {
		if s.Handle() == handle {
			return m.store.DeleteUserSession(ctx, userID, s.IDHash)
		}
	}
	return store.ErrNotFound
}

// EndOthers ends every session of the user except keep and returns how
// many it ended.
func (m *Sessions) EndOthers(ctx context.Context, userID string, keep *Session) (int, error) {
	all, err := m.store.ListUserSessions(ctx, userID, m.now().UTC())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range all {
		if keep != nil && bytes.Equal(s.IDHash, keep.IDHash) {
			continue
		}
		if err := m.store.DeleteUserSession(ctx, userID, s.IDHash); err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a character,
// and drops control characters.
func truncateUTF8(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > n {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// End deletes the request's session and clears the cookie.
func (m *Sessions) End(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(m.CookieName()); err == nil && c.Value != "" {
		if err := m.store.DeleteSession(ctx, hashSessionID(c.Value)); err != nil {
			return err
		}
	}
	http.SetCookie(w, m.cookie("", -1))
	return nil
}

// DeleteUserSessions ends every session of the user (every browser,
// this one included) and returns how many there were.
func (m *Sessions) DeleteUserSessions(ctx context.Context, userID string) (int64, error) {
	return m.store.DeleteUserSessions(ctx, userID)
}
