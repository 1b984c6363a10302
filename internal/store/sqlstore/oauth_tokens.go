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

// CreateFamily stores a family not made from a code.
func (s *OAuthStore) CreateFamily(ctx context.Context, f *oauth.Family) error {
	var code any
	if f.CodeHash != nil {
		code = f.CodeHash
	}
	_, err := s.d.db.ExecContext(ctx, s.d.Q(qInsertFamily), f.ID, f.ClientID, f.UserID, code, nanos(f.CreatedAt), nanos(f.ExpiresAt))
	if isUnique(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create family: %w", err)
	}
	return nil
}

// lockLiveFamily locks the family row and fails with ErrRevoked when the
// family is revoked, ErrNotFound when it does not exist.
func (s *OAuthStore) lockLiveFamily(ctx context.Context, tx *sql.Tx, id string) error {
	var revoked int64
	err := tx.QueryRowContext(ctx, s.lockQ(qLockFamily), id).Scan(&revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	if revoked != 0 {
		return store.ErrRevoked
	}
	return nil
}

func insertRefresh(ctx context.Context, s *OAuthStore, tx *sql.Tx, t *oauth.RefreshToken) error {
	_, err := tx.ExecContext(ctx, s.d.Q(qInsertRefresh), t.Hash, t.FamilyID, t.ClientID, t.UserID, encodeList(t.Scopes), encodeList(t.Audience),
		nanos(t.AuthTime), nanos(t.CreatedAt), nanos(t.ExpiresAt), nanos(t.UsedAt), nanos(t.RevokedAt), t.JKT, encodeAMR(t.AMR), t.X5T)
	if isUnique(err) {
		return store.ErrConflict
	}
	return err
}

// SaveRefresh stores a refresh token in a live family.
func (s *OAuthStore) SaveRefresh(ctx context.Context, t *oauth.RefreshToken) error {
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockLiveFamily(ctx, tx, t.FamilyID); err != nil {
			return err
		}
		return insertRefresh(ctx, s, tx, t)
	})
	if err != nil && !isSentinel(err) {
		return fmt.Errorf("sqlstore: save refresh token: %w", err)
	}
	return err
}

func isSentinel(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrRevoked) || errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrConflict)
}

// RecordAccess records an access token in a live family.
func (s *OAuthStore) RecordAccess(ctx context.Context, familyID string, a oauth.IssuedAccess) error {
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockLiveFamily(ctx, tx, familyID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.Q(qInsertAccess), a.JTI, familyID, nanos(a.ExpiresAt))
		if isUnique(err) {
			return store.ErrConflict
		}
		return err
	})
	if err != nil && !isSentinel(err) {
		return fmt.Errorf("sqlstore: record access token: %w", err)
	}
	return err
}

func scanRefresh(r scanner) (*oauth.RefreshToken, error) {
	var (
		t                                                 oauth.RefreshToken
		scopes, aud                                       string
		authAt, cAt, expAt, usedAt, revAt, famRev, famExp int64
		amr                                               string
	)
	if err := r.Scan(&t.Hash, &t.FamilyID, &t.ClientID, &t.UserID, &scopes, &aud, &authAt, &cAt, &expAt, &usedAt, &revAt, &famRev, &famExp, &t.JKT, &amr, &t.X5T); err != nil {
		return nil, err
	}
	var err error
	if t.Scopes, err = decodeList(scopes); err != nil {
		return nil, err
	}
	if t.Audience, err = decodeList(aud); err != nil {
		return nil, err
	}
	if revAt == 0 {
		revAt = famRev
	}
	t.AuthTime, t.CreatedAt, t.ExpiresAt = fromNanos(authAt), fromNanos(cAt), fromNanos(expAt)
	t.UsedAt, t.RevokedAt, t.FamilyExpiresAt = fromNanos(usedAt), fromNanos(revAt), fromNanos(famExp)
	t.AMR = decodeAMR(amr)
	return &t, nil
}

