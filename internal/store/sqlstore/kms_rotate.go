package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rampart-auth/rampart/internal/kms"
)

// RotationSnapshot returns the key ring generation, every signing key
// whose private key is not wiped, every data key, TOTP secret, CA key and
// secret version DEK.
func (k *KMSStore) RotationSnapshot(ctx context.Context) (kms.Snapshot, error) {
	g, err := k.d.Keys().KeyRingGeneration(ctx)
	if err != nil {
		return kms.Snapshot{}, err
	}
	snap := kms.Snapshot{Generation: g}
	rows, err := k.d.db.QueryContext(ctx, qSealedSigning)
	if err != nil {
		return kms.Snapshot{}, fmt.Errorf("sqlstore: sealed signing keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			v   kms.Sealed
			env int
		)
		if err := rows.Scan(&v.ID, &v.Value, &env); err != nil {
			return kms.Snapshot{}, fmt.Errorf("sqlstore: scan signing key: %w", err)
		}
		if env != 1 {
			// Only envelope format 1 (associated data kms.SigningKeyAD)
			// exists; another cannot be re-wrapped without knowing its AD.
			return kms.Snapshot{}, fmt.Errorf("sqlstore: signing key %s has unknown envelope format %d", v.ID, env)
		}
		snap.SigningKeys = append(snap.SigningKeys, v)
	}
	if err := rows.Err(); err != nil {
		return kms.Snapshot{}, fmt.Errorf("sqlstore: sealed signing keys: %w", err)
	}
	if snap.TOTPSecrets, err = k.sealedRows(ctx, qSealedTOTP, "totp secrets"); err != nil {
		return kms.Snapshot{}, err
	}
	if snap.CAKeys, err = k.sealedRows(ctx, qSealedCA, "ca keys"); err != nil {
		return kms.Snapshot{}, err
	}
	if snap.SecretDEKs, err = k.sealedSecretDEKs(ctx); err != nil {
		return kms.Snapshot{}, err
	}
	dk, err := k.DataKeys(ctx)
	if err != nil {
		return kms.Snapshot{}, err
	}
	for p, v := range dk {
		snap.DataKeys = append(snap.DataKeys, kms.Sealed{ID: string(p), Value: v})
	}
	return snap, nil
}

// sealedRows returns the (id, sealed value) rows of the constant query q:
// the TOTP secrets by user id, the CA keys by authority id.
func (k *KMSStore) sealedRows(ctx context.Context, q, what string) ([]kms.Sealed, error) {
	rows, err := k.d.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: sealed %s: %w", what, err)
	}
	defer rows.Close()
	var out []kms.Sealed
	for rows.Next() {
		var v kms.Sealed
		if err := rows.Scan(&v.ID, &v.Value); err != nil {
			return nil, fmt.Errorf("sqlstore: scan sealed %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: sealed %s: %w", what, err)
	}
	return out, nil
}

// ApplyRotation applies r in one transaction, or nothing: the key ring is
// locked at r.Generation without bumping it (running instances, holding
// the old key, must not reload keys they can no longer open; on
// PostgreSQL the row lock makes a concurrent key ring change wait or
// conflict, on SQLite the immediate transaction serializes), the version
// is retired and the next recorded, every value is replaced where it
// still holds the snapshot's bytes, and no sealed row exists that the
// snapshot missed. Any difference is kms.ErrConflict.
func (k *KMSStore) ApplyRotation(ctx context.Context, r kms.Rotation, beforeCommit func() error) error {
	return k.d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, k.d.Q(qLockKeyRing), r.Generation)
		if err != nil {
			return fmt.Errorf("sqlstore: lock key ring: %w", err)
		}
		if err := oneRow(res, kms.ErrConflict); err != nil {
			return err
		}
		if res, err = tx.ExecContext(ctx, k.d.Q(qRetireKEK), nanos(r.RetiredAt), int64(r.Retire)); err != nil {
			return fmt.Errorf("sqlstore: retire key version %d: %w", r.Retire, err)
		}
		if err := oneRow(res, kms.ErrConflict); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, k.d.Q(qInsertKEK), int64(r.New.Version), r.New.Check, nanos(r.New.CreatedAt)); err != nil {
			return fmt.Errorf("sqlstore: record key version %d: %w", r.New.Version, err)
		}
		if err := rewrapRows(ctx, tx, k.d.Q(qRewrapSigning), k.d.Q(qCountSigning), r.SigningKeys); err != nil {
			return err
		}
		if err := rewrapRows(ctx, tx, k.d.Q(qRewrapDataKey), k.d.Q(qCountDataKeys), r.DataKeys); err != nil {
			return err
		}
		if err := rewrapRows(ctx, tx, k.d.Q(qRewrapTOTP), k.d.Q(qCountTOTP), r.TOTPSecrets); err != nil {
			return err
		}
		if err := rewrapRows(ctx, tx, k.d.Q(qRewrapCA), k.d.Q(qCountCA), r.CAKeys); err != nil {
			return err
		}
		if err := k.rewrapSecretDEKs(ctx, tx, r.SecretDEKs); err != nil {
			return err
		}
		if beforeCommit != nil {
			return beforeCommit()
		}
		return nil
	})
}

// rewrapRows replaces each value where the row still holds Old, then
// checks that no other sealed row exists.
func rewrapRows(ctx context.Context, tx *sql.Tx, update, count string, rw []kms.Rewrap) error {
	for _, w := range rw {
		res, err := tx.ExecContext(ctx, update, w.New, w.ID, w.Old)
		if err != nil {
			return fmt.Errorf("sqlstore: re-wrap %s: %w", w.ID, err)
		}
		if err := oneRow(res, kms.ErrConflict); err != nil {
			return err
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, count).Scan(&n); err != nil {
		return fmt.Errorf("sqlstore: count sealed rows: %w", err)
	}
	if n != len(rw) {
		return kms.ErrConflict
	}
	return nil
}

// checkSealedVersion refuses to store a signing key sealed under another
// key version than the store's current one: an instance still running
// with a retired master key must not add a key the instances restarted
// with the new one cannot open. Without recorded versions (kms not used
// yet) anything goes.
func checkSealedVersion(ctx context.Context, tx *sql.Tx, kid string, sealed []byte) error {
	var cur int64
	err := tx.QueryRowContext(ctx, qCurrentKEK).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlstore: current key version: %w", err)
	}
	if v := kms.CiphertextVersion(sealed); int64(v) != cur {
		return fmt.Errorf("sqlstore: insert signing key %s: sealed under key version %d, the store is at version %d "+
			"(the master key was rotated: restart this instance with the new key)", kid, v, cur)
	}
	return nil
}
