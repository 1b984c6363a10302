package identity

import (
	"context"
	"time"
)

// User is a person who signs in to Rampart.
type User struct {
	ID string // random, stable; the "sub" of their tokens
	// Username is stored lowercased (see NormalizeUsername) and unique.
	Username     string
	PasswordHash string // argon2id PHC string
	Role         string // "" or "admin"
	Disabled     bool
	// MustChangePassword: the user chooses a new password at the next
	// sign-in before anything else completes (the dev-mode admin's
	// one-time password).
	MustChangePassword bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Session is a browser login, stored by the SHA-256 of the cookie value.
type Session struct {
	IDHash   []byte // SHA-256 of the session cookie value, 32 bytes
	UserID   string
	AuthTime time.Time // when the user last authenticated (password, or the second factor)
	// AMR are the RFC 8176 §2 methods the sign-in used: "pwd", and "otp"
	// after the TOTP step. A session stored before they were recorded
	// reads back as ["pwd"].
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time // absolute end (login.session_ttl)
	// LastSeenAt is when the session was last used, recorded at most once
	// a minute (TouchInterval); the idle timeout counts from it.
	LastSeenAt time.Time
	UserAgent  string // the browser's User-Agent at sign-in, truncated (MaxUserAgent)
	ClientAddr string // the client address at sign-in
}

// Store is the persistence identity needs.
type Store interface {
	CreateUser(ctx context.Context, u *User) error // store.ErrConflict on a taken id or username
	UserByUsername(ctx context.Context, username string) (*User, error)
	UserByID(ctx context.Context, id string) (*User, error)
	// UpdatePasswordHash replaces the hash (rehash on login after a
	// parameter upgrade); store.ErrNotFound if no such user.
	UpdatePasswordHash(ctx context.Context, id, hash string, now time.Time) error
	CountUsers(ctx context.Context) (int, error)

	CreateSession(ctx context.Context, s *Session) error
	// GetSession returns the session; store.ErrNotFound if unknown.
	// Expiry is the caller's check.
	GetSession(ctx context.Context, idHash []byte) (*Session, error)
	DeleteSession(ctx context.Context, idHash []byte) error // no error if absent
	// PurgeSessions deletes sessions that expired before the time.
	PurgeSessions(ctx context.Context, before time.Time) (int64, error)

	// TouchSession sets last_seen_at to seen unless the stored value is
	// after notAfter (absent is fine).
	TouchSession(ctx context.Context, idHash []byte, seen, notAfter time.Time) error
	// ListUserSessions returns the user's sessions not expired at now,
	// oldest first.
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// DeleteUserSession deletes the user's session with that hash;
	// store.ErrNotFound if the user has none.
	DeleteUserSession(ctx context.Context, userID string, idHash []byte) error
	// DeleteUserSessions deletes every session of the user.
	DeleteUserSessions(ctx context.Context, userID string) (int64, error)
	// SetPassword replaces the hash and sets the must-change flag;
	// store.ErrNotFound if no such user.
	SetPassword(ctx context.Context, id, hash string, mustChange bool, now time.Time) error
}
