package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestCheckSchemaWritesNothing: a command that only checks the schema
// (user create, client list, key list before `rampart migrate`) refuses an
// empty database with ErrSchemaTooOld and leaves it as it found it: no
// schema_migrations table appears, on either driver.
func TestCheckSchemaWritesNothing(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run("reject/empty-database-left-untouched/"+driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.OpenUnmigrated(t, driver)
			err := s.CheckSchema(ctx)
			if !errors.Is(err, sqlstore.ErrSchemaTooOld) || !strings.Contains(err.Error(), "no Rampart schema") {
				t.Fatalf("CheckSchema on an empty database: %v, want ErrSchemaTooOld", err)
			}
			var n int
			if err := s.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err == nil {
				t.Fatal("CheckSchema created schema_migrations in a database it refused")
			}
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := s.SQL().ExecContext(ctx, s.Q("DELETE FROM schema_migrations WHERE version > ?"), 1); err != nil {
				t.Fatal(err)
			}
			if err := s.CheckSchema(ctx); !errors.Is(err, sqlstore.ErrSchemaTooOld) || !strings.Contains(err.Error(), "version 1") {
				t.Fatalf("CheckSchema on a partly migrated database: %v, want ErrSchemaTooOld at version 1", err)
			}
		})
	}
}
