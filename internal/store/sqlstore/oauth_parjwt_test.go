package sqlstore_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestClientAuthFieldsRoundTrip: a private_key_jwt client's method, keys
// and PAR requirement survive the store.
func TestClientAuthFieldsRoundTrip(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		c := &oauth.Client{ID: "signer", GrantTypes: []string{"client_credentials"}, AuthMethod: "private_key_jwt",
			JWKS: []byte(`{"keys":[]}`), RequirePAR: true, Source: oauth.SourceCLI, CreatedAt: t0, UpdatedAt: t0}
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetClient(ctx, c.ID)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("got %+v %v, want %+v", got, err, c)
		}
		u := &oauth.Client{ID: "signer-uri", GrantTypes: []string{"client_credentials"}, AuthMethod: "private_key_jwt",
			JWKSURI: "https://keys.example/jwks.json", Source: oauth.SourceCLI, CreatedAt: t0, UpdatedAt: t0}
		if err := s.CreateClient(ctx, u); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetClient(ctx, u.ID); err != nil || !reflect.DeepEqual(got, u) {
			t.Fatalf("got %+v %v, want %+v", got, err, u)
		}
	})
}

// TestAssertionIDSingleUse: of 16 concurrent uses of one assertion id
// exactly one wins; a later use while it is live loses; once expired the
// id can be recorded again (it can no longer be accepted by the verifier
// anyway).
func TestAssertionIDSingleUse(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		id := h("client\x00jti-1")
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.UseAssertionID(ctx, id, t0.Add(time.Minute), t0)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d concurrent uses won, want 1", wins.Load())
		}
		if ok, err := s.UseAssertionID(ctx, id, t0.Add(2*time.Minute), t0.Add(30*time.Second)); err != nil || ok {
			t.Fatalf("replay while live: %v %v", ok, err)
		}
		if ok, err := s.UseAssertionID(ctx, id, t0.Add(3*time.Minute), t0.Add(time.Minute)); err != nil || !ok {
			t.Fatalf("after expiry: %v %v", ok, err)
		}
		if n, err := s.PurgeExpired(ctx, t0.Add(time.Hour)); err != nil || n < 1 {
			t.Fatalf("purge: %d %v", n, err)
		}
	})
}

// TestPushedRequestSingleUse: a pushed request opens only for its client
// and before it expires, stays open for its flow, and is used (its code
// issued) exactly once even by concurrent instances.
func TestPushedRequestSingleUse(t *testing.T) {
	forDrivers(t, func(t *testing.T, s *storetest.Store) {
		ctx := context.Background()
		p := &oauth.PushedRequest{Hash: h("urn:1"), ClientID: "app", Params: "a=b", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		if err := s.SavePushedRequest(ctx, p); err != nil {
			t.Fatal(err)
		}
		late := &oauth.PushedRequest{Hash: h("urn:late"), ClientID: "app", Params: "a=b", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		if err := s.SavePushedRequest(ctx, late); err != nil {
			t.Fatal(err)
		}
		flow := 10 * time.Minute
		if _, err := s.OpenPushedRequest(ctx, p.Hash, "other", t0, t0.Add(-flow)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another client opened it: %v", err)
		}
		if _, err := s.OpenPushedRequest(ctx, late.Hash, "app", t0.Add(61*time.Second), t0.Add(61*time.Second-flow)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("opened after expiry: %v", err)
		}
		got, err := s.OpenPushedRequest(ctx, p.Hash, "app", t0.Add(10*time.Second), t0.Add(10*time.Second-flow))
		if err != nil || got.Params != "a=b" || !got.OpenedAt.Equal(t0.Add(10*time.Second)) {
			t.Fatalf("open: %+v %v", got, err)
		}
		// Back from sign-in after the request_uri's own expiry, within the flow.
		now := t0.Add(3 * time.Minute)
		if _, err := s.OpenPushedRequest(ctx, p.Hash, "app", now, now.Add(-flow)); err != nil {
			t.Fatalf("reopen within the flow: %v", err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.UsePushedRequest(ctx, p.Hash, "app", now, now.Add(-flow))
				if err == nil {
					wins.Add(1)
				} else if !errors.Is(err, store.ErrNotFound) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d concurrent uses won, want 1", wins.Load())
		}
		if _, err := s.OpenPushedRequest(ctx, p.Hash, "app", now, now.Add(-flow)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("opened after use: %v", err)
		}
	})
}
