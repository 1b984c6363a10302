package sqlstore_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestCertBindingsRoundTrip: the certificate bindings (RFC 8705) survive
// the store on both dialects: a refresh token's thumbprint (§4, read back
// by GetRefresh and kept by RotateRefresh when the caller copies it) and a
// client's certificate_bound_access_tokens (§3.4).
func TestCertBindingsRoundTrip(t *testing.T) {
	const x5t = "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		cl := &oauth.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, CertificateBoundAccessTokens: true,
			Source: oauth.SourceCLI, CreatedAt: t0, UpdatedAt: t0}
		if err := s.CreateClient(ctx, cl); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetClient(ctx, cl.ID); err != nil || !reflect.DeepEqual(got, cl) {
			t.Fatalf("client %+v %v, want %+v", got, err, cl)
		}
		if err := s.CreateFamily(ctx, &oauth.Family{ID: "f1", ClientID: "web", UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		rt := &oauth.RefreshToken{Hash: h("bound-rt"), FamilyID: "f1", ClientID: "web", UserID: "u1", AuthTime: t0, CreatedAt: t0,
			ExpiresAt: t0.Add(time.Hour), X5T: x5t}
		if err := s.SaveRefresh(ctx, rt); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetRefresh(ctx, rt.Hash)
		if err != nil || got.X5T != x5t {
			t.Fatalf("refresh %+v %v; want x5t %s", got, err, x5t)
		}
		next := &oauth.RefreshToken{Hash: h("next-rt"), ClientID: "web", UserID: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), X5T: x5t}
		if old, err := s.RotateRefresh(ctx, rt.Hash, next, t0); err != nil || old.X5T != x5t {
			t.Fatalf("rotate: old %+v %v", old, err)
		}
		if got, err := s.GetRefresh(ctx, next.Hash); err != nil || got.X5T != x5t {
			t.Fatalf("rotated %+v %v", got, err)
		}
	})
}
