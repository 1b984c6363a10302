package identity

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

func newTestHasher(t testing.TB) *Hasher {
	t.Helper()
	h, err := NewHasher(Params{}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashAndVerify(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t)
	phc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("PHC %q", phc)
	}
	if strings.Contains(phc, "correct horse") {
		t.Fatal("password in the hash string")
	}
	ok, rehash, err := h.Verify(ctx, "correct horse battery staple", phc)
	if err != nil || !ok || rehash {
		t.Fatalf("right password: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	ok, _, err = h.Verify(ctx, "correct horse battery stapler", phc)
	if err != nil || ok {
		t.Fatalf("wrong password accepted: ok=%v err=%v", ok, err)
	}
	again, _ := h.Hash(ctx, "correct horse battery staple")
	if again == phc {
		t.Fatal("two hashes of one password are equal (salt not random)")
	}
}

func TestRehashWhenParametersAreWeaker(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t)
	salt := []byte("0123456789abcdef")
	weak := FormatPHC(Params{MemoryKiB: 8192, Time: 1, Threads: 1}, salt, argon2.IDKey([]byte("pw"), salt, 1, 8192, 1, 32))
	ok, rehash, err := h.Verify(ctx, "pw", weak)
	if err != nil || !ok || !rehash {
		t.Fatalf("weak hash: ok=%v rehash=%v err=%v (want ok and rehash)", ok, rehash, err)
	}
	if ok, rehash, _ := h.Verify(ctx, "nope", weak); ok || rehash {
		t.Fatal("rehash must only be suggested after a successful verification")
	}
}

func TestParsePHCRejectsHostileHashes(t *testing.T) {
	good := "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$" + strings.Repeat("A", 43)
	if _, _, _, err := ParsePHC(good); err != nil {
		t.Fatalf("good PHC refused: %v", err)
	}
	cases := map[string]string{
		"reject/argon2i":            strings.Replace(good, "argon2id", "argon2i", 1),
		"reject/bcrypt":             "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"reject/old-version":        strings.Replace(good, "v=19", "v=16", 1),
		"reject/memory-4GiB":        strings.Replace(good, "m=19456", "m=4194304", 1),
		"reject/memory-overflow":    strings.Replace(good, "m=19456", "m=99999999999", 1),
		"reject/time-1000":          strings.Replace(good, "t=2", "t=1000", 1),
		"reject/threads-255":        strings.Replace(good, "p=1", "p=255", 1),
		"reject/zero-time":          strings.Replace(good, "t=2", "t=0", 1),
		"reject/leading-zero":       strings.Replace(good, "t=2", "t=02", 1),
		"reject/reordered-params":   strings.Replace(good, "m=19456,t=2,p=1", "t=2,m=19456,p=1", 1),
		"reject/extra-param":        strings.Replace(good, "p=1", "p=1,k=2", 1),
		"reject/padded-salt":        strings.Replace(good, "Y2RlZg$", "Y2RlZg==$", 1),
		"reject/short-salt":         "$argon2id$v=19$m=19456,t=2,p=1$MDEy$" + strings.Repeat("A", 43),
		"reject/short-hash":         "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAA",
		"reject/extra-field":        good + "$x",
		"reject/empty":              "",
		"reject/negative-memory":    strings.Replace(good, "m=19456", "m=-1", 1),
		"reject/url-alphabet-salt?": strings.Replace(good, "MDEyMzQ1Njc4OWFiY2RlZg", "MDEyMzQ1Njc4OWFiY2R-_g", 1),
	}
	for name, phc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, _, err := ParsePHC(phc); !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("accepted %q (err %v)", phc, err)
			}
			h := newTestHasher(t)
			if ok, _, err := h.Verify(context.Background(), "pw", phc); ok || err == nil {
				t.Fatalf("Verify accepted a malformed hash")
			}
		})
	}
}

func TestPasswordSizeCap(t *testing.T) {
	h := newTestHasher(t)
	big := strings.Repeat("x", MaxPasswordBytes+1)
	if _, err := h.Hash(context.Background(), big); !errors.Is(err, ErrPasswordSize) {
		t.Fatalf("oversized password hashed: %v", err)
	}
	if _, _, err := h.Verify(context.Background(), big, h.dummy); !errors.Is(err, ErrPasswordSize) {
		t.Fatalf("oversized password verified: %v", err)
	}
	h.VerifyDummy(context.Background(), big) // must not panic or run unbounded
}

func TestNewHasherRefusesWeakParameters(t *testing.T) {
	for name, p := range map[string]Params{
		"reject/below-owasp-memory": {MemoryKiB: 8192, Time: 2, Threads: 1},
		"reject/zero-threads":       {MemoryKiB: 19456, Time: 2, Threads: 0},
		"reject/too-much-memory":    {MemoryKiB: 1 << 21, Time: 2, Threads: 1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewHasher(p, 1, nil); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestConcurrencyIsBounded: a flood of verifications never runs more hashes
// at once than the configured bound, and a caller whose context ends while
// queued gives up.
func TestConcurrencyIsBounded(t *testing.T) {
	h := newTestHasher(t) // bound 2
	phc, _ := h.Hash(context.Background(), "pw")
	var inFlight, peak atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			inFlight.Add(-1)
			h.release()
		}()
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Fatalf("%d hashes ran at once, bound is 2", peak.Load())
	}
	// Fill both slots, then a queued Verify gives up with its context.
	_ = h.acquire(context.Background())
	_ = h.acquire(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := h.Verify(ctx, "pw", phc); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued Verify: %v", err)
	}
	h.release()
	h.release()
}

func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$" + strings.Repeat("A", 43))
	f.Add("$argon2id$v=19$m=4294967295,t=4294967295,p=255$$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := ParsePHC(s)
		if err != nil {
			return
		}
		if p.MemoryKiB > maxMemoryKiB || p.Time > maxTime || p.Threads > maxThreads || len(salt) < minSaltLen || len(key) < minKeyLen {
			t.Fatalf("accepted out-of-bounds hash %q: %+v", s, p)
		}
		if FormatPHC(p, salt, key) != s {
			t.Fatalf("accepted a non-canonical PHC string %q", s)
		}
	})
}

// BenchmarkHash is the cost of one login's hash at the default parameters:
//
//	go test -run '^$' -bench Hash -benchmem ./internal/identity/
func BenchmarkHash(b *testing.B) {
	h := newTestHasher(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
