package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// SecretStore is the storage of internal/secrets: secrets, their
// versions (sealed values and DEKs) and labels.
type SecretStore struct{ d *DB }

var _ secrets.Store = (*SecretStore)(nil)

// Secrets returns the secrets domain store on d.
func (d *DB) Secrets() *SecretStore { return &SecretStore{d: d} }

// Secrets queries. Constant strings with placeholders only: paths, labels
// and metadata are bound parameters, never SQL text (OWASP SQL Injection
// Prevention Cheat Sheet, defence 1).
const (
	qSecByPath  = `SELECT id, path, current_version, metadata, created_at, updated_at FROM secrets WHERE path = ?`
	qSecLabels  = `SELECT label, version FROM secret_labels WHERE secret_id = ? ORDER BY label`
	qSecListAll = `SELECT s.id, s.path, s.current_version, s.metadata, s.created_at, s.updated_at, COALESCE(l.label, ''), COALESCE(l.version, 0)
  FROM secrets s LEFT JOIN secret_labels l ON l.secret_id = s.id ORDER BY s.path, l.label`
	// Whole segments: the path itself, or what starts with prefix + "/"
	// (substr, not LIKE: '_' is a LIKE wildcard and valid in paths).
	qSecListPrefix = `SELECT s.id, s.path, s.current_version, s.metadata, s.created_at, s.updated_at, COALESCE(l.label, ''), COALESCE(l.version, 0)
  FROM secrets s LEFT JOIN secret_labels l ON l.secret_id = s.id
 WHERE s.path = ? OR substr(s.path, 1, ?) = ? ORDER BY s.path, l.label`
	// One round trip per read: the secret, the version the label (or
	// number) selects, and that version's labels (one row per label).
	qSecReadCols = `SELECT s.id, s.path, s.current_version, s.metadata, s.created_at, s.updated_at,
       v.secret_id, v.version, v.dek_sealed, v.ciphertext, v.created_at, v.created_by, v.deleted_at, v.destroyed_at,
       COALESCE(l2.label, '')
  FROM secrets s `
	qSecReadByLabel = qSecReadCols + `JOIN secret_labels l ON l.secret_id = s.id AND l.label = ?
  JOIN secret_versions v ON v.secret_id = l.secret_id AND v.version = l.version
  LEFT JOIN secret_labels l2 ON l2.secret_id = v.secret_id AND l2.version = v.version
 WHERE s.path = ? ORDER BY l2.label`
	qSecReadByVersion = qSecReadCols + `JOIN secret_versions v ON v.secret_id = s.id AND v.version = ?
  LEFT JOIN secret_labels l2 ON l2.secret_id = v.secret_id AND l2.version = v.version
 WHERE s.path = ? ORDER BY l2.label`
	qSecVersions = `SELECT v.secret_id, v.version, v.created_at, v.created_by, v.deleted_at, v.destroyed_at, COALESCE(l.label, '')
  FROM secret_versions v LEFT JOIN secret_labels l ON l.secret_id = v.secret_id AND l.version = v.version
 WHERE v.secret_id = ? ORDER BY v.version, l.label`

	qSecInsert = `INSERT INTO secrets (id, path, current_version, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`
	// The check-and-set: of two writers expecting the same version, the
	// second finds the row changed and updates nothing.
	qSecBump         = `UPDATE secrets SET current_version = ?, updated_at = ? WHERE id = ? AND current_version = ?`
	qSecBumpMeta     = `UPDATE secrets SET current_version = ?, updated_at = ?, metadata = ? WHERE id = ? AND current_version = ?`
	qSecTouch        = `UPDATE secrets SET updated_at = ? WHERE id = ?`
	qSecInsertVer    = `INSERT INTO secret_versions (secret_id, version, dek_sealed, ciphertext, created_at, created_by, deleted_at, destroyed_at) VALUES (?, ?, ?, ?, ?, ?, 0, 0)`
	qSecLabel        = `SELECT version FROM secret_labels WHERE secret_id = ? AND label = ?`
	qSecUpsertLabel  = `INSERT INTO secret_labels (secret_id, label, version) VALUES (?, ?, ?) ON CONFLICT (secret_id, label) DO UPDATE SET version = excluded.version`
	qSecDeleteLabel  = `DELETE FROM secret_labels WHERE secret_id = ? AND label = ?`
	qSecVersionState = `SELECT deleted_at, destroyed_at FROM secret_versions WHERE secret_id = ? AND version = ?`
	qSecSetDeleted   = `UPDATE secret_versions SET deleted_at = ? WHERE secret_id = ? AND version = ? AND destroyed_at = 0`
	qSecDestroyVer   = `UPDATE secret_versions SET dek_sealed = ?, ciphertext = ?, destroyed_at = ? WHERE secret_id = ? AND version = ? AND destroyed_at = 0`
	// Beyond keep: unlabelled, not yet destroyed, numbered at most
	// newest - keep.
	qSecPrune = `UPDATE secret_versions SET dek_sealed = ?, ciphertext = ?, destroyed_at = ?
 WHERE secret_id = ? AND version <= ? AND destroyed_at = 0
   AND NOT EXISTS (SELECT 1 FROM secret_labels l WHERE l.secret_id = secret_versions.secret_id AND l.version = secret_versions.version)
 RETURNING version`
	qSecDelLabels   = `DELETE FROM secret_labels WHERE secret_id = ?`
	qSecDelVersions = `DELETE FROM secret_versions WHERE secret_id = ?`
	qSecDelSecret   = `DELETE FROM secrets WHERE id = ?` // #nosec G101 -- SQL over the secrets table, not a credential

	qSealedSecretDEKs = `SELECT secret_id, version, dek_sealed FROM secret_versions WHERE LENGTH(dek_sealed) > 0 ORDER BY secret_id, version`
	qCountSecretDEKs  = `SELECT COUNT(*) FROM secret_versions WHERE LENGTH(dek_sealed) > 0` // #nosec G101 -- SQL over sealed data keys, not a credential
	qRewrapSecretDEK  = `UPDATE secret_versions SET dek_sealed = ? WHERE secret_id = ? AND version = ? AND dek_sealed = ?`
)

