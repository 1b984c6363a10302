package rotation_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-auth/rampart/internal/secrets/pgrotate"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

// crashEnvPGUsers carries the parent's two PostgreSQL roles to the
// child, so both processes rotate the same roles.
const crashEnvPGUsers = "ROTATION_CRASH_PG_USERS"

func init() { crashRotators["postgres-alternating"] = pgCrashRotator }

// TestPostgresRotationSurvivesKill9 runs the kill -9 matrix with the
// alternating PostgreSQL rotator on a real server: after every crash
// point a restarted engine finishes the rotation and the one current
// credential logs in (the matrix's Test check connects with it; the
// roles are members of rampart_password_login when it exists, so a wrong
// password is refused rather than trusted).
func TestPostgresRotationSurvivesKill9(t *testing.T) {
	if os.Getenv("RAMPART_TEST_POSTGRES_DSN") == "" {
		t.Skip("set RAMPART_TEST_POSTGRES_DSN to run (scripts/services.sh)")
	}
	crashMatrix(t, "postgres-alternating")
}

// pgCrashRotator is the crash rotator on PostgreSQL: in the parent it
// makes two NOLOGIN roles (dropped at the end) and hands their names to
// the child through the environment.
func pgCrashRotator(t testing.TB) rotation.Rotator {
	t.Helper()
	dsn := os.Getenv("RAMPART_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("set RAMPART_TEST_POSTGRES_DSN to run (scripts/services.sh)")
	}
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	users := os.Getenv(crashEnvPGUsers)
	if users == "" {
		b := make([]byte, 6)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		prefix := "rc_" + hex.EncodeToString(b)
		names := []string{prefix + "_a", prefix + "_b"}
		var group int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname = 'rampart_password_login'`).Scan(&group)
		for _, n := range names {
			q := "CREATE ROLE " + pgx.Identifier{n}.Sanitize() + " NOLOGIN"
			if group == 1 {
				q += " IN ROLE rampart_password_login"
			}
			if _, err := pool.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, n := range names {
				_, _ = pool.Exec(cctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1`, n)
				if _, err := pool.Exec(cctx, "DROP ROLE IF EXISTS "+pgx.Identifier{n}.Sanitize()); err != nil {
					t.Errorf("drop role: %v", err)
				}
			}
		})
		users = strings.Join(names, ",")
		if tt, ok := t.(*testing.T); ok {
			tt.Setenv(crashEnvPGUsers, users)
		}
	}
	r, err := pgrotate.New(pgrotate.Options{Pool: pool, Users: strings.Split(users, ","), Strategy: pgrotate.StrategyAlternating,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
