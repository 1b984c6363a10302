package pgdyn_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-auth/rampart/internal/secrets/pgdyn"
)

// TestThousandLeaseCycles: 1,000 leases, four at a time, each logging in
// and holding its session; half revoked explicitly, half left to expire
// (fake clock) and reaped. Afterwards no role with the test's prefix is
// left in pg_roles, no session of those users in pg_stat_activity, and no
// live lease row.
func TestThousandLeaseCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("long: 1,000 real PostgreSQL roles")
	}
	ev := newEnv(t)
	ctx := context.Background()
	const (
		workers  = 4
		perRound = 5 // per worker: 20 sessions open at once
		rounds   = 1000 / (workers * perRound)
	)
	// Every other lease of a round (20) is revoked now.
	revokeNow := func(w, i int) bool { return (w*perRound+i)%2 == 0 }
	start := time.Now()
	for round := range rounds {
		leases := make([][]pgdyn.Lease, workers)
		conns := make([][]*pgx.Conn, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for range perRound {
					l, err := ev.e.Create(ctx, admin, ev.app, time.Minute)
					if err != nil {
						t.Errorf("round %d: Create: %v", round, err)
						return
					}
					c, err := ev.connect(t, l)
					if err != nil {
						t.Errorf("round %d: connect: %v", round, err)
						return
					}
					if err := c.Ping(ctx); err != nil {
						t.Errorf("round %d: ping: %v", round, err)
					}
					leases[w] = append(leases[w], l)
					conns[w] = append(conns[w], c)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		// Half revoked now, in parallel.
		for w := range workers {
			wg.Go(func() {
				for i, l := range leases[w] {
					if revokeNow(w, i) {
						if err := ev.e.Revoke(ctx, admin, l.ID); err != nil {
							t.Errorf("round %d: Revoke: %v", round, err)
						} else if conns[w][i].Ping(ctx) == nil {
							t.Errorf("round %d: a revoked lease's session answers", round)
						}
					}
				}
			})
		}
		wg.Wait()
		// The other half expires and is reaped.
		ev.clock.Add(2 * time.Minute)
		n, err := ev.e.Reap(ctx)
		if err != nil || n != workers*perRound/2 {
			t.Fatalf("round %d: Reap: %d %v", round, n, err)
		}
		for w := range workers {
			for i, c := range conns[w] {
				if !revokeNow(w, i) && c.Ping(ctx) == nil {
					t.Fatalf("round %d: an expired lease's session answers", round)
				}
				_ = c.Close(ctx)
			}
		}
	}
	t.Logf("1,000 lease cycles in %s", time.Since(start).Round(time.Millisecond))
	if n := ev.roleCount(t); n != 0 {
		t.Fatalf("%d roles left in pg_roles", n)
	}
	if n := ev.sessionCount(t); n != 0 {
		t.Fatalf("%d sessions left in pg_stat_activity", n)
	}
	if live, err := ev.st.DB.SecretLeases().LeasesByPath(ctx, ev.app); err != nil || len(live) != 0 {
		t.Fatalf("live lease rows: %d %v", len(live), err)
	}
	counts := map[string]int{}
	for _, e := range ev.rec.All() {
		counts[e.Details["op"]+":"+e.Outcome]++
	}
	if counts["create:success"] != 1000 || counts["revoke:success"] != 500 || counts["reap:success"] != 500 || len(counts) != 3 {
		t.Fatalf("audit: %v", counts)
	}
}
