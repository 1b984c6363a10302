package jwtauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// ---- memory deny list ----

func TestMemoryDenyList(t *testing.T) {
	ctx := context.Background()
	type step struct {
		op      string // "add", "check", "advance"
		jti     string
		until   time.Duration // relative to the clock's start, for add
		advance time.Duration
		want    bool // for check
		wantErr error
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{"revoked", 0, []step{
			{op: "check", jti: "a", want: false},
			{op: "add", jti: "a", until: time.Hour},
			{op: "check", jti: "a", want: true},
			{op: "check", jti: "b", want: false},
		}},
		{"expired", 0, []step{
			{op: "add", jti: "a", until: time.Minute},
			{op: "advance", advance: time.Minute - time.Second},
			{op: "check", jti: "a", want: true},
			{op: "advance", advance: time.Second},
			{op: "check", jti: "a", want: false},
		}},
		{"extend-never-shorten", 0, []step{
			{op: "add", jti: "a", until: time.Hour},
			{op: "add", jti: "a", until: time.Minute},
			{op: "advance", advance: 2 * time.Minute},
			{op: "check", jti: "a", want: true},
			{op: "add", jti: "a", until: 3 * time.Hour},
			{op: "advance", advance: 2 * time.Hour},
			{op: "check", jti: "a", want: true},
		}},
		{"past-until-is-noop", 0, []step{
			{op: "add", jti: "a", until: 0},
			{op: "check", jti: "a", want: false},
		}},
		{"reject/empty-jti", 0, []step{
			{op: "add", jti: "", until: time.Hour, wantErr: errAny},
		}},
		{"full-refuses-never-drops", 2, []step{
			{op: "add", jti: "a", until: time.Hour},
			{op: "add", jti: "b", until: time.Hour},
			{op: "add", jti: "c", until: time.Hour, wantErr: ErrStoreFull},
			{op: "check", jti: "a", want: true},
			{op: "check", jti: "b", want: true},
			{op: "add", jti: "a", until: 2 * time.Hour}, // extending an entry needs no room
		}},
		{"full-purges-expired", 2, []step{
			{op: "add", jti: "a", until: time.Minute},
			{op: "add", jti: "b", until: time.Hour},
			{op: "advance", advance: time.Minute},
			{op: "add", jti: "c", until: time.Hour},
			{op: "check", jti: "b", want: true},
			{op: "check", jti: "c", want: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := testkit.NewClock(testNow)
			start := clock.Now()
			var opts []MemoryDenyListOption
			if tc.max > 0 {
				opts = append(opts, WithMaxEntries(tc.max))
			}
			d := NewMemoryDenyList(clock.Now, opts...)
			for i, s := range tc.steps {
				switch s.op {
				case "add":
					err := d.Add(ctx, s.jti, start.Add(s.until))
					checkErr(t, i, err, s.wantErr)
				case "check":
					got, err := d.IsRevoked(ctx, s.jti)
					if err != nil || got != s.want {
						t.Fatalf("step %d: IsRevoked(%q) = %v, %v; want %v", i, s.jti, got, err, s.want)
					}
				case "advance":
					clock.Add(s.advance)
				}
			}
		})
	}
}

// errAny matches any non-nil error in step tables.
var errAny = errors.New("any error")

func checkErr(t *testing.T, step int, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("step %d: unexpected error %v", step, err)
	case want == errAny && err == nil, want != nil && want != errAny && !errors.Is(err, want):
		t.Fatalf("step %d: error %v, want %v", step, err, want)
	}
}

