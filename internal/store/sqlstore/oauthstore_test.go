package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.UTC)

func h(s string) []byte { b := sha256.Sum256([]byte(s)); return b[:] }

func forDrivers(t *testing.T, fn func(t *testing.T, s *storetest.Store)) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) { fn(t, storetest.Open(t, d)) })
	}
}

func TestClientsRoundTrip(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		c := &oauth.Client{ID: "x'); DROP TABLE users;--", SecretHash: "hmac-sha256$abc", GrantTypes: []string{"client_credentials"},
			Scopes: []string{"a", "b"}, Audience: []string{"https://api"}, ResourceServer: true, RequireMFA: true, AccessTokenTTL: time.Minute,
			Source: oauth.SourceCLI, CreatedAt: t0, UpdatedAt: t0}
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateClient(ctx, c); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate: %v", err)
		}
		got, err := s.GetClient(ctx, c.ID)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("got %+v %v, want %+v", got, err, c)
		}
		if _, err := s.CountUsers(ctx); err != nil {
			t.Fatalf("users table gone after an injection-shaped id: %v", err)
		}
		if err := s.UpdateClientSecret(ctx, c.ID, "hmac-sha256$def", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateClientSecret(ctx, "nope", "x", t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update unknown: %v", err)
		}
		list, err := s.ListClients(ctx)
		if err != nil || len(list) != 1 || list[0].SecretHash != "hmac-sha256$def" {
			t.Fatalf("list %+v %v", list, err)
		}
		if _, err := s.DeleteClient(ctx, c.ID, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteClient(ctx, c.ID, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := s.GetClient(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get deleted: %v", err)
		}
	})
}

