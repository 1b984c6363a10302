package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/store/migrations"
)

// ErrSchemaTooNew is returned when the database was migrated by a newer
// Rampart: running an old binary against it could misread data.
var ErrSchemaTooNew = errors.New("sqlstore: database schema is newer than this binary")

// migrationLockID is the PostgreSQL advisory lock key that serializes
// migrations across instances starting at the same time ("rampmigr").
const migrationLockID = 0x72616d706d696772

// SchemaVersion returns the applied schema version (0 for an empty
// database) and the newest version this binary knows.
func (s *DB) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	ms, err := migrations.For(s.dialect)
	if err != nil {
		return 0, 0, err
	}
	latest = len(ms)
	if _, err := s.db.ExecContext(ctx, createMigrationsTable); err != nil {
		return 0, latest, fmt.Errorf("sqlstore: create schema_migrations: %w", err)
	}
	current, err = s.currentVersion(ctx, s.db)
	return current, latest, err
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at BIGINT  NOT NULL
)`

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *DB) currentVersion(ctx context.Context, q queryer) (int, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// Migrate applies every embedded migration the database lacks, each in its
// own transaction, and returns the versions applied. It refuses a database
// whose schema is newer than this binary. On PostgreSQL an advisory lock
// makes concurrent starts apply each migration exactly once; on SQLite the
// immediate transaction does the same.
func (s *DB) Migrate(ctx context.Context) ([]int, error) {
	ms, err := migrations.For(s.dialect)
	if err != nil {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("sqlstore: create schema_migrations: %w", err)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	defer conn.Close()
	if s.dialect == Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockID)); err != nil {
			return nil, fmt.Errorf("sqlstore: migration lock: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLockID))
		}()
	}
	var applied []int
	for {
		done, v, err := s.migrateOne(ctx, conn, ms)
		if err != nil {
			return applied, err
		}
		if done {
			return applied, nil
		}
		applied = append(applied, v)
	}
}

// migrateOne applies the next missing migration, if any.
func (s *DB) migrateOne(ctx context.Context, conn *sql.Conn, ms []migrations.Migration) (done bool, version int, err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, 0, fmt.Errorf("sqlstore: begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	cur, err := s.currentVersion(ctx, tx)
	if err != nil {
		return false, 0, err
	}
	if cur > len(ms) {
		return false, 0, fmt.Errorf("%w: the database is at version %d, this binary knows up to %d; run a newer rampart", ErrSchemaTooNew, cur, len(ms))
	}
	if cur == len(ms) {
		return true, cur, nil
	}
	m := ms[cur]
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, 0, fmt.Errorf("sqlstore: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, s.Q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
		m.Version, m.Name, time.Now().UnixNano()); err != nil {
		return false, 0, fmt.Errorf("sqlstore: record migration %d: %w", m.Version, err)
	}
	if err := tx.Commit(); err != nil {
		return false, 0, fmt.Errorf("sqlstore: commit migration %d: %w", m.Version, err)
	}
	return false, m.Version, nil
}

// ErrSchemaTooOld is returned by CheckSchema when the database lacks
// migrations this binary needs; an empty database (no Rampart schema at
// all) is the oldest case. The caller knows the command that migrates it
// (`rampart migrate --config FILE`) and says so.
var ErrSchemaTooOld = errors.New("sqlstore: the database schema is older than this binary")

// CheckSchema returns nil when the database is exactly at this binary's
// version, and ErrSchemaTooNew or ErrSchemaTooOld (wrapped, with both
// versions) otherwise. Unlike SchemaVersion it writes nothing, not even the
// schema_migrations table: commands that only check must leave a database
// they refuse as they found it. `serve` migrates at start; other commands
// only check.
func (s *DB) CheckSchema(ctx context.Context) error {
	ms, err := migrations.For(s.dialect)
	if err != nil {
		return err
	}
	latest := len(ms)
	cur := 0
	exists, err := s.hasMigrationsTable(ctx)
	if err != nil {
		return err
	}
	if exists {
		if cur, err = s.currentVersion(ctx, s.db); err != nil {
			return err
		}
	}
	switch {
	case cur > latest:
		return fmt.Errorf("%w: the database is at version %d, this binary knows up to %d; run a newer rampart", ErrSchemaTooNew, cur, latest)
	case cur == 0:
		return fmt.Errorf("%w: the database has no Rampart schema yet (this binary needs version %d)", ErrSchemaTooOld, latest)
	case cur < latest:
		return fmt.Errorf("%w: the database is at schema version %d, this binary needs %d", ErrSchemaTooOld, cur, latest)
	}
	return nil
}

// hasMigrationsTable reports whether schema_migrations exists, without
// creating it. On PostgreSQL to_regclass follows search_path, as every
// other query does.
func (s *DB) hasMigrationsTable(ctx context.Context) (bool, error) {
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
	if s.dialect == Postgres {
		q = "SELECT COUNT(*) FROM (SELECT to_regclass('schema_migrations') AS t) r WHERE r.t IS NOT NULL"
	}
	var n int
	if err := s.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return false, fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	return n > 0, nil
}
