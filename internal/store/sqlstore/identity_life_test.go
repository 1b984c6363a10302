package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestSessionLifecycleStore: the columns of migration 0010 round-trip, a
// touch writes only past its bound, one user cannot delete another's
// session, and a password change sets and clears the must-change flag.
func TestSessionLifecycleStore(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		for _, id := range []string{"u1", "u2"} {
			if err := s.CreateUser(ctx, &identity.User{ID: id, Username: id, PasswordHash: "$argon2id$x", MustChangePassword: id == "u1", CreatedAt: t0, UpdatedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		if u, err := s.UserByID(ctx, "u1"); err != nil || !u.MustChangePassword {
			t.Fatalf("must_change_password not stored: %+v %v", u, err)
		}
		a := &identity.Session{IDHash: h("a"), UserID: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
			LastSeenAt: t0, UserAgent: "Mozilla/5.0 (X11) Firefox/140.0", ClientAddr: "192.0.2.7"}
		b := &identity.Session{IDHash: h("b"), UserID: "u2", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastSeenAt: t0}
		for _, x := range []*identity.Session{a, b} {
			if err := s.CreateSession(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetSession(ctx, a.IDHash)
		if err != nil || got.UserAgent != a.UserAgent || got.ClientAddr != a.ClientAddr || !got.LastSeenAt.Equal(t0) {
			t.Fatalf("session %+v %v", got, err)
		}
		// Bounded write rate: a touch whose bound the stored value is past
		// changes nothing; one past the bound moves it.
		if err := s.TouchSession(ctx, a.IDHash, t0.Add(30*time.Second), t0.Add(-30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetSession(ctx, a.IDHash); !got.LastSeenAt.Equal(t0) {
			t.Fatalf("touch inside the interval wrote: %v", got.LastSeenAt)
		}
		if err := s.TouchSession(ctx, a.IDHash, t0.Add(2*time.Minute), t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetSession(ctx, a.IDHash); !got.LastSeenAt.Equal(t0.Add(2 * time.Minute)) {
			t.Fatalf("touch past the interval did not write: %v", got.LastSeenAt)
		}
		list, err := s.ListUserSessions(ctx, "u1", t0)
		if err != nil || len(list) != 1 || list[0].UserAgent != a.UserAgent {
			t.Fatalf("list %+v %v", list, err)
		}
		// u1 cannot end u2's session through its hash (IDOR).
		if err := s.DeleteUserSession(ctx, "u1", b.IDHash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("cross-user delete: %v", err)
		}
		if _, err := s.GetSession(ctx, b.IDHash); err != nil {
			t.Fatalf("u2's session was deleted: %v", err)
		}
		if err := s.DeleteUserSession(ctx, "u1", a.IDHash); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPassword(ctx, "u1", "$argon2id$new", false, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.UserByID(ctx, "u1"); u.MustChangePassword || u.PasswordHash != "$argon2id$new" {
			t.Fatalf("set password: %+v", u)
		}
		if err := s.SetPassword(ctx, "nobody", "x", false, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	})
}
