package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
)

// Session lifecycle and password changes (the account page).
const (
	// qTouchSession moves last_seen_at forward only when the stored value
	// is older than the bound: a burst of requests writes once.
	qTouchSession     = `UPDATE user_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at <= ?`
	qChangePassword   = `UPDATE users SET password_hash = ?, must_change_password = ?, updated_at = ? WHERE id = ?` // #nosec G101 -- SQL text, not a credential
	qDeleteSessionFor = `DELETE FROM user_sessions WHERE id_hash = ? AND user_id = ?`
)

func scanSession(r scanner) (*identity.Session, error) {
	var sess identity.Session
	var authAt, cAt, expAt, seenAt int64
	var amr string
	if err := r.Scan(&sess.IDHash, &sess.UserID, &authAt, &cAt, &expAt, &seenAt, &sess.UserAgent, &sess.ClientAddr, &amr); err != nil {
		return nil, err
	}
	// amr '' (a session from before migration 0009) reads as the password.
	sess.AMR = decodeAMR(amr)
	// last_seen_at 0 (a session from before migration 0010) is the zero
	// time; identity counts idleness from CreatedAt then.
	sess.AuthTime, sess.CreatedAt, sess.ExpiresAt, sess.LastSeenAt = fromNanos(authAt), fromNanos(cAt), fromNanos(expAt), fromNanos(seenAt)
	return &sess, nil
}

// TouchSession records that the session was used at seen, unless it was
// already recorded as used after notAfter (bounded write rate).
func (s *IdentityStore) TouchSession(ctx context.Context, idHash []byte, seen, notAfter time.Time) error {
	if _, err := s.d.db.ExecContext(ctx, s.d.Q(qTouchSession), nanos(seen), idHash, nanos(notAfter)); err != nil {
		return fmt.Errorf("sqlstore: touch session: %w", err)
	}
	return nil
}

// DeleteUserSession ends one session of the user; store.ErrNotFound when
// the user has no session with that hash (a user ends only their own).
func (s *IdentityStore) DeleteUserSession(ctx context.Context, userID string, idHash []byte) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qDeleteSessionFor), idHash, userID)
	if err != nil {
		return fmt.Errorf("sqlstore: delete session: %w", err)
	}
	return oneRow(res, store.ErrNotFound)
}

// SetPassword replaces a user's password hash and sets or clears the
// must-change flag; store.ErrNotFound if no such user.
func (s *IdentityStore) SetPassword(ctx context.Context, id, hash string, mustChange bool, now time.Time) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qChangePassword), hash, b2i(mustChange), nanos(now), id)
	if err != nil {
		return fmt.Errorf("sqlstore: set password: %w", err)
	}
	return oneRow(res, store.ErrNotFound)
}
