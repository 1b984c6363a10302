package pgrotate

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestLeastPrivilegeAdminAndGroupSetup runs the setup of
// docs/secrets.md: an administrative role with CREATEROLE and
// pg_signal_backend only (no superuser), two login roles in a group that
// owns the schema, acting as the group (ALTER ROLE ... SET role). A table
// made by one user is usable and droppable by the other after the
// switch, and an emergency rotation by the unprivileged admin ends the
// previous role's session.
func TestLeastPrivilegeAdminAndGroupSetup(t *testing.T) {
	super := adminPool(t)
	f := newFixture(t, super)
	admin := f.owner + "_admin"
	f.exec(t, "CREATE ROLE "+ident(admin)+" LOGIN CREATEROLE")
	t.Cleanup(func() {
		_, _ = super.Exec(bg(), `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1`, admin)
		_, _ = super.Exec(bg(), "DROP ROLE IF EXISTS "+ident(admin))
	})
	f.exec(t, "GRANT pg_signal_backend TO "+ident(admin))
	var version int
	if err := super.QueryRow(bg(), "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	for _, u := range f.users {
		f.exec(t, "ALTER ROLE "+ident(u)+" SET role = "+quoteIdentLiteral(f.owner))
		if version >= 160000 {
			// PostgreSQL 16: CREATEROLE needs ADMIN OPTION on the role.
			f.exec(t, "GRANT "+ident(u)+" TO "+ident(admin)+" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE")
		}
	}
	cfg := super.Config().Copy()
	cfg.ConnConfig.User = admin
	pool, err := pgxpool.NewWithConfig(bg(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var isSuper bool
	if err := pool.QueryRow(bg(), "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&isSuper); err != nil || isSuper {
		t.Fatalf("the admin pool is superuser (%v)", err)
	}
	ff := *f
	ff.pool = pool
	d := newDriver(t, newManager(t, &recorder{}), newRotator(t, &ff, StrategyAlternating), false)

	ctx, cancel := context.WithTimeout(bg(), 60*time.Second)
	defer cancel()
	v1 := mustRotate(t, d, false)
	c1, err := f.connect(ctx, v1.Value)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Exec(ctx, "CREATE TABLE "+ident(f.schema)+".made_by_a (n int)"); err != nil {
		t.Fatal(err)
	}
	_ = c1.Close(ctx)

	v2 := mustRotate(t, d, false)
	c2, err := f.connect(ctx, v2.Value)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c2.Close(bg()) }()
	if _, err := c2.Exec(ctx, "INSERT INTO "+ident(f.schema)+".made_by_a VALUES (1)"); err != nil {
		t.Fatalf("the other user cannot use the table: %v", err)
	}
	if _, err := c2.Exec(ctx, "ALTER TABLE "+ident(f.schema)+".made_by_a ADD COLUMN m int"); err != nil {
		t.Fatalf("the other user cannot alter the table: %v", err)
	}

	mustRotate(t, d, true) // emergency: b, holding c2, is previous
	if err := f.query(ctx, c2); err == nil {
		t.Fatal("the unprivileged admin did not end the previous role's session")
	}
	if f.canLogin(t, userOf(t, v2)) {
		t.Fatal("the previous role kept LOGIN")
	}
}

// quoteIdentLiteral quotes a generated role name as a string literal (the
// value of SET role); test names are hex and underscores only.
func quoteIdentLiteral(s string) string { return "'" + s + "'" }
