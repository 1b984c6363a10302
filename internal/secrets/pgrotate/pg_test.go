package pgrotate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/audittest"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// passwordGroup is the group whose members PostgreSQL asks for a
// password (scripts/services.sh adds its pg_hba.conf line; 127.0.0.1 is
// trusted for every other role).
const passwordGroup = "rampart_password_login"

var sys = secrets.Principal{Kind: secrets.KindSystem}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func bg() context.Context { return context.Background() }

func randHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// adminPool opens the superuser pool of RAMPART_TEST_POSTGRES_DSN, or
// skips.
func adminPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := os.Getenv(storetest.PostgresEnv)
	if dsn == "" {
		t.Skip("set RAMPART_TEST_POSTGRES_DSN to run (scripts/services.sh)")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(bg(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	requirePasswordAuth(t, pool)
	return pool
}

var (
	authOnce sync.Once
	authSkip string
)

// requirePasswordAuth skips unless PostgreSQL refuses a wrong password of
// a passwordGroup member: every claim that an old password fails would
// be vacuous under trust authentication.
func requirePasswordAuth(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	authOnce.Do(func() {
		var n int
		if err := pool.QueryRow(bg(), `SELECT count(*) FROM pg_roles WHERE rolname = $1`, passwordGroup).Scan(&n); err != nil || n == 0 {
			authSkip = "role " + passwordGroup + " is missing: run eval \"$(scripts/services.sh)\""
			return
		}
		probe := "rp_probe_" + randHex(t, 6)
		if _, err := pool.Exec(bg(), "CREATE ROLE "+ident(probe)+" LOGIN PASSWORD 'right-password' IN ROLE "+ident(passwordGroup)); err != nil {
			authSkip = "create the probe role: " + err.Error()
			return
		}
		defer func() { _, _ = pool.Exec(bg(), "DROP ROLE "+ident(probe)) }()
		cc := pool.Config().ConnConfig.Copy()
		cc.User, cc.Password = probe, "wrong-password"
		c, err := pgx.ConnectConfig(bg(), cc)
		if err == nil {
			_ = c.Close(bg())
			authSkip = "PostgreSQL accepts a wrong password of " + passwordGroup + " members (trust): run eval \"$(scripts/services.sh)\""
		}
	})
	if authSkip != "" {
		t.Skip(authSkip)
	}
}

// fixture is a set of roles made for one test: a NOLOGIN group role
// owning a schema with one table, and the rotated users, members of it
// (the setup docs/secrets.md recommends) and of passwordGroup.
type fixture struct {
	pool   *pgxpool.Pool
	owner  string
	schema string
	users  []string
}

// newFixture makes the roles; names default to <prefix>_a, <prefix>_b.
func newFixture(t testing.TB, pool *pgxpool.Pool, names ...string) *fixture {
	t.Helper()
	prefix := "rp_" + randHex(t, 6)
	if len(names) == 0 {
		names = []string{prefix + "_a", prefix + "_b"}
	}
	f := &fixture{pool: pool, owner: prefix + "_owner", schema: prefix, users: names}
	t.Cleanup(func() { f.drop(t) })
	f.exec(t, "CREATE ROLE "+ident(f.owner)+" NOLOGIN")
	for _, u := range names {
		f.exec(t, "CREATE ROLE "+ident(u)+" NOLOGIN IN ROLE "+ident(f.owner)+", "+ident(passwordGroup))
	}
	f.exec(t, "CREATE SCHEMA "+ident(f.schema)+" AUTHORIZATION "+ident(f.owner))
	f.exec(t, "CREATE TABLE "+ident(f.schema)+".t (n int)")
	f.exec(t, "ALTER TABLE "+ident(f.schema)+".t OWNER TO "+ident(f.owner))
	f.exec(t, "INSERT INTO "+ident(f.schema)+".t VALUES (1)")
	return f
}

func (f *fixture) exec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(bg(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (f *fixture) drop(t testing.TB) {
	ctx, cancel := context.WithTimeout(bg(), 30*time.Second)
	defer cancel()
	for _, u := range f.users {
		_, _ = f.pool.Exec(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1`, u)
	}
	for _, q := range []string{"DROP SCHEMA IF EXISTS " + ident(f.schema) + " CASCADE"} {
		if _, err := f.pool.Exec(ctx, q); err != nil {
			t.Errorf("cleanup %s: %v", q, err)
		}
	}
	for _, u := range append(append([]string(nil), f.users...), f.owner) {
		if _, err := f.pool.Exec(ctx, "DROP ROLE IF EXISTS "+ident(u)); err != nil {
			t.Errorf("cleanup: drop role: %v", err)
		}
	}
}

// connect opens a connection with the credential in v.
func (f *fixture) connect(ctx context.Context, v secrets.Value) (*pgx.Conn, error) {
	c, err := ParseCredential(v)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, c.ConnConfig(f.pool.Config().ConnConfig))
}

// query reads the group-owned table on conn.
func (f *fixture) query(ctx context.Context, conn *pgx.Conn) error {
	var n int
	if err := conn.QueryRow(ctx, "SELECT n FROM "+ident(f.schema)+".t").Scan(&n); err != nil {
		return err
	}
	if n != 1 {
		return errors.New("unexpected row")
	}
	return nil
}

// works opens a connection with v and queries; it returns the error.
func (f *fixture) works(v secrets.Value) error {
	ctx, cancel := context.WithTimeout(bg(), 15*time.Second)
	defer cancel()
	c, err := f.connect(ctx, v)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close(bg()) }()
	return f.query(ctx, c)
}

// sqlState returns the SQLSTATE of err, "" when it has none.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// recorder is an Auditor keeping every event.
type recorder struct{ audittest.Recorder }

// newManager returns a secrets Manager over a real SQLite store.
func newManager(t testing.TB, rec *recorder) *secrets.Manager {
	t.Helper()
	_, m := newStoreManager(t, rec)
	return m
}

// newStoreManager returns a real SQLite store and a Manager over it.
func newStoreManager(t testing.TB, rec *recorder) (*sqlstore.DB, *secrets.Manager) {
	t.Helper()
	st := storetest.Open(t, sqlstore.SQLite)
	mk, err := kms.NewMasterKey(testkit.MasterKey())
	if err != nil {
		t.Fatal(err)
	}
	kr, err := kms.Open(bg(), st.KMS(), mk)
	if err != nil {
		t.Fatal(err)
	}
	m, err := secrets.New(secrets.Options{Store: st.DB.Secrets(), Sealer: kr, AuditKey: kr.DataKey(kms.DataKeySecretAudit),
		Audit: rec, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return st.DB, m
}

func newRotator(t testing.TB, f *fixture, strategy string, mod ...func(*Options)) rotation.Rotator {
	t.Helper()
	users := f.users
	if strategy == StrategySingle {
		users = users[:1]
	}
	o := Options{Pool: f.pool, Users: users, Strategy: strategy, Logger: quiet()}
	for _, fn := range mod {
		fn(&o)
	}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func i64(v int64) *int64 { return &v }

// driver does what the rotation engine does, step by step: NewValue, Put
// pending, Set, Test, MoveLabel current, RemoveLabel pending, Finish.
// twice runs every rotator method twice (a crash after it, then the
// engine's re-run of the step).
type driver struct {
	m     *secrets.Manager
	r     rotation.Rotator
	path  secrets.Path
	twice bool
}

func (d *driver) current(ctx context.Context) (secrets.Secret, error) {
	s, err := d.m.Get(ctx, sys, d.path, secrets.Selector{})
	if errors.Is(err, secrets.ErrNotFound) {
		return secrets.Secret{Path: d.path}, nil
	}
	return s, err
}

// rotate runs one full sequence and returns the new current version.
func (d *driver) rotate(ctx context.Context, emergency bool) (secrets.Secret, error) {
	cur, err := d.current(ctx)
	if err != nil {
		return cur, err
	}
	runs := 1
	if d.twice {
		runs = 2
	}
	var v secrets.Value
	for range runs {
		if v, err = d.r.NewValue(ctx, cur); err != nil {
			return cur, err
		}
	}
	if _, err := d.m.Put(ctx, sys, d.path, v, secrets.PutOptions{Labels: []string{secrets.LabelPending}}); err != nil {
		return cur, err
	}
	pending, err := d.m.Get(ctx, sys, d.path, secrets.Selector{Label: secrets.LabelPending})
	if err != nil {
		return cur, err
	}
	for range runs {
		if err := d.r.Set(ctx, cur, pending, emergency); err != nil {
			return cur, err
		}
	}
	for range runs {
		if err := d.r.Test(ctx, pending); err != nil {
			return cur, err
		}
	}
	if err := d.m.MoveLabel(ctx, sys, d.path, secrets.LabelCurrent, pending.Version, i64(cur.Version)); err != nil {
		return cur, err
	}
	if err := d.m.RemoveLabel(ctx, sys, d.path, secrets.LabelPending, nil); err != nil {
		return cur, err
	}
	now, err := d.current(ctx)
	if err != nil {
		return cur, err
	}
	for range runs {
		if err := d.r.Finish(ctx, cur, now, emergency); err != nil {
			return now, err
		}
	}
	return now, nil
}

func mustRotate(t testing.TB, d *driver, emergency bool) secrets.Secret {
	t.Helper()
	s, err := d.rotate(bg(), emergency)
	if err != nil {
		t.Fatalf("rotate (emergency %v): %v", emergency, err)
	}
	return s
}

func userOf(t testing.TB, s secrets.Secret) string {
	t.Helper()
	c, err := ParseCredential(s.Value)
	if err != nil {
		t.Fatal(err)
	}
	return c.Username
}

func newDriver(t testing.TB, m *secrets.Manager, r rotation.Rotator, twice bool) *driver {
	t.Helper()
	p, err := secrets.ParsePath("db/app-" + randHex(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	return &driver{m: m, r: r, path: p, twice: twice}
}
