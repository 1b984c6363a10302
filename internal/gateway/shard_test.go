package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// testShardKey is a fixed shard key, so every placement in these tests is
// reproducible.
var testShardKey = []byte("rampart test shard key: 32 bytes+")

// upstreamNames returns n upstream identities.
func upstreamNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("http://10.0.0.%d:9000", i+1)
	}
	return out
}

func mustSharder(t testing.TB, upstreams []string, k int) *Sharder {
	t.Helper()
	s, err := NewSharder(upstreams, k, testShardKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tenantName is the i-th deterministic tenant of a test.
func tenantName(i int) string { return fmt.Sprintf("tenant-%06d", i) }

// binom returns C(n, k) as a float.
func binom(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

func TestNewSharderRejects(t *testing.T) {
	short := testShardKey[:MinShardKeyLen-1]
	for _, tc := range []struct {
		name      string
		upstreams []string
		k         int
		key       []byte
		want      string
	}{
		{"reject/no-upstreams", nil, 1, testShardKey, "0 upstreams"},
		{"reject/too-many-upstreams", upstreamNames(MaxUpstreams + 1), 2, testShardKey, "want 1 to 64"},
		{"reject/k-zero", upstreamNames(8), 0, testShardKey, "shard size 0"},
		{"reject/k-above-n", upstreamNames(8), 9, testShardKey, "shard size 9"},
		{"reject/short-key", upstreamNames(8), 2, short, "RFC 2104"},
		{"reject/no-key", upstreamNames(8), 2, nil, "RFC 2104"},
		{"reject/duplicate-upstream", []string{"http://a", "http://b", "http://a"}, 2, testShardKey, "listed twice"},
		{"reject/empty-upstream", []string{"http://a", ""}, 1, testShardKey, "upstream 1 is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSharder(tc.upstreams, tc.k, tc.key)
			if err == nil || s != nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "gateway: ") {
				t.Fatalf("NewSharder = %v, %v; want error containing %q", s, err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		n, k int
	}{{"accept/k-one", 8, 1}, {"accept/k-equals-n", 8, 8}, {"accept/max", MaxUpstreams, MaxUpstreams}, {"accept/single", 1, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSharder(t, upstreamNames(tc.n), tc.k)
			if s.N() != tc.n || s.K() != tc.k || s.Shard("x").Len() != tc.k {
				t.Fatalf("N %d K %d len %d", s.N(), s.K(), s.Shard("x").Len())
			}
		})
	}
}

// TestShardDeterministicAndKeyed checks placements are the same for two
// Sharders built alike (two gateways of a fleet), do not depend on the
// order of the upstream list, and change with the key.
func TestShardDeterministicAndKeyed(t *testing.T) {
	names := upstreamNames(8)
	a, b := mustSharder(t, names, 2), mustSharder(t, names, 2)
	rev := make([]string, len(names))
	for i, u := range names {
		rev[len(names)-1-i] = u
	}
	r := mustSharder(t, rev, 2)
	otherKey := append([]byte("another deployment's secret "), testShardKey...)
	o, err := NewSharder(names, 2, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	differ := 0
	for i := range 1000 {
		tn := tenantName(i)
		sa := a.Shard(tn)
		if sb := b.Shard(tn); sa != sb {
			t.Fatalf("%s: %b vs %b", tn, sa, sb)
		}
		if got, want := shardNames(r.Shard(tn), rev), shardNames(sa, names); got != want {
			t.Fatalf("%s: reordered list gives %s, want %s", tn, got, want)
		}
		if o.Shard(tn) != sa {
			differ++
		}
	}
	// With an independent key a tenant keeps its shard with p = 1/28.
	if differ < 900 {
		t.Fatalf("only %d of 1000 tenants moved under another key", differ)
	}
}

// shardNames is the set's members by identity, sorted by index order of
// the canonical names so that lists in any order compare.
func shardNames(set ShardSet, upstreams []string) string {
	var in [MaxUpstreams]bool
	for _, i := range set.AppendTo(nil) {
		in[i] = true
	}
	var out []string
	for _, u := range upstreamNames(MaxUpstreams) {
		for i, v := range upstreams {
			if v == u && in[i] {
				out = append(out, u)
			}
		}
	}
	return strings.Join(out, ",")
}

// TestShardOverlapMath checks the doc comment's numbers over 100k
// deterministic tenants against a fixed victim, each within five binomial
// standard deviations (the names are fixed, so the test cannot flake).
func TestShardOverlapMath(t *testing.T) {
	const n, k, tenants = 8, 2, 100_000
	if got := binom(n, k); got != 28 {
		t.Fatalf("C(8,2) = %v", got)
	}
	s := mustSharder(t, upstreamNames(n), k)
	victim := s.Shard("victim")
	var same, disjoint, one int
	var load [n]int
	for i := range tenants {
		set := s.Shard(tenantName(i))
		for _, u := range set.AppendTo(nil) {
			load[u]++
		}
		switch (set & victim).Len() {
		case k:
			same++
		case 1:
			one++
		case 0:
			disjoint++
		}
	}
	check := func(what string, count int, p float64) {
		t.Helper()
		got := float64(count) / tenants
		sd := math.Sqrt(p * (1 - p) / tenants)
		if math.Abs(got-p) > 5*sd {
			t.Errorf("%s: %.5f, want %.5f ± %.5f", what, got, p, 5*sd)
		}
		t.Logf("%s: %.5f (expected %.5f)", what, got, p)
	}
	total := binom(n, k)
	check("identical shard", same, 1/total)                             // 1/28
	check("no shared upstream", disjoint, binom(n-k, k)/total)          // 15/28
	check("exactly one shared", one, binom(k, 1)*binom(n-k, k-1)/total) // 12/28
	check("at least one shared", same+one, 1-binom(n-k, k)/total)       // 13/28
	for u, c := range load {
		check(fmt.Sprintf("load of upstream %d", u), c, float64(k)/float64(n)) // 1/4
	}
}

// TestShardIsolation is issue 12's test on indexes: tenant A's traffic
// kills A's shard; tenants with a disjoint shard keep 100 % success, those
// sharing one member are served by the other, and only tenants with A's
// exact shard get no upstream, never one outside their shard.
func TestShardIsolation(t *testing.T) {
	s := mustSharder(t, upstreamNames(8), 2)
	dead := s.Shard("tenant-a")
	healthy := func(i int) bool { return !dead.Contains(i) }
	if _, err := s.ShardFor("tenant-a", healthy); !errors.Is(err, ErrNoHealthyUpstream) {
		t.Fatalf("tenant A with its shard dead: %v", err)
	}
	var counts [3]int // by members shared with A
	for i := range 5000 {
		tn := tenantName(i)
		set := s.Shard(tn)
		shared := (set & dead).Len()
		counts[shared]++
		for range 4 {
			u, err := s.ShardFor(tn, healthy)
			switch {
			case shared == 2:
				if !errors.Is(err, ErrNoHealthyUpstream) || u != -1 {
					t.Fatalf("%s shares A's shard: got %d, %v; want none (no spill-over)", tn, u, err)
				}
			case err != nil:
				t.Fatalf("%s (%d shared with A) failed: %v", tn, shared, err)
			case !set.Contains(u) || dead.Contains(u):
				t.Fatalf("%s sent to %d outside its healthy shard %b", tn, u, set)
			}
		}
	}
	if counts[0] == 0 || counts[1] == 0 || counts[2] == 0 {
		t.Fatalf("test tenants do not cover every overlap: %v", counts)
	}
}

// TestShardForRoundRobin checks a tenant's requests spread over its
// healthy members and skip the unhealthy one.
func TestShardForRoundRobin(t *testing.T) {
	s := mustSharder(t, upstreamNames(16), 4)
	set := s.Shard("acme")
	members := set.AppendTo(nil)
	down := members[1]
	hits := map[int]int{}
	for range 300 {
		u, err := s.ShardFor("acme", func(i int) bool { return i != down })
		if err != nil {
			t.Fatal(err)
		}
		hits[u]++
	}
	if len(hits) != 3 || hits[down] != 0 {
		t.Fatalf("hits %v over members %v with %d down", hits, members, down)
	}
	for u, c := range hits {
		if c != 100 {
			t.Fatalf("upstream %d got %d of 300: %v", u, c, hits)
		}
	}
}

// TestShardStability adds a ninth upstream and checks every tenant's shard
// either stays or swaps exactly one member for the newcomer, for about
// k/(n+1) of tenants; removing it restores every shard.
func TestShardStability(t *testing.T) {
	const n, k, tenants = 8, 2, 50_000
	names := upstreamNames(n + 1)
	before, after := mustSharder(t, names[:n], k), mustSharder(t, names, k)
	moved := 0
	for i := range tenants {
		tn := tenantName(i)
		b, a := before.Shard(tn), after.Shard(tn)
		if a == b {
			continue
		}
		moved++
		if !a.Contains(n) || (a&b).Len() != k-1 || b.Contains(n) {
			t.Fatalf("%s: %b -> %b is not one member swapped for the new upstream", tn, b, a)
		}
	}
	p := float64(k) / float64(n+1)
	sd := math.Sqrt(p * (1 - p) / tenants)
	if got := float64(moved) / tenants; math.Abs(got-p) > 5*sd {
		t.Fatalf("moved %.4f of tenants, want %.4f ± %.4f", got, p, 5*sd)
	}
}

// TestShardRemoval removes one upstream from the middle of the list and
// checks only the shards that held it change, by identity.
func TestShardRemoval(t *testing.T) {
	names := upstreamNames(8)
	less := append(append([]string(nil), names[:3]...), names[4:]...)
	full, cut := mustSharder(t, names, 3), mustSharder(t, less, 3)
	for i := range 5000 {
		tn := tenantName(i)
		f := full.Shard(tn)
		if f.Contains(3) {
			continue
		}
		if got, want := shardNames(cut.Shard(tn), less), shardNames(f, names); got != want {
			t.Fatalf("%s lost no member but moved: %s -> %s", tn, want, got)
		}
	}
}

func TestShardSet(t *testing.T) {
	set := ShardSet(1<<0 | 1<<5 | 1<<63)
	if set.Len() != 3 || !set.Contains(63) || set.Contains(1) || set.Contains(-1) || set.Contains(64) {
		t.Fatalf("set %b", set)
	}
	if got := fmt.Sprint(set.AppendTo(nil)); got != "[0 5 63]" {
		t.Fatalf("AppendTo = %s", got)
	}
	for j, want := range []int{0, 5, 63} {
		if got := set.nth(j); got != want {
			t.Fatalf("nth(%d) = %d", j, got)
		}
	}
}

// shardTestUpstream is one real upstream: it answers 200 naming itself
// until a poisoned request kills it, then 500 to everything.
type shardTestUpstream struct {
	index int
	dead  atomic.Bool
}

func (u *shardTestUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Test-Poison") != "" {
		u.dead.Store(true)
	}
	if u.dead.Load() {
		http.Error(w, "dead", http.StatusInternalServerError)
		return
	}
	w.Header().Set("X-Test-Upstream", strconv.Itoa(u.index))
	w.WriteHeader(http.StatusOK)
}

// shardTestProxy is the tiny proxy of the real-listener test: ShardFor
// picks the upstream from the X-Test-Tenant header, a 5xx ejects it
// (passive ejection) and a shard with no healthy member answers 503.
func shardTestProxy(t *testing.T, s *Sharder, urls []string) http.Handler {
	t.Helper()
	ejected := make([]atomic.Bool, len(urls))
	proxies := make([]*httputil.ReverseProxy, len(urls))
	for i, raw := range urls {
		target, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		proxies[i] = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
			ModifyResponse: func(resp *http.Response) error {
				if resp.StatusCode >= 500 {
					ejected[i].Store(true)
				}
				return nil
			},
		}
	}
	healthy := func(i int) bool { return !ejected[i].Load() }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := s.ShardFor(r.Header.Get("X-Test-Tenant"), healthy)
		if err != nil {
			http.Error(w, "no upstream", http.StatusServiceUnavailable)
			return
		}
		proxies[i].ServeHTTP(w, r)
	})
}

// TestShardIsolationListeners is issue 12's isolation test through real
// listeners: eight upstreams, tenant A's requests kill its two, and every
// tenant of another shard keeps 100 % success from its own shard.
func TestShardIsolationListeners(t *testing.T) {
	const n, k = 8, 2
	urls := make([]string, n)
	for i := range urls {
		srv := httptest.NewServer(&shardTestUpstream{index: i})
		t.Cleanup(srv.Close)
		urls[i] = srv.URL
	}
	s := mustSharder(t, urls, k)
	front := httptest.NewServer(shardTestProxy(t, s, urls))
	t.Cleanup(front.Close)
	get := func(tenant string, poison bool) (int, string) {
		req, err := http.NewRequest(http.MethodGet, front.URL+"/x", nil)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		req.Header.Set("X-Test-Tenant", tenant)
		if poison {
			req.Header.Set("X-Test-Poison", "1")
		}
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("X-Test-Upstream")
	}
	killed := 0
	for ; killed < 10; killed++ {
		if code, _ := get("tenant-a", true); code == http.StatusServiceUnavailable {
			break
		}
	}
	if killed != k {
		t.Fatalf("tenant A took %d requests to exhaust its shard, want %d", killed, k)
	}
	dead := s.Shard("tenant-a")
	var wg sync.WaitGroup
	var served, refused [k + 1]atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < 400; i += 4 {
				tn := tenantName(i)
				set := s.Shard(tn)
				shared := (set & dead).Len()
				for range 5 {
					code, up := get(tn, false)
					idx, _ := strconv.Atoi(up)
					switch {
					case shared == k && code != http.StatusServiceUnavailable:
						t.Errorf("%s has A's shard: %d from %q, want 503", tn, code, up)
					case shared < k && (code != http.StatusOK || !set.Contains(idx) || dead.Contains(idx)):
						t.Errorf("%s (%d shared with A): %d from %q, shard %b", tn, shared, code, up, set)
					}
					if code == http.StatusOK {
						served[shared].Add(1)
					} else {
						refused[shared].Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	for j := range served {
		t.Logf("tenants sharing %d with A: %d served, %d refused", j, served[j].Load(), refused[j].Load())
	}
	if served[0].Load() == 0 || served[1].Load() == 0 || refused[k].Load() == 0 {
		t.Fatal("test tenants do not cover every overlap")
	}
}

// TestShardHashConstruction checks the documented construction, the first
// 64 bits (little-endian) of HMAC-SHA-256(key, label || value), against
// crypto/hmac directly, for values across the chunk buffer's boundaries:
// another implementation of the fleet can reproduce placements from it.
func TestShardHashConstruction(t *testing.T) {
	s := mustSharder(t, upstreamNames(2), 1)
	for _, size := range []int{0, 1, 255, 256, 257, 1000} {
		v := strings.Repeat("t", size)
		mac := hmac.New(sha256.New, testShardKey)
		mac.Write([]byte(shardTenantLabel + v))
		want := binary.LittleEndian.Uint64(mac.Sum(nil))
		if got := s.hash(shardTenantLabel, v); got != want {
			t.Fatalf("%d bytes: %x, want %x", size, got, want)
		}
	}
}
