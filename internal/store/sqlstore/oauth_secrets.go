package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/store"
)

// SQL text, not credentials (gosec G101 matches "secret" in the names).
const (
	qCurrentSecret   = `SELECT secret_hash FROM oauth_clients WHERE id = ?`                                              // #nosec G101 -- SQL text, not a credential
	qDropPrevSecret  = `DELETE FROM oauth_client_previous_secrets WHERE client_id = ?`                                   // #nosec G101 -- SQL text, not a credential
	qKeepPrevSecret  = `INSERT INTO oauth_client_previous_secrets (client_id, secret_hash, expires_at) VALUES (?, ?, ?)` // #nosec G101 -- SQL text, not a credential
	qPrevSecret      = `SELECT secret_hash FROM oauth_client_previous_secrets WHERE client_id = ? AND expires_at > ?`    // #nosec G101 -- SQL text, not a credential
	qPurgePrevSecret = `DELETE FROM oauth_client_previous_secrets WHERE expires_at <= ?`                                 // #nosec G101 -- SQL text, not a credential
)

// RotateClientSecret replaces a client's secret hash with newHash in one
// transaction. When previousUntil is after now, the secret being replaced
// stays valid until then (the overlap window); otherwise it stops at once.
// Any earlier previous secret is dropped: at most two secrets are ever
// valid. store.ErrNotFound if there is no such client.
func (s *OAuthStore) RotateClientSecret(ctx context.Context, id, newHash string, previousUntil, now time.Time) error {
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		var cur string
		if err := tx.QueryRowContext(ctx, s.d.Q(qCurrentSecret), id).Scan(&cur); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.Q(qDropPrevSecret), id); err != nil {
			return err
		}
		if previousUntil.After(now) && cur != "" {
			if _, err := tx.ExecContext(ctx, s.d.Q(qKeepPrevSecret), id, cur, nanos(previousUntil)); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, s.d.Q(qUpdateSecret), newHash, nanos(now), id)
		if err != nil {
			return err
		}
		return oneRow(res, store.ErrNotFound)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("sqlstore: rotate client secret: %w", err)
	}
	return err
}

// PreviousClientSecret returns the hash of the client's previous secret
// while its overlap window is open at now; store.ErrNotFound otherwise.
func (s *OAuthStore) PreviousClientSecret(ctx context.Context, id string, now time.Time) (string, error) {
	var h string
	err := s.d.db.QueryRowContext(ctx, s.d.Q(qPrevSecret), id, nanos(now)).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("sqlstore: previous client secret: %w", err)
	}
	return h, nil
}

// RetireClientSecret ends the client's previous secret now; it reports
// whether there was one.
func (s *OAuthStore) RetireClientSecret(ctx context.Context, id string) (bool, error) {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qDropPrevSecret), id)
	if err != nil {
		return false, fmt.Errorf("sqlstore: retire client secret: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
