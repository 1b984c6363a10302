package sqlstore_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestFAPIClientProfileRoundTrip: a stored client's profile survives the
// store on both dialects; a client without one reads back "".
func TestFAPIClientProfileRoundTrip(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		for _, cl := range []*oauth.Client{
			{ID: "bank", GrantTypes: []string{"authorization_code"}, AuthMethod: "private_key_jwt", JWKSURI: "https://bank.example.com/jwks.json",
				Profile: "fapi2", Source: oauth.SourceCLI, CreatedAt: t0, UpdatedAt: t0},
			{ID: "plain", Public: true, GrantTypes: []string{"authorization_code"}, Source: oauth.SourceCLI, CreatedAt: t0, UpdatedAt: t0},
		} {
			if err := s.CreateClient(ctx, cl); err != nil {
				t.Fatal(err)
			}
			if got, err := s.GetClient(ctx, cl.ID); err != nil || !reflect.DeepEqual(got, cl) {
				t.Fatalf("client %+v %v, want %+v", got, err, cl)
			}
		}
	})
}

// TestFAPIKeepRefresh: KeepRefresh extends a live token's idle expiry
// (never shortening it) and leaves it unspent, so it can be used again;
// it refuses (store.ErrNotFound) a token that is spent, revoked, expired,
// of a revoked family, or unknown, and then changes nothing.
func TestFAPIKeepRefresh(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		fam := func(id string) {
			code := newCode("code-" + id)
			if err := s.SaveCode(ctx, code); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RedeemCode(ctx, code.Hash, &oauth.Family{ID: id, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}, t0); err != nil {
				t.Fatal(err)
			}
		}
		save := func(name, family string) *oauth.RefreshToken {
			rt := &oauth.RefreshToken{Hash: h(name), FamilyID: family, ClientID: "web", UserID: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			if err := s.SaveRefresh(ctx, rt); err != nil {
				t.Fatal(err)
			}
			return rt
		}
		fam("keep")
		rt := save("kept", "keep")
		later := t0.Add(30 * time.Minute)
		if err := s.KeepRefresh(ctx, rt.Hash, later.Add(time.Hour), later); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetRefresh(ctx, rt.Hash)
		if err != nil || !got.ExpiresAt.Equal(later.Add(time.Hour)) || !got.UsedAt.IsZero() {
			t.Fatalf("kept token %+v %v: want expiry extended and unspent", got, err)
		}
		// An earlier expiry does not shorten it, and is not a failure.
		if err := s.KeepRefresh(ctx, rt.Hash, later, later); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetRefresh(ctx, rt.Hash); !got.ExpiresAt.Equal(later.Add(time.Hour)) {
			t.Fatalf("expiry shortened to %v", got.ExpiresAt)
		}
		// Expired at now: refused.
		if err := s.KeepRefresh(ctx, rt.Hash, t0.Add(5*time.Hour), later.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired token kept: %v", err)
		}
		// Spent by a rotation: refused.
		spent := save("spent", "keep")
		next := &oauth.RefreshToken{Hash: h("spent-next"), ClientID: "web", UserID: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if _, err := s.RotateRefresh(ctx, spent.Hash, next, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.KeepRefresh(ctx, spent.Hash, later.Add(time.Hour), later); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("spent token kept: %v", err)
		}
		// Its family revoked: refused, and the expiry is unchanged.
		fam("gone")
		rev := save("revoked", "gone")
		if _, err := s.RevokeFamily(ctx, "gone", t0); err != nil {
			t.Fatal(err)
		}
		if err := s.KeepRefresh(ctx, rev.Hash, later.Add(time.Hour), later); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoked token kept: %v", err)
		}
		if got, _ := s.GetRefresh(ctx, rev.Hash); !got.ExpiresAt.Equal(rev.ExpiresAt) {
			t.Fatalf("revoked token's expiry changed to %v", got.ExpiresAt)
		}
		if err := s.KeepRefresh(ctx, h("unknown"), later.Add(time.Hour), later); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
	})
}
