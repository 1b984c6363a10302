package upstream

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/gateway"
	"github.com/rampart-auth/rampart/internal/testkit"
)

func TestRoundRobinOverHealthyTargets(t *testing.T) {
	bs, urls := backends(t, 3)
	p := mustPool(t, Options{Route: "rr", URLs: urls})
	gw := gatewayFor(t, p, DefaultSecurityHeaders(false))
	for range 300 {
		if r := get(t, gw.URL+"/x", ""); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
	}
	for _, b := range bs {
		if got := b.hits.Load(); got != 100 {
			t.Errorf("%s got %d requests, want 100 of 300", b.name, got)
		}
	}
}

func TestPickSkipsDownTargetsEvenly(t *testing.T) {
	p := mustPool(t, Options{Route: "rr", URLs: []string{"http://a", "http://b", "http://c", "http://d"}})
	p.targets[1].healthy.Store(false)
	count := map[string]int{}
	for range 300 {
		tg, err := p.Pick("")
		if err != nil {
			t.Fatal(err)
		}
		count[tg.URL.Host]++
	}
	if count["b"] != 0 || count["a"] != 100 || count["c"] != 100 || count["d"] != 100 {
		t.Errorf("distribution %v, want 100 each of a, c, d and none for b", count)
	}
}

func TestPickAllDownFailsFast(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	p := mustPool(t, Options{Route: "r", URLs: []string{"http://a", "http://b"}, Clock: clock.Now})
	if _, err := p.Pick(""); err != nil {
		t.Fatalf("fresh pool (no check run yet) must serve: %v", err)
	}
	p.targets[0].healthy.Store(false)
	p.targets[1].ejectedUntil.Store(clock.Now().Add(time.Minute).UnixNano())
	_, err := p.Pick("")
	if !errors.Is(err, ErrNoHealthyUpstream) || !errors.Is(err, gateway.ErrNoHealthyUpstream) {
		t.Fatalf("err %v, want ErrNoHealthyUpstream", err)
	}
	clock.Add(time.Minute)
	if tg, err := p.Pick(""); err != nil || tg.URL.Host != "b" {
		t.Fatalf("after the ejection ended: %v, %v; want b", tg, err)
	}
}

func TestPickShardedNeedsTenant(t *testing.T) {
	p := mustPool(t, Options{URLs: []string{"http://a", "http://b"}, ShardSize: 1, ShardSecret: testSecret})
	if _, err := p.Pick(""); !errors.Is(err, ErrNoTenant) {
		t.Fatalf("err %v, want ErrNoTenant", err)
	}
}

// TestShardIsolation is the attack of issue 12: a tenant whose requests
// kill the upstreams they reach. With 8 upstreams and shards of 2, the
// tenant ends up with 503s, its traffic never reaches an upstream outside
// its shard, and tenants whose shards are disjoint from it see 100 %
// success throughout.
func TestShardIsolation(t *testing.T) {
	bs, urls := backends(t, 8)
	p := mustPool(t, Options{Route: "iso", URLs: urls, ShardSize: 2, ShardSecret: testSecret,
		Ejection: Ejection{Consecutive: 3}})
	gw := gatewayFor(t, p, nil)
	const victim = "tenant-evil"
	evil := p.sharder.Shard(victim)
	var others []string
	for i := 0; len(others) < 10; i++ {
		if tn := fmt.Sprintf("tenant-%d", i); p.sharder.Shard(tn)&evil == 0 {
			others = append(others, tn)
		}
	}
	for _, i := range evil.AppendTo(nil) {
		bs[i].dead.Store(true) // the tenant's requests killed them
	}
	served503 := 0
	for round := range 40 {
		if r := get(t, gw.URL+"/x", victim); r.status == 503 {
			served503++
		}
		for _, tn := range others {
			if r := get(t, gw.URL+"/x", tn); r.status != 200 {
				t.Fatalf("round %d: tenant %s of a disjoint shard got %d", round, tn, r.status)
			}
		}
	}
	if served503 != 40 {
		t.Errorf("victim got %d of 40 503s", served503)
	}
	for i, b := range bs {
		if !evil.Contains(i) {
			continue
		}
		// 3 failures each eject the member; nothing after that reaches it.
		if got := b.hits.Load(); got != 3 {
			t.Errorf("dead member %d got %d requests, want exactly the 3 that ejected it", i, got)
		}
	}
	r := get(t, gw.URL+"/x", victim)
	assertProblem(t, r, 503)
}

// TestShardNoSpillOver checks, without any HTTP, that every pick of a
// tenant lands in its shard, and that none does once the shard is down.
func TestShardNoSpillOver(t *testing.T) {
	urls := make([]string, 8)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://u%d.internal", i)
	}
	p := mustPool(t, Options{URLs: urls, ShardSize: 2, ShardSecret: testSecret})
	for i := range 50 {
		tn := fmt.Sprintf("t%d", i)
		shard := p.sharder.Shard(tn)
		for range 10 {
			tg, err := p.Pick(tn)
			if err != nil || !shard.Contains(tg.index) {
				t.Fatalf("tenant %s: picked %v (%v) outside its shard %v", tn, tg, err, shard.AppendTo(nil))
			}
		}
	}
	shard := p.sharder.Shard("t0")
	for _, i := range shard.AppendTo(nil) {
		p.targets[i].healthy.Store(false)
	}
	if tg, err := p.Pick("t0"); !errors.Is(err, ErrNoHealthyUpstream) {
		t.Fatalf("shard down: picked %v (%v), want ErrNoHealthyUpstream and no spill-over", tg, err)
	}
}

func TestStatus(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	p := mustPool(t, Options{URLs: []string{"HTTP://A:80/base/", "https://b:8443"}, Clock: clock.Now})
	p.targets[1].healthy.Store(false)
	until := clock.Now().Add(time.Minute)
	p.targets[0].ejectedUntil.Store(until.UnixNano())
	p.targets[0].ejections.Store(1)
	st := p.Status()
	want := []TargetStatus{
		{URL: "http://a/base", Healthy: true, EjectedUntil: time.Unix(0, until.UnixNano()), Ejections: 1},
		{URL: "https://b:8443", Healthy: false},
	}
	for i := range want {
		if !st[i].EjectedUntil.Equal(want[i].EjectedUntil) || st[i].URL != want[i].URL ||
			st[i].Healthy != want[i].Healthy || st[i].Ejections != want[i].Ejections {
			t.Errorf("status[%d] = %+v, want %+v", i, st[i], want[i])
		}
	}
	clock.Add(time.Minute)
	if st := p.Status(); !st[0].EjectedUntil.IsZero() {
		t.Errorf("after the ejection: %+v", st[0])
	}
}

func TestTargetContext(t *testing.T) {
	p := mustPool(t, Options{URLs: []string{"http://a"}})
	tg, _ := p.Pick("")
	if got := TargetFrom(WithTarget(t.Context(), tg)); got != tg {
		t.Fatalf("TargetFrom = %v", got)
	}
	if got := TargetFrom(t.Context()); got != nil {
		t.Fatalf("TargetFrom(empty) = %v", got)
	}
	if tg.Origin != "http://a" {
		t.Errorf("origin %q", tg.Origin)
	}
}