func TestMemoryDenyListPurge(t *testing.T) {
	ctx := context.Background()
	clock := testkit.NewClock(testNow)
	d := NewMemoryDenyList(clock.Now)
	for i := range 100 {
		if err := d.Add(ctx, "old-"+strconv.Itoa(i), clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(2 * time.Minute)
	// Lazy purge on lookup.
	if r, _ := d.IsRevoked(ctx, "old-0"); r || d.Len() != 99 {
		t.Fatalf("revoked %v, len %d; want false, 99", r, d.Len())
	}
	// Periodic sweep on Add.
	if err := d.Add(ctx, "new", clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 1 {
		t.Fatalf("len %d after sweep, want 1", d.Len())
	}
}

// ---- memory replay cache ----

func TestMemoryReplayCache(t *testing.T) {
	ctx := context.Background()
	t.Run("replay-detected", func(t *testing.T) {
		clock := testkit.NewClock(testNow)
		c := NewMemoryReplayCache(clock.Now, 0)
		until := clock.Now().Add(time.Minute)
		if seen, err := c.Seen(ctx, "p1", until); seen || err != nil {
			t.Fatalf("first Seen = %v, %v", seen, err)
		}
		if seen, err := c.Seen(ctx, "p1", until); !seen || err != nil {
			t.Fatalf("second Seen = %v, %v; want a replay", seen, err)
		}
		if seen, _ := c.Seen(ctx, "p2", until); seen {
			t.Fatal("another id reported as replay")
		}
	})
	t.Run("expiry", func(t *testing.T) {
		clock := testkit.NewClock(testNow)
		c := NewMemoryReplayCache(clock.Now, 0)
		if seen, _ := c.Seen(ctx, "p1", clock.Now().Add(time.Minute)); seen {
			t.Fatal("first Seen reported a replay")
		}
		clock.Add(time.Minute - time.Millisecond)
		if seen, _ := c.Seen(ctx, "p1", clock.Now().Add(time.Minute)); !seen {
			t.Fatal("replay within the window not detected")
		}
		clock.Add(time.Millisecond)
		if seen, _ := c.Seen(ctx, "p1", clock.Now().Add(time.Minute)); seen {
			t.Fatal("expired id still reported")
		}
	})
	t.Run("reject/until-not-in-future", func(t *testing.T) {
		clock := testkit.NewClock(testNow)
		c := NewMemoryReplayCache(clock.Now, 0)
		if _, err := c.Seen(ctx, "p1", clock.Now()); err == nil {
			t.Fatal("until == now accepted")
		}
	})
	t.Run("full-fails-closed", func(t *testing.T) {
		clock := testkit.NewClock(testNow)
		c := NewMemoryReplayCache(clock.Now, 2)
		until := clock.Now().Add(time.Minute)
		_, _ = c.Seen(ctx, "a", until)
		_, _ = c.Seen(ctx, "b", until)
		if _, err := c.Seen(ctx, "c", until); !errors.Is(err, ErrStoreFull) {
			t.Fatalf("full cache: %v, want ErrStoreFull", err)
		}
		// Live entries were not evicted.
		if seen, err := c.Seen(ctx, "a", until); !seen || err != nil {
			t.Fatalf("live id lost: %v, %v", seen, err)
		}
		clock.Add(time.Minute)
		if seen, err := c.Seen(ctx, "c", clock.Now().Add(time.Minute)); seen || err != nil {
			t.Fatalf("after expiry: %v, %v; want room", seen, err)
		}
	})
	t.Run("concurrent-exactly-one-first", func(t *testing.T) {
		c := NewMemoryReplayCache(nil, 0)
		concurrentSeen(t, []ReplayCache{c}, time.Now().Add(time.Minute))
	})
}

// concurrentSeen calls Seen for one id from 50 goroutines spread over
// caches and checks that exactly one reports a first sighting.
func concurrentSeen(t *testing.T, caches []ReplayCache, until time.Time) {
	t.Helper()
	jti := randomID(t)
	var firsts, errs atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 50 {
		c := caches[i%len(caches)]
		wg.Go(func() {
			<-start
			seen, err := c.Seen(context.Background(), jti, until)
			if err != nil {
				errs.Add(1)
			} else if !seen {
				firsts.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if errs.Load() != 0 || firsts.Load() != 1 {
		t.Fatalf("%d first sightings and %d errors among 50; want exactly 1 and 0", firsts.Load(), errs.Load())
	}
}

func randomID(t testing.TB) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// ---- Redis ----

// testRedis connects to RAMPART_TEST_REDIS_URL and returns the client and
// a random key prefix whose keys are deleted when the test ends.
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	u := os.Getenv("RAMPART_TEST_REDIS_URL")
	if u == "" {
		t.Skip("set RAMPART_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run the Redis tests")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis %s: %v", u, err)
	}
	prefix := "rampart-test:" + randomID(t) + ":"
	t.Cleanup(func() {
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		_ = c.Close()
	})
	return c, prefix
}

func TestRedisReplayCache(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := context.Background()
	t.Run("replay-detected", func(t *testing.T) {
		r := NewRedisReplayCache(c, prefix)
		until := time.Now().Add(time.Minute)
		if seen, err := r.Seen(ctx, "p1", until); seen || err != nil {
			t.Fatalf("first Seen = %v, %v", seen, err)
		}
		if seen, err := r.Seen(ctx, "p1", until); !seen || err != nil {
			t.Fatalf("second Seen = %v, %v; want a replay", seen, err)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		r := NewRedisReplayCache(c, prefix)
		if seen, err := r.Seen(ctx, "short", time.Now().Add(300*time.Millisecond)); seen || err != nil {
			t.Fatalf("first Seen = %v, %v", seen, err)
		}
		time.Sleep(500 * time.Millisecond)
		if seen, err := r.Seen(ctx, "short", time.Now().Add(time.Minute)); seen || err != nil {
			t.Fatalf("after expiry Seen = %v, %v; want false", seen, err)
		}
	})
	t.Run("concurrent-exactly-one-first", func(t *testing.T) {
		concurrentSeen(t, []ReplayCache{NewRedisReplayCache(c, prefix)}, time.Now().Add(time.Minute))
	})
	t.Run("two-instances-share-state", func(t *testing.T) {
		opt := c.Options()
		c2 := redis.NewClient(opt)
		defer func() { _ = c2.Close() }()
		a, b := NewRedisReplayCache(c, prefix), NewRedisReplayCache(c2, prefix)
		until := time.Now().Add(time.Minute)
		if seen, err := a.Seen(ctx, "shared", until); seen || err != nil {
			t.Fatalf("instance A: %v, %v", seen, err)
		}
		if seen, err := b.Seen(ctx, "shared", until); !seen || err != nil {
			t.Fatalf("instance B: %v, %v; want the replay seen by A", seen, err)
		}
		concurrentSeen(t, []ReplayCache{a, b}, until)
	})
	t.Run("keys-hashed", func(t *testing.T) {
		r := NewRedisReplayCache(c, prefix)
		evil := "*\r\n" + strings.Repeat("x", 10000)
		if _, err := r.Seen(ctx, evil, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		keys, err := c.Keys(ctx, prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			h := strings.TrimPrefix(k, prefix)
			if _, err := hex.DecodeString(h); err != nil || len(h) != 64 {
				t.Fatalf("key %q is not prefix+hex(SHA-256)", k)
			}
		}
	})
	t.Run("reject/until-not-in-future", func(t *testing.T) {
		if _, err := NewRedisReplayCache(c, prefix).Seen(ctx, "p", time.Now().Add(-time.Second)); err == nil {
			t.Fatal("past until accepted")
		}
	})
}

func TestRedisDenyList(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := context.Background()
	d := NewRedisDenyList(c, prefix)
	check := func(jti string, want bool) {
		t.Helper()
		got, err := d.IsRevoked(ctx, jti)
		if err != nil || got != want {
			t.Fatalf("IsRevoked(%q) = %v, %v; want %v", jti, got, err, want)
		}
	}
	t.Run("revoked", func(t *testing.T) {
		check("a", false)
		if err := d.Add(ctx, "a", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		check("a", true)
		check("b", false)
		// A second instance sees the revocation.
		check2, _ := NewRedisDenyList(c, prefix).IsRevoked(ctx, "a")
		if !check2 {
			t.Fatal("revocation not shared")
		}
	})
	t.Run("expired", func(t *testing.T) {
		if err := d.Add(ctx, "short", time.Now().Add(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		check("short", true)
		time.Sleep(500 * time.Millisecond)
		check("short", false)
	})
	t.Run("extend-never-shorten", func(t *testing.T) {
		if err := d.Add(ctx, "ext", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := d.Add(ctx, "ext", time.Now().Add(200*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond)
		check("ext", true)
		if err := d.Add(ctx, "ext", time.Now().Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		ttl, err := c.PTTL(ctx, redisKey(prefix, "ext")).Result()
		if err != nil || ttl < 90*time.Minute {
			t.Fatalf("TTL %s, %v; want extended to ~2h", ttl, err)
		}
	})
	t.Run("past-until-is-noop", func(t *testing.T) {
		if err := d.Add(ctx, "past", time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		check("past", false)
	})
}

// TestRedisDown: with Redis unreachable every call returns an error, so the
// verifier fails closed. Needs no Redis.
func TestRedisDown(t *testing.T) {
	addr := testkit.FreeAddr(t) // nothing listens there
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer func() { _ = c.Close() }()
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	tests := []struct {
		name string
		call func() error
	}{
		{"replay/seen", func() error { _, err := NewRedisReplayCache(c, "p:").Seen(ctx, "x", until); return err }},
		{"deny/is-revoked", func() error { _, err := NewRedisDenyList(c, "p:").IsRevoked(ctx, "x"); return err }},
		{"deny/add", func() error { return NewRedisDenyList(c, "p:").Add(ctx, "x", until) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err == nil {
				t.Fatal("no error with Redis down")
			}
		})
	}
	// And through the verifier: a deny-list failure rejects the token.
	v, err := New(Config{Issuer: testIssuer, Audiences: []string{testAudience}, Clock: fixedClock,
		Keys: mustStatic(t), DenyList: NewRedisDenyList(c, "p:"), CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(ctx, token(t, ES256, jk().ec, "a", goodClaims()))
	if ReasonOf(err) != ReasonDenyListError {
		t.Fatalf("Verify with Redis down: %v, want %s", err, ReasonDenyListError)
	}
}

func mustStatic(t testing.TB) *StaticKeys {
	k, err := NewKey("a", ES256, jk().ec.Public())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStaticKeys(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ---- benchmarks ----

func BenchmarkMemoryDenyListIsRevoked(b *testing.B) {
	d := NewMemoryDenyList(nil)
	ctx := context.Background()
	for i := range 10000 {
		_ = d.Add(ctx, "jti-"+hex.EncodeToString([]byte{byte(i), byte(i >> 8)}), time.Now().Add(time.Hour))
	}
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := d.IsRevoked(ctx, "jti-not-revoked-0123456789abcdef"); r {
			b.Fatal("revoked")
		}
	}
}

func BenchmarkMemoryReplayCacheSeen(b *testing.B) {
	c := NewMemoryReplayCache(nil, 0)
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = "proof-" + hex.EncodeToString([]byte{byte(i), byte(i >> 8), byte(i >> 16)})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, _ = c.Seen(ctx, ids[i&(len(ids)-1)], until)
		i++
	}
}
