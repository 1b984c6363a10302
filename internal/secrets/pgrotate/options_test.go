package pgrotate

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// lazyPool is a pool that never connects (pgxpool connects on first
// use): for the checks that must refuse before any SQL runs, an attempt
// to reach it fails with a connection error, not the refusal expected.
func lazyPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(bg(), "postgres://admin@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestNewRejectsBadOptions(t *testing.T) {
	pool := lazyPool(t)
	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"reject/no-pool", Options{Users: []string{"a"}, Strategy: StrategySingle}, "no administrative pool"},
		{"reject/unknown-strategy", Options{Pool: pool, Users: []string{"a"}, Strategy: "rolling"}, "unknown strategy"},
		{"reject/no-strategy", Options{Pool: pool, Users: []string{"a"}}, "unknown strategy"},
		{"reject/single-two-users", Options{Pool: pool, Users: []string{"a", "b"}, Strategy: StrategySingle}, "exactly one"},
		{"reject/single-no-user", Options{Pool: pool, Strategy: StrategySingle}, "exactly one"},
		{"reject/alternating-one-user", Options{Pool: pool, Users: []string{"a"}, Strategy: StrategyAlternating}, "exactly two"},
		{"reject/alternating-same-user", Options{Pool: pool, Users: []string{"a", "a"}, Strategy: StrategyAlternating}, "exactly two"},
		{"reject/empty-user", Options{Pool: pool, Users: []string{""}, Strategy: StrategySingle}, "1 to 63"},
		{"reject/long-user", Options{Pool: pool, Users: []string{strings.Repeat("u", 64)}, Strategy: StrategySingle}, "1 to 63"},
		{"reject/nul-user", Options{Pool: pool, Users: []string{"a\x00b"}, Strategy: StrategySingle}, "NUL"},
		{"reject/invalid-utf8-user", Options{Pool: pool, Users: []string{"a\xffb"}, Strategy: StrategySingle}, "UTF-8"},
		{"reject/admin-is-rotated", Options{Pool: pool, Users: []string{"b", "admin"}, Strategy: StrategyAlternating}, "administrative role"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func credValue(t *testing.T, user, pw string) secrets.Value {
	t.Helper()
	v, err := Credential{Username: user, Password: secrets.NewValue([]byte(pw))}.Value()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewValueChoosesTheUser(t *testing.T) {
	pool := lazyPool(t)
	alt, err := New(Options{Pool: pool, Users: []string{"app_a", "app_b"}, Strategy: StrategyAlternating, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	single, err := New(Options{Pool: pool, Users: []string{"app"}, Strategy: StrategySingle, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	sec := func(v secrets.Value) secrets.Secret { return secrets.Secret{Version: 3, Value: v} }
	for _, c := range []struct {
		name    string
		r       interface{}
		current secrets.Secret
		user    string
		wantErr string
	}{
		{"alternating/no-current", alt, secrets.Secret{}, "app_a", ""},
		{"alternating/after-a", alt, sec(credValue(t, "app_a", "x")), "app_b", ""},
		{"alternating/after-b", alt, sec(credValue(t, "app_b", "x")), "app_a", ""},
		{"alternating/reject-unknown-user", alt, sec(credValue(t, "postgres", "x")), "", "not configured"},
		{"alternating/reject-not-a-credential", alt, sec(secrets.NewValue([]byte("hunter2"))), "", "not a credential"},
		{"single/no-current", single, secrets.Secret{}, "app", ""},
		{"single/any-current", single, sec(secrets.NewValue([]byte("legacy"))), "app", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.r.(*rotator)
			v, err := r.NewValue(bg(), c.current)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cred, err := ParseCredential(v)
			if err != nil {
				t.Fatal(err)
			}
			if cred.Username != c.user || !generated(cred.Password.Bytes()) {
				t.Fatalf("user %q, generated %v", cred.Username, generated(cred.Password.Bytes()))
			}
			again, _ := r.NewValue(bg(), c.current)
			if again.Equal(v) {
				t.Fatal("two values with the same password")
			}
		})
	}
}

// TestSetRefusesValuesItDidNotMake: a stored pending value is input.
// Set runs no SQL for a password the generator could not have made
// (here one that tries to close the literal), for a user that is not
// configured, or, alternating, for the current user; Test does not
// connect as a user that is not configured. The pool is unreachable: an
// attempt to run SQL would fail with a connection error instead.
func TestSetRefusesValuesItDidNotMake(t *testing.T) {
	pool := lazyPool(t)
	var logs bytes.Buffer
	alt, err := New(Options{Pool: pool, Users: []string{"app_a", "app_b"}, Strategy: StrategyAlternating,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := newPassword(randReader{})
	inject := "x'; ALTER ROLE postgres PASSWORD 'owned"
	cur := secrets.Secret{Version: 1, Value: credValue(t, "app_a", string(good))}
	for _, c := range []struct {
		name    string
		current secrets.Secret
		pending secrets.Value
		want    string
	}{
		{"reject/injected-password", cur, credValue(t, "app_b", inject), "not made by NewValue"},
		{"reject/short-password", cur, credValue(t, "app_b", "short"), "not made by NewValue"},
		{"reject/unknown-user", cur, credValue(t, "postgres", string(good)), "not configured"},
		{"reject/quoted-user", cur, credValue(t, `app_b"; DROP ROLE app_a; --`, string(good)), "not configured"},
		{"reject/current-user", cur, credValue(t, "app_a", string(good)), "names the current user"},
		{"reject/not-a-credential", cur, secrets.NewValue([]byte(inject)), "not a credential"},
		{"reject/current-not-a-credential", secrets.Secret{Version: 1, Value: secrets.NewValue([]byte("x"))}, credValue(t, "app_b", string(good)), "not a credential"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := alt.Set(bg(), c.current, secrets.Secret{Version: 2, Value: c.pending}, false)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "owned") || strings.Contains(err.Error(), string(good)) {
				t.Fatal("the error quotes the value")
			}
		})
	}
	if err := alt.Test(bg(), secrets.Secret{Value: credValue(t, "postgres", string(good))}); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("Test as an unconfigured user: %v", err)
	}
	if logs.Len() != 0 {
		t.Fatalf("refusals ran or logged SQL: %s", logs.String())
	}
}