// SecretByPath returns the secret at path with its labels.
func (s *SecretStore) SecretByPath(ctx context.Context, path secrets.Path) (secrets.SecretRecord, error) {
	var (
		r                secrets.SecretRecord
		md               string
		created, updated int64
	)
	err := s.d.db.QueryRowContext(ctx, s.d.Q(qSecByPath), string(path)).Scan(&r.ID, &r.Path, &r.CurrentVersion, &md, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return secrets.SecretRecord{}, secrets.ErrNotFound
	}
	if err != nil {
		return secrets.SecretRecord{}, fmt.Errorf("sqlstore: secret: %w", err)
	}
	r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
	if r.Metadata, err = decodeMetadata(md); err != nil {
		return secrets.SecretRecord{}, err
	}
	rows, err := s.d.db.QueryContext(ctx, s.d.Q(qSecLabels), r.ID)
	if err != nil {
		return secrets.SecretRecord{}, fmt.Errorf("sqlstore: secret labels: %w", err)
	}
	defer rows.Close()
	r.Labels = map[string]int64{}
	for rows.Next() {
		var (
			l string
			v int64
		)
		if err := rows.Scan(&l, &v); err != nil {
			return secrets.SecretRecord{}, fmt.Errorf("sqlstore: scan secret label: %w", err)
		}
		r.Labels[l] = v
	}
	if err := rows.Err(); err != nil {
		return secrets.SecretRecord{}, fmt.Errorf("sqlstore: secret labels: %w", err)
	}
	return r, nil
}

// ReadVersion returns the secret at path and the version sel selects.
func (s *SecretStore) ReadVersion(ctx context.Context, path secrets.Path, sel secrets.Selector) (secrets.SecretRecord, secrets.VersionRecord, error) {
	q, arg := qSecReadByLabel, any(sel.Label)
	if sel.Version != 0 {
		q, arg = qSecReadByVersion, sel.Version
	}
	rows, err := s.d.queryCached(ctx, s.d.Q(q), arg, string(path))
	if err != nil {
		return secrets.SecretRecord{}, secrets.VersionRecord{}, fmt.Errorf("sqlstore: read secret: %w", err)
	}
	defer rows.Close()
	var (
		r     secrets.SecretRecord
		v     secrets.VersionRecord
		found bool
	)
	for rows.Next() {
		var (
			md                                       string
			created, updated, vc, deleted, destroyed int64
			label                                    string
		)
		if err := rows.Scan(&r.ID, &r.Path, &r.CurrentVersion, &md, &created, &updated,
			&v.SecretID, &v.Version, &v.DEKSealed, &v.Ciphertext, &vc, &v.CreatedBy, &deleted, &destroyed, &label); err != nil {
			return secrets.SecretRecord{}, secrets.VersionRecord{}, fmt.Errorf("sqlstore: scan secret: %w", err)
		}
		if !found {
			r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
			v.CreatedAt, v.DeletedAt, v.DestroyedAt = fromNanos(vc), fromNanos(deleted), fromNanos(destroyed)
			if r.Metadata, err = decodeMetadata(md); err != nil {
				return secrets.SecretRecord{}, secrets.VersionRecord{}, err
			}
			found = true
		}
		if label != "" {
			v.Labels = append(v.Labels, label)
		}
	}
	if err := rows.Err(); err != nil {
		return secrets.SecretRecord{}, secrets.VersionRecord{}, fmt.Errorf("sqlstore: read secret: %w", err)
	}
	if !found {
		return secrets.SecretRecord{}, secrets.VersionRecord{}, secrets.ErrNotFound
	}
	return r, v, nil
}

