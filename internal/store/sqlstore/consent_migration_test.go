package sqlstore_test

import (
	"context"
	"testing"

	"github.com/rampart-auth/rampart/internal/store/migrations"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestMigration0003ConsentAudience: a consent stored at schema 2 keeps its
// scopes and covers no resource after migration 0003; new consents store
// their resources.
func TestMigration0003ConsentAudience(t *testing.T) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.OpenUnmigrated(t, d)
			ms, err := migrations.For(d) // the driver names are the dialect directories
			if err != nil {
				t.Fatal(err)
			}
			db := s.SQL()
			if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			for _, m := range ms[:2] {
				if _, err := db.ExecContext(ctx, m.SQL); err != nil {
					t.Fatalf("%d: %v", m.Version, err)
				}
				if _, err := db.ExecContext(ctx, s.Q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)`), m.Version, m.Name); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.ExecContext(ctx, s.Q(`INSERT INTO oauth_consents (user_id, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)`), "u", "c", `["openid","notes:read"]`, int64(1)); err != nil {
				t.Fatal(err)
			}
			applied, err := s.Migrate(ctx)
			if err != nil || len(applied) == 0 || applied[0] != 3 {
				t.Fatalf("migrate: %v %v", applied, err)
			}
			c, err := s.GetConsent(ctx, "u", "c")
			if err != nil || len(c.Scopes) != 2 || c.Audience != nil {
				t.Fatalf("migrated consent %+v %v: want its scopes and no resource", c, err)
			}
			c.Audience = []string{"https://api.example.test"}
			if err := s.SaveConsent(ctx, c); err != nil {
				t.Fatal(err)
			}
			if c, err = s.GetConsent(ctx, "u", "c"); err != nil || len(c.Audience) != 1 || c.Audience[0] != "https://api.example.test" {
				t.Fatalf("saved consent %+v %v", c, err)
			}
			list, err := s.ListConsents(ctx, "u")
			if err != nil || len(list) != 1 || len(list[0].Audience) != 1 {
				t.Fatalf("list %+v %v", list, err)
			}
		})
	}
}
