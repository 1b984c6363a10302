package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/keys"
)

// Key ring queries. Constant strings with placeholders only.
const (
	qKeyRingGeneration = `SELECT generation FROM key_ring WHERE id = 1`
	qSelectSigningKeys = `SELECT kid, algorithm, state, public_jwk, private_enc, enc_version,
       created_at, activate_at, retired_at, remove_at
  FROM signing_keys ORDER BY created_at, kid`
	// The compare-and-swap: on PostgreSQL (READ COMMITTED) a concurrent
	// transaction blocks on the row lock and then re-checks the WHERE
	// against the committed row, so exactly one of two racers updates it;
	// on SQLite the immediate transaction serializes writers.
	qBumpGeneration = `UPDATE key_ring SET generation = generation + 1 WHERE id = 1 AND generation = ?`
	qUpdateKey      = `UPDATE signing_keys SET state = ?, activate_at = ?, retired_at = ?, remove_at = ?
 WHERE kid = ? AND state = ?`
	qUpdateKeyWipe = `UPDATE signing_keys SET state = ?, activate_at = ?, retired_at = ?, remove_at = ?, private_enc = ?
 WHERE kid = ? AND state = ?`
	qInsertKey = `INSERT INTO signing_keys (kid, algorithm, state, public_jwk, private_enc, enc_version,
       created_at, activate_at, retired_at, remove_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// KeyRingGeneration returns key_ring.generation.
func (s *KeyStore) KeyRingGeneration(ctx context.Context) (int64, error) {
	var g int64
	if err := s.d.db.QueryRowContext(ctx, qKeyRingGeneration).Scan(&g); err != nil {
		return 0, fmt.Errorf("sqlstore: key ring generation: %w", err)
	}
	return g, nil
}

// LoadKeyRing returns the generation and every signing key, oldest first.
// The generation is read before the keys: a concurrent change can only make
// the snapshot look older than it is (and be reloaded), never newer.
func (s *KeyStore) LoadKeyRing(ctx context.Context) (keys.KeyRing, error) {
	g, err := s.KeyRingGeneration(ctx)
	if err != nil {
		return keys.KeyRing{}, err
	}
	rows, err := s.d.db.QueryContext(ctx, qSelectSigningKeys)
	if err != nil {
		return keys.KeyRing{}, fmt.Errorf("sqlstore: load signing keys: %w", err)
	}
	defer rows.Close()
	kr := keys.KeyRing{Generation: g}
	for rows.Next() {
		var (
			r                                  keys.KeyRecord
			state, pub                         string
			created, activate, retired, remove int64
		)
		if err := rows.Scan(&r.KID, &r.Algorithm, &state, &pub, &r.PrivateEnc, &r.EncVersion,
			&created, &activate, &retired, &remove); err != nil {
			return keys.KeyRing{}, fmt.Errorf("sqlstore: scan signing key: %w", err)
		}
		r.State, r.PublicJWK = keys.State(state), []byte(pub)
		if r.State == keys.StateRemoved && retired != 0 && retired == remove {
			r.State = keys.StateRevoked // see storedState
		}
		r.CreatedAt, r.ActivateAt, r.RetiredAt, r.RemoveAt = fromNanos(created), fromNanos(activate), fromNanos(retired), fromNanos(remove)
		kr.Keys = append(kr.Keys, r)
	}
	if err := rows.Err(); err != nil {
		return keys.KeyRing{}, fmt.Errorf("sqlstore: load signing keys: %w", err)
	}
	return kr, nil
}

// UpdateKeyRing applies change in one transaction guarded by a
// compare-and-swap of key_ring.generation from expect to expect+1. It
// returns keys.ErrConflict, having changed nothing, when the generation
// moved or an updated key is no longer in its From state.
func (s *KeyStore) UpdateKeyRing(ctx context.Context, expect int64, change keys.KeyRingChange) (int64, error) {
	err := s.d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.Q(qBumpGeneration), expect)
		if err != nil {
			return fmt.Errorf("sqlstore: bump key ring generation: %w", err)
		}
		if err := oneRow(res, keys.ErrConflict); err != nil {
			return err
		}
		for _, u := range change.Updates {
			to, err := storedState(u)
			if err != nil {
				return err
			}
			var res sql.Result
			if u.WipePrivate {
				res, err = tx.ExecContext(ctx, s.d.Q(qUpdateKeyWipe), to, nanos(u.ActivateAt), nanos(u.RetiredAt),
					nanos(u.RemoveAt), []byte{}, u.KID, string(u.From))
			} else {
				res, err = tx.ExecContext(ctx, s.d.Q(qUpdateKey), to, nanos(u.ActivateAt), nanos(u.RetiredAt),
					nanos(u.RemoveAt), u.KID, string(u.From))
			}
			if err != nil {
				return fmt.Errorf("sqlstore: update signing key %s: %w", u.KID, err)
			}
			if err := oneRow(res, keys.ErrConflict); err != nil {
				return err
			}
		}
		for _, r := range change.Inserts {
			if r.State == keys.StateRevoked || r.State == keys.StateRemoved {
				return fmt.Errorf("sqlstore: insert signing key %s: a new key cannot be %s", r.KID, r.State)
			}
			if _, err := tx.ExecContext(ctx, s.d.Q(qInsertKey), r.KID, r.Algorithm, string(r.State), string(r.PublicJWK),
				r.PrivateEnc, r.EncVersion, nanos(r.CreatedAt), nanos(r.ActivateAt), nanos(r.RetiredAt), nanos(r.RemoveAt)); err != nil {
				return fmt.Errorf("sqlstore: insert signing key %s: %w", r.KID, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return expect + 1, nil
}

// storedState is the state column for an update. The schema (0001) allows
// only published, active, retired and removed, so a revoked key is stored
// as removed with retired_at = remove_at = the revocation time: a key the
// schedule removes always has remove_at = retired_at + the longest token
// lifetime + clock skew, strictly later, so the two never look alike, and
// an older binary reading the row sees a removed key, which it neither
// signs with nor publishes. (A later migration may store 'revoked' itself.)
func storedState(u keys.KeyUpdate) (string, error) {
	if u.To != keys.StateRevoked {
		return string(u.To), nil
	}
	if u.RetiredAt.IsZero() || !u.RetiredAt.Equal(u.RemoveAt) || !u.WipePrivate {
		return "", fmt.Errorf("sqlstore: revoke signing key %s: retired_at and remove_at must both be the revocation time, and the private key wiped", u.KID)
	}
	return string(keys.StateRemoved), nil
}

func oneRow(res sql.Result, errNone error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	if n != 1 {
		return errNone
	}
	return nil
}

// nanos stores a time as Unix nanoseconds, the zero time as 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
