package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// The store's side of a refresh, kept (a fapi2 client: one conditional
// UPDATE) beside rotated (every other client: a transaction that locks the
// family, spends the token and inserts the next), on SQLite:
// go test -run '^$' -bench 'RefreshKeep|RefreshRotate' -benchmem ./internal/store/sqlstore/

func benchFamily(b *testing.B, s *storetest.Store, id string) {
	ctx := context.Background()
	code := newCode("code-" + id)
	if err := s.SaveCode(ctx, code); err != nil {
		b.Fatal(err)
	}
	if _, err := s.RedeemCode(ctx, code.Hash, &oauth.Family{ID: id, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}, t0); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRefreshKeep extends one refresh token's idle expiry per
// operation (KeepRefresh).
func BenchmarkRefreshKeep(b *testing.B) {
	s := storetest.Open(b, "sqlite")
	ctx := context.Background()
	benchFamily(b, s, "f")
	rt := &oauth.RefreshToken{Hash: h("kept"), FamilyID: "f", ClientID: "web", UserID: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.SaveRefresh(ctx, rt); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		if err := s.KeepRefresh(ctx, rt.Hash, now.Add(time.Hour), now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefreshRotate spends a refresh token for the next one per
// operation (RotateRefresh).
func BenchmarkRefreshRotate(b *testing.B) {
	s := storetest.Open(b, "sqlite")
	ctx := context.Background()
	benchFamily(b, s, "f")
	cur := h("rt-0")
	if err := s.SaveRefresh(ctx, &oauth.RefreshToken{Hash: cur, FamilyID: "f", ClientID: "web", UserID: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; b.Loop(); i++ {
		next := &oauth.RefreshToken{Hash: h(fmt.Sprint("rt-", i)), ClientID: "web", UserID: "u1", AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if _, err := s.RotateRefresh(ctx, cur, next, t0); err != nil {
			b.Fatal(err)
		}
		cur = next.Hash
	}
}
