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

// parjwt: private_key_jwt assertion ids and pushed authorization requests.
const (
	// A live id conflicts and changes nothing (0 rows); an expired one is
	// taken over (1 row). The insert is atomic on both drivers, so of
	// concurrent uses of one id on any number of instances one wins.
	qUseAssertionID = `INSERT INTO oauth_assertion_jtis (hash, expires_at) VALUES (?, ?)
ON CONFLICT (hash) DO UPDATE SET expires_at = excluded.expires_at WHERE oauth_assertion_jtis.expires_at <= ?`
	qPurgeAssertionIDs = `DELETE FROM oauth_assertion_jtis WHERE expires_at < ?`

	qInsertPAR = `INSERT INTO oauth_par_requests (hash, client_id, params, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`
	// Opening: the first time before expires_at, again only while the
	// flow it started is younger than the flow window.
	qOpenPAR = `UPDATE oauth_par_requests SET opened_at = CASE WHEN opened_at = 0 THEN ? ELSE opened_at END
WHERE hash = ? AND client_id = ? AND used_at = 0 AND ((opened_at = 0 AND expires_at > ?) OR (opened_at > 0 AND opened_at > ?))`
	qSelectPAR = `SELECT client_id, params, created_at, expires_at, opened_at, used_at FROM oauth_par_requests WHERE hash = ?`
	qUsePAR    = `UPDATE oauth_par_requests SET used_at = ? WHERE hash = ? AND client_id = ? AND used_at = 0 AND opened_at > ?`
	qPurgePAR  = `DELETE FROM oauth_par_requests WHERE expires_at < ? AND (opened_at = 0 OR opened_at < ?)`
)

// UseAssertionID records a client assertion id until expires; false when
// a record of it is still live at now.
func (s *OAuthStore) UseAssertionID(ctx context.Context, hash []byte, expires, now time.Time) (bool, error) {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qUseAssertionID), hash, nanos(expires), nanos(now))
	if err != nil {
		return false, fmt.Errorf("sqlstore: use assertion id: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: use assertion id: %w", err)
	}
	return n == 1, nil
}

// SavePushedRequest stores a pushed authorization request.
func (s *OAuthStore) SavePushedRequest(ctx context.Context, p *oauth.PushedRequest) error {
	_, err := s.d.db.ExecContext(ctx, s.d.Q(qInsertPAR), p.Hash, p.ClientID, p.Params, nanos(p.CreatedAt), nanos(p.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlstore: save pushed request: %w", err)
	}
	return nil
}

// OpenPushedRequest returns the unused pushed request of clientID: its
// first opening must come before its expiry, later ones (the same flow
// coming back from sign-in or consent) after flowStart. store.ErrNotFound
// otherwise.
func (s *OAuthStore) OpenPushedRequest(ctx context.Context, hash []byte, clientID string, now, flowStart time.Time) (*oauth.PushedRequest, error) {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qOpenPAR), nanos(now), hash, clientID, nanos(now), nanos(flowStart))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open pushed request: %w", err)
	}
	if err := oneRow(res, store.ErrNotFound); err != nil {
		return nil, err
	}
	p := &oauth.PushedRequest{Hash: hash}
	var cAt, eAt, oAt, uAt int64
	err = s.d.db.QueryRowContext(ctx, s.d.Q(qSelectPAR), hash).Scan(&p.ClientID, &p.Params, &cAt, &eAt, &oAt, &uAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open pushed request: %w", err)
	}
	p.CreatedAt, p.ExpiresAt, p.OpenedAt, p.UsedAt = fromNanos(cAt), fromNanos(eAt), fromNanos(oAt), fromNanos(uAt)
	return p, nil
}

// UsePushedRequest marks an opened pushed request used, once: a
// conditional UPDATE, so of concurrent calls on any number of instances
// one succeeds; the others (and any later one) get store.ErrNotFound.
func (s *OAuthStore) UsePushedRequest(ctx context.Context, hash []byte, clientID string, now, flowStart time.Time) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qUsePAR), nanos(now), hash, clientID, nanos(flowStart))
	if err != nil {
		return fmt.Errorf("sqlstore: use pushed request: %w", err)
	}
	return oneRow(res, store.ErrNotFound)
}
