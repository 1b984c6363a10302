package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
)

func scanConsent(r scanner) (*oauth.Consent, error) {
	var c oauth.Consent
	var scopes, aud string
	var at int64
	if err := r.Scan(&c.UserID, &c.ClientID, &scopes, &aud, &at); err != nil {
		return nil, err
	}
	var err error
	if c.Scopes, err = decodeList(scopes); err != nil {
		return nil, err
	}
	if c.Audience, err = decodeList(aud); err != nil {
		return nil, err
	}
	c.GrantedAt = fromNanos(at)
	return &c, nil
}

// GetConsent returns what the user allowed the client.
func (s *OAuthStore) GetConsent(ctx context.Context, userID, clientID string) (*oauth.Consent, error) {
	c, err := scanConsent(s.d.db.QueryRowContext(ctx, s.d.Q(qSelectConsent), userID, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get consent: %w", err)
	}
	return c, nil
}

// SaveConsent inserts or replaces a consent.
func (s *OAuthStore) SaveConsent(ctx context.Context, c *oauth.Consent) error {
	if _, err := s.d.db.ExecContext(ctx, s.d.Q(qUpsertConsent), c.UserID, c.ClientID, encodeList(c.Scopes), encodeList(c.Audience), nanos(c.GrantedAt)); err != nil {
		return fmt.Errorf("sqlstore: save consent: %w", err)
	}
	return nil
}

// DeleteConsent removes a consent.
func (s *OAuthStore) DeleteConsent(ctx context.Context, userID, clientID string) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qDeleteConsent), userID, clientID)
	if err != nil {
		return fmt.Errorf("sqlstore: delete consent: %w", err)
	}
	return oneRow(res, store.ErrNotFound)
}

// ListConsents returns a user's consents by client id.
func (s *OAuthStore) ListConsents(ctx context.Context, userID string) ([]oauth.Consent, error) {
	rows, err := s.d.db.QueryContext(ctx, s.d.Q(qListConsents), userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list consents: %w", err)
	}
	defer rows.Close()
	var out []oauth.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list consents: %w", err)
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}
