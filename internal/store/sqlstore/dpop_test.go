package sqlstore_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestDPoPBindingsRoundTrip: the DPoP bindings (RFC 9449) survive the
// store on both dialects: a code's dpop_jkt (§10), a refresh token's key
// (§5, read back by GetRefresh and by RotateRefresh's old token) and a
// client's require_dpop. An unbound row reads back unbound.
func TestDPoPBindingsRoundTrip(t *testing.T) {
	const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		cl := &oauth.Client{ID: "spa", Public: true, GrantTypes: []string{"authorization_code"}, RequireDPoP: true,
			Source: oauth.SourceCLI, CreatedAt: t0, UpdatedAt: t0}
		if err := s.CreateClient(ctx, cl); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetClient(ctx, cl.ID); err != nil || !reflect.DeepEqual(got, cl) {
			t.Fatalf("client %+v %v, want %+v", got, err, cl)
		}
		bound, free := newCode("bound"), newCode("free")
		bound.DPoPJKT = jkt
		for _, c := range []*oauth.AuthCode{bound, free} {
			if err := s.SaveCode(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.RedeemCode(ctx, bound.Hash, &oauth.Family{ID: "f1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, t0)
		if err != nil || got.DPoPJKT != jkt {
			t.Fatalf("redeemed code %+v %v; want dpop_jkt %s", got, err, jkt)
		}
		got, err = s.RedeemCode(ctx, free.Hash, &oauth.Family{ID: "f2", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, t0)
		if err != nil || got.DPoPJKT != "" {
			t.Fatalf("unbound code %+v %v", got, err)
		}
		rt := &oauth.RefreshToken{Hash: h("bound-rt"), FamilyID: "f1", ClientID: "web", UserID: "u1", AuthTime: t0, CreatedAt: t0,
			ExpiresAt: t0.Add(time.Hour), JKT: jkt}
		if err := s.SaveRefresh(ctx, rt); err != nil {
			t.Fatal(err)
		}
		if r, err := s.GetRefresh(ctx, rt.Hash); err != nil || r.JKT != jkt {
			t.Fatalf("get refresh %+v %v; want jkt", r, err)
		}
		next := &oauth.RefreshToken{Hash: h("bound-rt-2"), ClientID: "web", UserID: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), JKT: jkt}
		old, err := s.RotateRefresh(ctx, rt.Hash, next, t0.Add(time.Second))
		if err != nil || old.JKT != jkt {
			t.Fatalf("rotate: old %+v %v", old, err)
		}
		if r, err := s.GetRefresh(ctx, next.Hash); err != nil || r.JKT != jkt {
			t.Fatalf("rotated token lost its binding: %+v %v", r, err)
		}
		un := &oauth.RefreshToken{Hash: h("free-rt"), FamilyID: "f2", ClientID: "web", UserID: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := s.SaveRefresh(ctx, un); err != nil {
			t.Fatal(err)
		}
		if r, err := s.GetRefresh(ctx, un.Hash); err != nil || r.JKT != "" {
			t.Fatalf("unbound refresh %+v %v", r, err)
		}
	})
}
