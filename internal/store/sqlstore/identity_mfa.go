package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
)

var _ identity.MFAStore = (*IdentityStore)(nil)

// TOTP enrolments and recovery codes. Every statement that consumes
// something is conditional on the state it consumes (last_step, uses,
// used_at), so of two instances racing on one code exactly one changes a
// row.
const (
	// An unconfirmed enrolment may be replaced (the user restarts the
	// set-up); a confirmed one never is (the WHERE of the upsert).
	qPutTOTP = `INSERT INTO user_totp (user_id, secret_sealed, created_at) VALUES (?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, created_at = excluded.created_at, last_step = 0
WHERE user_totp.confirmed_at = 0`
	qGetTOTP     = `SELECT user_id, secret_sealed, created_at, confirmed_at, last_step, uses FROM user_totp WHERE user_id = ?`
	qConfirmTOTP = `UPDATE user_totp SET confirmed_at = ?, last_step = ?, uses = uses + 1
WHERE user_id = ? AND confirmed_at = 0 AND last_step < ?`
	qAcceptTOTP = `UPDATE user_totp SET last_step = ?, uses = uses + 1
WHERE user_id = ? AND confirmed_at <> 0 AND last_step < ? AND uses = ?`
	qBumpTOTPUses   = `UPDATE user_totp SET uses = uses + 1 WHERE user_id = ?`
	qBumpTOTPUsesIf = `UPDATE user_totp SET uses = uses + 1 WHERE user_id = ? AND confirmed_at <> 0 AND uses = ?`
	qDeleteTOTP     = `DELETE FROM user_totp WHERE user_id = ?`
	qDeleteRecovery = `DELETE FROM user_recovery_codes WHERE user_id = ?`
	qInsertRecovery = `INSERT INTO user_recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)`
	qUseRecovery    = `UPDATE user_recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at = 0`
)

// PutTOTP stores an unconfirmed enrolment (replacing an unconfirmed one);
// store.ErrConflict when a confirmed one exists.
func (s *IdentityStore) PutTOTP(ctx context.Context, r *identity.TOTPRecord) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qPutTOTP), r.UserID, r.Sealed, nanos(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: put totp: %w", err)
	}
	return oneRow(res, store.ErrConflict)
}

// GetTOTP returns the user's enrolment; store.ErrNotFound if none.
func (s *IdentityStore) GetTOTP(ctx context.Context, userID string) (*identity.TOTPRecord, error) {
	var r identity.TOTPRecord
	var cAt, confAt int64
	err := s.d.db.QueryRowContext(ctx, s.d.Q(qGetTOTP), userID).Scan(&r.UserID, &r.Sealed, &cAt, &confAt, &r.LastStep, &r.Uses)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get totp: %w", err)
	}
	r.CreatedAt, r.ConfirmedAt = fromNanos(cAt), fromNanos(confAt)
	return &r, nil
}

// ConfirmTOTP activates the enrolment at step and replaces the recovery
// codes, in one transaction; store.ErrUsed when it is not pending or the
// step is not after the last one.
func (s *IdentityStore) ConfirmTOTP(ctx context.Context, userID string, step int64, now time.Time, recovery [][]byte) error {
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.Q(qConfirmTOTP), nanos(now), step, userID, step)
		if err != nil {
			return err
		}
		if err := oneRow(res, store.ErrUsed); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.Q(qDeleteRecovery), userID); err != nil {
			return err
		}
		for _, h := range recovery {
			if _, err := tx.ExecContext(ctx, s.d.Q(qInsertRecovery), userID, h, nanos(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !isSentinel(err) {
		return fmt.Errorf("sqlstore: confirm totp: %w", err)
	}
	return err
}

// AcceptTOTP records step as used if it is after the last one and the
// enrolment is still at uses; store.ErrUsed otherwise.
func (s *IdentityStore) AcceptTOTP(ctx context.Context, userID string, step, uses int64) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qAcceptTOTP), step, userID, step, uses)
	if err != nil {
		return fmt.Errorf("sqlstore: accept totp: %w", err)
	}
	return oneRow(res, store.ErrUsed)
}

// UseRecoveryCode spends an unused recovery code of the user while the
// enrolment is still at uses, in one transaction; store.ErrUsed otherwise.
func (s *IdentityStore) UseRecoveryCode(ctx context.Context, userID string, hash []byte, uses int64, now time.Time) error {
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.Q(qUseRecovery), nanos(now), userID, hash)
		if err != nil {
			return err
		}
		if err := oneRow(res, store.ErrUsed); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, s.d.Q(qBumpTOTPUsesIf), userID, uses)
		if err != nil {
			return err
		}
		return oneRow(res, store.ErrUsed)
	})
	if err != nil && !isSentinel(err) {
		return fmt.Errorf("sqlstore: use recovery code: %w", err)
	}
	return err
}

// BumpTOTPUses ends every pending sign-in of the user.
func (s *IdentityStore) BumpTOTPUses(ctx context.Context, userID string) error {
	if _, err := s.d.db.ExecContext(ctx, s.d.Q(qBumpTOTPUses), userID); err != nil {
		return fmt.Errorf("sqlstore: bump totp uses: %w", err)
	}
	return nil
}

// DeleteTOTP removes the user's enrolment and recovery codes.
func (s *IdentityStore) DeleteTOTP(ctx context.Context, userID string) error {
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.Q(qDeleteRecovery), userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.Q(qDeleteTOTP), userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete totp: %w", err)
	}
	return nil
}
