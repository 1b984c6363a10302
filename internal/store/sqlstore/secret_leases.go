package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/pgdyn"
)

// SecretLeaseStore is the storage of internal/secrets/pgdyn: the leases
// of dynamic PostgreSQL credentials (never their passwords).
type SecretLeaseStore struct{ d *DB }

var _ pgdyn.LeaseStore = (*SecretLeaseStore)(nil)

// SecretLeases returns the dynamic-credential lease store on d.
func (d *DB) SecretLeases() *SecretLeaseStore { return &SecretLeaseStore{d: d} }

// Lease queries. Constant strings with placeholders only: ids, paths and
// usernames are bound parameters, never SQL text (OWASP SQL Injection
// Prevention Cheat Sheet, defence 1). Each transition is one conditional
// UPDATE: of two instances racing for it, one changes the row and the
// other sees zero rows (ErrConflict).
const (
	qLeaseCols   = `SELECT id, path, database, username, owner, state, created_at, expires_at, max_expires_at, revoked_at, claimed_until FROM secret_leases `
	qLeaseByID   = qLeaseCols + `WHERE id = ?`
	qLeaseByPath = qLeaseCols + `WHERE path = ? AND state <> 'revoked' ORDER BY created_at, id`
	qLeaseDue    = qLeaseCols + `WHERE (state = 'active' AND expires_at <= ?)
    OR (state IN ('creating', 'revoking') AND claimed_until <= ?)
 ORDER BY expires_at, id LIMIT ?`
	qLeaseInsert = `INSERT INTO secret_leases (id, path, database, username, owner, state, created_at, expires_at, max_expires_at, revoked_at, claimed_until)
 VALUES (?, ?, ?, ?, ?, 'creating', ?, ?, ?, 0, ?)`
	qLeaseActivate = `UPDATE secret_leases SET state = 'active', claimed_until = 0 WHERE id = ? AND state = 'creating'`
	qLeaseRenew    = `UPDATE secret_leases SET expires_at = ? WHERE id = ? AND state = 'active' AND expires_at > ?`
	qLeaseClaim    = `UPDATE secret_leases SET state = 'revoking', claimed_until = ? WHERE id = ? AND state <> 'revoked' AND claimed_until <= ?`
	// The reaper's claim: still due (a renewal since DueLeases wins).
	qLeaseClaimDue = `UPDATE secret_leases SET state = 'revoking', claimed_until = ? WHERE id = ? AND state <> 'revoked' AND claimed_until <= ?
   AND (state <> 'active' OR expires_at <= ?)`
	qLeaseFinish = `UPDATE secret_leases SET state = 'revoked', revoked_at = ?, claimed_until = 0 WHERE id = ? AND state IN ('creating', 'revoking')`
)

// LeaseByID returns the lease with id.
func (s *SecretLeaseStore) LeaseByID(ctx context.Context, id string) (pgdyn.Record, error) {
	r, err := scanLease(s.d.db.QueryRowContext(ctx, s.d.Q(qLeaseByID), id))
	if errors.Is(err, sql.ErrNoRows) {
		return pgdyn.Record{}, secrets.ErrNotFound
	}
	if err != nil {
		return pgdyn.Record{}, fmt.Errorf("sqlstore: lease: %w", err)
	}
	return r, nil
}

// LeasesByPath returns the leases of path that are not revoked.
func (s *SecretLeaseStore) LeasesByPath(ctx context.Context, path secrets.Path) ([]pgdyn.Record, error) {
	return s.query(ctx, qLeaseByPath, string(path))
}

// DueLeases returns at most limit leases to reap at now.
func (s *SecretLeaseStore) DueLeases(ctx context.Context, now time.Time, limit int) ([]pgdyn.Record, error) {
	n := nanos(now)
	return s.query(ctx, qLeaseDue, n, n, limit)
}

func (s *SecretLeaseStore) query(ctx context.Context, q string, args ...any) ([]pgdyn.Record, error) {
	rows, err := s.d.db.QueryContext(ctx, s.d.Q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: leases: %w", err)
	}
	defer rows.Close()
	var out []pgdyn.Record
	for rows.Next() {
		r, err := scanLease(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: scan lease: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: leases: %w", err)
	}
	return out, nil
}

// scanLease reads one row of qLeaseCols.
func scanLease(row interface{ Scan(...any) error }) (pgdyn.Record, error) {
	var (
		r                                          pgdyn.Record
		path, state                                string
		created, expires, maxExp, revoked, claimed int64
	)
	if err := row.Scan(&r.ID, &path, &r.Database, &r.Username, &r.Owner, &state, &created, &expires, &maxExp, &revoked, &claimed); err != nil {
		return pgdyn.Record{}, err
	}
	p, err := secrets.ParsePath(path)
	if err != nil {
		return pgdyn.Record{}, fmt.Errorf("stored lease %s has an invalid path: %w", r.ID, err)
	}
	r.Path, r.State = p, pgdyn.State(state)
	r.CreatedAt, r.ExpiresAt, r.MaxExpiresAt = fromNanos(created), fromNanos(expires), fromNanos(maxExp)
	r.RevokedAt, r.ClaimedUntil = fromNanos(revoked), fromNanos(claimed)
	return r, nil
}

// InsertLease writes r in state creating.
func (s *SecretLeaseStore) InsertLease(ctx context.Context, r pgdyn.Record) error {
	_, err := s.d.db.ExecContext(ctx, s.d.Q(qLeaseInsert), r.ID, string(r.Path), r.Database, r.Username, r.Owner,
		nanos(r.CreatedAt), nanos(r.ExpiresAt), nanos(r.MaxExpiresAt), nanos(r.ClaimedUntil))
	if isUnique(err) {
		return secrets.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("sqlstore: insert lease: %w", err)
	}
	return nil
}

// ActivateLease moves a creating lease to active.
func (s *SecretLeaseStore) ActivateLease(ctx context.Context, id string) error {
	return s.exec(ctx, "activate", qLeaseActivate, id)
}

// RenewLease sets the expiry of an active, unexpired lease.
func (s *SecretLeaseStore) RenewLease(ctx context.Context, id string, expires, now time.Time) error {
	return s.exec(ctx, "renew", qLeaseRenew, nanos(expires), id, nanos(now))
}

// ClaimLease claims a lease for revocation (dueOnly: only if still due).
func (s *SecretLeaseStore) ClaimLease(ctx context.Context, id string, now, until time.Time, dueOnly bool) error {
	if dueOnly {
		return s.exec(ctx, "claim", qLeaseClaimDue, nanos(until), id, nanos(now), nanos(now))
	}
	return s.exec(ctx, "claim", qLeaseClaim, nanos(until), id, nanos(now))
}

// FinishLease marks a creating or revoking lease revoked.
func (s *SecretLeaseStore) FinishLease(ctx context.Context, id string, now time.Time) error {
	return s.exec(ctx, "finish", qLeaseFinish, nanos(now), id)
}

// exec runs one conditional UPDATE: zero rows is ErrConflict.
func (s *SecretLeaseStore) exec(ctx context.Context, what, q string, args ...any) error {
	res, err := s.d.db.ExecContext(ctx, s.d.Q(q), args...)
	if err != nil {
		return fmt.Errorf("sqlstore: %s lease: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: %s lease: %w", what, err)
	}
	if n == 0 {
		return secrets.ErrConflict
	}
	return nil
}
