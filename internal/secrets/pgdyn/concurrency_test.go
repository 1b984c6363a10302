package pgdyn_test

import (
	"context"
	"sync"
	"testing"
)

// TestConcurrentGrantsOnOneObject: eight leases at once, each granting on
// the same schema (without the DDL advisory lock, PostgreSQL fails most of
// them with "tuple concurrently updated", XX000) all create and revoke.
func TestConcurrentGrantsOnOneObject(t *testing.T) {
	schema := "s_" + randHex(t, 6)
	ev := newEnv(t, func(ev *env) {
		ev.opts.Roles[0].Creation = append(creation, "GRANT USAGE ON SCHEMA "+schema+" TO {{name}}")
	})
	ctx := context.Background()
	if _, err := ev.pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ev.pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				l, err := ev.e.Create(ctx, admin, ev.app, 0)
				if err != nil {
					t.Error(err)
					continue
				}
				if err := ev.e.Revoke(ctx, admin, l.ID); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if ev.roleCount(t) != 0 {
		t.Fatal("roles left")
	}
}
