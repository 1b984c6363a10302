package identity

import (
	"context"
	"time"
)

// PurgeMargin keeps expired sessions a little past expiry before they are
// deleted, so a cookie presented just after expiry is still recognised
// (and refused as expired) rather than looking unknown.
const PurgeMargin = time.Hour

// SessionPurger deletes sessions that expired before a time.
type SessionPurger interface {
	PurgeSessions(ctx context.Context, before time.Time) (int64, error)
}

// PurgeSessions deletes the sessions that expired more than PurgeMargin
// before now.
func PurgeSessions(ctx context.Context, p SessionPurger, now time.Time) (int64, error) {
	return p.PurgeSessions(ctx, now.Add(-PurgeMargin))
}
