package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
)

const (
	userCols          = `id, username, password_hash, role, disabled, created_at, updated_at, must_change_password`
	qInsertUser       = `INSERT INTO users (` + userCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qUserByName       = `SELECT ` + userCols + ` FROM users WHERE username = ?`
	qUserByID         = `SELECT ` + userCols + ` FROM users WHERE id = ?`
	qUpdatePassword   = `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?` // #nosec G101 -- SQL text, not a credential
	qCountUsers       = `SELECT COUNT(*) FROM users`
	sessionCols       = `id_hash, user_id, auth_time, created_at, expires_at, last_seen_at, user_agent, client_addr, amr`
	qInsertSession    = `INSERT INTO user_sessions (` + sessionCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qSelectSession    = `SELECT ` + sessionCols + ` FROM user_sessions WHERE id_hash = ?`
	qDeleteSession    = `DELETE FROM user_sessions WHERE id_hash = ?`
	qPurgeSessionsOld = `DELETE FROM user_sessions WHERE expires_at < ?`
)

func scanUser(r scanner) (*identity.User, error) {
	var u identity.User
	var disabled, cAt, uAt, mustChange int64
	if err := r.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Role, &disabled, &cAt, &uAt, &mustChange); err != nil {
		return nil, err
	}
	u.Disabled, u.CreatedAt, u.UpdatedAt, u.MustChangePassword = disabled != 0, fromNanos(cAt), fromNanos(uAt), mustChange != 0
	return &u, nil
}

// CreateUser stores a user; a taken id or username is store.ErrConflict.
func (s *IdentityStore) CreateUser(ctx context.Context, u *identity.User) error {
	_, err := s.d.db.ExecContext(ctx, s.d.Q(qInsertUser), u.ID, u.Username, u.PasswordHash, u.Role, b2i(u.Disabled), nanos(u.CreatedAt), nanos(u.UpdatedAt), b2i(u.MustChangePassword))
	if isUnique(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create user: %w", err)
	}
	return nil
}

func (s *IdentityStore) oneUser(ctx context.Context, q, arg string) (*identity.User, error) {
	u, err := scanUser(s.d.db.QueryRowContext(ctx, s.d.Q(q), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get user: %w", err)
	}
	return u, nil
}

// UserByUsername returns the user with that (normalized) username.
func (s *IdentityStore) UserByUsername(ctx context.Context, username string) (*identity.User, error) {
	return s.oneUser(ctx, qUserByName, username)
}

// UserByID returns the user with that id.
func (s *IdentityStore) UserByID(ctx context.Context, id string) (*identity.User, error) {
	return s.oneUser(ctx, qUserByID, id)
}

// UpdatePasswordHash replaces a user's password hash.
func (s *IdentityStore) UpdatePasswordHash(ctx context.Context, id, hash string, now time.Time) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qUpdatePassword), hash, nanos(now), id)
	if err != nil {
		return fmt.Errorf("sqlstore: update password: %w", err)
	}
	return oneRow(res, store.ErrNotFound)
}

// CountUsers returns the number of users.
func (s *IdentityStore) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.d.db.QueryRowContext(ctx, s.d.Q(qCountUsers)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count users: %w", err)
	}
	return n, nil
}

// CreateSession stores a login session.
func (s *IdentityStore) CreateSession(ctx context.Context, sess *identity.Session) error {
	_, err := s.d.db.ExecContext(ctx, s.d.Q(qInsertSession), sess.IDHash, sess.UserID, nanos(sess.AuthTime), nanos(sess.CreatedAt), nanos(sess.ExpiresAt),
		nanos(sess.LastSeenAt), sess.UserAgent, sess.ClientAddr, encodeAMR(sess.AMR))
	if isUnique(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create session: %w", err)
	}
	return nil
}

// GetSession returns a session by the hash of its id.
func (s *IdentityStore) GetSession(ctx context.Context, idHash []byte) (*identity.Session, error) {
	sess, err := scanSession(s.d.db.QueryRowContext(ctx, s.d.Q(qSelectSession), idHash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get session: %w", err)
	}
	return sess, nil
}

// DeleteSession removes a session (absent is fine).
func (s *IdentityStore) DeleteSession(ctx context.Context, idHash []byte) error {
	if _, err := s.d.db.ExecContext(ctx, s.d.Q(qDeleteSession), idHash); err != nil {
		return fmt.Errorf("sqlstore: delete session: %w", err)
	}
	return nil
}

// PurgeSessions deletes sessions that expired before the time.
func (s *IdentityStore) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qPurgeSessionsOld), nanos(before))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge sessions: %w", err)
	}
	return res.RowsAffected()
}

// encodeAMR stores authentication methods space-separated (RFC 8176
// values never contain a space).
func encodeAMR(amr []string) string { return strings.Join(amr, " ") }

// decodeAMR reads them back; ” (a row from before methods were recorded)
// is a password sign-in, the only method there was.
func decodeAMR(s string) []string {
	if s == "" {
		return []string{identity.AMRPassword}
	}
	return strings.Fields(s)
}
