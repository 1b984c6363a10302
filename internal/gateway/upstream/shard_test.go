package upstream_test

// The shuffle-sharding tests need the real gateway.Sharder, and package
// gateway imports this one: they live in the external test package and
// use the public API only, wired as the proxy wires it.

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/gateway"
	"github.com/rampart-auth/rampart/internal/gateway/upstream"
)

var shardKey = []byte("0123456789abcdef0123456789abcdef")

// deadable is an upstream that answers 200 until dead, then 503.
type deadable struct {
	srv  *httptest.Server
	dead atomic.Bool
	hits atomic.Int64
}

func deadables(t *testing.T, n int) ([]*deadable, []string) {
	t.Helper()
	ds, urls := make([]*deadable, n), make([]string, n)
	for i := range ds {
		d := &deadable{}
		d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			d.hits.Add(1)
			if d.dead.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, "ok")
		}))
		t.Cleanup(d.srv.Close)
		ds[i], urls[i] = d, d.srv.URL
	}
	return ds, urls
}

func shardedPool(tb testing.TB, urls []string, k int) (*upstream.Pool, *gateway.Sharder) {
	tb.Helper()
	s, err := gateway.NewSharder(urls, k, shardKey)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := upstream.New(upstream.Options{Route: "iso", URLs: urls, Shard: s,
		Ejection: upstream.Ejection{Consecutive: 3}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	return p, s
}

// serve is the proxy of doc.go, the tenant read from X-Tenant.
func serve(t *testing.T, p *upstream.Pool) string {
	t.Helper()
	rp := &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { pr.SetURL(upstream.TargetFrom(pr.In.Context()).URL) },
		Transport:      p.Transport(),
		ModifyResponse: upstream.ModifyResponse(upstream.DefaultSecurityHeaders(false)),
		ErrorHandler:   upstream.ErrorHandler(p, upstream.DefaultSecurityHeaders(false)),
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg, err := p.Pick(r.Header.Get("X-Tenant"))
		if err != nil {
			upstream.WriteProblem(w, http.StatusServiceUnavailable, "no upstream is available")
			return
		}
		rp.ServeHTTP(w, r.WithContext(upstream.WithTarget(r.Context(), tg)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func status(t *testing.T, url, tenant string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Tenant", tenant)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestShardIsolation is the attack of issue 12: a tenant whose requests
// kill the upstreams they reach. With 8 upstreams and shards of 2, the
// tenant ends up with 503s, its traffic never reaches an upstream outside
// its shard, and tenants whose shards are disjoint from it see 100 %
// success throughout; tenants sharing one member are fully served once
// that member is ejected.
func TestShardIsolation(t *testing.T) {
	ds, urls := deadables(t, 8)
	p, s := shardedPool(t, urls, 2)
	gw := serve(t, p)
	const victim = "tenant-evil"
	evil := s.Shard(victim)
	var disjoint, overlapping []string
	for i := 0; len(disjoint) < 10 || len(overlapping) < 5; i++ {
		tn := fmt.Sprintf("tenant-%d", i)
		switch sh := s.Shard(tn); {
		case sh&evil == 0 && len(disjoint) < 10:
			disjoint = append(disjoint, tn)
		case sh&evil != 0 && sh != evil && len(overlapping) < 5:
			overlapping = append(overlapping, tn)
		}
	}
	for _, i := range evil.AppendTo(nil) {
		ds[i].dead.Store(true) // the tenant's requests killed them
	}
	for round := range 40 {
		if got := status(t, gw, victim); got != http.StatusServiceUnavailable {
			t.Fatalf("round %d: the tenant on a dead shard got %d", round, got)
		}
		for _, tn := range disjoint {
			if got := status(t, gw, tn); got != http.StatusOK {
				t.Fatalf("round %d: tenant %s of a disjoint shard got %d", round, tn, got)
			}
		}
	}
	for i, d := range ds {
		// 3 failures eject a dead member; nothing reaches it after.
		if evil.Contains(i) && d.hits.Load() != 3 {
			t.Errorf("dead member %d got %d requests, want the 3 that ejected it", i, d.hits.Load())
		}
	}
	for _, tn := range overlapping {
		for range 10 {
			if got := status(t, gw, tn); got != http.StatusOK {
				t.Fatalf("tenant %s sharing an ejected member got %d", tn, got)
			}
		}
	}
}

// TestShardNoSpillOver: every pick of a tenant lands in its shard, and
// none lands anywhere once the shard is ejected.
func TestShardNoSpillOver(t *testing.T) {
	urls := make([]string, 8)
	index := map[string]int{}
	for i := range urls {
		urls[i] = fmt.Sprintf("http://u%d.internal", i)
		index[urls[i]] = i
	}
	p, s := shardedPool(t, urls, 2)
	for i := range 50 {
		tn := fmt.Sprintf("t%d", i)
		for range 10 {
			tg, err := p.Pick(tn)
			if err != nil || !s.Shard(tn).Contains(index[tg.URL.String()]) {
				t.Fatalf("tenant %s: picked %v (%v) outside its shard %v", tn, tg, err, s.Shard(tn).AppendTo(nil))
			}
		}
	}
	for range 20 { // eject both members (3 failures each)
		tg, err := p.Pick("t0")
		if err != nil {
			break
		}
		p.Observe(tg, http.StatusBadGateway, nil)
	}
	if tg, err := p.Pick("t0"); !errors.Is(err, upstream.ErrNoHealthyUpstream) {
		t.Fatalf("shard down: picked %v (%v), want ErrNoHealthyUpstream and no spill-over", tg, err)
	}
	if _, err := p.Pick(""); !errors.Is(err, upstream.ErrNoTenant) {
		t.Fatalf("no tenant: %v", err)
	}
}

// BenchmarkPickSharded: Pick with shards (one HMAC-SHA-256 of the tenant
// per pick, gateway.Sharder).
func BenchmarkPickSharded(b *testing.B) {
	for _, c := range []struct{ n, k int }{{8, 2}, {64, 4}} {
		b.Run(fmt.Sprintf("n=%d,k=%d", c.n, c.k), func(b *testing.B) {
			urls := make([]string, c.n)
			for i := range urls {
				urls[i] = fmt.Sprintf("http://10.0.0.%d:8080", i+1)
			}
			p, _ := shardedPool(b, urls, c.k)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Pick("tenant-acme"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
