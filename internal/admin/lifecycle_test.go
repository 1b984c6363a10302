package admin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rampart-auth/rampart/internal/admin"
)

// TestLifecycleUseCasesUnwired: the lifecycle2 use cases on a Service
// without their stores fail loudly instead of skipping a step.
func TestLifecycleUseCasesUnwired(t *testing.T) {
	ctx := context.Background()
	svc := admin.New(admin.Options{})
	if _, err := svc.ResetPassword(ctx, "cli:ops", "u1", "a long enough password"); !errors.Is(err, admin.ErrUnavailable) {
		t.Errorf("reset: %v", err)
	}
	if _, err := svc.GetUserByName(ctx, "bob"); !errors.Is(err, admin.ErrUnavailable) {
		t.Errorf("by name: %v", err)
	}
	if _, err := svc.DisableClient(ctx, "cli:ops", "c1"); !errors.Is(err, admin.ErrUnavailable) {
		t.Errorf("disable client: %v", err)
	}
	if err := svc.EnableClient(ctx, "cli:ops", "c1"); !errors.Is(err, admin.ErrUnavailable) {
		t.Errorf("enable client: %v", err)
	}
}

// TestResetPasswordNeedsTheEnder: a Service with the users but no access
// ender refuses the reset before changing the password (a reset that
// cannot end the old access must not happen halfway).
func TestResetPasswordNeedsTheEnder(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "sqlite") // no Ender wired
	u, err := f.svc.CreateUser(ctx, "cli:ops", "bob", "bob's first long password", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ResetPassword(ctx, "cli:ops", u.ID, "a temporary passphrase"); !errors.Is(err, admin.ErrUnavailable) {
		t.Fatalf("reset without an ender: %v, want ErrUnavailable", err)
	}
	if after, err := f.db.UserByID(ctx, u.ID); err != nil || after.PasswordHash != u.PasswordHash || after.MustChangePassword {
		t.Fatalf("a refused reset changed the password: %v", err)
	}
	for _, a := range f.actions(t) {
		if a == "user.password_reset user:"+u.ID {
			t.Fatal("a reset that ended nothing was recorded as done")
		}
	}
}
