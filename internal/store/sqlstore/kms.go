package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/kms"
)

// KMSStore is the storage of internal/kms: key-encryption key versions,
// sealed data keys, and the one-transaction rewrite of every sealed value
// a master-key rotation makes.
type KMSStore struct{ d *DB }

var _ kms.Store = (*KMSStore)(nil)

// KMS returns the kms domain store on d.
func (d *DB) KMS() *KMSStore { return &KMSStore{d: d} }

// KMS queries. Constant strings with placeholders only.
const (
	qKEKVersions   = `SELECT version, check_value, created_at, retired_at FROM kek_versions ORDER BY version`
	qClaimFirstKEK = `INSERT INTO kek_versions (version, check_value, created_at, retired_at) VALUES (1, ?, ?, 0)
ON CONFLICT DO NOTHING`
	qDataKeys      = `SELECT purpose, sealed FROM kms_data_keys`
	qInsertDataKey = `INSERT INTO kms_data_keys (purpose, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	qSealedSigning = `SELECT kid, private_enc, enc_version FROM signing_keys WHERE LENGTH(private_enc) > 0 ORDER BY kid`
	qCountSigning  = `SELECT COUNT(*) FROM signing_keys WHERE LENGTH(private_enc) > 0`
	qCountDataKeys = `SELECT COUNT(*) FROM kms_data_keys`
	qSealedTOTP    = `SELECT user_id, secret_sealed FROM user_totp ORDER BY user_id`
	qCountTOTP     = `SELECT COUNT(*) FROM user_totp`
	qRewrapTOTP    = `UPDATE user_totp SET secret_sealed = ? WHERE user_id = ? AND secret_sealed = ?`
	qCurrentKEK    = `SELECT version FROM kek_versions WHERE retired_at = 0`
	qLockKeyRing   = `UPDATE key_ring SET generation = generation WHERE id = 1 AND generation = ?`
	qRetireKEK     = `UPDATE kek_versions SET retired_at = ? WHERE version = ? AND retired_at = 0`
	qInsertKEK     = `INSERT INTO kek_versions (version, check_value, created_at, retired_at) VALUES (?, ?, ?, 0)`
	qRewrapSigning = `UPDATE signing_keys SET private_enc = ? WHERE kid = ? AND private_enc = ?`
	qRewrapDataKey = `UPDATE kms_data_keys SET sealed = ? WHERE purpose = ? AND sealed = ?`
)

// KEKVersions returns every key version, oldest first.
func (k *KMSStore) KEKVersions(ctx context.Context) ([]kms.Version, error) {
	rows, err := k.d.db.QueryContext(ctx, qKEKVersions)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: key versions: %w", err)
	}
	defer rows.Close()
	var out []kms.Version
	for rows.Next() {
		var (
			v                kms.Version
			version          int64
			created, retired int64
		)
		if err := rows.Scan(&version, &v.Check, &created, &retired); err != nil {
			return nil, fmt.Errorf("sqlstore: scan key version: %w", err)
		}
		if version < 1 || version > 1<<32-1 {
			return nil, fmt.Errorf("sqlstore: key version %d out of range", version)
		}
		v.Version, v.CreatedAt, v.RetiredAt = uint32(version), fromNanos(created), fromNanos(retired) // #nosec G115 -- range checked above
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: key versions: %w", err)
	}
	return out, nil
}

// ClaimFirstKEK records v as version 1 unless a version is recorded.
func (k *KMSStore) ClaimFirstKEK(ctx context.Context, v kms.Version) error {
	if _, err := k.d.db.ExecContext(ctx, k.d.Q(qClaimFirstKEK), v.Check, nanos(v.CreatedAt)); err != nil {
		return fmt.Errorf("sqlstore: claim key version 1: %w", err)
	}
	return nil
}

// DataKeys returns every sealed data key by purpose.
func (k *KMSStore) DataKeys(ctx context.Context) (map[kms.DataKey][]byte, error) {
	rows, err := k.d.db.QueryContext(ctx, qDataKeys)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: data keys: %w", err)
	}
	defer rows.Close()
	out := map[kms.DataKey][]byte{}
	for rows.Next() {
		var (
			p      string
			sealed []byte
		)
		if err := rows.Scan(&p, &sealed); err != nil {
			return nil, fmt.Errorf("sqlstore: scan data key: %w", err)
		}
		out[kms.DataKey(p)] = sealed
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: data keys: %w", err)
	}
	return out, nil
}

// InsertDataKey stores sealed for purpose unless a row exists.
func (k *KMSStore) InsertDataKey(ctx context.Context, purpose kms.DataKey, sealed []byte) error {
	if _, err := k.d.db.ExecContext(ctx, k.d.Q(qInsertDataKey), string(purpose), sealed, nanos(time.Now())); err != nil {
		return fmt.Errorf("sqlstore: insert data key %s: %w", purpose, err)
	}
	return nil
}
