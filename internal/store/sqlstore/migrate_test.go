package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

func TestMigrate(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.OpenUnmigrated(t, driver)
			if err := s.CheckSchema(ctx); err == nil {
				t.Fatal("CheckSchema on an empty database: want an error asking to migrate")
			}
			applied, err := s.Migrate(ctx)
			if err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if len(applied) == 0 {
				t.Fatal("Migrate applied nothing on an empty database")
			}
			again, err := s.Migrate(ctx)
			if err != nil || len(again) != 0 {
				t.Fatalf("second Migrate: applied %v, err %v; want nothing", again, err)
			}
			if err := s.CheckSchema(ctx); err != nil {
				t.Fatalf("CheckSchema after Migrate: %v", err)
			}
			// A database migrated by a newer binary is refused.
			if _, err := s.SQL().ExecContext(ctx, s.Q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"), 9999, "future", 0); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Migrate(ctx); !errors.Is(err, sqlstore.ErrSchemaTooNew) {
				t.Fatalf("Migrate on a newer schema: err %v, want ErrSchemaTooNew", err)
			}
			if err := s.CheckSchema(ctx); !errors.Is(err, sqlstore.ErrSchemaTooNew) {
				t.Fatalf("CheckSchema on a newer schema: err %v, want ErrSchemaTooNew", err)
			}
		})
	}
}

func TestRebind(t *testing.T) {
	cases := map[string]string{
		"SELECT 1":                              "SELECT 1",
		"SELECT * FROM t WHERE a = ? AND b = ?": "SELECT * FROM t WHERE a = $1 AND b = $2",
		"SELECT '?' , ?":                        "SELECT '?' , $1",
	}
	for in, want := range cases {
		if got := sqlstore.Rebind(in); got != want {
			t.Errorf("Rebind(%q) = %q, want %q", in, got, want)
		}
	}
}
