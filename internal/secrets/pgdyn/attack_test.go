package pgdyn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/pgdyn"
)

var (
	alice   = secrets.Principal{Kind: secrets.KindClient, ID: "alice"}
	bob     = secrets.Principal{Kind: secrets.KindClient, ID: "bob"}
	mallory = secrets.Principal{Kind: secrets.KindClient, ID: "mallory"}
)

// withPolicies gives alice and bob the lease capability on db/<tag>/app
// only (a policy on db/x/app must not cover the role db/x/apple).
func withPolicies(ev *env) {
	ps, err := secrets.CompilePolicies([]secrets.PolicyRule{{Name: "app", Paths: []string{string(ev.app)},
		Capabilities: []string{"lease"}, Clients: []string{"alice", "bob"}}})
	if err != nil {
		panic(err)
	}
	ev.opts.Policies = ps
}

// TestAttackNoCapability: a principal without the lease capability gets
// ErrForbidden from every method, whether the role or lease exists or
// not (no existence oracle), and nothing reaches the store.
func TestAttackNoCapability(t *testing.T) {
	ev := newEnv(t, withPolicies)
	ctx := context.Background()
	l := ev.create(t, alice, ev.app, 0)
	missing := mustPath(t, "db/"+ev.tag+"/nothing")
	for _, path := range []secrets.Path{ev.app, missing} {
		if _, err := ev.e.Create(ctx, mallory, path, 0); !errors.Is(err, secrets.ErrForbidden) {
			t.Fatalf("Create %s: %v", path, err)
		}
		if _, err := ev.e.List(ctx, mallory, path); !errors.Is(err, secrets.ErrForbidden) {
			t.Fatalf("List %s: %v", path, err)
		}
		if _, err := ev.e.RevokePath(ctx, mallory, path); !errors.Is(err, secrets.ErrForbidden) {
			t.Fatalf("RevokePath %s: %v", path, err)
		}
	}
	for _, id := range []string{l.ID, strings.Repeat("0", 32), "x"} {
		_, rerr := ev.e.Renew(ctx, mallory, id, 0)
		verr := ev.e.Revoke(ctx, mallory, id)
		if !errors.Is(rerr, secrets.ErrForbidden) || !errors.Is(verr, secrets.ErrForbidden) {
			t.Fatalf("id %s: renew %v revoke %v", id, rerr, verr)
		}
	}
	// Unknown principal kinds and empty ids are denied too.
	for _, p := range []secrets.Principal{{Kind: "root"}, {Kind: secrets.KindClient}} {
		if _, err := ev.e.Create(ctx, p, ev.app, 0); !errors.Is(err, secrets.ErrForbidden) {
			t.Fatalf("Create as %+v: %v", p, err)
		}
	}
	if ev.roleCount(t) != 1 || ev.state(t, l.ID) != pgdyn.StateActive {
		t.Fatal("a forbidden call changed something")
	}
	for _, e := range ev.rec.All()[1:] {
		if e.Outcome != "denied" || e.Reason != "forbidden" {
			t.Fatalf("event %+v", e)
		}
	}
}

// TestAttackIDOR: bob holds the lease capability on the same path but
// cannot renew, revoke or list alice's lease; the answer is the one a
// random id gets, and the lease is unchanged and still logs in.
func TestAttackIDOR(t *testing.T) {
	ev := newEnv(t, withPolicies)
	ctx := context.Background()
	l := ev.create(t, alice, ev.app, 10*time.Minute)
	random := strings.Repeat("ab", 16)
	_, e1 := ev.e.Renew(ctx, bob, l.ID, time.Hour)
	_, e2 := ev.e.Renew(ctx, bob, random, time.Hour)
	e3 := ev.e.Revoke(ctx, bob, l.ID)
	e4 := ev.e.Revoke(ctx, bob, random)
	for _, err := range []error{e1, e2, e3, e4} {
		if !errors.Is(err, secrets.ErrNotFound) || err.Error() != e2.Error() {
			t.Fatalf("IDOR answers differ or succeed: %v / %v / %v / %v", e1, e2, e3, e4)
		}
	}
	if n, err := ev.e.RevokePath(ctx, bob, ev.app); err != nil || n != 0 {
		t.Fatalf("bob's RevokePath: %d %v", n, err)
	}
	if ls, err := ev.e.List(ctx, bob, ev.app); err != nil || len(ls) != 0 {
		t.Fatalf("bob lists alice's lease: %+v %v", ls, err)
	}
	r, err := ev.st.DB.SecretLeases().LeaseByID(ctx, l.ID)
	if err != nil || r.State != pgdyn.StateActive || !r.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("alice's lease changed: %+v %v", r, err)
	}
	ev.mustConnect(t, l).Close(ctx)
	// Alice herself may.
	if ls, err := ev.e.List(ctx, alice, ev.app); err != nil || len(ls) != 1 {
		t.Fatalf("alice's List: %+v %v", ls, err)
	}
	if _, err := ev.e.Renew(ctx, alice, l.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := ev.e.Revoke(ctx, alice, l.ID); err != nil {
		t.Fatal(err)
	}
}

// TestAttackPrefixConfusion: a policy on db/x/app does not cover the role
// db/x/apple (policies match whole segments), nor a lease of it.
func TestAttackPrefixConfusion(t *testing.T) {
	ev := newEnv(t, withPolicies)
	ctx := context.Background()
	if _, err := ev.e.Create(ctx, alice, ev.apple, 0); !errors.Is(err, secrets.ErrForbidden) {
		t.Fatalf("Create on apple with an app policy: %v", err)
	}
	l := ev.create(t, admin, ev.apple, 0)
	// Even a lease alice "owns" on apple is out of her reach.
	if err := ev.e.Revoke(ctx, alice, l.ID); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Revoke of an apple lease: %v", err)
	}
	if ev.state(t, l.ID) != pgdyn.StateActive {
		t.Fatal("apple lease changed")
	}
}

