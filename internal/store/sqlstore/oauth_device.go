package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
)

// Device authorization queries (RFC 8628), placeholders only. Every state
// change is a conditional UPDATE, so of two instances racing on one
// request exactly one changes it.
const (
	deviceCols = `hash, user_code, client_id, scopes, audience, created_at, expires_at, status, user_id, auth_time, amr, decided_at,
       last_poll_at, interval_s, redeemed_at`
	qDeleteExpiredUserCode = `DELETE FROM oauth_device_codes WHERE user_code = ? AND expires_at <= ?`
	qInsertDevice          = `INSERT INTO oauth_device_codes (hash, user_code, client_id, scopes, audience, created_at, expires_at, status, interval_s)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qDeviceByUserCode = `SELECT ` + deviceCols + ` FROM oauth_device_codes WHERE user_code = ? AND status = 'pending' AND expires_at > ?`
	qDeviceByHash     = `SELECT ` + deviceCols + ` FROM oauth_device_codes WHERE hash = ?`
	qDecideDevice     = `UPDATE oauth_device_codes SET status = ?, user_id = ?, auth_time = ?, amr = ?, decided_at = ?
 WHERE user_code = ? AND status = 'pending' AND expires_at > ?`
	qPollDevice   = `UPDATE oauth_device_codes SET last_poll_at = ?, interval_s = ? WHERE hash = ?`
	qRedeemDevice = `UPDATE oauth_device_codes SET redeemed_at = ? WHERE hash = ? AND status = 'approved' AND redeemed_at = 0`
	qPurgeDevices = `DELETE FROM oauth_device_codes WHERE expires_at < ?`
	qDeleteDevOf  = `DELETE FROM oauth_device_codes WHERE client_id = ?`
)

func scanDevice(r scanner) (*oauth.DeviceCode, error) {
	var (
		d                                 oauth.DeviceCode
		scopes, aud, amr                  string
		cAt, expAt, authAt, decAt, pollAt int64
		interval, redeemedAt              int64
	)
	if err := r.Scan(&d.Hash, &d.UserCode, &d.ClientID, &scopes, &aud, &cAt, &expAt, &d.Status, &d.UserID, &authAt, &amr, &decAt,
		&pollAt, &interval, &redeemedAt); err != nil {
		return nil, err
	}
	var err error
	if d.Scopes, err = decodeList(scopes); err != nil {
		return nil, err
	}
	if d.Audience, err = decodeList(aud); err != nil {
		return nil, err
	}
	if d.AMR, err = decodeList(amr); err != nil {
		return nil, err
	}
	d.CreatedAt, d.ExpiresAt, d.AuthTime, d.DecidedAt = fromNanos(cAt), fromNanos(expAt), fromNanos(authAt), fromNanos(decAt)
	d.LastPollAt, d.RedeemedAt = fromNanos(pollAt), fromNanos(redeemedAt)
	d.Interval = time.Duration(interval) * time.Second
	return &d, nil
}

// SaveDevice stores a new pending device request; a live request with the
// same user code is store.ErrConflict.
func (s *OAuthStore) SaveDevice(ctx context.Context, d *oauth.DeviceCode) error {
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		// An expired request gives its user code back (the column is
		// unique, and only live codes must be).
		if _, err := tx.ExecContext(ctx, s.d.Q(qDeleteExpiredUserCode), d.UserCode, nanos(d.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.Q(qInsertDevice), d.Hash, d.UserCode, d.ClientID, encodeList(d.Scopes), encodeList(d.Audience),
			nanos(d.CreatedAt), nanos(d.ExpiresAt), oauth.DevicePending, int64(d.Interval/time.Second))
		return err
	})
	if isUnique(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("sqlstore: save device code: %w", err)
	}
	return nil
}

// DeviceByUserCode returns the pending, unexpired request with the user
// code.
func (s *OAuthStore) DeviceByUserCode(ctx context.Context, userCode string, now time.Time) (*oauth.DeviceCode, error) {
	d, err := scanDevice(s.d.db.QueryRowContext(ctx, s.d.Q(qDeviceByUserCode), userCode, nanos(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: device by user code: %w", err)
	}
	return d, nil
}

// DecideDevice approves or denies a pending request once.
func (s *OAuthStore) DecideDevice(ctx context.Context, dd oauth.DeviceDecision) error {
	if dd.Status != oauth.DeviceApproved && dd.Status != oauth.DeviceDenied {
		return fmt.Errorf("sqlstore: decide device: status %q", dd.Status)
	}
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qDecideDevice), dd.Status, dd.UserID, nanos(dd.AuthTime), encodeList(dd.AMR), nanos(dd.At),
		dd.UserCode, nanos(dd.At))
	if err != nil {
		return fmt.Errorf("sqlstore: decide device: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: decide device: %w", err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// PollDevice records a poll under a lock on the row, so concurrent polls
// of one code (from several instances) each see the one before.
func (s *OAuthStore) PollDevice(ctx context.Context, hash []byte, clientID string, now time.Time, step time.Duration) (*oauth.DeviceCode, bool, error) {
	var (
		d    *oauth.DeviceCode
		slow bool
	)
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = scanDevice(tx.QueryRowContext(ctx, s.lockQ(qDeviceByHash), hash))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil || d.ClientID != clientID {
			return err
		}
		if !d.LastPollAt.IsZero() && now.Sub(d.LastPollAt) < d.Interval {
			slow = true
			d.Interval += step
		}
		d.LastPollAt = now
		_, err = tx.ExecContext(ctx, s.d.Q(qPollDevice), nanos(now), int64(d.Interval/time.Second), hash)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("sqlstore: poll device: %w", err)
	}
	return d, slow, nil
}

// RedeemDevice spends an approved request and creates its family,
// atomically: of two concurrent redeemers exactly one sees its UPDATE
// change a row.
func (s *OAuthStore) RedeemDevice(ctx context.Context, hash []byte, f *oauth.Family, now time.Time) (*oauth.DeviceCode, error) {
	var (
		d    *oauth.DeviceCode
		used bool
	)
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.Q(qRedeemDevice), nanos(now), hash)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		d, err = scanDevice(tx.QueryRowContext(ctx, s.d.Q(qDeviceByHash), hash))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && d.Status != oauth.DeviceApproved) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if n == 0 {
			used = true
			return nil
		}
		f.CodeHash, f.ClientID, f.UserID = hash, d.ClientID, d.UserID
		_, err = tx.ExecContext(ctx, s.d.Q(qInsertFamily), f.ID, f.ClientID, f.UserID, f.CodeHash, nanos(f.CreatedAt), nanos(f.ExpiresAt))
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("sqlstore: redeem device code: %w", err)
	case used:
		return d, store.ErrUsed
	}
	return d, nil
}
