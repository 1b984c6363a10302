package sqlstore

// The master-key rotation's re-wrap of the secrets' data keys.

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/rampart-auth/rampart/internal/kms"
)

// sealedSecretDEKs returns the DEK of every version not destroyed, by
// kms.SecretDEKID (a master-key rotation re-wraps them).
func (k *KMSStore) sealedSecretDEKs(ctx context.Context) ([]kms.Sealed, error) {
	rows, err := k.d.db.QueryContext(ctx, qSealedSecretDEKs)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: sealed secret data keys: %w", err)
	}
	defer rows.Close()
	var out []kms.Sealed
	for rows.Next() {
		var (
			id string
			v  int64
			c  []byte
		)
		if err := rows.Scan(&id, &v, &c); err != nil {
			return nil, fmt.Errorf("sqlstore: scan sealed secret data key: %w", err)
		}
		out = append(out, kms.Sealed{ID: kms.SecretDEKID(id, v), Value: c})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: sealed secret data keys: %w", err)
	}
	return out, nil
}

// rewrapSecretDEKs replaces each DEK where the row still holds Old, then
// checks that no other sealed DEK exists (a version added since the
// snapshot stops the rotation: kms.ErrConflict).
func (k *KMSStore) rewrapSecretDEKs(ctx context.Context, tx *sql.Tx, rw []kms.Rewrap) error {
	for _, w := range rw {
		id, v, ok := kms.ParseSecretDEKID(w.ID)
		if !ok {
			return fmt.Errorf("sqlstore: re-wrap: malformed secret data key id %q", w.ID)
		}
		res, err := tx.ExecContext(ctx, k.d.Q(qRewrapSecretDEK), w.New, id, v, w.Old)
		if err != nil {
			return fmt.Errorf("sqlstore: re-wrap %s: %w", w.ID, err)
		}
		if err := oneRow(res, kms.ErrConflict); err != nil {
			return err
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, qCountSecretDEKs).Scan(&n); err != nil {
		return fmt.Errorf("sqlstore: count sealed rows: %w", err)
	}
	if n != len(rw) {
		return kms.ErrConflict
	}
	return nil
}
