package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

var _ keys.Store = (*sqlstore.KeyStore)(nil)

var kt0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func rec(kid string, state keys.State, at time.Time) keys.KeyRecord {
	return keys.KeyRecord{KID: kid, Algorithm: keys.AlgES256, State: state, PublicJWK: []byte(`{"kid":"` + kid + `"}`),
		PrivateEnc: []byte("sealed-" + kid), EncVersion: 1, CreatedAt: at, ActivateAt: at}
}

func TestKeyRingRoundTrip(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, driver)
			kr, err := s.LoadKeyRing(ctx)
			if err != nil || kr.Generation != 0 || len(kr.Keys) != 0 {
				t.Fatalf("empty ring = %+v, %v", kr, err)
			}
			g, err := s.UpdateKeyRing(ctx, 0, keys.KeyRingChange{Inserts: []keys.KeyRecord{
				rec("k1", keys.StateActive, kt0), rec("k2", keys.StatePublished, kt0.Add(time.Hour)),
			}})
			if err != nil || g != 1 {
				t.Fatalf("UpdateKeyRing = %d, %v", g, err)
			}
			// Retire k1 and promote k2 in one change: the retirement frees
			// the one active slot first.
			g, err = s.UpdateKeyRing(ctx, 1, keys.KeyRingChange{Updates: []keys.KeyUpdate{
				{KID: "k1", From: keys.StateActive, To: keys.StateRetired, ActivateAt: kt0, RetiredAt: kt0.Add(2 * time.Hour), RemoveAt: kt0.Add(3 * time.Hour)},
				{KID: "k2", From: keys.StatePublished, To: keys.StateActive, ActivateAt: kt0.Add(2 * time.Hour)},
			}})
			if err != nil || g != 2 {
				t.Fatalf("promote = %d, %v", g, err)
			}
			g, err = s.UpdateKeyRing(ctx, 2, keys.KeyRingChange{Updates: []keys.KeyUpdate{
				{KID: "k1", From: keys.StateRetired, To: keys.StateRemoved, ActivateAt: kt0, RetiredAt: kt0.Add(2 * time.Hour), RemoveAt: kt0.Add(3 * time.Hour), WipePrivate: true},
			}})
			if err != nil || g != 3 {
				t.Fatalf("remove = %d, %v", g, err)
			}
			kr, err = s.LoadKeyRing(ctx)
			if err != nil || kr.Generation != 3 || len(kr.Keys) != 2 {
				t.Fatalf("LoadKeyRing = %+v, %v", kr, err)
			}
			k1, k2 := kr.Keys[0], kr.Keys[1]
			if k1.KID != "k1" || k1.State != keys.StateRemoved || len(k1.PrivateEnc) != 0 ||
				!k1.CreatedAt.Equal(kt0) || !k1.RetiredAt.Equal(kt0.Add(2*time.Hour)) || !k1.RemoveAt.Equal(kt0.Add(3*time.Hour)) {
				t.Fatalf("k1 = %+v", k1)
			}
			if k2.KID != "k2" || k2.State != keys.StateActive || !bytes.Equal(k2.PrivateEnc, []byte("sealed-k2")) ||
				!k2.ActivateAt.Equal(kt0.Add(2*time.Hour)) || !k2.RetiredAt.IsZero() || !k2.RemoveAt.IsZero() ||
				string(k2.PublicJWK) != `{"kid":"k2"}` || k2.EncVersion != 1 {
				t.Fatalf("k2 = %+v", k2)
			}
		})
	}
}

// TestKeyRingRevokedRoundTrip: a revoked key is stored in the 0001 schema
// (state removed, retired_at = remove_at) and read back as revoked, while a
// key the schedule removed still reads as removed.
func TestKeyRingRevokedRoundTrip(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, driver)
			if _, err := s.UpdateKeyRing(ctx, 0, keys.KeyRingChange{Inserts: []keys.KeyRecord{
				rec("k1", keys.StateRetired, kt0), rec("k2", keys.StateActive, kt0), rec("k3", keys.StatePublished, kt0),
			}}); err != nil {
				t.Fatal(err)
			}
			at := kt0.Add(time.Hour)
			if _, err := s.UpdateKeyRing(ctx, 1, keys.KeyRingChange{Updates: []keys.KeyUpdate{
				{KID: "k1", From: keys.StateRetired, To: keys.StateRemoved, ActivateAt: kt0, RetiredAt: kt0, RemoveAt: at, WipePrivate: true},
				{KID: "k2", From: keys.StateActive, To: keys.StateRevoked, ActivateAt: kt0, RetiredAt: at, RemoveAt: at, WipePrivate: true},
			}}); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			kr, err := s.LoadKeyRing(ctx)
			if err != nil || len(kr.Keys) != 3 {
				t.Fatalf("LoadKeyRing = %+v, %v", kr, err)
			}
			k1, k2 := kr.Keys[0], kr.Keys[1]
			if k1.State != keys.StateRemoved {
				t.Fatalf("scheduled removal reads as %q", k1.State)
			}
			if k2.State != keys.StateRevoked || len(k2.PrivateEnc) != 0 || !k2.RetiredAt.Equal(at) || !k2.RemoveAt.Equal(at) {
				t.Fatalf("revoked k2 = %+v", k2)
			}
			// The schema's own state column holds a value every version
			// of Rampart understands as "neither signs nor verifies".
			var state string
			if err := s.SQL().QueryRowContext(ctx, s.Q("SELECT state FROM signing_keys WHERE kid = ?"), "k2").Scan(&state); err != nil || state != "removed" {
				t.Fatalf("stored state = %q, %v", state, err)
			}
			// A revoked key never moves again: no update from revoked applies.
			if _, err := s.UpdateKeyRing(ctx, 2, keys.KeyRingChange{Updates: []keys.KeyUpdate{
				{KID: "k2", From: keys.StateRevoked, To: keys.StateActive, ActivateAt: at},
			}}); !errors.Is(err, keys.ErrConflict) {
				t.Fatalf("reactivating a revoked key: %v", err)
			}
		})
	}
}

