package admin_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestDevAdminMustChangePassword: the dev admin's printed one-time
// password is flagged for replacement at the first sign-in.
func TestDevAdminMustChangePassword(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	al, err := audit.New(audit.Options{Store: db.AuditStore, HMACKey: secretKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close(context.Background()) })
	h, err := identity.NewHasher(identity.Params{}, 1, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	users := identity.NewUsers(db.IdentityStore, h, al, nil, nil)
	pw, err := admin.EnsureDevAdmin(context.Background(), users)
	if err != nil || pw == "" {
		t.Fatalf("dev admin: %q %v", pw, err)
	}
	u, err := users.Authenticate(context.Background(), admin.DevAdminName, pw)
	if err != nil || !u.MustChangePassword {
		t.Fatalf("dev admin not flagged: %+v %v", u, err)
	}
}
