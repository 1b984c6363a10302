// Package sqlstore is Rampart's one SQL store, over database/sql, serving
// SQLite (modernc.org/sqlite, no cgo) and PostgreSQL (pgx). Every query is a
// constant string with placeholders: no SQL is ever built from input
// (DESIGN principle 4). Queries are written with '?' placeholders and
// rebound to '$n' for PostgreSQL once, when first used.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DB is the one shared handle on the database: the connection pool, the
// dialect, the query rebinding and statement caches, migrations and
// transactions. The domain stores (OAuth, Identity, Keys, Audit) are thin
// views over it, each with only its own domain's methods, so no consumer
// sees a 50-method type. It is safe for concurrent use.
type DB struct {
	db      *sql.DB
	dialect string

	mu      sync.RWMutex
	queries map[string]string // '?' query -> dialect query

	// stmts caches prepared statements of hot, constant queries (the
	// multi-row audit insert): SQLite spends more time preparing a
	// 1,200-placeholder statement than running it.
	stmts sync.Map // query -> *sql.Stmt
}

// prepare caches a prepared statement for the constant query q (already
// rebound). Call it outside any transaction: preparing takes a connection,
// and SQLite has a single one.
func (s *DB) prepare(ctx context.Context, q string) {
	if _, ok := s.stmts.Load(q); ok {
		return
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return // the statement is prepared per use instead
	}
	if _, loaded := s.stmts.LoadOrStore(q, st); loaded {
		_ = st.Close()
	}
}

// execTx runs q in tx, through the cached prepared statement when there is
// one.
func (s *DB) execTx(ctx context.Context, tx *sql.Tx, q string, args ...any) error {
	if v, ok := s.stmts.Load(q); ok {
		st := tx.StmtContext(ctx, v.(*sql.Stmt))
		_, err := st.ExecContext(ctx, args...)
		_ = st.Close()
		return err
	}
	_, err := tx.ExecContext(ctx, q, args...)
	return err
}

// Options tunes Open.
type Options struct {
	// MaxOpenConns bounds the PostgreSQL pool (default 16).
	MaxOpenConns int
}

// Open connects to the database named by driver ("sqlite" or "postgres") and
// dsn. For SQLite, dsn is a file path; the file is created with mode 0600
// and its directory with 0700, and the connection uses WAL, a busy timeout,
// synchronous=FULL (a committed audit event survives power loss) and
// immediate transactions (no deadlock-prone lock upgrades). Open does not
// migrate; call Migrate.
func Open(ctx context.Context, driver, dsn string, opts Options) (*DB, error) {
	var (
		db  *sql.DB
		err error
	)
	switch driver {
	case SQLite:
		db, err = openSQLite(dsn)
	case Postgres:
		db, err = sql.Open("pgx", dsn)
		if err == nil {
			n := opts.MaxOpenConns
			if n <= 0 {
				n = 16
			}
			db.SetMaxOpenConns(n)
			db.SetMaxIdleConns(n)
			db.SetConnMaxIdleTime(5 * time.Minute)
		}
	default:
		return nil, fmt.Errorf("sqlstore: unknown driver %q", driver)
	}
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlstore: cannot reach the %s database: %w", driver, err)
	}
	return &DB{db: db, dialect: driver, queries: make(map[string]string)}, nil
}

func openSQLite(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("sqlstore: empty SQLite path")
	}
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlstore: SQLite dsn %q must be a plain file path", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlstore: cannot create the database directory: %w", err)
	}
	// Create the file ourselves so it is never world-readable.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- path comes from the operator's configuration.
	if err != nil {
		return nil, fmt.Errorf("sqlstore: cannot open the database file: %w", err)
	}
	_ = f.Close()
	dsn := "file:" + path +
		"?_pragma=journal_mode(WAL)" +
		"&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(FULL)" +
		"&_pragma=foreign_keys(1)" +
		"&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	// SQLite has one writer; a small pool keeps readers concurrent (WAL)
	// without piling up writers on the busy timeout.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	return db, nil
}

// Dialect returns "sqlite" or "postgres".
func (s *DB) Dialect() string { return s.dialect }

// SQL returns the underlying pool, for packages that add their own queries
// (through Q) and for tests.
func (s *DB) SQL() *sql.DB { return s.db }

// Close closes the pool.
func (s *DB) Close() error {
	s.stmts.Range(func(_, v any) bool { _ = v.(*sql.Stmt).Close(); return true })
	return s.db.Close()
}

// Ping checks that the database answers; /readyz uses it.
func (s *DB) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	return nil
}

// Q returns query in this store's placeholder style. Queries are constants
// written with '?'; the rebound form is computed once and cached.
func (s *DB) Q(query string) string {
	if s.dialect != Postgres {
		return query
	}
	s.mu.RLock()
	q, ok := s.queries[query]
	s.mu.RUnlock()
	if ok {
		return q
	}
	q = rebind(query)
	s.mu.Lock()
	s.queries[query] = q
	s.mu.Unlock()
	return q
}

// rebind turns '?' placeholders into '$1', '$2', ... outside string literals.
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	inQuote := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			fmt.Fprintf(&b, "$%d", n)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Tx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise.
func (s *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}
