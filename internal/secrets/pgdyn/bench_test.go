package pgdyn_test

import (
	"context"
	"testing"
)

// BenchmarkLeaseCreateRevoke: one lease's whole life on a real
// PostgreSQL: row, CREATE ROLE + GRANT, activate, audit; then claim,
// NOLOGIN, terminate, DROP OWNED + DROP ROLE, finish, audit.
func BenchmarkLeaseCreateRevoke(b *testing.B) {
	ev := newEnv(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l, err := ev.e.Create(ctx, admin, ev.app, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := ev.e.Revoke(ctx, admin, l.ID); err != nil {
			b.Fatal(err)
		}
	}
}
