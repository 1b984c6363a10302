package pgrotate

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/secrets"
)

// TestHostileUserNamesQuotedSafely: configured role names holding double
// and single quotes, semicolons, comment markers and backslashes are
// rotated as the roles they name (pgx.Identifier.Sanitize), and the SQL
// they carry never runs: the canary role they try to drop survives.
func TestHostileUserNamesQuotedSafely(t *testing.T) {
	pool := adminPool(t)
	p := "rp_" + randHex(t, 6)
	canary := p + "_c"
	names := []string{
		p + `"; DROP ROLE ` + canary + `; --`,
		p + `' PASSWORD 'x'; DROP ROLE "` + canary + `"\`,
	}
	for _, n := range names {
		if len(n) > maxUsername {
			t.Fatalf("test name too long: %d", len(n))
		}
	}
	f := newFixture(t, pool, names...)
	f.exec(t, "CREATE ROLE "+ident(canary)+" NOLOGIN")
	t.Cleanup(func() { _, _ = pool.Exec(bg(), "DROP ROLE IF EXISTS "+ident(canary)) })

	for _, strategy := range []string{StrategySingle, StrategyAlternating} {
		t.Run(strategy, func(t *testing.T) {
			d := newDriver(t, newManager(t, &recorder{}), newRotator(t, f, strategy), false)
			var last secrets.Secret
			for i := range 3 {
				last = mustRotate(t, d, i == 2)
				if err := f.works(last.Value); err != nil {
					t.Fatalf("rotation %d: %v", i+1, err)
				}
			}
			if u := userOf(t, last); u != names[0] && u != names[1] {
				t.Fatalf("rotated %q", u)
			}
		})
	}
	var n int
	if err := pool.QueryRow(bg(), `SELECT count(*) FROM pg_roles WHERE rolname = $1`, canary).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the canary role is gone (%v): a name was spliced into SQL", err)
	}
}

// TestNoPasswordInLogsAuditOrCatalog: over scheduled and emergency
// rotations no password appears in a log line (debug level) or an audit
// event, and the database holds a SCRAM verifier, never the password
// (the plaintext never left Rampart).
func TestNoPasswordInLogsAuditOrCatalog(t *testing.T) {
	pool := adminPool(t)
	f := newFixture(t, pool)
	var logs bytes.Buffer
	rec, rotRec := &recorder{}, &recorder{}
	r := newRotator(t, f, StrategyAlternating, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.Audit = rotRec
	})
	d := newDriver(t, newManager(t, rec), r, false)
	var values []secrets.Secret
	values = append(values, mustRotate(t, d, false), mustRotate(t, d, false))
	ctx, cancel := context.WithTimeout(bg(), 30*time.Second)
	defer cancel()
	session, err := f.connect(ctx, values[1].Value)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = session.Close(bg()) }()
	values = append(values, mustRotate(t, d, true))

	var events []audit.Event
	events = append(events, rec.All()...)
	events = append(events, rotRec.All()...)
	for _, v := range values {
		c, err := ParseCredential(v.Value)
		if err != nil {
			t.Fatal(err)
		}
		pw := string(c.Password.Bytes())
		if strings.Contains(logs.String(), pw) {
			t.Fatal("a password is in the log")
		}
		for _, e := range events {
			all := e.Actor + e.Action + e.Target + e.Reason
			for k, v := range e.Details {
				all += k + v
			}
			if strings.Contains(all, pw) {
				t.Fatalf("a password is in audit event %s", e.Action)
			}
		}
		var stored string
		if err := pool.QueryRow(bg(), `SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = $1`, c.Username).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stored, pw) || !strings.HasPrefix(stored, "SCRAM-SHA-256$4096:") {
			t.Fatal("the catalog holds something other than a SCRAM verifier")
		}
	}
	if strings.Contains(logs.String(), "ALTER ROLE") || strings.Contains(logs.String(), "SCRAM-SHA-256$") {
		t.Fatal("a statement or verifier was logged")
	}

	// The rotator's own events: each database change, with the role, the
	// operation and the sessions ended.
	ops := map[string]audit.Event{}
	for _, e := range rotRec.All() {
		if e.Action != audit.ActionSecretRotate || e.Outcome != audit.OutcomeSuccess || e.Target != string(d.path) {
			t.Fatalf("event %+v", e)
		}
		ops[e.Details["step"]+"/"+e.Details["op"]] = e
	}
	prev := userOf(t, values[1])
	if e := ops["finish/disable_login"]; e.Details["role"] != prev || e.Details["emergency"] != "true" {
		t.Fatalf("disable_login event %+v", e.Details)
	}
	if e := ops["finish/terminate_sessions"]; e.Details["role"] != prev || e.Details["sessions"] != "1" {
		t.Fatalf("terminate_sessions event %+v", e.Details)
	}
	if e := ops["set/set_password"]; e.Details["role"] != userOf(t, values[2]) {
		t.Fatalf("set_password event %+v", e.Details)
	}
	if e := ops["set/terminate_sessions"]; e.Details["role"] != userOf(t, values[2]) || e.Details["sessions"] != "0" {
		t.Fatalf("emergency set terminate_sessions event %+v", e.Details)
	}
}

// TestFailedSetIsAudited: a database refusal is a failure event with the
// SQLSTATE as reason, and an error that names the role, not the value.
func TestFailedSetIsAudited(t *testing.T) {
	pool := adminPool(t)
	f := newFixture(t, pool)
	rotRec := &recorder{}
	missing := f.users[0] + "_missing"
	r, err := New(Options{Pool: pool, Users: []string{missing}, Strategy: StrategySingle, Logger: quiet(), Audit: rotRec})
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.NewValue(bg(), secrets.Secret{})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Set(bg(), secrets.Secret{}, secrets.Secret{Path: "db/x", Version: 1, Value: v}, false)
	if err == nil || !strings.Contains(err.Error(), "42704") {
		t.Fatalf("err = %v, want undefined_object", err)
	}
	c, _ := ParseCredential(v)
	if strings.Contains(err.Error(), string(c.Password.Bytes())) || strings.Contains(err.Error(), "SCRAM") {
		t.Fatal("the error carries the value")
	}
	es := rotRec.All()
	if len(es) != 1 || es[0].Outcome != audit.OutcomeFailure || es[0].Reason != "sqlstate_42704" {
		t.Fatalf("events %+v", es)
	}
}
