package pgdyn_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/pgdyn"
)

// TestCreateConnectRevoke: a lease's credentials log in and query; Revoke
// terminates the open session (its next query fails) and drops the role.
func TestCreateConnectRevoke(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	l := ev.create(t, admin, ev.app, 0)
	if !strings.HasPrefix(l.Username, pgdyn.NamePrefix(ev.app)) || len(l.Username) != 33 || l.Password.Len() != 43 {
		t.Fatalf("lease %+v", l)
	}
	if !l.ExpiresAt.Equal(ev.clock.Now().Add(time.Hour)) || !l.MaxExpiresAt.Equal(ev.clock.Now().Add(3*time.Hour)) || l.Owner != "cli" {
		t.Fatalf("lease times %+v", l)
	}
	if ev.state(t, l.ID) != pgdyn.StateActive {
		t.Fatal("lease not active")
	}
	c := ev.mustConnect(t, l)
	defer c.Close(ctx)
	// The wrong password is refused: the role really authenticates.
	bad := l
	bad.Password = secrets.NewValue([]byte("not-the-password"))
	if c2, err := ev.connect(t, bad); err == nil {
		_ = c2.Close(ctx)
		t.Fatal("a wrong password logged in")
	}
	if err := ev.e.Revoke(ctx, admin, l.ID); err != nil {
		t.Fatal(err)
	}
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err == nil {
		t.Fatal("the session of a revoked lease still answers")
	}
	if ev.roleExists(t, l.Username) || ev.sessionCount(t) != 0 {
		t.Fatal("the role or its session survived revocation")
	}
	if ev.state(t, l.ID) != pgdyn.StateRevoked {
		t.Fatal("lease not revoked")
	}
	if _, err := ev.connect(t, l); err == nil {
		t.Fatal("a revoked lease logs in")
	}
	// Revoking again is a success (idempotent).
	if err := ev.e.Revoke(ctx, admin, l.ID); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ev.rec.ops(), ","); got != "create:success,revoke:success,revoke:success" {
		t.Fatalf("audit ops %s", got)
	}
	for _, e := range ev.rec.All() {
		if e.Target != string(ev.app) || e.Details["lease_id"] != l.ID || e.Details["username"] != l.Username {
			t.Fatalf("event %+v", e)
		}
	}
	if ttl := ev.rec.All()[0].Details["ttl"]; ttl != "3600s" {
		t.Fatalf("create ttl detail %q", ttl)
	}
	noPassword(t, ev, string(l.Password.Bytes()))
}

// noPassword: the password is in no audit event and no log line.
func noPassword(t *testing.T, ev *env, pw string) {
	t.Helper()
	if ev.rec.Contains(pw) || strings.Contains(ev.logs.String(), pw) {
		t.Fatal("the password leaked into the audit log or the logger")
	}
}

// pwLike matches a generated password (43 base64url characters).
var pwLike = regexp.MustCompile(`[A-Za-z0-9_-]{43}`)

// TestFailedCreationLeaksNoPassword: a creation statement PostgreSQL
// rejects "at or near" the password literal fails the lease with the
// statement index and SQLSTATE only; the row is revoked and no role is
// left.
func TestFailedCreationLeaksNoPassword(t *testing.T) {
	ev := newEnv(t, func(ev *env) {
		ev.opts.Roles[0].Creation = []string{"CREATE ROLE {{name}} LOGIN", "ALTER ROLE {{name}} {{password}}"}
	})
	ctx := context.Background()
	_, err := ev.e.Create(ctx, admin, ev.app, 0)
	if err == nil || !strings.Contains(err.Error(), "statement 1") || !strings.Contains(err.Error(), "SQLSTATE 42601") {
		t.Fatalf("Create: %v", err)
	}
	for _, s := range []string{err.Error(), ev.logs.String()} {
		if pwLike.MatchString(s) {
			t.Fatalf("a password-like value leaked: %s", s)
		}
	}
	es := ev.rec.All()
	if len(es) != 1 || es[0].Outcome != "failure" || es[0].Reason != "error" {
		t.Fatalf("events %+v", es)
	}
	for _, v := range es[0].Details {
		if pwLike.MatchString(v) {
			t.Fatalf("a password-like value in the event: %v", es[0].Details)
		}
	}
	if ev.roleCount(t) != 0 || ev.state(t, es[0].Details["lease_id"]) != pgdyn.StateRevoked {
		t.Fatal("a failed creation left a role or a live row")
	}
}

