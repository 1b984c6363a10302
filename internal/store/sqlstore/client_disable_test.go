package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestClientDisableAndRevoke: the disabled flag round-trips; RevokeClient
// revokes the client's live families (returning their live access
// tokens once), deletes its pending code, device code and pushed request,
// and leaves the client and other clients' state alone.
func TestClientDisableAndRevoke(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		c := &oauth.Client{ID: "web", GrantTypes: []string{"authorization_code"}, Public: true, Source: oauth.SourceCLI, CreatedAt: t0, UpdatedAt: t0}
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.SetClientDisabled(ctx, "web", true, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetClient(ctx, "web"); err != nil || !got.Disabled {
			t.Fatalf("disabled flag not stored: %+v %v", got, err)
		}
		if err := s.SetClientDisabled(ctx, "nobody", true, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown client: %v", err)
		}
		for _, id := range []string{"web", "other"} {
			fam := &oauth.Family{ID: "fam-" + id, ClientID: id, UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			if err := s.CreateFamily(ctx, fam); err != nil {
				t.Fatal(err)
			}
			if err := s.RecordAccess(ctx, fam.ID, oauth.IssuedAccess{JTI: "jti-" + id, ExpiresAt: t0.Add(10 * time.Minute)}); err != nil {
				t.Fatal(err)
			}
			code := newCode("code-" + id)
			code.ClientID = id
			if err := s.SaveCode(ctx, code); err != nil {
				t.Fatal(err)
			}
			if err := s.SavePushedRequest(ctx, &oauth.PushedRequest{Hash: h("par-" + id), ClientID: id, Params: "a=b", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveDevice(ctx, &oauth.DeviceCode{Hash: h("dev-" + id), UserCode: map[string]string{"web": "BCDFGHJK", "other": "LMNPQRST"}[id], ClientID: id,
				CreatedAt: t0, ExpiresAt: t0.Add(time.Minute), Status: oauth.DevicePending}); err != nil {
				t.Fatal(err)
			}
		}
		acc, err := s.RevokeClient(ctx, "web", t0.Add(time.Minute))
		if err != nil || len(acc) != 1 || acc[0].JTI != "jti-web" {
			t.Fatalf("revoke client: %+v %v", acc, err)
		}
		if again, err := s.RevokeClient(ctx, "web", t0.Add(2*time.Minute)); err != nil || len(again) != 0 {
			t.Fatalf("second revoke: %+v %v", again, err)
		}
		now := t0.Add(2 * time.Minute)
		if _, err := s.RedeemCode(ctx, h("code-web"), &oauth.Family{ID: "f2", ClientID: "web", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, t0); err == nil {
			t.Fatal("a pending code of the revoked client was redeemed")
		}
		if _, err := s.OpenPushedRequest(ctx, h("par-web"), "web", t0, t0); err == nil {
			t.Fatal("a pushed request of the revoked client opened")
		}
		if _, err := s.DeviceByUserCode(ctx, "BCDFGHJK", t0); err == nil {
			t.Fatal("a device code of the revoked client survived")
		}
		if _, err := s.OpenPushedRequest(ctx, h("par-other"), "other", t0, t0); err != nil {
			t.Fatalf("another client's pushed request went: %v", err)
		}
		if _, err := s.DeviceByUserCode(ctx, "LMNPQRST", t0); err != nil {
			t.Fatalf("another client's device code went: %v", err)
		}
		if _, err := s.GetClient(ctx, "web"); err != nil {
			t.Fatalf("revoking deleted the client: %v", err)
		}
	})
}
