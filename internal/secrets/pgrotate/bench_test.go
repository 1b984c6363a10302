package pgrotate

import (
	"testing"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// BenchmarkAlternatingRotation: one full sequence (NewValue, Put pending,
// Set, Test with a new connection, MoveLabel, RemoveLabel, Finish) on
// real PostgreSQL, the Manager on SQLite.
func BenchmarkAlternatingRotation(b *testing.B) {
	pool := adminPool(b)
	f := newFixture(b, pool)
	d := newDriver(b, newManager(b, &recorder{}), newRotator(b, f, StrategyAlternating), false)
	mustRotate(b, d, false)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.rotate(bg(), false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewValue: the password and its JSON encoding.
func BenchmarkNewValue(b *testing.B) {
	r := &rotator{o: Options{Users: []string{"app_a", "app_b"}, Strategy: StrategyAlternating, Rand: randReader{}}, alt: true}
	cur := secrets.Secret{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.NewValue(bg(), cur); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseCredential: what a consumer pays per read of the value.
func BenchmarkParseCredential(b *testing.B) {
	pw, _ := newPassword(randReader{})
	v, err := Credential{Username: "app_a", Password: secrets.NewValue(pw)}.Value()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCredential(v); err != nil {
			b.Fatal(err)
		}
	}
}
