package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

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
	ttl   time.Duration
	tls   bool
	now   func() time.Time
	rand  io.Reader
}

// NewSessions returns the session manager. secure selects the __Host-
// cookie with the Secure attribute (the server runs TLS).
func NewSessions(s Store, ttl time.Duration, secure bool, now func() time.Time, rnd io.Reader) *Sessions {
	if now == nil {
		now = time.Now
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	return &Sessions{store: s, ttl: ttl, tls: secure, now: now, rand: rnd}
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
	s := &Session{IDHash: hashSessionID(value), UserID: userID, AuthTime: now, AMR: slices.Clone(amr), CreatedAt: now, ExpiresAt: now.Add(m.ttl)}
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

// Get returns the request's live session, or ErrNoSession.
func (m *Sessions) Get(ctx context.Context, r *http.Request) (*Session, error) {
	c, err := r.Cookie(m.CookieName())
	if err != nil || len(c.Value) != 43 {
		return nil, ErrNoSession
	}
	s, err := m.store.GetSession(ctx, hashSessionID(c.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	if !m.now().Before(s.ExpiresAt) {
		return nil, ErrNoSession
	}
	return s, nil
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