func TestUpdateKeyRingRefuses(t *testing.T) {
	tests := []struct {
		name     string
		expect   int64
		change   keys.KeyRingChange
		conflict bool // ErrConflict; else another error
	}{
		{"reject/stale-generation", 0, keys.KeyRingChange{Inserts: []keys.KeyRecord{rec("k9", keys.StatePublished, kt0)}}, true},
		{"reject/future-generation", 7, keys.KeyRingChange{}, true},
		{"reject/wrong-from-state", 1, keys.KeyRingChange{Updates: []keys.KeyUpdate{{KID: "k1", From: keys.StatePublished, To: keys.StateActive}}}, true},
		{"reject/unknown-kid", 1, keys.KeyRingChange{Updates: []keys.KeyUpdate{{KID: "nope", From: keys.StateActive, To: keys.StateRetired}}}, true},
		{"reject/second-active-key", 1, keys.KeyRingChange{Inserts: []keys.KeyRecord{rec("k9", keys.StateActive, kt0)}}, false},
		{"reject/second-waiting-key", 1, keys.KeyRingChange{Inserts: []keys.KeyRecord{rec("k9", keys.StatePublished, kt0)}}, false},
		{"reject/promote-before-retire", 1, keys.KeyRingChange{Updates: []keys.KeyUpdate{{KID: "k2", From: keys.StatePublished, To: keys.StateActive}}}, false},
		{"reject/duplicate-kid", 1, keys.KeyRingChange{Inserts: []keys.KeyRecord{rec("k1", keys.StateRetired, kt0)}}, false},
		{"reject/unknown-state", 1, keys.KeyRingChange{Inserts: []keys.KeyRecord{rec("k9", "compromised", kt0)}}, false},
		{"reject/insert-revoked", 1, keys.KeyRingChange{Inserts: []keys.KeyRecord{rec("k9", keys.StateRevoked, kt0)}}, false},
		{"reject/revoke-keeping-private-key", 1, keys.KeyRingChange{Updates: []keys.KeyUpdate{{KID: "k1", From: keys.StateActive, To: keys.StateRevoked, RetiredAt: kt0, RemoveAt: kt0}}}, false},
		{"reject/revoke-without-time", 1, keys.KeyRingChange{Updates: []keys.KeyUpdate{{KID: "k1", From: keys.StateActive, To: keys.StateRevoked, WipePrivate: true}}}, false},
		{"reject/revoke-later-removal", 1, keys.KeyRingChange{Updates: []keys.KeyUpdate{{KID: "k1", From: keys.StateActive, To: keys.StateRevoked, RetiredAt: kt0, RemoveAt: kt0.Add(time.Hour), WipePrivate: true}}}, false},
	}
	for _, driver := range storetest.Drivers(t) {
		for _, tc := range tests {
			t.Run(driver+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				s := storetest.Open(t, driver)
				if _, err := s.UpdateKeyRing(ctx, 0, keys.KeyRingChange{Inserts: []keys.KeyRecord{
					rec("k1", keys.StateActive, kt0), rec("k2", keys.StatePublished, kt0),
				}}); err != nil {
					t.Fatal(err)
				}
				_, err := s.UpdateKeyRing(ctx, tc.expect, tc.change)
				if err == nil {
					t.Fatal("accepted")
				}
				if errors.Is(err, keys.ErrConflict) != tc.conflict {
					t.Fatalf("err = %v, conflict want %v", err, tc.conflict)
				}
				// Nothing changed: same generation, same rows.
				kr, _ := s.LoadKeyRing(ctx)
				if kr.Generation != 1 || len(kr.Keys) != 2 || kr.Keys[0].State != keys.StateActive || kr.Keys[1].State != keys.StatePublished {
					t.Fatalf("ring changed: %+v", kr)
				}
			})
		}
	}
}

// TestUpdateKeyRingCompareAndSwap: many writers on separate pools try the
// same generation at once; exactly one wins.
func TestUpdateKeyRingCompareAndSwap(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			drv, dsn := storetest.DSN(t, driver)
			var stores []*storetest.Store
			for range 4 {
				s, err := sqlstore.Open(ctx, drv, dsn, sqlstore.Options{MaxOpenConns: 4})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				stores = append(stores, storetest.Wrap(s))
			}
			if _, err := stores[0].Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for round := range 5 {
				var wg sync.WaitGroup
				var mu sync.Mutex
				wins, conflicts := 0, 0
				for i := range 16 {
					s := stores[i%len(stores)]
					wg.Go(func() {
						_, err := s.UpdateKeyRing(ctx, int64(round), keys.KeyRingChange{Inserts: []keys.KeyRecord{
							rec(fmt.Sprintf("r%d-w%d", round, i), keys.StateRetired, kt0),
						}})
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							wins++
						case errors.Is(err, keys.ErrConflict):
							conflicts++
						default:
							t.Errorf("writer %d: %v", i, err)
						}
					})
				}
				wg.Wait()
				if wins != 1 || conflicts != 15 {
					t.Fatalf("round %d: %d wins, %d conflicts; want exactly one winner", round, wins, conflicts)
				}
			}
			kr, err := stores[1].LoadKeyRing(ctx)
			if err != nil || kr.Generation != 5 || len(kr.Keys) != 5 {
				t.Fatalf("ring = generation %d, %d keys, %v", kr.Generation, len(kr.Keys), err)
			}
		})
	}
}
