package pgdyn_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/pgdyn"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/audittest"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// recorder is an Auditor keeping every event; with next (a real
// audit.Log on the test store) every event also passes the log's
// validation and is appended to its hash chain.
type recorder struct {
	audittest.Recorder
	mu   sync.Mutex
	fail bool
	next *audit.Log
}

func (r *recorder) Record(ctx context.Context, e audit.Event) error {
	r.mu.Lock()
	fail, next := r.fail, r.next
	r.mu.Unlock()
	if fail {
		return errAudit
	}
	if next != nil {
		if err := next.Record(ctx, e); err != nil {
			return err
		}
	}
	return r.Recorder.Record(ctx, e)
}

type auditErr struct{}

func (auditErr) Error() string { return "audit: store down" }

var errAudit error = auditErr{}

// ops returns the op detail of every event, in order, with its outcome.
func (r *recorder) ops() []string {
	var out []string
	for _, e := range r.All() {
		out = append(out, e.Details["op"]+":"+e.Outcome)
	}
	return out
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is an engine over a real store and a real PostgreSQL, with a fake
// clock that starts at the real time (PostgreSQL checks VALID UNTIL
// against its own clock) and a unique role path per test, so the roles
// of concurrent tests never collide.
type env struct {
	dsn   string
	st    *storetest.Store
	pool  *pgxpool.Pool
	rec   *recorder
	logs  *syncBuffer
	clock *testkit.Clock
	opts  pgdyn.Options
	e     *pgdyn.Engine
	tag   string       // random, per test
	app   secrets.Path // db/<tag>/app
	apple secrets.Path // db/<tag>/apple
}

var admin = secrets.Principal{Kind: secrets.KindAdmin}

// creation is the test role's template: members of rampart_password_login
// authenticate with scram-sha-256 on 127.0.0.1 (the test server's
// pg_hba.conf), so the generated password and VALID UNTIL are really
// checked.
var creation = []string{
	"CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}}",
	"GRANT rampart_password_login TO {{name}}",
}

func randHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func mustPath(t testing.TB, s string) secrets.Path {
	t.Helper()
	p, err := secrets.ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newEnv builds an engine with roles app and apple (default TTL 1h, max
// 3h); mod may change the options before New.
func newEnv(t testing.TB, mod ...func(*env)) *env {
	t.Helper()
	dsn := os.Getenv(storetest.PostgresEnv)
	if dsn == "" {
		t.Skip("set RAMPART_TEST_POSTGRES_DSN to run (scripts/services.sh)")
	}
	ctx := context.Background()
	ev := &env{dsn: dsn, st: storetest.Open(t, "postgres"), rec: &recorder{}, logs: &syncBuffer{},
		clock: testkit.NewClock(time.Now().UTC().Truncate(time.Second)), tag: "t" + randHex(t, 6)}
	al, err := audit.New(audit.Options{Store: ev.st.AuditStore, HMACKey: testkit.MasterKey(), Logger: slog.New(slog.NewTextHandler(ev.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close(context.Background()) })
	ev.rec.next = al
	pool, err := pgdyn.NewPool(ctx, dsn, 8)
	if err != nil {
		t.Fatal(err)
	}
	ev.pool = pool
	t.Cleanup(pool.Close)
	ev.app, ev.apple = mustPath(t, "db/"+ev.tag+"/app"), mustPath(t, "db/"+ev.tag+"/apple")
	t.Cleanup(func() { ev.dropLeftovers(t) }) // runs before pool.Close
	ev.opts = pgdyn.Options{
		Store: ev.st.DB.SecretLeases(),
		Pools: map[string]*pgxpool.Pool{"main": pool},
		Roles: []pgdyn.Role{
			{Path: ev.app, Database: "main", Creation: creation, DefaultTTL: time.Hour, MaxTTL: 3 * time.Hour},
			{Path: ev.apple, Database: "main", Creation: creation, DefaultTTL: time.Hour, MaxTTL: 3 * time.Hour},
		},
		Audit: ev.rec, Clock: ev.clock.Now, Logger: slog.New(slog.NewTextHandler(ev.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range mod {
		f(ev)
	}
	ev.e = ev.newEngine(t)
	return ev
}

func (ev *env) newEngine(t testing.TB) *pgdyn.Engine {
	t.Helper()
	e, err := pgdyn.New(ev.opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// prefixes are the username prefixes of this test's roles.
func (ev *env) prefixes() []string {
	return []string{pgdyn.NamePrefix(ev.app), pgdyn.NamePrefix(ev.apple)}
}

// roleCount is how many roles with this test's prefixes exist.
func (ev *env) roleCount(t testing.TB) int {
	t.Helper()
	var n int
	if err := ev.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1) OR starts_with(rolname, $2)`,
		ev.prefixes()[0], ev.prefixes()[1]).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// sessionCount is how many sessions of this test's roles exist.
func (ev *env) sessionCount(t testing.TB) int {
	t.Helper()
	var n int
	if err := ev.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE starts_with(usename, $1) OR starts_with(usename, $2)`,
		ev.prefixes()[0], ev.prefixes()[1]).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (ev *env) roleExists(t testing.TB, name string) bool {
	t.Helper()
	var n int
	if err := ev.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_roles WHERE rolname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// dropLeftovers removes whatever roles of this test a failure left.
func (ev *env) dropLeftovers(t testing.TB) {
	ctx := context.Background()
	rows, err := ev.pool.Query(ctx, `SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) OR starts_with(rolname, $2)`, ev.prefixes()[0], ev.prefixes()[1])
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for _, n := range names {
		_, _ = ev.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, n)
		_, _ = ev.pool.Exec(ctx, "DROP OWNED BY "+pgx.Identifier{n}.Sanitize())
		if _, err := ev.pool.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{n}.Sanitize()); err != nil {
			t.Errorf("cleanup: drop %s: %v", n, err)
		}
	}
}

// connect opens a session with the lease's credentials.
func (ev *env) connect(t testing.TB, l pgdyn.Lease) (*pgx.Conn, error) {
	t.Helper()
	cfg, err := pgx.ParseConfig(ev.dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password = l.Username, string(l.Password.Bytes())
	cfg.ConnectTimeout = 10 * time.Second
	return pgx.ConnectConfig(context.Background(), cfg)
}

// mustConnect connects and runs SELECT 1.
func (ev *env) mustConnect(t testing.TB, l pgdyn.Lease) *pgx.Conn {
	t.Helper()
	c, err := ev.connect(t, l)
	if err != nil {
		t.Fatalf("connect as %s: %v", l.Username, err)
	}
	var one int
	if err := c.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 as %s: %v", l.Username, err)
	}
	return c
}

// create leases path as p.
func (ev *env) create(t testing.TB, p secrets.Principal, path secrets.Path, ttl time.Duration) pgdyn.Lease {
	t.Helper()
	l, err := ev.e.Create(context.Background(), p, path, ttl)
	if err != nil {
		t.Fatalf("Create %s: %v", path, err)
	}
	return l
}

// state is the stored state of lease id.
func (ev *env) state(t testing.TB, id string) pgdyn.State {
	t.Helper()
	r, err := ev.st.DB.SecretLeases().LeaseByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.State
}
