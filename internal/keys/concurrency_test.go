package keys_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestConcurrentManagersNoSplitBrain: two instances on one database (two
// connection pools, like two processes) race Init, schedule steps and
// rotations at every point of the life cycle. The compare-and-swap must
// leave exactly one active key, never two waiting keys, and both instances
// must agree on the signer; the audit trail must match what happened.
func TestConcurrentManagersNoSplitBrain(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			a, b, _ := openShared(t, driver)
			clock := newClock()
			aud := &recorder{} // one shared audit log, as in production
			ms := []*keys.Manager{
				newManager(t, testOpts(a, testMaster(t), clock, aud)),
				newManager(t, testOpts(b, testMaster(t), clock, aud)),
			}

			race := func(name string, ops int, withRotate bool) {
				t.Helper()
				var wg sync.WaitGroup
				errs := make(chan error, ops)
				for i := range ops {
					m := ms[i%2]
					wg.Go(func() {
						var err error
						switch {
						case i < 2 && name == "init":
							err = m.Init(ctx, "system")
						case withRotate && i%4 >= 2:
							_, err = m.Rotate(ctx, fmt.Sprintf("cli:%d", i))
							if errors.Is(err, keys.ErrRotationPending) {
								err = nil
							}
						default:
							err = m.Tick(ctx)
						}
						if err != nil {
							errs <- fmt.Errorf("%s op %d: %w", name, i, err)
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
			}
			check := func(name string, want map[keys.State]int) {
				t.Helper()
				got := stateCounts(t, a)
				for _, s := range []keys.State{keys.StatePublished, keys.StateActive, keys.StateRetired, keys.StateRemoved} {
					if got[s] != want[s] {
						t.Fatalf("%s: states %v, want %v", name, got, want)
					}
				}
				// Both instances converge on the one active key.
				var kids []string
				for _, m := range ms {
					if err := m.Tick(ctx); err != nil {
						t.Fatal(err)
					}
					kids = append(kids, activeKID(t, m))
				}
				if kids[0] != kids[1] {
					t.Fatalf("%s: split brain: instances sign with %s and %s", name, kids[0], kids[1])
				}
			}

			race("init", 8, false)
			check("init", map[keys.State]int{keys.StateActive: 1})

			clock.Set(t0.Add(719 * time.Hour)) // pre-publish time, with on-demand rotations
			race("pre-publish", 16, true)
			check("pre-publish", map[keys.State]int{keys.StateActive: 1, keys.StatePublished: 1})

			clock.Set(t0.Add(720 * time.Hour)) // activation time
			race("activate", 16, true)
			// Rotations raced with the promotion, so a new key may wait.
			got := stateCounts(t, a)
			want := map[keys.State]int{keys.StateActive: 1, keys.StateRetired: 1, keys.StatePublished: got[keys.StatePublished]}
			if got[keys.StatePublished] > 1 {
				t.Fatalf("activate: %d waiting keys", got[keys.StatePublished])
			}
			check("activate", want)

			clock.Set(t0.Add(720*time.Hour + 15*time.Minute)) // removal time
			race("remove", 16, false)
			want[keys.StateRetired], want[keys.StateRemoved] = 0, 1
			check("remove", want)

			checkAuditMatchesRing(t, aud, a)
		})
	}
}

// checkAuditMatchesRing: after discounting attempts followed by their
// failure event, exactly one key.generate per stored key, one key.activate
// per key that was ever active, one key.remove per removed key.
func checkAuditMatchesRing(t *testing.T, aud *recorder, st keys.Store) {
	t.Helper()
	type triple struct{ action, target, gen string }
	net := map[triple]int{}
	for _, e := range aud.Events() {
		k := triple{e.Action, e.Target, e.Details["generation"]}
		switch {
		case e.Outcome == audit.OutcomeSuccess:
			net[k]++
		case e.Reason == "conflict" || e.Reason == "store_error":
			net[k]--
		}
	}
	aborted := 0
	for _, n := range net {
		if n == 0 {
			aborted++
		}
	}
	t.Logf("audit: %d events, %d attempts lost the compare-and-swap and were recorded as failed", len(aud.Events()), aborted)
	effective := map[string]int{} // action+target -> count
	for k, n := range net {
		if n < 0 || n > 1 {
			t.Fatalf("audit: %v counted %d times", k, n)
		}
		effective[k.action+" "+k.target] += n
	}
	kr, err := st.LoadKeyRing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kr.Keys {
		target := "key:" + k.KID
		if effective["key.generate "+target] != 1 {
			t.Errorf("audit: key %s has %d effective key.generate events", k.KID, effective["key.generate "+target])
		}
		wasActive := k.State != keys.StatePublished
		if got := effective["key.activate "+target]; (got == 1) != wasActive || got > 1 {
			t.Errorf("audit: key %s (%s) has %d effective key.activate events", k.KID, k.State, got)
		}
		if got := effective["key.remove "+target]; (got == 1) != (k.State == keys.StateRemoved) {
			t.Errorf("audit: key %s (%s) has %d effective key.remove events", k.KID, k.State, got)
		}
	}
	generated := 0
	for k, n := range effective {
		if len(k) > 12 && k[:12] == "key.generate" {
			generated += n
		}
	}
	if generated != len(kr.Keys) {
		t.Errorf("audit: %d effective key.generate events for %d stored keys", generated, len(kr.Keys))
	}
}
