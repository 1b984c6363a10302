package notes

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver (no cgo)
)

// Drivers accepted in Options.Driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// openDB opens and pings the database. SQLite gets WAL, a busy timeout
// and immediate transactions; ":memory:" is held on one connection, since
// every new connection to ":memory:" would be a new, empty database.
func openDB(ctx context.Context, driver, dsn string) (*sql.DB, error) {
	var (
		db  *sql.DB
		err error
	)
	switch driver {
	case DriverSQLite:
		db, err = openSQLite(dsn)
	case DriverPostgres:
		if dsn == "" {
			return nil, errors.New("notes: the postgres driver needs a DSN")
		}
		db, err = sql.Open("pgx", dsn)
		if err == nil {
			db.SetMaxOpenConns(16)
			db.SetMaxIdleConns(16)
			db.SetConnMaxIdleTime(5 * time.Minute)
		}
	default:
		return nil, fmt.Errorf("notes: unknown driver %q (want sqlite or postgres)", driver)
	}
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("notes: cannot reach the %s database: %w", driver, err)
	}
	return db, nil
}

func openSQLite(path string) (*sql.DB, error) {
	if path == ":memory:" {
		db, err := sql.Open("sqlite", "file::memory:?_pragma=foreign_keys(1)")
		if err != nil {
			return nil, fmt.Errorf("notes: %w", err)
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return db, nil
	}
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		// A plain path only: URI parameters could switch off the pragmas
		// set below or open another database.
		return nil, fmt.Errorf("notes: SQLite DSN %q must be a plain file path or \":memory:\"", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("notes: cannot create the database directory: %w", err)
	}
	// Created here with 0600 so the password hashes are never world-readable.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the path is the operator's -db flag.
	if err != nil {
		return nil, fmt.Errorf("notes: cannot open the database file: %w", err)
	}
	_ = f.Close()
	db, err := sql.Open("sqlite", "file:"+path+
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("notes: %w", err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	return db, nil
}

// migrations create the two tables when they do not exist. The table
// names carry the service's prefix so that they cannot collide with
// Rampart's own tables when an operator points both at one database.
var migrations = map[string][]string{
	DriverSQLite: {
		`CREATE TABLE IF NOT EXISTS notes_users (
			subject TEXT PRIMARY KEY,
			username TEXT NOT NULL UNIQUE,
			email TEXT NOT NULL,
			password_hash TEXT NOT NULL,
			created_at INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS notes (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			owner TEXT NOT NULL,
			title TEXT NOT NULL,
			body TEXT NOT NULL,
			created_at INTEGER NOT NULL,
			updated_at INTEGER NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS notes_owner_id ON notes (owner, id)`,
	},
	DriverPostgres: {
		`CREATE TABLE IF NOT EXISTS notes_users (
			subject TEXT PRIMARY KEY,
			username TEXT NOT NULL UNIQUE,
			email TEXT NOT NULL,
			password_hash TEXT NOT NULL,
			created_at BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS notes (
			id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			owner TEXT NOT NULL,
			title TEXT NOT NULL,
			body TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS notes_owner_id ON notes (owner, id)`,
	},
}

// migrate runs the migrations in one transaction.
func migrate(ctx context.Context, db *sql.DB, driver string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("notes: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, stmt := range migrations[driver] {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("notes: migrate: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("notes: migrate: %w", err)
	}
	return nil
}

// bind returns query in driver's placeholder style: queries are written
// with '?' (SQLite), and PostgreSQL gets $1, $2, ... in order. Only the
// placeholders change; values always travel separately from the SQL text
// (OWASP SQL Injection Prevention Cheat Sheet, defence 1). A '?' inside a
// quoted literal is left alone.
func bind(driver, query string) string {
	if driver != DriverPostgres {
		return query
	}
	var b strings.Builder
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