// TestUnauditedLeaseNotHandedOut: when the create event cannot be
// recorded, the role is revoked and no lease is returned.
func TestUnauditedLeaseNotHandedOut(t *testing.T) {
	ev := newEnv(t)
	ev.rec.fail = true
	if l, err := ev.e.Create(context.Background(), admin, ev.app, 0); err == nil || l.ID != "" {
		t.Fatalf("Create with a failing audit: %+v %v", l, err)
	}
	if ev.roleCount(t) != 0 {
		t.Fatal("an unaudited lease's role survived")
	}
}

// TestRenew: a renewal extends from now, clamps at the lease's max
// expiry (MaxTTL from creation) and moves the role's VALID UNTIL; an
// expired or revoked lease is refused.
func TestRenew(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	t0 := ev.clock.Now()
	l := ev.create(t, admin, ev.app, 10*time.Minute)
	if !l.ExpiresAt.Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("expires %v", l.ExpiresAt)
	}
	// Beyond MaxTTL at creation: clamped.
	if l2 := ev.create(t, admin, ev.app, 100*time.Hour); !l2.ExpiresAt.Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("create clamp: %v", l2.ExpiresAt)
	}
	ev.clock.Add(5 * time.Minute)
	r, err := ev.e.Renew(ctx, admin, l.ID, 2*time.Hour)
	if err != nil || !r.ExpiresAt.Equal(t0.Add(5*time.Minute+2*time.Hour)) || r.Password.Len() != 0 {
		t.Fatalf("Renew: %+v %v", r, err)
	}
	validUntil := func() time.Time {
		var vu time.Time
		if err := ev.pool.QueryRow(ctx, `SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1`, l.Username).Scan(&vu); err != nil {
			t.Fatal(err)
		}
		return vu
	}
	if vu := validUntil(); !vu.Equal(r.ExpiresAt) {
		t.Fatalf("VALID UNTIL %v, want %v", vu, r.ExpiresAt)
	}
	// Asking for more than the max from now: never beyond MaxExpiresAt.
	ev.clock.Add(time.Hour)
	r, err = ev.e.Renew(ctx, admin, l.ID, 100*time.Hour)
	if err != nil || !r.ExpiresAt.Equal(l.MaxExpiresAt) || !validUntil().Equal(l.MaxExpiresAt) {
		t.Fatalf("Renew clamp: %+v %v", r, err)
	}
	ev.mustConnect(t, l).Close(ctx)
	// Expired (the reaper has not run yet): refused.
	ev.clock.Set(l.MaxExpiresAt.Add(time.Second))
	if _, err := ev.e.Renew(ctx, admin, l.ID, time.Minute); !errors.Is(err, secrets.ErrInvalid) {
		t.Fatalf("Renew of an expired lease: %v", err)
	}
	// Revoked: refused.
	ev.clock.Set(t0)
	l3 := ev.create(t, admin, ev.app, 0)
	if err := ev.e.Revoke(ctx, admin, l3.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.e.Renew(ctx, admin, l3.ID, time.Minute); !errors.Is(err, secrets.ErrInvalid) {
		t.Fatalf("Renew of a revoked lease: %v", err)
	}
	if _, err := ev.e.Renew(ctx, admin, l.ID, -time.Minute); !errors.Is(err, secrets.ErrInvalid) {
		t.Fatalf("negative TTL: %v", err)
	}
	want := "create:success,create:success,renew:success,renew:success,renew:failure,create:success,revoke:success,renew:failure,renew:failure"
	if got := strings.Join(ev.rec.ops(), ","); got != want {
		t.Fatalf("audit ops\n got %s\nwant %s", got, want)
	}
}