// TestAttackMaliciousPath: a Path that did not come from ParsePath
// (injection, traversal, upper case) is ErrInvalid before the policy, the
// store or SQL; no row, no role, and the audit event does not carry it.
func TestAttackMaliciousPath(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	for _, s := range []string{`db/x'; DROP ROLE postgres; --`, `db/"app"`, "db/../app", "DB/APP", "db/app\x00", "db/" + ev.tag + "/app/"} {
		if _, err := ev.e.Create(ctx, admin, secrets.Path(s), 0); !errors.Is(err, secrets.ErrInvalid) {
			t.Fatalf("Create %q: %v", s, err)
		}
		if _, err := ev.e.List(ctx, admin, secrets.Path(s)); !errors.Is(err, secrets.ErrInvalid) {
			t.Fatalf("List %q: %v", s, err)
		}
		if ev.rec.Contains(s) {
			t.Fatalf("the audit log carries %q", s)
		}
	}
	if ev.roleCount(t) != 0 {
		t.Fatal("a role was made")
	}
	// A role configured with such a path is refused at New.
	o := ev.opts
	o.Roles = []pgdyn.Role{{Path: secrets.Path(`x"; DROP ROLE postgres; --`), Database: "main", Creation: creation, DefaultTTL: time.Hour, MaxTTL: time.Hour}}
	if _, err := pgdyn.New(o); !errors.Is(err, secrets.ErrInvalid) {
		t.Fatalf("New with a malicious role path: %v", err)
	}
	// A tampered lease row (its username an injection) never reaches SQL.
	now := ev.clock.Now()
	bad := pgdyn.Record{Lease: pgdyn.Lease{ID: randHex(t, 16), Path: ev.app, Database: "main", Username: `x"; DROP ROLE postgres; --`,
		Owner: "cli", CreatedAt: now, ExpiresAt: now, MaxExpiresAt: now}, State: pgdyn.StateCreating}
	if err := ev.st.DB.SecretLeases().InsertLease(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.e.Reap(ctx); err == nil || !strings.Contains(err.Error(), "malformed username") {
		t.Fatalf("Reap of a tampered row: %v", err)
	}
	var n int
	if err := ev.pool.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'`).Scan(&n); err != nil || n != 1 {
		t.Fatal("postgres role gone")
	}
}

// TestAttackTemplates: New refuses a template with an unknown
// placeholder, an unclosed one, a password in a revocation statement, a
// creation that names no role, and a database without a pool.
func TestAttackTemplates(t *testing.T) {
	ev := newEnv(t)
	for name, r := range map[string]pgdyn.Role{
		"reject/unknown-placeholder": {Creation: []string{"CREATE ROLE {{name}} PASSWORD {{secret}}"}},
		"reject/spaced-placeholder":  {Creation: []string{"CREATE ROLE {{ name }}"}},
		"reject/unclosed":            {Creation: []string{"CREATE ROLE {{name}} PASSWORD {{password"}},
		"reject/password-in-revoke":  {Creation: creation, Revocation: []string{"ALTER ROLE {{name}} PASSWORD {{password}}"}},
		"reject/no-name":             {Creation: []string{"SELECT 1"}},
		"reject/empty-statement":     {Creation: []string{"CREATE ROLE {{name}}", " "}},
		"reject/no-pool":             {Creation: creation, Database: "other"},
		"reject/ttl-above-max":       {Creation: creation, DefaultTTL: 2 * time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			r.Path = ev.app
			if r.Database == "" {
				r.Database = "main"
			}
			if r.DefaultTTL == 0 {
				r.DefaultTTL = time.Hour
			}
			r.MaxTTL = time.Hour
			o := ev.opts
			o.Roles = []pgdyn.Role{r}
			if _, err := pgdyn.New(o); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	o := ev.opts
	o.Roles = append(o.Roles, o.Roles[0])
	if _, err := pgdyn.New(o); err == nil {
		t.Fatal("New accepted a duplicate role path")
	}
	o = ev.opts
	o.Pools = map[string]*pgxpool.Pool{}
	if _, err := pgdyn.New(o); err == nil {
		t.Fatal("New accepted roles without pools")
	}
}

// TestNewPoolErrorsCarryNoDSN: neither a DSN that does not parse nor one
// whose server is unreachable puts the DSN or password in the error.
func TestNewPoolErrorsCarryNoDSN(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{
		"postgres://rampartadmin:hunter2-pw@127.0.0.1:1/secretdb?sslmode=disable&connect_timeout=2",
		"postgres://rampartadmin:hunter2-pw@[::1/secretdb",
		"host=127.0.0.1 port=1 user=rampartadmin password=hunter2-pw dbname=secretdb connect_timeout=2 sslmode=disable",
		"postgres://rampartadmin:hunter2-pw@127.0.0.1:5432/secretdb?sslmode=bogus",
	} {
		p, err := pgdyn.NewPool(ctx, dsn, 2)
		if err == nil {
			p.Close()
			t.Fatalf("NewPool(%q) succeeded", dsn)
		}
		for _, s := range []string{"hunter2-pw", "rampartadmin", "secretdb", "127.0.0.1"} {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("NewPool error %q carries %q", err, s)
			}
		}
	}
	if _, err := pgdyn.NewPool(ctx, "postgres://x@127.0.0.1/x", 0); err == nil {
		t.Fatal("0 connections accepted")
	}
}