func newCode(name string) *oauth.AuthCode {
	return &oauth.AuthCode{Hash: h(name), ClientID: "web", UserID: "u1", RedirectURI: "https://a/cb", CodeChallenge: "c",
		Scopes: []string{"openid"}, Audience: []string{"web"}, Nonce: "n", AuthTime: t0, AMR: []string{"pwd", "otp"}, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
}

// TestRedeemCodeRace: of many concurrent redeemers of one code exactly one
// wins; the others see store.ErrUsed with the code.
func TestRedeemCodeRace(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		c := newCode("code-1")
		if err := s.SaveCode(ctx, c); err != nil {
			t.Fatal(err)
		}
		var wins, used atomic.Int32
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.RedeemCode(ctx, c.Hash, &oauth.Family{ID: fmt.Sprintf("fam-%d", i), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, t0)
				switch {
				case err == nil:
					wins.Add(1)
					if !reflect.DeepEqual(got, c) {
						t.Errorf("redeemed %+v, want %+v", got, c)
					}
				case errors.Is(err, store.ErrUsed):
					used.Add(1)
					if got == nil || got.UserID != "u1" {
						t.Errorf("ErrUsed without the code: %+v", got)
					}
				default:
					t.Errorf("redeem: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || used.Load() != 15 {
			t.Fatalf("%d winners, %d replays; want 1 and 15", wins.Load(), used.Load())
		}
		if _, err := s.RedeemCode(ctx, h("nope"), &oauth.Family{ID: "x"}, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown code: %v", err)
		}
	})
}

// TestFamilyLifecycle: tokens recorded in a family are revoked with it,
// nothing can be added afterwards, and a replayed rotation is ErrUsed.
func TestFamilyLifecycle(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		c := newCode("code-2")
		if err := s.SaveCode(ctx, c); err != nil {
			t.Fatal(err)
		}
		fam := &oauth.Family{ID: "fam", ClientID: "ignored", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
		if _, err := s.RedeemCode(ctx, c.Hash, fam, t0); err != nil {
			t.Fatal(err)
		}
		if fam.ClientID != "web" || fam.UserID != "u1" {
			t.Fatalf("family not bound to the code's client and user: %+v", fam)
		}
		if err := s.RecordAccess(ctx, "fam", oauth.IssuedAccess{JTI: "live", ExpiresAt: t0.Add(10 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordAccess(ctx, "fam", oauth.IssuedAccess{JTI: "dead", ExpiresAt: t0.Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
		rt := &oauth.RefreshToken{Hash: h("rt1"), FamilyID: "fam", ClientID: "web", UserID: "u1", Scopes: []string{"openid"},
			AuthTime: t0, AMR: []string{"pwd", "otp"}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := s.SaveRefresh(ctx, rt); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetRefresh(ctx, rt.Hash)
		if err != nil || !got.FamilyExpiresAt.Equal(fam.ExpiresAt) || !got.UsedAt.IsZero() || got.UserID != "u1" {
			t.Fatalf("get refresh %+v %v", got, err)
		}
		// Concurrent rotations of one token: one wins.
		var wins, used atomic.Int32
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				next := &oauth.RefreshToken{Hash: h(fmt.Sprintf("rt2-%d", i)), ClientID: "web", UserID: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
				old, err := s.RotateRefresh(ctx, rt.Hash, next, t0.Add(time.Second))
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, store.ErrUsed):
					used.Add(1)
					if old == nil || old.FamilyID != "fam" {
						t.Errorf("ErrUsed without the token: %+v", old)
					}
				default:
					t.Errorf("rotate: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || used.Load() != 11 {
			t.Fatalf("%d rotations won, %d replays; want 1 and 11", wins.Load(), used.Load())
		}
		acc, err := s.RevokeFamily(ctx, "fam", t0)
		if err != nil || len(acc) != 1 || acc[0].JTI != "live" {
			t.Fatalf("revoke returned %+v %v; want only the live access token", acc, err)
		}
		if err := s.SaveRefresh(ctx, &oauth.RefreshToken{Hash: h("late"), FamilyID: "fam", ExpiresAt: t0.Add(time.Hour)}); !errors.Is(err, store.ErrRevoked) {
			t.Fatalf("save into revoked family: %v", err)
		}
		if err := s.RecordAccess(ctx, "fam", oauth.IssuedAccess{JTI: "late", ExpiresAt: t0.Add(time.Hour)}); !errors.Is(err, store.ErrRevoked) {
			t.Fatalf("record into revoked family: %v", err)
		}
		if got, _ := s.GetRefresh(ctx, rt.Hash); got.RevokedAt.IsZero() {
			t.Fatal("token of a revoked family not reported revoked")
		}
		if _, err := s.RotateRefresh(ctx, h("rt2-0"), &oauth.RefreshToken{Hash: h("x")}, t0); !errors.Is(err, store.ErrRevoked) && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rotate in revoked family: %v", err)
		}
		if acc, err := s.RevokeCodeFamily(ctx, c.Hash, t0); err != nil || len(acc) != 1 {
			t.Fatalf("revoke by code: %+v %v", acc, err)
		}
		if acc, err := s.RevokeCodeFamily(ctx, h("no-such-code"), t0); err != nil || acc != nil {
			t.Fatalf("revoke by unknown code: %+v %v", acc, err)
		}
	})
}

func TestDenyListConsentsUsersSessionsPurge(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		if err := s.DenyJTI(ctx, "j", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.DenyJTI(ctx, "j", t0); err != nil { // an earlier expiry never shortens it
			t.Fatal(err)
		}
		if ok, _ := s.IsDenied(ctx, "j", t0.Add(30*time.Second)); !ok {
			t.Fatal("denied jti not reported")
		}
		if ok, _ := s.IsDenied(ctx, "j", t0.Add(2*time.Minute)); ok {
			t.Fatal("expired deny entry still reported")
		}
		if ok, _ := s.IsDenied(ctx, "' OR 1=1 --", t0); ok {
			t.Fatal("injection-shaped jti matched")
		}
		for _, c := range []oauth.Consent{{UserID: "u", ClientID: "b", Scopes: []string{"x"}, GrantedAt: t0}, {UserID: "u", ClientID: "a", GrantedAt: t0}} {
			if err := s.SaveConsent(ctx, &c); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SaveConsent(ctx, &oauth.Consent{UserID: "u", ClientID: "b", Scopes: []string{"x", "y"}, GrantedAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListConsents(ctx, "u")
		if err != nil || len(list) != 2 || list[0].ClientID != "a" || len(list[1].Scopes) != 2 {
			t.Fatalf("consents %+v %v", list, err)
		}
		if err := s.DeleteConsent(ctx, "u", "a"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteConsent(ctx, "u", "a"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		u := &identity.User{ID: "id1", Username: "alice", PasswordHash: "$argon2id$x", CreatedAt: t0, UpdatedAt: t0}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, &identity.User{ID: "id2", Username: "alice"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate username: %v", err)
		}
		if got, err := s.UserByUsername(ctx, "alice"); err != nil || !reflect.DeepEqual(got, u) {
			t.Fatalf("user %+v %v", got, err)
		}
		if _, err := s.UserByUsername(ctx, "alice' OR '1'='1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("injection-shaped username: %v", err)
		}
		sess := &identity.Session{IDHash: h("s"), UserID: "id1", AuthTime: t0, AMR: []string{"pwd", "otp"}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetSession(ctx, sess.IDHash); err != nil || !reflect.DeepEqual(got, sess) {
			t.Fatalf("session %+v %v", got, err)
		}
		if n, err := s.PurgeSessions(ctx, t0.Add(2*time.Hour)); err != nil || n != 1 {
			t.Fatalf("purge sessions %d %v", n, err)
		}
		if err := s.SaveCode(ctx, newCode("old")); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PurgeExpired(ctx, t0.Add(time.Hour)); err != nil || n != 2 { // the code and the deny entry
			t.Fatalf("purge %d %v", n, err)
		}
	})
}