// TestReapExpired: the reaper revokes expired leases (sessions
// terminated, role dropped) and leaves live ones.
func TestReapExpired(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	short := ev.create(t, admin, ev.app, time.Minute)
	long := ev.create(t, admin, ev.app, 2*time.Hour)
	c := ev.mustConnect(t, short)
	defer c.Close(ctx)
	ev.clock.Add(2 * time.Minute)
	n, err := ev.e.Reap(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Reap: %d %v", n, err)
	}
	if err := c.Ping(ctx); err == nil {
		t.Fatal("the session of an expired lease survived the reaper")
	}
	if ev.roleExists(t, short.Username) || !ev.roleExists(t, long.Username) {
		t.Fatal("the reaper dropped the wrong role")
	}
	ls, err := ev.e.List(ctx, admin, ev.app)
	if err != nil || len(ls) != 1 || ls[0].ID != long.ID || ls[0].Password.Len() != 0 {
		t.Fatalf("List: %+v %v", ls, err)
	}
	last := ev.rec.All()
	var reap bool
	for _, e := range last {
		if e.Details["op"] == "reap" {
			reap = e.Actor == "system:pgdyn" && e.Details["lease_id"] == short.ID && e.Details["cause"] == "expired" && e.Outcome == "success"
		}
	}
	if !reap {
		t.Fatalf("no reap event: %+v", last)
	}
	if n, err := ev.e.Reap(ctx); err != nil || n != 0 {
		t.Fatalf("second Reap: %d %v", n, err)
	}
}

// TestRevokePath revokes every live lease of a role path and no other.
func TestRevokePath(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	var conns []interface{ Ping(context.Context) error }
	for range 3 {
		c := ev.mustConnect(t, ev.create(t, admin, ev.app, 0))
		defer c.Close(ctx)
		conns = append(conns, c)
	}
	other := ev.create(t, admin, ev.apple, 0)
	n, err := ev.e.RevokePath(ctx, secrets.Principal{Kind: secrets.KindSystem, ID: "rotation"}, ev.app)
	if err != nil || n != 3 {
		t.Fatalf("RevokePath: %d %v", n, err)
	}
	for _, c := range conns {
		if c.Ping(ctx) == nil {
			t.Fatal("a session survived RevokePath")
		}
	}
	if ev.roleCount(t) != 1 || !ev.roleExists(t, other.Username) {
		t.Fatal("RevokePath touched another role path")
	}
}

// TestRevokeDropsOwned: the role's privileges (which would block DROP
// ROLE) go with DROP OWNED, and the revocation statements run.
func TestRevokeDropsOwned(t *testing.T) {
	schema := "s_" + randHex(t, 6)
	ev := newEnv(t, func(ev *env) {
		ev.opts.Roles[0].Creation = append(creation, "GRANT USAGE ON SCHEMA "+schema+" TO {{name}}")
		ev.opts.Roles[0].Revocation = []string{"REVOKE USAGE ON SCHEMA " + schema + " FROM {{name}}"}
	})
	ctx := context.Background()
	if _, err := ev.pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ev.pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	l := ev.create(t, admin, ev.app, 0)
	if err := ev.e.Revoke(ctx, admin, l.ID); err != nil {
		t.Fatal(err)
	}
	if ev.roleExists(t, l.Username) {
		t.Fatal("role survived")
	}
}

