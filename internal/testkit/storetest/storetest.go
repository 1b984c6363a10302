// Package storetest opens real, migrated, isolated stores for tests: SQLite
// in a temporary directory always, and PostgreSQL in a fresh schema (dropped
// when the test ends) when RAMPART_TEST_POSTGRES_DSN is set.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

// PostgresEnv names the variable that enables PostgreSQL tests.
const PostgresEnv = "RAMPART_TEST_POSTGRES_DSN"

// Drivers returns the drivers to run a store test suite against: sqlite
// always, postgres when RAMPART_TEST_POSTGRES_DSN is set (otherwise it logs
// how to enable it).
func Drivers(t testing.TB) []string {
	t.Helper()
	if os.Getenv(PostgresEnv) == "" {
		t.Logf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them", PostgresEnv)
		return []string{sqlstore.SQLite}
	}
	return []string{sqlstore.SQLite, sqlstore.Postgres}
}

// Store is a test fixture over one database: the shared DB (raw SQL for
// tampering, migrations) and every domain store at once, so a test can
// seed through one domain and attack through another. Production code
// never holds such a union: it is handed the one domain store it needs.
type Store struct {
	*sqlstore.DB
	*sqlstore.OAuthStore
	*sqlstore.IdentityStore
	*sqlstore.KeyStore
	*sqlstore.AuditStore
	*sqlstore.KMSStore
}

// Open returns a migrated store for driver, isolated from every other test.
func Open(t testing.TB, driver string) *Store {
	t.Helper()
	s := OpenUnmigrated(t, driver)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// Wrap returns the fixture over db.
func Wrap(db *sqlstore.DB) *Store {
	return &Store{DB: db, OAuthStore: db.OAuth(), IdentityStore: db.Identity(), KeyStore: db.Keys(), AuditStore: db.Audit(), KMSStore: db.KMS()}
}

// OpenUnmigrated is Open without the migrations.
func OpenUnmigrated(t testing.TB, driver string) *Store {
	t.Helper()
	driver, dsn := DSN(t, driver)
	s, err := sqlstore.Open(context.Background(), driver, dsn, sqlstore.Options{MaxOpenConns: 8})
	if err != nil {
		t.Fatalf("open %s: %v", driver, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return Wrap(s)
}

// DSN returns a fresh, isolated DSN for driver: a new SQLite file, or a new
// PostgreSQL schema (search_path) that is dropped when the test ends. The
// test is skipped when driver is postgres and the variable is unset.
func DSN(t testing.TB, driver string) (string, string) {
	t.Helper()
	switch driver {
	case sqlstore.SQLite:
		return driver, filepath.Join(t.TempDir(), "rampart.db")
	case sqlstore.Postgres:
		base := os.Getenv(PostgresEnv)
		if base == "" {
			t.Skipf("PostgreSQL test skipped: set %s to run it", PostgresEnv)
		}
		schema := "rampart_test_" + randomHex(t)
		admin, err := sqlstore.Open(context.Background(), driver, base, sqlstore.Options{MaxOpenConns: 1})
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		defer admin.Close()
		// The schema name is generated here from hex digits only, never from
		// input, so quoting it into DDL is safe.
		if _, err := admin.SQL().Exec(`CREATE SCHEMA "` + schema + `"`); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			a, err := sqlstore.Open(context.Background(), driver, base, sqlstore.Options{MaxOpenConns: 1})
			if err != nil {
				t.Errorf("cleanup: %v", err)
				return
			}
			defer a.Close()
			if _, err := a.SQL().Exec(`DROP SCHEMA "` + schema + `" CASCADE`); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
		})
		return driver, withSearchPath(t, base, schema)
	default:
		t.Fatalf("unknown driver %q", driver)
		return "", ""
	}
}

func withSearchPath(t testing.TB, dsn, schema string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parse %s: %v", PostgresEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func randomHex(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
