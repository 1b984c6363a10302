package oauth

import (
	"context"
	"time"
)

// PurgeMargin keeps expired codes and refresh tokens an hour past expiry
// before they are deleted, so a replay just after expiry is still
// recognised as a replay (and revokes the family, RFC 9700 §4.14.2)
// instead of looking like an unknown token.
const PurgeMargin = time.Hour

// ExpiredPurger deletes codes, refresh tokens, families and deny-list
// entries that expired before a time.
type ExpiredPurger interface {
	PurgeExpired(ctx context.Context, before time.Time) (int64, error)
}

// PurgeExpired deletes what expired more than PurgeMargin before now.
func PurgeExpired(ctx context.Context, p ExpiredPurger, now time.Time) (int64, error) {
	return p.PurgeExpired(ctx, now.Add(-PurgeMargin))
}
