package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestActiveChecksOutAndBack: a target whose health endpoint fails is
// taken out of rotation (no request reaches it) and comes back once the
// endpoint passes again.
func TestActiveChecksOutAndBack(t *testing.T) {
	bs, urls := backends(t, 2)
	p := mustPool(t, Options{Route: "hc", URLs: urls,
		Health: Health{Path: "/healthz", Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond, Healthy: 2, Unhealthy: 2}})
	gw := gatewayFor(t, p, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	bs[0].check.Store(true)
	testkit.WaitFor(t, "target 0 out of rotation", 10*time.Second, func() bool { return !p.Status()[0].Healthy })
	before := bs[0].hits.Load()
	for range 20 {
		if r := get(t, gw.URL+"/x", ""); r.status != 200 || r.body != "b1" {
			t.Fatalf("got %d %q, want 200 from b1 only", r.status, r.body)
		}
	}
	if bs[0].hits.Load() != before {
		t.Fatal("an unhealthy target got requests")
	}
	bs[0].check.Store(false)
	testkit.WaitFor(t, "target 0 back in rotation", 10*time.Second, func() bool { return p.Status()[0].Healthy })
	seen := map[string]bool{}
	for range 4 {
		seen[get(t, gw.URL+"/x", "").body] = true
	}
	if !seen["b0"] || !seen["b1"] {
		t.Fatalf("after recovery saw %v, want both", seen)
	}
}

// TestHealthThresholds drives record directly: Unhealthy failures in a
// row take a target down, Healthy passes in a row bring it back, and a
// mixed run changes nothing.
func TestHealthThresholds(t *testing.T) {
	p := mustPool(t, Options{URLs: []string{"http://a"}, Health: Health{Path: "/h", Healthy: 2, Unhealthy: 3}})
	a := p.targets[0]
	steps := []struct {
		ok   bool
		want bool
	}{
		{false, true}, {false, true}, {true, true}, // a pass breaks the run
		{false, true}, {false, true}, {false, false}, // third failure in a row
		{true, false}, {false, false}, {true, false}, {true, true},
	}
	for i, s := range steps {
		p.record(a, s.ok)
		if got := a.healthy.Load(); got != s.want {
			t.Fatalf("step %d: healthy %v, want %v", i, got, s.want)
		}
	}
}

func TestProbe(t *testing.T) {
	var path, query, ua atomic.Value
	status := atomic.Int32{}
	status.Store(204)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path.Store(r.URL.Path)
		query.Store(r.URL.RawQuery)
		ua.Store(r.UserAgent())
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	p := mustPool(t, Options{URLs: []string{srv.URL + "/base"}, Health: Health{Path: "/live?deep=1"}})
	if !p.probe(t.Context(), p.targets[0]) {
		t.Fatal("204 is a pass")
	}
	if path.Load() != "/live" || query.Load() != "deep=1" || ua.Load() != healthUserAgent {
		t.Errorf("probe asked %v?%v with %v (want /live?deep=1 from the host root)", path.Load(), query.Load(), ua.Load())
	}
	for _, s := range []int32{301, 404, 500, 503} {
		status.Store(s)
		if p.probe(t.Context(), p.targets[0]) {
			t.Errorf("%d is a pass", s)
		}
	}
	srv.Close()
	if p.probe(t.Context(), p.targets[0]) {
		t.Error("a closed server is a pass")
	}
}

func TestRunWithoutPathOrTwice(t *testing.T) {
	p := mustPool(t, Options{URLs: []string{"http://a"}})
	p.Run(t.Context()) // no path: returns at once
	q := mustPool(t, Options{URLs: []string{"http://127.0.0.1:1"}, Health: Health{Path: "/h", Interval: time.Hour, Timeout: time.Second}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	testkit.WaitFor(t, "Run started", 10*time.Second, q.running.Load)
	q.Run(ctx) // already running: returns at once
	cancel()
	<-done
}
