package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestRedisSpreadAllOrNothing: with SpreadKeys the keys carry no shared
// hash tag, and a composed decision denied by one limit gives the others
// their cost back.
func TestRedisSpreadAllOrNothing(t *testing.T) {
	c := testRedisClient(t)
	prefix := testPrefix(t, c)
	ctx := context.Background()
	for _, alg := range []Algorithm{TokenBucket, GCRA} {
		s := NewRedisStore(c, RedisOptions{Prefix: prefix + strconv.Itoa(int(alg)) + ":", SpreadKeys: true})
		lim := mustLimiter(t, s,
			Limit{Name: "tight", Algorithm: alg, Rate: 1, Period: time.Hour, Burst: 1},
			Limit{Name: "wide", Algorithm: alg, Rate: 1, Period: time.Hour, Burst: 5},
			Limit{Name: "third", Algorithm: alg, Rate: 1, Period: time.Hour, Burst: 3})
		if d, err := lim.Allow(ctx, "a", "u", "r"); err != nil || !d.Allowed {
			t.Fatalf("%v first: %+v %v", alg, d, err)
		}
		for i := 0; i < 3; i++ { // denied by tight: wide and third are refunded
			var res [3]Result
			d, err := lim.Decide(ctx, 1, res[:], "a", "u", "r")
			if err != nil || d.Allowed || d.Denied != 0 || !res[1].Allowed || !res[2].Allowed {
				t.Fatalf("%v denial %d: %+v %+v %v", alg, i, d, res, err)
			}
		}
		// wide has had exactly one request charged: 4 of 5 left, then 3.
		var res [3]Result
		if d, err := lim.Decide(ctx, 1, res[:], "", "u", ""); err != nil || !d.Allowed || res[1].Remaining != 3 {
			t.Fatalf("%v wide after refunds: %+v %+v %v", alg, d, res, err)
		}
		if d, err := lim.Decide(ctx, 1, res[:], "", "", "r"); err != nil || !d.Allowed || res[2].Remaining != 1 {
			t.Fatalf("%v third after refunds: %+v %+v %v", alg, d, res, err)
		}
		for _, k := range rtKeys(t, c, prefix+strconv.Itoa(int(alg))+":") {
			if strings.ContainsAny(k, "{}") {
				t.Fatalf("spread key %q carries a hash tag", k)
			}
		}
	}
}

// TestRedisRefundScriptUndoesCharge: at one instant, a refund returns a
// key to exactly the state before the charge (a fresh key is deleted),
// for random limits, costs and histories; never above capacity.
func TestRedisRefundScriptUndoesCharge(t *testing.T) {
	c := testRedisClient(t)
	prefix := testPrefix(t, c)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	s := NewRedisStore(c, RedisOptions{Prefix: prefix})
	for n := 0; n < 200; n++ {
		l := &Limit{Name: "l" + strconv.Itoa(n), Algorithm: Algorithm(n % 2), Rate: 1 + rng.Int64N(50), Period: time.Duration(1+rng.Int64N(60)) * time.Second, Burst: 1 + rng.Int64N(20)}
		p := s.params(l)
		key := prefix + "k" + strconv.Itoa(n)
		now := int64(1_800_000_000_000_000) + rng.Int64N(1e9)
		// A random history first (maybe none: a fresh key).
		for h := rng.IntN(4); h > 0; h-- {
			now += rng.Int64N(3e6)
			_ = decideScript.Run(ctx, c, []string{key}, appendParams(nil, l.Algorithm, p.rate, p.us, l.Burst, 1), now).Err()
		}
		before, _ := c.Get(ctx, key).Result()
		now += rng.Int64N(2e6)
		cost := 1 + rng.Int64N(l.Burst)
		params := appendParams(nil, l.Algorithm, p.rate, p.us, l.Burst, cost)
		out, err := decideScript.Run(ctx, c, []string{key}, params, now).Int64Slice()
		if err != nil {
			t.Fatal(err)
		}
		if out[1] != 1 {
			continue // denied: nothing charged, nothing to refund
		}
		if err := refundScript.Run(ctx, c, []string{key}, params, now).Err(); err != nil {
			t.Fatal(err)
		}
		// The state after the refund decides like the state before.
		after, _ := c.Get(ctx, key).Result()
		probe := appendParams(nil, l.Algorithm, p.rate, p.us, l.Burst, 1)
		for _, st := range []struct{ name, v string }{{"before", before}, {"after", after}} {
			if st.v == "" {
				c.Del(ctx, key+":"+st.name)
			} else {
				c.Set(ctx, key+":"+st.name, st.v, 0)
			}
		}
		got1, err1 := decideScript.Run(ctx, c, []string{key + ":before"}, probe, now).Int64Slice()
		got2, err2 := decideScript.Run(ctx, c, []string{key + ":after"}, probe, now).Int64Slice()
		if err1 != nil || err2 != nil || fmt.Sprint(got1) != fmt.Sprint(got2) {
			t.Fatalf("case %d (%+v cost %d): before %v, after refund %v (%v %v)", n, *l, cost, got1, got2, err1, err2)
		}
	}
}

// TestRedisSpreadNoScriptLoadsOnce: after SCRIPT FLUSH a spread decision
// loads the script and charges every limit exactly once.
func TestRedisSpreadNoScriptLoadsOnce(t *testing.T) {
	c := testRedisClient(t)
	prefix := testPrefix(t, c)
	ctx := context.Background()
	lim := mustLimiter(t, NewRedisStore(c, RedisOptions{Prefix: prefix, SpreadKeys: true}),
		Limit{Name: "a", Rate: 1, Period: time.Hour, Burst: 10},
		Limit{Name: "b", Rate: 1, Period: time.Hour, Burst: 10})
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Skipf("SCRIPT FLUSH not allowed: %v", err)
	}
	var res [2]Result
	if d, err := lim.Decide(ctx, 1, res[:], "x", "y"); err != nil || !d.Allowed || res[0].Remaining != 9 || res[1].Remaining != 9 {
		t.Fatalf("after SCRIPT FLUSH: %+v %+v %v", d, res, err)
	}
}