// TestRunReapsAtStart: leases that expired while Rampart was down are
// reaped by Run as soon as it starts.
func TestRunReapsAtStart(t *testing.T) {
	ev := newEnv(t)
	l := ev.create(t, admin, ev.app, time.Minute)
	// "Rampart stops", time passes, a new instance starts.
	ev.clock.Add(time.Hour)
	e2 := ev.newEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e2.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for ev.roleExists(t, l.Username) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if ev.roleExists(t, l.Username) || ev.state(t, l.ID) != pgdyn.StateRevoked {
		t.Fatal("Run did not reap the lease expired while down")
	}
}

// TestCrashRecovery: rows a crash left half done (creating with the role
// made, creating without it, revoking with the role NOLOGIN and a session
// still open) are cleaned by a new engine's Reap once their claim runs
// out, and not before.
func TestCrashRecovery(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	store := ev.st.DB.SecretLeases()
	now := ev.clock.Now()
	mk := func(name string, withRole bool) pgdyn.Record {
		t.Helper()
		r := pgdyn.Record{Lease: pgdyn.Lease{ID: randHex(t, 16), Path: ev.app, Database: "main", Username: pgdyn.NamePrefix(ev.app) + name,
			Owner: "cli", CreatedAt: now, ExpiresAt: now.Add(time.Hour), MaxExpiresAt: now.Add(3 * time.Hour)},
			State: pgdyn.StateCreating, ClaimedUntil: now.Add(2 * time.Minute)}
		if err := store.InsertLease(ctx, r); err != nil {
			t.Fatal(err)
		}
		if withRole {
			if _, err := ev.pool.Exec(ctx, "CREATE ROLE "+r.Username+" LOGIN PASSWORD 'x'"); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	halfMade := mk("00000000000000a1", true)
	notMade := mk("00000000000000a2", false)
	// A lease the crashed instance was revoking: claimed, NOLOGIN done,
	// its session still open.
	live := ev.create(t, admin, ev.app, 0)
	c := ev.mustConnect(t, live)
	defer c.Close(ctx)
	if err := store.ClaimLease(ctx, live.ID, now, now.Add(time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.pool.Exec(ctx, "ALTER ROLE "+live.Username+" NOLOGIN"); err != nil {
		t.Fatal(err)
	}

	e2 := ev.newEngine(t)
	if n, err := e2.Reap(ctx); err != nil || n != 0 {
		t.Fatalf("Reap while the claims hold: %d %v", n, err)
	}
	if !ev.roleExists(t, halfMade.Username) || !ev.roleExists(t, live.Username) {
		t.Fatal("the reaper took a claimed lease")
	}
	ev.clock.Add(3 * time.Minute)
	n, err := e2.Reap(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Reap after the claims ran out: %d %v", n, err)
	}
	if ev.roleCount(t) != 0 || ev.sessionCount(t) != 0 || c.Ping(ctx) == nil {
		t.Fatal("crash leftovers survived")
	}
	for _, id := range []string{halfMade.ID, notMade.ID, live.ID} {
		if ev.state(t, id) != pgdyn.StateRevoked {
			t.Fatalf("lease %s not revoked", id)
		}
	}
	causes := map[string]bool{}
	for _, e := range ev.rec.All() {
		if e.Details["op"] == "reap" {
			causes[e.Details["cause"]] = true
		}
	}
	if !causes["abandoned_creating"] || !causes["abandoned_revoking"] {
		t.Fatalf("reap causes %v", causes)
	}
}

// TestTwoReapersDoNotFight: two engines reaping the same expired leases
// at once revoke each exactly once between them.
func TestTwoReapersDoNotFight(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	for range 8 {
		ev.create(t, admin, ev.app, time.Minute)
	}
	ev.clock.Add(time.Hour)
	e2 := ev.newEngine(t)
	type res struct {
		n   int
		err error
	}
	ch := make(chan res, 2)
	for _, e := range []*pgdyn.Engine{ev.e, e2} {
		go func() { n, err := e.Reap(ctx); ch <- res{n, err} }()
	}
	a, b := <-ch, <-ch
	if a.err != nil || b.err != nil || a.n+b.n != 8 {
		t.Fatalf("reapers: %+v %+v", a, b)
	}
	if ev.roleCount(t) != 0 {
		t.Fatal("roles left")
	}
}

// TestRevokeStates: an explicit Revoke of a lease still being created
// waits for its creator and then revokes it (an emergency revocation must
// not miss it), or, when the creator never finishes, is ErrConflict (the
// reaper takes it once the claim runs out); of a lease another instance is revoking, it does the
// (idempotent) work itself so the role is gone when it returns; a role
// path that is not configured is ErrNotFound to an admin.
func TestRevokeStates(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	store := ev.st.DB.SecretLeases()
	now := ev.clock.Now()
	creating := pgdyn.Record{Lease: pgdyn.Lease{ID: randHex(t, 16), Path: ev.app, Database: "main", Username: pgdyn.NamePrefix(ev.app) + "00000000000000b1",
		Owner: "cli", CreatedAt: now, ExpiresAt: now.Add(time.Hour), MaxExpiresAt: now.Add(time.Hour)}, State: pgdyn.StateCreating, ClaimedUntil: now.Add(time.Minute)}
	if err := store.InsertLease(ctx, creating); err != nil {
		t.Fatal(err)
	}
	defer pgdyn.SetSettleWait(300 * time.Millisecond)()
	if err := ev.e.Revoke(ctx, admin, creating.ID); !errors.Is(err, secrets.ErrConflict) {
		t.Fatalf("Revoke of a lease whose creator never finishes: %v", err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = store.ActivateLease(context.Background(), creating.ID)
	}()
	if err := ev.e.Revoke(ctx, admin, creating.ID); err != nil || ev.state(t, creating.ID) != pgdyn.StateRevoked {
		t.Fatalf("Revoke of a lease activated meanwhile: %v", err)
	}
	l := ev.create(t, admin, ev.app, 0)
	c := ev.mustConnect(t, l)
	defer c.Close(ctx)
	if err := store.ClaimLease(ctx, l.ID, now, now.Add(time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if err := ev.e.Revoke(ctx, admin, l.ID); err != nil {
		t.Fatal(err)
	}
	if ev.roleExists(t, l.Username) || c.Ping(ctx) == nil || ev.state(t, l.ID) != pgdyn.StateRevoked {
		t.Fatal("a claimed lease survived an explicit Revoke")
	}
	if _, err := ev.e.Create(ctx, admin, mustPath(t, "db/"+ev.tag+"/none"), 0); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Create of an unknown role: %v", err)
	}
	if _, err := ev.e.Create(ctx, admin, ev.app, -time.Second); !errors.Is(err, secrets.ErrInvalid) {
		t.Fatalf("negative TTL: %v", err)
	}
	if got := ev.e.Roles(); len(got) != 2 || got[0] != ev.app || got[1] != ev.apple {
		t.Fatalf("Roles: %v", got)
	}
}

// TestServerNeverSeesThePassword: what {{password}} puts in a statement
// is the SCRAM-SHA-256 verifier, so no statement log, pg_stat_statements
// or error report of the server can hold the password. The role's
// creation also stores {{password}} as the role's comment: the comment is
// exactly what the server received.
func TestServerNeverSeesThePassword(t *testing.T) {
	ev := newEnv(t, func(ev *env) {
		ev.opts.Roles[0].Creation = append(slices.Clone(ev.opts.Roles[0].Creation), "COMMENT ON ROLE {{name}} IS {{password}}")
	})
	ctx := context.Background()
	l := ev.create(t, admin, ev.app, 0)
	var seen string
	if err := ev.pool.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1`, l.Username).Scan(&seen); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(seen, "SCRAM-SHA-256$4096:") || strings.Contains(seen, string(l.Password.Bytes())) {
		t.Fatalf("the server received %.24s… for {{password}}, want a SCRAM-SHA-256 verifier", seen)
	}
	// ... and the password logs in with it.
	c := ev.mustConnect(t, l)
	_ = c.Close(ctx)
}
