package pgrotate

import (
	"context"
	"testing"
	"time"
)

// SQLSTATEs (PostgreSQL docs, Appendix A).
const (
	invalidPassword = "28P01" // password authentication failed
)

func TestSingleRotation(t *testing.T) {
	pool := adminPool(t)
	f := newFixture(t, pool)
	d := newDriver(t, newManager(t, &recorder{}), newRotator(t, f, StrategySingle), true)

	v1 := mustRotate(t, d, false)
	if u := userOf(t, v1); u != f.users[0] {
		t.Fatalf("user %q", u)
	}
	if err := f.works(v1.Value); err != nil {
		t.Fatalf("first credential: %v", err)
	}
	ctx, cancel := context.WithTimeout(bg(), 30*time.Second)
	defer cancel()
	session, err := f.connect(ctx, v1.Value)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = session.Close(bg()) }()

	v2 := mustRotate(t, d, false)
	if userOf(t, v2) != f.users[0] || v2.Value.Equal(v1.Value) {
		t.Fatal("single: want the same user with a new password")
	}
	if err := f.works(v2.Value); err != nil {
		t.Fatalf("new credential: %v", err)
	}
	if err := f.works(v1.Value); sqlState(err) != invalidPassword {
		t.Fatalf("old password: err = %v, want %s", err, invalidPassword)
	}
	if err := f.query(ctx, session); err != nil {
		t.Fatalf("a scheduled rotation ended an open session: %v", err)
	}

	v3 := mustRotate(t, d, true)
	if err := f.works(v3.Value); err != nil {
		t.Fatalf("credential after the emergency: %v", err)
	}
	if err := f.query(ctx, session); err == nil {
		t.Fatal("the emergency rotation left the old session open")
	}
	if _, err := pool.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("the emergency rotation hurt the administrative pool: %v", err)
	}
}

func TestAlternatingRotation(t *testing.T) {
	pool := adminPool(t)
	f := newFixture(t, pool)
	d := newDriver(t, newManager(t, &recorder{}), newRotator(t, f, StrategyAlternating), true)
	a, b := f.users[0], f.users[1]

	v1 := mustRotate(t, d, false)
	if userOf(t, v1) != a {
		t.Fatalf("first rotation user %q, want the first user", userOf(t, v1))
	}
	v2 := mustRotate(t, d, false)
	v3 := mustRotate(t, d, false)
	if userOf(t, v2) != b || userOf(t, v3) != a {
		t.Fatalf("users %q, %q: want them to alternate", userOf(t, v2), userOf(t, v3))
	}
	if err := f.works(v3.Value); err != nil {
		t.Fatalf("current: %v", err)
	}
	if err := f.works(v2.Value); err != nil {
		t.Fatalf("previous (overlap): %v", err)
	}
	if err := f.works(v1.Value); sqlState(err) != invalidPassword {
		t.Fatalf("two rotations old: err = %v, want %s", err, invalidPassword)
	}

	// Emergency: current is v3 (user a). Sessions of a are open.
	ctx, cancel := context.WithTimeout(bg(), 60*time.Second)
	defer cancel()
	session, err := f.connect(ctx, v3.Value)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = session.Close(bg()) }()
	// A session of b opened with v2, the credential before current: the
	// emergency changes b's password, and ends this session too.
	older, err := f.connect(ctx, v2.Value)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = older.Close(bg()) }()
	v4 := mustRotate(t, d, true)
	if userOf(t, v4) != b {
		t.Fatalf("emergency user %q", userOf(t, v4))
	}
	if err := f.works(v4.Value); err != nil {
		t.Fatalf("credential after the emergency: %v", err)
	}
	// The password is checked before NOLOGIN (PostgreSQL docs, 22.2 Role
	// Attributes), so the refusal is 28P01; the role cannot log in either.
	if err := f.works(v3.Value); sqlState(err) != invalidPassword {
		t.Fatalf("previous after the emergency: err = %v, want %s", err, invalidPassword)
	}
	if f.canLogin(t, a) {
		t.Fatal("the previous user kept LOGIN after the emergency")
	}
	if err := f.query(ctx, session); err == nil {
		t.Fatal("the previous user's open session survived the emergency")
	}
	if err := f.query(ctx, older); err == nil {
		t.Fatal("a session opened with the credential before previous survived the emergency")
	}
	if _, err := pool.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("the emergency hurt the administrative pool: %v", err)
	}

	// The next rotation gives a its LOGIN back with a new password.
	v5 := mustRotate(t, d, false)
	if userOf(t, v5) != a {
		t.Fatalf("user %q after the emergency", userOf(t, v5))
	}
	if err := f.works(v5.Value); err != nil || !f.canLogin(t, a) {
		t.Fatalf("LOGIN not given back: %v", err)
	}
	if err := f.works(v4.Value); err != nil {
		t.Fatalf("previous after a scheduled rotation: %v", err)
	}
}

// TestEmergencyWithoutPrevious: an emergency first rotation has nothing
// to end, and ends nothing.
func TestEmergencyWithoutPrevious(t *testing.T) {
	pool := adminPool(t)
	f := newFixture(t, pool)
	d := newDriver(t, newManager(t, &recorder{}), newRotator(t, f, StrategyAlternating), true)
	v1 := mustRotate(t, d, true)
	if err := f.works(v1.Value); err != nil {
		t.Fatal(err)
	}
}

// canLogin reports pg_roles.rolcanlogin of user.
func (f *fixture) canLogin(t testing.TB, user string) bool {
	t.Helper()
	var ok bool
	if err := f.pool.QueryRow(bg(), `SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`, user).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}
