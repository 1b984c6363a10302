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

// SaveCode stores an authorization code.
func (s *OAuthStore) SaveCode(ctx context.Context, c *oauth.AuthCode) error {
	_, err := s.d.db.ExecContext(ctx, s.d.Q(qInsertCode), c.Hash, c.ClientID, c.UserID, c.RedirectURI, c.CodeChallenge, encodeList(c.Scopes),
		encodeList(c.Audience), c.Nonce, nanos(c.AuthTime), nanos(c.CreatedAt), nanos(c.ExpiresAt), c.DPoPJKT, encodeAMR(c.AMR))
	if isUnique(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("sqlstore: save code: %w", err)
	}
	return nil
}

func scanCode(r scanner) (*oauth.AuthCode, error) {
	var (
		c                  oauth.AuthCode
		scopes, aud        string
		authAt, cAt, expAt int64
		amr                string
	)
	if err := r.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.RedirectURI, &c.CodeChallenge, &scopes, &aud, &c.Nonce, &authAt, &cAt, &expAt, &c.DPoPJKT, &amr); err != nil {
		return nil, err
	}
	var err error
	if c.Scopes, err = decodeList(scopes); err != nil {
		return nil, err
	}
	if c.Audience, err = decodeList(aud); err != nil {
		return nil, err
	}
	c.AuthTime, c.CreatedAt, c.ExpiresAt = fromNanos(authAt), fromNanos(cAt), fromNanos(expAt)
	c.AMR = decodeAMR(amr)
	return &c, nil
}

// RedeemCode marks the code used and creates its family, atomically: of
// two concurrent redeemers exactly one sees its UPDATE change a row.
func (s *OAuthStore) RedeemCode(ctx context.Context, hash []byte, f *oauth.Family, now time.Time) (*oauth.AuthCode, error) {
	var code *oauth.AuthCode
	var used bool
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.Q(qUseCode), nanos(now), hash)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		code, err = scanCode(tx.QueryRowContext(ctx, s.d.Q(qSelectCode), hash))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if n == 0 {
			used = true
			return nil
		}
		f.CodeHash, f.ClientID, f.UserID = hash, code.ClientID, code.UserID
		_, err = tx.ExecContext(ctx, s.d.Q(qInsertFamily), f.ID, f.ClientID, f.UserID, f.CodeHash, nanos(f.CreatedAt), nanos(f.ExpiresAt))
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("sqlstore: redeem code: %w", err)
	case used:
		return code, store.ErrUsed
	}
	return code, nil
}

// RevokeCodeFamily revokes the family made from the code, if any.
func (s *OAuthStore) RevokeCodeFamily(ctx context.Context, codeHash []byte, now time.Time) ([]oauth.IssuedAccess, error) {
	var out []oauth.IssuedAccess
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, s.d.Q(qFamilyByCode), codeHash).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		out, err = s.revokeFamilyTx(ctx, tx, id, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: revoke code family: %w", err)
	}
	return out, nil
}
