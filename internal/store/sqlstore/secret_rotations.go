package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

// SecretRotationStore holds the rotation engine's runs
// (internal/secrets/rotation, migration 0017_secret_rotations).
type SecretRotationStore struct{ d *DB }

var _ rotation.RunStore = (*SecretRotationStore)(nil)

// SecretRotations returns the rotation-run domain store on d.
func (d *DB) SecretRotations() *SecretRotationStore { return &SecretRotationStore{d: d} }

// Rotation-run queries: constant strings, every value bound (OWASP SQL
// Injection Prevention Cheat Sheet, defence 1).
const (
	qRotCols = `id, path, rotator, step, outcome, pending_version, emergency, reason, requested_by, attempts, last_error,
       started_at, updated_at, finished_at, next_attempt_at`
	qRotInsert = `INSERT INTO secret_rotations (id, path, rotator, step, outcome, pending_version, emergency, reason, requested_by,
       attempts, last_error, started_at, updated_at, finished_at, next_attempt_at, claimed_by, claimed_until)
VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`
	// The fleet-wide claim: of two instances claiming the same run, the
	// conditional UPDATE lets one through (the row changes under the
	// first, so the second's WHERE no longer holds).
	qRotClaim = `UPDATE secret_rotations SET claimed_by = ?, claimed_until = ?
 WHERE id = ? AND finished_at = 0 AND (claimed_by = ? OR claimed_by = '' OR claimed_until < ?)`
	qRotSave = `UPDATE secret_rotations SET step = ?, outcome = ?, pending_version = ?, emergency = ?, attempts = ?, last_error = ?,
       updated_at = ?, finished_at = ?, next_attempt_at = ?, claimed_by = ?, claimed_until = ?
 WHERE id = ? AND finished_at = 0 AND claimed_by = ?`
	qRotOpen     = `SELECT ` + qRotCols + ` FROM secret_rotations WHERE path = ? AND finished_at = 0`
	qRotLatest   = `SELECT ` + qRotCols + ` FROM secret_rotations WHERE path = ? ORDER BY started_at DESC, id DESC LIMIT 1`
	qRotLatestOf = `SELECT ` + qRotCols + ` FROM secret_rotations WHERE path = ? AND outcome = ? ORDER BY started_at DESC, id DESC LIMIT 1`
	qRotOpenRuns = `SELECT ` + qRotCols + ` FROM secret_rotations WHERE finished_at = 0 ORDER BY started_at, id`
)

// CreateRun inserts r claimed by owner, or returns the path's open run.
func (s *SecretRotationStore) CreateRun(ctx context.Context, r rotation.Run, owner string, until time.Time) (rotation.Run, bool, error) {
	_, err := s.d.db.ExecContext(ctx, s.d.Q(qRotInsert), r.ID, string(r.Path), r.Rotator, string(r.Step), r.PendingVersion, boolInt(r.Emergency),
		r.Reason, r.RequestedBy, r.Attempts, r.LastError, nanos(r.StartedAt), nanos(r.UpdatedAt), nanos(r.NextAttemptAt), owner, nanos(until))
	if isUnique(err) {
		open, err := s.OpenRun(ctx, r.Path)
		if errors.Is(err, secrets.ErrNotFound) {
			// The open run ended between the insert and the read: the
			// caller starts again.
			return rotation.Run{}, false, secrets.ErrConflict
		}
		return open, false, err
	}
	if err != nil {
		return rotation.Run{}, false, fmt.Errorf("sqlstore: create rotation run: %w", err)
	}
	return r, true, nil
}

// ClaimRun claims the open run id for owner until until.
func (s *SecretRotationStore) ClaimRun(ctx context.Context, id, owner string, now, until time.Time) (bool, error) {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qRotClaim), owner, nanos(until), id, owner, nanos(now))
	if err != nil {
		return false, fmt.Errorf("sqlstore: claim rotation run: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: claim rotation run: %w", err)
	}
	return n == 1, nil
}

// SaveRun writes r while owner holds its claim.
func (s *SecretRotationStore) SaveRun(ctx context.Context, r rotation.Run, owner string, until time.Time) (bool, error) {
	by, u := owner, nanos(until)
	if !r.FinishedAt.IsZero() {
		by, u = "", 0
	}
	res, err := s.d.db.ExecContext(ctx, s.d.Q(qRotSave), string(r.Step), r.Outcome, r.PendingVersion, boolInt(r.Emergency), r.Attempts, r.LastError,
		nanos(r.UpdatedAt), nanos(r.FinishedAt), nanos(r.NextAttemptAt), by, u, r.ID, owner)
	if err != nil {
		return false, fmt.Errorf("sqlstore: save rotation run: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: save rotation run: %w", err)
	}
	return n == 1, nil
}

// OpenRun returns the path's open run.
func (s *SecretRotationStore) OpenRun(ctx context.Context, path secrets.Path) (rotation.Run, error) {
	return s.one(ctx, qRotOpen, string(path))
}

// LatestRun returns the path's newest run with outcome ("" any).
func (s *SecretRotationStore) LatestRun(ctx context.Context, path secrets.Path, outcome string) (rotation.Run, error) {
	if outcome == "" {
		return s.one(ctx, qRotLatest, string(path))
	}
	return s.one(ctx, qRotLatestOf, string(path), outcome)
}

// OpenRuns returns every open run, oldest first.
func (s *SecretRotationStore) OpenRuns(ctx context.Context) ([]rotation.Run, error) {
	rows, err := s.d.db.QueryContext(ctx, qRotOpenRuns)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open rotation runs: %w", err)
	}
	defer rows.Close()
	var out []rotation.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: open rotation runs: %w", err)
	}
	return out, nil
}

func (s *SecretRotationStore) one(ctx context.Context, q string, args ...any) (rotation.Run, error) {
	r, err := scanRun(s.d.db.QueryRowContext(ctx, s.d.Q(q), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return rotation.Run{}, secrets.ErrNotFound
	}
	return r, err
}

func scanRun(sc scanner) (rotation.Run, error) {
	var (
		r                                       rotation.Run
		path, step                              string
		emergency                               int64
		started, updated, finished, nextAttempt int64
	)
	err := sc.Scan(&r.ID, &path, &r.Rotator, &step, &r.Outcome, &r.PendingVersion, &emergency, &r.Reason, &r.RequestedBy,
		&r.Attempts, &r.LastError, &started, &updated, &finished, &nextAttempt)
	if errors.Is(err, sql.ErrNoRows) {
		return rotation.Run{}, err
	}
	if err != nil {
		return rotation.Run{}, fmt.Errorf("sqlstore: scan rotation run: %w", err)
	}
	r.Path, r.Step, r.Emergency = secrets.Path(path), rotation.Step(step), emergency != 0
	r.StartedAt, r.UpdatedAt, r.FinishedAt, r.NextAttemptAt = fromNanos(started), fromNanos(updated), fromNanos(finished), fromNanos(nextAttempt)
	return r, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