// TestRedisCluster runs the store on a real three-node Redis Cluster
// started for the test: by default every key of a decision shares the
// store's slot, so composed limits are one atomic script and two
// instances share one global limit; with SpreadKeys the keys land on
// several nodes and composed decisions stay all or nothing.
func TestRedisCluster(t *testing.T) {
	if os.Getenv("RAMPART_TEST_REDIS_URL") == "" {
		t.Skip("Redis Cluster test skipped: set RAMPART_TEST_REDIS_URL=redis://127.0.0.1:6379/0 (and install redis-server) to run it")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("Redis Cluster test skipped: redis-server is not installed (apt-get install redis-server)")
	}
	addrs := startCluster(t, bin, 3)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = cc.Close() })
	ctx := context.Background()

	// Default: one hash tag, one slot, one script per decision.
	limits := []Limit{
		{Name: "ip", Rate: 10, Period: time.Hour, Burst: 10},
		{Name: "user", Rate: 10, Period: time.Hour, Burst: 4},
		{Name: "route", Rate: 100, Period: time.Hour, Burst: 100},
	}
	one := mustLimiter(t, NewRedisStore(cc, RedisOptions{Prefix: "c1:"}), limits...)
	two := mustLimiter(t, NewRedisStore(cc, RedisOptions{Prefix: "c1:"}), limits...)
	allowed := 0
	for i := 0; i < 10; i++ {
		l := one
		if i%2 == 1 {
			l = two
		}
		d, err := l.Allow(ctx, "10.0.0."+strconv.Itoa(i), "alice", "GET /")
		if err != nil {
			t.Fatalf("cluster decision %d: %v", i, err)
		}
		if d.Allowed {
			allowed++
		}
	}
	if allowed != 4 {
		t.Fatalf("two instances on the cluster admitted %d for a user burst of 4", allowed)
	}

	// Spread: keys over the cluster, compensation across nodes. Refunds
	// delete buckets that return to full, so which address keys survive
	// depends on scheduling; the user and route keys always survive, and
	// "carol" is chosen so that her key's slot (c2:user:5:carol, 10266) is
	// on another node than the route's (c2:route:6:GET /x, 1842): the
	// decision always spans two nodes, whatever the goroutines do.
	sp := NewRedisStore(cc, RedisOptions{Prefix: "c2:", SpreadKeys: true})
	lim := mustLimiter(t, sp, limits...)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if d, err := lim.Allow(ctx, "10.1.0."+strconv.Itoa(g), "carol", "GET /x"); err == nil && d.Allowed {
					admitted.Add(1)
				} else if err != nil {
					t.Errorf("spread decision: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := admitted.Load(); n > 4 || n < 1 {
		t.Fatalf("spread: admitted %d for a user burst of 4", n)
	}
	// Refunds returned every denied request's route charge: route spent
	// exactly what was admitted.
	var res [3]Result
	if d, err := lim.Decide(ctx, 1, res[:], "", "", "GET /x"); err != nil || !d.Allowed || res[2].Remaining != 100-admitted.Load()-1 {
		t.Fatalf("route after refunds: %+v %+v %v (admitted %d)", d, res, err, admitted.Load())
	}
	// Where the keys live: each master's share of the c2: keys.
	var mu sync.Mutex
	nodes := map[string]int{}
	err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		keys, err := n.Keys(ctx, "c2:*").Result()
		mu.Lock()
		defer mu.Unlock()
		if len(keys) > 0 {
			nodes[n.Options().Addr] = len(keys)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("keys per master: %v", nodes)
	if len(nodes) < 2 {
		t.Fatalf("spread keys all on one node: %v", nodes)
	}
}

// startCluster starts n cluster-enabled redis-server processes on free
// loopback ports, splits the slots between them and waits for the
// cluster to be ready. The processes stop when the test ends.
func startCluster(t *testing.T, bin string, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var addrs []string
	for i := 0; i < n; i++ {
		port := testkit.FreePort(t)
		nd := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(nd, 0o700); err != nil {
			t.Fatal(err)
		}
		// #nosec G204 -- the test's own redis-server with fixed arguments
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(nd, "nodes.conf"), "--dir", nd, "--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			t.Skipf("Redis Cluster test skipped: cannot start redis-server: %v", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	ctx := context.Background()
	var clients []*redis.Client
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		t.Cleanup(func() { _ = c.Close() })
		clients = append(clients, c)
		testkit.WaitFor(t, "redis-server at "+a, clusterWait, func() bool { return c.Ping(ctx).Err() == nil })
	}
	per := 16384 / n
	for i, c := range clients {
		lo, hi := i*per, (i+1)*per-1
		if i == n-1 {
			hi = 16383
		}
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
		}
	}
	for _, a := range addrs[1:] {
		host, port, _ := net.SplitHostPort(a)
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", host, port).Err(); err != nil {
			t.Fatalf("CLUSTER MEET: %v", err)
		}
	}
	for _, c := range clients {
		testkit.WaitFor(t, "cluster_state:ok", clusterWait, func() bool {
			info, err := c.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n))
		})
	}
	return addrs
}

// clusterWait is how long a cluster node gets to start or converge.
const clusterWait = 20 * time.Second