// GetRefresh returns a refresh token, revoked if its family is.
func (s *OAuthStore) GetRefresh(ctx context.Context, hash []byte) (*oauth.RefreshToken, error) {
	t, err := scanRefresh(s.d.db.QueryRowContext(ctx, s.d.Q(qSelectRefresh), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get refresh token: %w", err)
	}
	return t, nil
}

// RotateRefresh marks the old token used and stores next in its family.
// The family row is locked first and the token row second, the same order
// as every other writer, so two rotations of one token serialize and the
// loser sees used_at set.
func (s *OAuthStore) RotateRefresh(ctx context.Context, oldHash []byte, next *oauth.RefreshToken, now time.Time) (*oauth.RefreshToken, error) {
	var old *oauth.RefreshToken
	var sentinel error
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		var famID string
		err := tx.QueryRowContext(ctx, s.d.Q(qLockRefresh), oldHash).Scan(&famID)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		ferr := s.lockLiveFamily(ctx, tx, famID)
		if ferr != nil && !errors.Is(ferr, store.ErrRevoked) {
			return ferr
		}
		if err := tx.QueryRowContext(ctx, s.lockQ(qLockRefresh), oldHash).Scan(&famID); err != nil {
			return err
		}
		old, err = scanRefresh(tx.QueryRowContext(ctx, s.d.Q(qSelectRefresh), oldHash))
		if err != nil {
			return err
		}
		switch {
		case ferr != nil || !old.RevokedAt.IsZero():
			sentinel = store.ErrRevoked
			return nil
		case !old.UsedAt.IsZero():
			sentinel = store.ErrUsed
			return nil
		}
		res, err := tx.ExecContext(ctx, s.d.Q(qUseRefresh), nanos(now), oldHash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			sentinel = store.ErrUsed
			return err
		}
		next.FamilyID = old.FamilyID
		return insertRefresh(ctx, s, tx, next)
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return old, err
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: rotate refresh token: %w", err)
	}
	return old, sentinel
}

// revokeFamilyTx revokes a family inside tx and returns its live access
// tokens.
func (s *OAuthStore) revokeFamilyTx(ctx context.Context, tx *sql.Tx, id string, now time.Time) ([]oauth.IssuedAccess, error) {
	var revoked int64
	err := tx.QueryRowContext(ctx, s.lockQ(qLockFamily), id).Scan(&revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.d.Q(qRevokeFamily), nanos(now), id); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.d.Q(qRevokeFamTokens), nanos(now), id); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, s.d.Q(qFamilyAccess), id, nanos(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []oauth.IssuedAccess
	for rows.Next() {
		var a oauth.IssuedAccess
		var exp int64
		if err := rows.Scan(&a.JTI, &exp); err != nil {
			return nil, err
		}
		a.ExpiresAt = fromNanos(exp)
		out = append(out, a)
	}
	return out, rows.Err()
}

// RevokeFamily revokes a family and all its refresh tokens.
func (s *OAuthStore) RevokeFamily(ctx context.Context, familyID string, now time.Time) ([]oauth.IssuedAccess, error) {
	var out []oauth.IssuedAccess
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.revokeFamilyTx(ctx, tx, familyID, now)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: revoke family: %w", err)
	}
	return out, nil
}

// RevokeUserClient revokes every family of the user with the client.
func (s *OAuthStore) RevokeUserClient(ctx context.Context, userID, clientID string, now time.Time) ([]oauth.IssuedAccess, error) {
	var out []oauth.IssuedAccess
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		ids, err := s.familyIDs(ctx, tx, s.d.Q(qUserClientFamily), userID, clientID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			acc, err := s.revokeFamilyTx(ctx, tx, id, now)
			if err != nil {
				return err
			}
			out = append(out, acc...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: revoke user's client tokens: %w", err)
	}
	return out, nil
}

// DenyJTI lists an access token id until expiresAt (a later expiry wins).
func (s *OAuthStore) DenyJTI(ctx context.Context, jti string, expiresAt time.Time) error {
	q := qDenyJTISQLite
	if s.d.dialect == Postgres {
		q = qDenyJTIPostgres
	}
	if _, err := s.d.db.ExecContext(ctx, s.d.Q(q), jti, nanos(expiresAt)); err != nil {
		return fmt.Errorf("sqlstore: deny jti: %w", err)
	}
	return nil
}

// IsDenied reports whether jti is listed and not expired at now.
func (s *OAuthStore) IsDenied(ctx context.Context, jti string, now time.Time) (bool, error) {
	var one int
	err := s.d.queryRowCached(ctx, s.d.Q(qIsDenied), jti, nanos(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlstore: deny list: %w", err)
	}
	return true, nil
}
