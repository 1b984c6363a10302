package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/store"
)

// fapi: refresh tokens that are kept, not rotated (FAPI 2.0 SP §5.3.2.1).

// qKeepRefresh extends an unspent, unrevoked refresh token's idle expiry
// to expires_at, if it is still live at now and its family is not
// revoked: one conditional UPDATE, so a token revoked or rotated on
// another instance meanwhile is not extended.
const qKeepRefresh = `UPDATE oauth_refresh_tokens SET expires_at = CASE WHEN expires_at < ? THEN ? ELSE expires_at END
 WHERE hash = ? AND used_at = 0 AND revoked_at = 0 AND expires_at > ?
   AND family_id IN (SELECT id FROM oauth_families WHERE revoked_at = 0 AND expires_at > ?)`

// KeepRefresh extends the idle expiry of the live refresh token with hash
// to expiresAt (never shortening it); store.ErrNotFound when the token is
// unknown, spent, revoked, expired at now or its family is revoked.
func (s *OAuthStore) KeepRefresh(ctx context.Context, hash []byte, expiresAt, now time.Time) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qKeepRefresh), nanos(expiresAt), nanos(expiresAt), hash, nanos(now), nanos(now))
	if err != nil {
		return fmt.Errorf("sqlstore: keep refresh token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: keep refresh token: %w", err)
	}
	if n != 1 {
		return store.ErrNotFound
	}
	return nil
}
