package keys_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// storedKey returns the stored record of kid.
func storedKey(t testing.TB, st keys.Store, kid string) keys.KeyRecord {
	t.Helper()
	kr, err := st.LoadKeyRing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kr.Keys {
		if k.KID == kid {
			return k
		}
	}
	t.Fatalf("no stored key %s", kid)
	return keys.KeyRecord{}
}

// TestRevoke: each state a key can be revoked from leaves it out of
// signing and the JWKS at once, with the private key wiped, audited; an
// active key is replaced by a new key that signs at once.
func TestRevoke(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Run("revoke/active-key-replaced-at-once", func(t *testing.T) {
				ctx := context.Background()
				st, clock, aud, m := initedManager(t, driver)
				k1 := activeKID(t, m)
				ver := m.KeySetVersion()
				clock.Add(24 * time.Hour)
				before := len(aud.Events())
				res, err := m.Revoke(ctx, "cli:alice", k1)
				if err != nil {
					t.Fatalf("Revoke: %v", err)
				}
				if res.Revoked.KID != k1 || res.Revoked.State != keys.StateRevoked || res.Replacement == nil || res.AlreadyGone {
					t.Fatalf("Revoke = %+v", res)
				}
				k2 := res.Replacement.KID
				if activeKID(t, m) != k2 || res.Replacement.State != keys.StateActive {
					t.Fatalf("signing with %s, want the replacement %s", activeKID(t, m), k2)
				}
				if got := jwksKIDs(m); !slices.Equal(got, []string{k2}) {
					t.Fatalf("JWKS = %v, want only the replacement %s", got, k2)
				}
				if m.KeySetVersion() == ver {
					t.Fatal("KeySetVersion did not change with the key set")
				}
				want := []string{"key.revoke key:" + k1 + " success", "key.generate key:" + k2 + " success", "key.activate key:" + k2 + " success"}
				if got := aud.actions(before); !slices.Equal(got, want) {
					t.Fatalf("audit = %v, want %v", got, want)
				}
				if e := aud.Events()[before]; e.Actor != "cli:alice" || e.Details["replacement"] != k2 || e.Details["previous_state"] != "active" {
					t.Fatalf("revoke event = %+v", e)
				}
				if r := storedKey(t, st, k1); r.State != keys.StateRevoked || len(r.PrivateEnc) != 0 || !r.RemoveAt.Equal(clock.Now()) {
					t.Fatalf("stored revoked key = %+v", r)
				}
				infos, err := m.List(ctx)
				if err != nil || len(infos) != 2 || infos[0].State != keys.StateRevoked {
					t.Fatalf("List = %+v, %v", infos, err)
				}
			})

			t.Run("revoke/retired-key", func(t *testing.T) {
				ctx := context.Background()
				st, clock, _, m := initedManager(t, driver)
				k1 := activeKID(t, m)
				info, err := m.Rotate(ctx, "cli")
				if err != nil {
					t.Fatal(err)
				}
				clock.Add(time.Hour)
				if err := m.Tick(ctx); err != nil {
					t.Fatal(err)
				}
				if got := jwksKIDs(m); !slices.Equal(got, []string{info.KID, k1}) {
					t.Fatalf("JWKS before = %v", got)
				}
				res, err := m.Revoke(ctx, "cli", k1)
				if err != nil || res.Replacement != nil {
					t.Fatalf("Revoke = %+v, %v", res, err)
				}
				if got := jwksKIDs(m); !slices.Equal(got, []string{info.KID}) || activeKID(t, m) != info.KID {
					t.Fatalf("JWKS after = %v, signing %s", got, activeKID(t, m))
				}
				// The schedule's later removal does not touch the revoked key.
				clock.Add(24 * time.Hour)
				if err := m.Tick(ctx); err != nil {
					t.Fatal(err)
				}
				if r := storedKey(t, st, k1); r.State != keys.StateRevoked {
					t.Fatalf("revoked key became %s", r.State)
				}
			})

			t.Run("revoke/waiting-key-never-activates", func(t *testing.T) {
				ctx := context.Background()
				st, clock, _, m := initedManager(t, driver)
				k1 := activeKID(t, m)
				waiting, err := m.Rotate(ctx, "cli")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := m.Revoke(ctx, "cli", waiting.KID); err != nil {
					t.Fatal(err)
				}
				if got := jwksKIDs(m); !slices.Equal(got, []string{k1}) {
					t.Fatalf("JWKS = %v, want %s only", got, k1)
				}
				// Its activation time passes, a rotation runs, the schedule
				// rotates on its own: the revoked key never comes back.
				clock.Add(2 * time.Hour)
				if err := m.Tick(ctx); err != nil {
					t.Fatal(err)
				}
				if activeKID(t, m) != k1 {
					t.Fatalf("signing with %s after the revoked key's activation time", activeKID(t, m))
				}
				next, err := m.Rotate(ctx, "cli")
				if err != nil || next.KID == waiting.KID {
					t.Fatalf("Rotate after revoke = %+v, %v", next, err)
				}
				clock.Add(800 * time.Hour)
				for range 3 {
					if err := m.Tick(ctx); err != nil {
						t.Fatal(err)
					}
					clock.Add(2 * time.Hour)
				}
				if slices.Contains(jwksKIDs(m), waiting.KID) || activeKID(t, m) == waiting.KID {
					t.Fatal("a revoked key came back")
				}
				if r := storedKey(t, st, waiting.KID); r.State != keys.StateRevoked {
					t.Fatalf("revoked key became %s", r.State)
				}
			})

			t.Run("reject/unknown-kid", func(t *testing.T) {
				ctx := context.Background()
				st, _, aud, m := initedManager(t, driver)
				gen, _ := st.KeyRingGeneration(ctx)
				for _, kid := range []string{"no-such-kid", "evil\x1b[31m\u202ekid", ""} {
					before := len(aud.Events())
					if _, err := m.Revoke(ctx, "cli", kid); !errors.Is(err, keys.ErrUnknownKey) {
						t.Fatalf("Revoke(%q) = %v, want ErrUnknownKey", kid, err)
					}
					got := aud.Events()[before:]
					if len(got) != 1 || got[0].Action != keys.ActionRevoke || got[0].Outcome != audit.OutcomeFailure || got[0].Reason != "unknown_key" {
						t.Fatalf("audit of the refusal = %+v", got)
					}
					if tg := got[0].Target; kid != "no-such-kid" && tg != "key:invalid-kid-"+itoa(len(kid))+"-bytes" {
						t.Fatalf("target %q carries the raw kid", tg)
					}
				}
				if g, _ := st.KeyRingGeneration(ctx); g != gen {
					t.Fatal("a refused revocation changed the ring")
				}
			})

			t.Run("revoke/again-is-a-no-op", func(t *testing.T) {
				ctx := context.Background()
				st, _, aud, m := initedManager(t, driver)
				k1 := activeKID(t, m)
				if _, err := m.Revoke(ctx, "cli", k1); err != nil {
					t.Fatal(err)
				}
				gen, _ := st.KeyRingGeneration(ctx)
				res, err := m.Revoke(ctx, "cli", k1)
				if err != nil || !res.AlreadyGone || res.Replacement != nil || res.Revoked.State != keys.StateRevoked {
					t.Fatalf("second Revoke = %+v, %v", res, err)
				}
				if g, _ := st.KeyRingGeneration(ctx); g != gen {
					t.Fatal("a second revocation changed the ring")
				}
				if ev := aud.Events(); ev[len(ev)-1].Reason != "already_revoked" {
					t.Fatalf("last event %+v", ev[len(ev)-1])
				}
			})
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestRevokeSeenByOtherInstance: the CLI (its own manager on its own
// connection pool) revokes the key a running server signs with; within
// the server's poll interval the server neither signs with it nor
// publishes it.
func TestRevokeSeenByOtherInstance(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			a, b, _ := openShared(t, driver)
			clock := newClock()
			o := testOpts(a, testMaster(t), clock, &recorder{})
			o.PollInterval = 10 * time.Millisecond
			server := newManager(t, o)
			if err := server.Init(ctx, "system"); err != nil {
				t.Fatal(err)
			}
			k1 := activeKID(t, server)
			ver := server.KeySetVersion()
			go server.Run(ctx)

			cli := newManager(t, testOpts(b, testMaster(t), clock, &recorder{}))
			if err := cli.Init(ctx, "cli"); err != nil {
				t.Fatal(err)
			}
			res, err := cli.Revoke(ctx, "cli", k1)
			if err != nil || res.Replacement == nil {
				t.Fatalf("Revoke = %+v, %v", res, err)
			}
			testkit.WaitFor(t, "the server to sign with the replacement", 5*time.Second, func() bool { k, _ := server.Signer(); return k.KID == res.Replacement.KID })
			if got := jwksKIDs(server); !slices.Equal(got, []string{res.Replacement.KID}) {
				t.Fatalf("server JWKS = %v", got)
			}
			if server.KeySetVersion() == ver {
				t.Fatal("server KeySetVersion unchanged")
			}
		})
	}
}

// initedManager is a key manager on a fresh store of driver, initialized
// (one active key), with its clock and audit recorder.
func initedManager(t *testing.T, driver string) (keys.Store, *testkit.Clock, *recorder, *keys.Manager) {
	t.Helper()
	st := storetest.Open(t, driver)
	clock, aud := newClock(), &recorder{}
	m := newManager(t, testOpts(st, testMaster(t), clock, aud))
	if err := m.Init(context.Background(), "system"); err != nil {
		t.Fatal(err)
	}
	return st, clock, aud, m
}
