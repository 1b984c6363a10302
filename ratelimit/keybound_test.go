package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

// oldStoredForm is how a long key used to be stored, and how a key that
// looks hashed used to be stored too: verbatim. A short key equal to it
// shared the long key's bucket.
func oldStoredForm(long string) string {
	h := sha256.Sum256([]byte(long))
	return "sha256:" + hex.EncodeToString(h[:])
}

// TestStoredKeyFormsDisjoint performs the collision of issue 10 item 12 on
// the in-process and Redis stores: a victim's long key (a 200-byte API key
// header, say) is stored hashed; an attacker who sends the literal stored
// form as a short key must get a bucket of its own, in either order.
func TestStoredKeyFormsDisjoint(t *testing.T) {
	victim := strings.Repeat("v", 200)
	cases := map[string]struct{ first, second string }{
		"reject/literal-hashed-form-after-long":  {victim, oldStoredForm(victim)},
		"reject/literal-hashed-form-before-long": {oldStoredForm(victim), victim},
		"reject/hashed-form-of-hashed-form":      {oldStoredForm(victim), oldStoredForm(oldStoredForm(victim))},
		"reject/uppercase-prefix-stays-distinct": {"SHA256:" + oldStoredForm(victim)[7:], oldStoredForm(victim)},
	}
	stores := map[string]func(t *testing.T) Store{
		"memory": func(t *testing.T) Store { return NewMemoryStore(newClock().Nanos) },
	}
	if !testing.Short() {
		stores["redis"] = func(t *testing.T) Store {
			c := testRedisClient(t)
			return NewRedisStore(c, RedisOptions{Prefix: testPrefix(t, c)})
		}
	}
	ctx := context.Background()
	for storeName, mk := range stores {
		for name, c := range cases {
			t.Run(storeName+"/"+name, func(t *testing.T) {
				lim := mustLimiter(t, mk(t), Limit{Name: "api-key", Rate: 1, Period: time.Hour, Burst: 1})
				if d, err := lim.Allow(ctx, c.first); err != nil || !d.Allowed {
					t.Fatalf("first key: %+v %v", d, err)
				}
				if d, _ := lim.Allow(ctx, c.first); d.Allowed {
					t.Fatal("first key not limited")
				}
				if d, err := lim.Allow(ctx, c.second); err != nil || !d.Allowed {
					t.Fatalf("the second key shares the first key's bucket: %+v %v", d, err)
				}
			})
		}
	}
}

// TestBoundKeyForms: ordinary keys are stored as themselves (no work on
// the hot path); long keys and keys that look hashed are hashed; every
// stored form fits MaxKeyLength.
func TestBoundKeyForms(t *testing.T) {
	for _, k := range []string{"203.0.113.7", "2001:db8::/64", "alice", strings.Repeat("x", MaxKeyLength), "sha256", "SHA256:ab"} {
		if got := boundKey(k); got != k {
			t.Errorf("boundKey(%q) = %q, want the key itself", k, got)
		}
	}
	for _, k := range []string{strings.Repeat("x", MaxKeyLength+1), "sha256:", oldStoredForm("a")} {
		if got := boundKey(k); got == k || !strings.HasPrefix(got, "sha256:") || len(got) > MaxKeyLength {
			t.Errorf("boundKey(%q) = %q, want a sha256: form", k, got)
		}
	}
}

// FuzzBoundKeyInjective: two distinct keys never map to one stored key,
// and no stored key exceeds MaxKeyLength. The seeds include the literal
// hashed form of a long key, which collided before.
func FuzzBoundKeyInjective(f *testing.F) {
	long := strings.Repeat("k", 300)
	f.Add(long, oldStoredForm(long))
	f.Add("sha256:", "")
	f.Add("1.2.3.4", "1.2.3.4 ")
	f.Add(strings.Repeat("a", MaxKeyLength), strings.Repeat("a", MaxKeyLength+1))
	f.Fuzz(func(t *testing.T, a, b string) {
		ba, bb := boundKey(a), boundKey(b)
		if len(ba) > MaxKeyLength || len(bb) > MaxKeyLength {
			t.Fatalf("stored forms of %d and %d bytes", len(ba), len(bb))
		}
		if a != b && ba == bb {
			t.Fatalf("distinct keys %q and %q share the stored key %q", a, b, ba)
		}
		// Any key's stored form, used as a key, is stored apart from it.
		if boundKey(ba) == ba && ba != a {
			t.Fatalf("the stored form %q of %q is stored as itself", ba, a)
		}
	})
}

// TestMemoryStoreKeepsNoCallerBuffer: a short key sliced from a large
// buffer (a body, a header block) is copied on insertion, so the store
// keeps its bound per key instead of pinning 32 KiB for a 12-byte key.
func TestMemoryStoreKeepsNoCallerBuffer(t *testing.T) {
	s := NewMemoryStore(newClock().Nanos)
	lim := mustLimiter(t, s, Limit{Name: "k", Rate: 1, Period: time.Hour, Burst: 1})
	ctx := context.Background()
	before := heapInUse()
	for i := range 2000 {
		buf := strings.Repeat("x", 32<<10) + strconv.Itoa(1e6+i)
		if d, _ := lim.Allow(ctx, buf[len(buf)-12:]); !d.Allowed {
			t.Fatal("fresh key denied")
		}
	}
	perKey := float64(int64(heapInUse())-int64(before)) / 2000
	t.Logf("%.0f bytes retained per key", perKey)
	if s.Len() != 2000 || perKey > MemoryBytesPerKey+MaxKeyLength {
		t.Fatalf("%d keys, %.0f bytes per key; want 2000 within %d", s.Len(), perKey, MemoryBytesPerKey+MaxKeyLength)
	}
}
