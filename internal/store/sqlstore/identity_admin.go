package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
)

// The administrative reads and writes of the identity domain (the admin
// API and CLI through internal/admin).
const (
	qListUsers          = `SELECT ` + userCols + ` FROM users WHERE username > ? ORDER BY username LIMIT ?`
	qSetUserDisabled    = `UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?`
	qListUserSessions   = `SELECT ` + sessionCols + ` FROM user_sessions WHERE user_id = ? AND expires_at > ? ORDER BY created_at`
	qDeleteUserSessions = `DELETE FROM user_sessions WHERE user_id = ?`
	qSetUserRole        = `UPDATE users SET role = ?, updated_at = ? WHERE id = ?`
)

// SetUserRole changes a user's role; store.ErrNotFound if there is no
// such user.
func (s *IdentityStore) SetUserRole(ctx context.Context, id, role string, now time.Time) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qSetUserRole), role, nanos(now), id)
	if err != nil {
		return fmt.Errorf("sqlstore: set user role: %w", err)
	}
	return oneRow(res, store.ErrNotFound)
}

// ListUsers returns up to limit users whose username sorts after after,
// ordered by username (keyset pagination: stable under inserts).
func (s *IdentityStore) ListUsers(ctx context.Context, after string, limit int) ([]identity.User, error) {
	rows, err := s.d.db.QueryContext(ctx, s.d.Q(qListUsers), after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list users: %w", err)
	}
	defer rows.Close()
	var out []identity.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list users: %w", err)
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// SetUserDisabled sets or clears a user's disabled flag;
// store.ErrNotFound if there is no such user.
func (s *IdentityStore) SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qSetUserDisabled), b2i(disabled), nanos(now), id)
	if err != nil {
		return fmt.Errorf("sqlstore: set user disabled: %w", err)
	}
	return oneRow(res, store.ErrNotFound)
}

// ListUserSessions returns the user's sessions live at now, oldest first.
func (s *IdentityStore) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]identity.Session, error) {
	rows, err := s.d.db.QueryContext(ctx, s.d.Q(qListUserSessions), userID, nanos(now))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list sessions: %w", err)
	}
	defer rows.Close()
	var out []identity.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list sessions: %w", err)
		}
		out = append(out, *sess)
	}
	return out, rows.Err()
}

// DeleteUserSessions ends every session of the user and returns how many
// there were.
func (s *IdentityStore) DeleteUserSessions(ctx context.Context, userID string) (int64, error) {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qDeleteUserSessions), userID)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete sessions: %w", err)
	}
	return res.RowsAffected()
}