// ListSecrets returns the secrets under prefix with their labels, by path.
func (s *SecretStore) ListSecrets(ctx context.Context, prefix secrets.Prefix) ([]secrets.SecretRecord, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if prefix.All() {
		rows, err = s.d.db.QueryContext(ctx, qSecListAll)
	} else {
		p := string(prefix.Path())
		rows, err = s.d.db.QueryContext(ctx, s.d.Q(qSecListPrefix), p, len(p)+1, p+"/")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list secrets: %w", err)
	}
	defer rows.Close()
	var out []secrets.SecretRecord
	for rows.Next() {
		var (
			r                secrets.SecretRecord
			md, label        string
			created, updated int64
			lv               int64
		)
		if err := rows.Scan(&r.ID, &r.Path, &r.CurrentVersion, &md, &created, &updated, &label, &lv); err != nil {
			return nil, fmt.Errorf("sqlstore: scan secret: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].ID != r.ID {
			r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
			if r.Metadata, err = decodeMetadata(md); err != nil {
				return nil, err
			}
			r.Labels = map[string]int64{}
			out = append(out, r)
		}
		if label != "" {
			out[len(out)-1].Labels[label] = lv
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list secrets: %w", err)
	}
	return out, nil
}

// SecretVersions returns every version of the secret without values.
func (s *SecretStore) SecretVersions(ctx context.Context, secretID string) ([]secrets.VersionRecord, error) {
	rows, err := s.d.db.QueryContext(ctx, s.d.Q(qSecVersions), secretID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: secret versions: %w", err)
	}
	defer rows.Close()
	var out []secrets.VersionRecord
	for rows.Next() {
		var (
			v                           secrets.VersionRecord
			created, deleted, destroyed int64
			label                       string
		)
		if err := rows.Scan(&v.SecretID, &v.Version, &created, &v.CreatedBy, &deleted, &destroyed, &label); err != nil {
			return nil, fmt.Errorf("sqlstore: scan secret version: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].Version != v.Version {
			v.CreatedAt, v.DeletedAt, v.DestroyedAt = fromNanos(created), fromNanos(deleted), fromNanos(destroyed)
			out = append(out, v)
		}
		if label != "" {
			out[len(out)-1].Labels = append(out[len(out)-1].Labels, label)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: secret versions: %w", err)
	}
	return out, nil
}

// InsertVersion applies one Put in one transaction (secrets.VersionWrite).
func (s *SecretStore) InsertVersion(ctx context.Context, w secrets.VersionWrite) ([]int64, error) {
	v := w.Version
	md, err := encodeMetadata(w.Metadata)
	if err != nil {
		return nil, err
	}
	var destroyed []int64
	err = s.d.Tx(ctx, func(tx *sql.Tx) error {
		// The key ring lock orders this insert with a master-key
		// rotation, and the version check refuses a DEK sealed under a
		// retired key (an instance not yet restarted with the new key).
		if _, err := tx.ExecContext(ctx, qLockKeyRingAny); err != nil {
			return fmt.Errorf("sqlstore: lock key ring: %w", err)
		}
		if err := checkSealedVersion(ctx, tx, "secret data key", v.DEKSealed); err != nil {
			return err
		}
		now := nanos(w.Now)
		if w.Create {
			if v.Version != 1 || w.Expect != 0 {
				return fmt.Errorf("sqlstore: a new secret starts at version 1")
			}
			if _, err := tx.ExecContext(ctx, s.d.Q(qSecInsert), v.SecretID, string(w.Path), v.Version, md, now, now); err != nil {
				if isUnique(err) {
					return secrets.ErrConflict
				}
				return fmt.Errorf("sqlstore: insert secret: %w", err)
			}
		} else {
			if v.Version != w.Expect+1 {
				return fmt.Errorf("sqlstore: version %d does not follow %d", v.Version, w.Expect)
			}
			var res sql.Result
			if w.SetMetadata {
				res, err = tx.ExecContext(ctx, s.d.Q(qSecBumpMeta), v.Version, now, md, v.SecretID, w.Expect)
			} else {
				res, err = tx.ExecContext(ctx, s.d.Q(qSecBump), v.Version, now, v.SecretID, w.Expect)
			}
			if err != nil {
				return fmt.Errorf("sqlstore: bump secret version: %w", err)
			}
			if err := oneRow(res, secrets.ErrConflict); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.d.Q(qSecInsertVer), v.SecretID, v.Version, v.DEKSealed, v.Ciphertext,
			nanos(v.CreatedAt), v.CreatedBy); err != nil {
			if isUnique(err) {
				return secrets.ErrConflict
			}
			return fmt.Errorf("sqlstore: insert secret version: %w", err)
		}
		for _, l := range w.Labels {
			if err := s.pointLabel(ctx, tx, v.SecretID, l, v.Version); err != nil {
				return err
			}
		}
		if w.Keep > 0 && v.Version > int64(w.Keep) {
			var err error
			if destroyed, err = s.prune(ctx, tx, v.SecretID, v.Version-int64(w.Keep), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return destroyed, nil
}

// pointLabel points label at version; moving current points previous at
// the version current held (AWS staging-label semantics).
func (s *SecretStore) pointLabel(ctx context.Context, tx *sql.Tx, id, label string, version int64) error {
	if label == secrets.LabelCurrent {
		old, ok, err := s.labelVersion(ctx, tx, id, label)
		if err != nil {
			return err
		}
		if ok && old != version {
			if _, err := tx.ExecContext(ctx, s.d.Q(qSecUpsertLabel), id, secrets.LabelPrevious, old); err != nil {
				return fmt.Errorf("sqlstore: move previous label: %w", err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.Q(qSecUpsertLabel), id, label, version); err != nil {
		return fmt.Errorf("sqlstore: move label: %w", err)
	}
	return nil
}

func (s *SecretStore) labelVersion(ctx context.Context, tx *sql.Tx, id, label string) (int64, bool, error) {
	var v int64
	err := tx.QueryRowContext(ctx, s.d.Q(qSecLabel), id, label).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("sqlstore: secret label: %w", err)
	}
	return v, true, nil
}

// prune destroys the unlabelled versions numbered at most upTo.
func (s *SecretStore) prune(ctx context.Context, tx *sql.Tx, id string, upTo, now int64) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, s.d.Q(qSecPrune), []byte{}, []byte{}, now, id, upTo)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: prune secret versions: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("sqlstore: prune secret versions: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: prune secret versions: %w", err)
	}
	return out, nil
}

// lock takes the secret's row (PostgreSQL: a row lock until commit;
// SQLite: the immediate transaction already serializes), so label moves
// and version state changes of one secret apply one after the other.
func (s *SecretStore) lock(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	res, err := tx.ExecContext(ctx, s.d.Q(qSecTouch), nanos(now), id)
	if err != nil {
		return fmt.Errorf("sqlstore: lock secret: %w", err)
	}
	return oneRow(res, secrets.ErrNotFound)
}

// versionState returns whether version exists, is deleted, is destroyed.
func (s *SecretStore) versionState(ctx context.Context, tx *sql.Tx, id string, version int64) (deleted, destroyed bool, err error) {
	var d, x int64
	err = tx.QueryRowContext(ctx, s.d.Q(qSecVersionState), id, version).Scan(&d, &x)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, secrets.ErrNotFound
	}
	if err != nil {
		return false, false, fmt.Errorf("sqlstore: secret version: %w", err)
	}
	return d != 0, x != 0, nil
}

// decodeMetadata reads the metadata column (a JSON object of strings).
func decodeMetadata(s string) (map[string]string, error) {
	md := map[string]string{}
	if s == "" {
		return md, nil
	}
	if err := json.Unmarshal([]byte(s), &md); err != nil {
		return nil, fmt.Errorf("sqlstore: secret metadata: %w", err)
	}
	return md, nil
}

func encodeMetadata(md map[string]string) (string, error) {
	if md == nil {
		md = map[string]string{}
	}
	b, err := json.Marshal(md)
	if err != nil {
		return "", fmt.Errorf("sqlstore: secret metadata: %w", err)
	}
	return string(b), nil
}
