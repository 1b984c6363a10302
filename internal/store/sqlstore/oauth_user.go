package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
)

const qUserFamilies = `SELECT id FROM oauth_families WHERE user_id = ? AND revoked_at = 0`

// RevokeUser revokes every token family of the user (all clients) in one
// transaction and returns the live access tokens to deny: what a disabled
// user or a reset password must leave behind is nothing.
func (s *OAuthStore) RevokeUser(ctx context.Context, userID string, now time.Time) ([]oauth.IssuedAccess, error) {
	var out []oauth.IssuedAccess
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		ids, err := s.familyIDs(ctx, tx, s.d.Q(qUserFamilies), userID)
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
		return nil, fmt.Errorf("sqlstore: revoke user's tokens: %w", err)
	}
	return out, nil
}
