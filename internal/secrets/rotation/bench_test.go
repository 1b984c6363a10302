package rotation_test

import (
	"context"
	"testing"

	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

// BenchmarkRotateRandom: one whole rotation (create, set, test, finish,
// each persisted before and after, every Manager call audited) of a
// random secret on SQLite.
func BenchmarkRotateRandom(b *testing.B) {
	p := path(b, "team/bench")
	r, err := rotation.NewRandom(32, "alnum")
	if err != nil {
		b.Fatal(err)
	}
	ev := newEnv(b, "sqlite", []rotation.Schedule{{Path: p, Rotator: "random", Impl: r}})
	ctx := context.Background()
	ev.put(b, p, "bench-initial-value")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ev.e.Rotate(ctx, admin, p, rotation.Request{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRandomValue: drawing one 32-character alnum value.
func BenchmarkRandomValue(b *testing.B) {
	r, err := rotation.NewRandom(32, "alnum")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.NewValue(context.Background(), secretsZero("x")); err != nil {
			b.Fatal(err)
		}
	}
}
