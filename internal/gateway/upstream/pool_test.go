package upstream

import (
	"errors"
	"testing"
	"time"

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
	if !errors.Is(err, ErrNoHealthyUpstream) {
		t.Fatalf("err %v, want ErrNoHealthyUpstream", err)
	}
	clock.Add(time.Minute)
	if tg, err := p.Pick(""); err != nil || tg.URL.Host != "b" {
		t.Fatalf("after the ejection ended: %v, %v; want b", tg, err)
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
