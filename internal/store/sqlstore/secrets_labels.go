package sqlstore

// Label moves, soft delete and destruction of secrets (SecretStore).

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// checkExpect applies a label's check-and-set.
func checkExpect(cur int64, exists bool, expect *int64) error {
	switch {
	case expect == nil:
		return nil
	case *expect == 0 && !exists, *expect != 0 && exists && cur == *expect:
		return nil
	}
	return secrets.ErrConflict
}

// MoveLabel points label at version to, in one transaction.
func (s *SecretStore) MoveLabel(ctx context.Context, id, label string, to int64, expect *int64, now time.Time) error {
	return s.d.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx, id, now); err != nil {
			return err
		}
		deleted, destroyed, err := s.versionState(ctx, tx, id, to)
		if err != nil {
			return err
		}
		if deleted || destroyed {
			return fmt.Errorf("%w: a label cannot point at a deleted or destroyed version", secrets.ErrInvalid)
		}
		cur, ok, err := s.labelVersion(ctx, tx, id, label)
		if err != nil {
			return err
		}
		if err := checkExpect(cur, ok, expect); err != nil {
			return err
		}
		return s.pointLabel(ctx, tx, id, label, to)
	})
}

// RemoveLabel removes label, in one transaction.
func (s *SecretStore) RemoveLabel(ctx context.Context, id, label string, expect *int64, now time.Time) error {
	return s.d.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx, id, now); err != nil {
			return err
		}
		cur, ok, err := s.labelVersion(ctx, tx, id, label)
		if err != nil {
			return err
		}
		if err := checkExpect(cur, ok, expect); err != nil {
			return err
		}
		if !ok {
			return secrets.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, s.d.Q(qSecDeleteLabel), id, label); err != nil {
			return fmt.Errorf("sqlstore: remove label: %w", err)
		}
		return nil
	})
}

// SetDeleted marks versions deleted at at (zero: undeleted).
func (s *SecretStore) SetDeleted(ctx context.Context, id string, versions []int64, at time.Time) error {
	now := at
	if now.IsZero() {
		now = time.Now()
	}
	return s.d.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx, id, now); err != nil {
			return err
		}
		for _, v := range versions {
			_, destroyed, err := s.versionState(ctx, tx, id, v)
			if err != nil {
				return err
			}
			if destroyed {
				return secrets.ErrDestroyed
			}
			if _, err := tx.ExecContext(ctx, s.d.Q(qSecSetDeleted), nanos(at), id, v); err != nil {
				return fmt.Errorf("sqlstore: delete secret version: %w", err)
			}
		}
		return nil
	})
}

// DestroyVersions erases the ciphertext and DEK of versions.
func (s *SecretStore) DestroyVersions(ctx context.Context, id string, versions []int64, now time.Time) error {
	return s.d.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx, id, now); err != nil {
			return err
		}
		for _, v := range versions {
			if _, _, err := s.versionState(ctx, tx, id, v); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.d.Q(qSecDestroyVer), []byte{}, []byte{}, nanos(now), id, v); err != nil {
				return fmt.Errorf("sqlstore: destroy secret version: %w", err)
			}
		}
		return nil
	})
}

// DeleteSecret removes the secret, its versions and labels.
func (s *SecretStore) DeleteSecret(ctx context.Context, id string) error {
	return s.d.Tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{qSecDelLabels, qSecDelVersions} {
			if _, err := tx.ExecContext(ctx, s.d.Q(q), id); err != nil {
				return fmt.Errorf("sqlstore: destroy secret: %w", err)
			}
		}
		res, err := tx.ExecContext(ctx, s.d.Q(qSecDelSecret), id)
		if err != nil {
			return fmt.Errorf("sqlstore: destroy secret: %w", err)
		}
		return oneRow(res, secrets.ErrNotFound)
	})
}
