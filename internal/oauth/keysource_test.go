package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/jwtauth"
)

var _ PublicKeys = (*fakeKeys)(nil)

// fakeKeys is a PublicKeys whose set the test replaces, as a key manager's
// reload does (the version is one atomic load, as in keys.Manager).
type fakeKeys struct {
	mu  sync.Mutex
	ver atomic.Uint64
	set jose.JSONWebKeySet
}

func (f *fakeKeys) KeySetVersion() uint64 { return f.ver.Load() }

func (f *fakeKeys) PublicKeySet() (uint64, jose.JSONWebKeySet) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ver.Load(), jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), f.set.Keys...)}
}

func (f *fakeKeys) replace(keys ...jose.JSONWebKey) {
	f.mu.Lock()
	f.set = jose.JSONWebKeySet{Keys: keys}
	f.ver.Add(1)
	f.mu.Unlock()
}

func testJWK(tb testing.TB, kid string) jose.JSONWebKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}
}

// BenchmarkKeySource is the key lookup of every token the server verifies
// itself (userinfo, introspection, revocation).
func BenchmarkKeySource(b *testing.B) {
	f := &fakeKeys{}
	f.replace(testJWK(b, "a"), testJWK(b, "b"), testJWK(b, "c"))
	s := &keySource{keys: f}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Key(ctx, "b"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestKeySourceFollowsTheKeySet: a key the verifier has already used stops
// verifying as soon as the published set no longer has it (removed by the
// schedule or revoked), and a key added to the set is found.
func TestKeySourceFollowsTheKeySet(t *testing.T) {
	ctx := context.Background()
	a, b, c := testJWK(t, "a"), testJWK(t, "b"), testJWK(t, "c")
	f := &fakeKeys{}
	f.replace(a, b)
	s := &keySource{keys: f}
	for _, kid := range []string{"a", "b"} {
		if _, err := s.Key(ctx, kid); err != nil {
			t.Fatalf("Key(%s): %v", kid, err)
		}
	}
	f.replace(b, c) // "a" removed, "c" published
	for _, tc := range []struct {
		name, kid string
		known     bool
	}{
		{"reject/removed-key-used-before", "a", false},
		{"reject/empty-kid", "", false},
		{"accept/kept-key", "b", true},
		{"accept/new-key", "c", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := s.Key(ctx, tc.kid)
			if tc.known != (err == nil) {
				t.Fatalf("Key(%q) = %v, %v; want known %v", tc.kid, k, err, tc.known)
			}
			if !tc.known && !errors.Is(err, jwtauth.ErrUnknownKey) {
				t.Fatalf("Key(%q) = %v, want ErrUnknownKey", tc.kid, err)
			}
		})
	}
}

// BenchmarkKeySourceUnknownKid is the lookup of a forged token's kid.
func BenchmarkKeySourceUnknownKid(b *testing.B) {
	f := &fakeKeys{}
	f.replace(testJWK(b, "a"), testJWK(b, "b"), testJWK(b, "c"))
	s := &keySource{keys: f}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Key(ctx, "forged"); !errors.Is(err, jwtauth.ErrUnknownKey) {
				b.Fatal(err)
			}
		}
	})
}
