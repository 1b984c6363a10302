package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

func ejectPool(t *testing.T, clock *testkit.Clock, urls []string) *Pool {
	t.Helper()
	return mustPool(t, Options{Route: "ej", URLs: urls, Clock: clock.Now,
		Ejection: Ejection{Consecutive: 3, BaseTime: 10 * time.Second, MaxTime: 35 * time.Second}})
}

// TestPassiveEjectionThroughProxy: a target answering 503 is ejected
// after 3 requests, gets nothing while ejected, and is back when the
// ejection ends.
func TestPassiveEjectionThroughProxy(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	bs, urls := backends(t, 2)
	p := ejectPool(t, clock, urls)
	gw := gatewayFor(t, p, nil)
	bs[0].dead.Store(true)
	for range 20 {
		get(t, gw.URL+"/x", "")
	}
	if got := bs[0].hits.Load(); got != 3 {
		t.Fatalf("dead target got %d requests, want the 3 that ejected it", got)
	}
	st := p.Status()[0]
	if st.EjectedUntil.IsZero() || st.Ejections != 1 {
		t.Fatalf("status %+v, want ejected once", st)
	}
	bs[0].dead.Store(false)
	clock.Add(10 * time.Second)
	for range 20 {
		if r := get(t, gw.URL+"/x", ""); r.status != 200 {
			t.Fatalf("status %d after return", r.status)
		}
	}
	if got := bs[0].hits.Load(); got != 13 {
		t.Errorf("returned target got %d requests in all, want 3 + 10", got)
	}
}

func TestEjectionBackoff(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	p := ejectPool(t, clock, []string{"http://a", "http://b"})
	a := p.targets[0]
	fail := func(n int) {
		for range n {
			p.Observe(a, http.StatusBadGateway, nil)
		}
	}
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 35 * time.Second, 35 * time.Second} {
		fail(3)
		until := time.Unix(0, a.ejectedUntil.Load())
		if got := until.Sub(clock.Now()); got != want {
			t.Fatalf("ejection %d lasts %s, want %s", i+1, got, want)
		}
		fail(5) // in-flight failures while ejected do not extend it
		if got := time.Unix(0, a.ejectedUntil.Load()); !got.Equal(until) {
			t.Fatalf("ejection %d extended to %s", i+1, got)
		}
		clock.Set(until)
	}
	// Back and quiet for MaxTime: the backoff starts over.
	p.Observe(a, 200, nil)
	clock.Add(35 * time.Second)
	p.Observe(a, 200, nil)
	if a.level.Load() != 0 || a.ejectedUntil.Load() != 0 {
		t.Fatalf("level %d, until %d after a quiet MaxTime", a.level.Load(), a.ejectedUntil.Load())
	}
	fail(3)
	if got := time.Unix(0, a.ejectedUntil.Load()).Sub(clock.Now()); got != 10*time.Second {
		t.Fatalf("ejection after a quiet period lasts %s, want the base 10s", got)
	}
}

func TestSuccessResetsFailures(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	p := ejectPool(t, clock, []string{"http://a"})
	a := p.targets[0]
	for range 10 {
		p.Observe(a, 0, errors.New("connect: connection refused"))
		p.Observe(a, http.StatusGatewayTimeout, nil)
		p.Observe(a, http.StatusOK, nil)
	}
	if a.ejections.Load() != 0 {
		t.Fatal("ejected although no 3 failures were consecutive")
	}
}

func TestObserveWhatCounts(t *testing.T) {
	cases := []struct {
		name   string
		status int
		err    error
		counts bool
	}{
		{"fail/502", 502, nil, true},
		{"fail/503", 503, nil, true},
		{"fail/504", 504, nil, true},
		{"fail/transport", 0, syscall.ECONNREFUSED, true},
		{"fail/deadline", 0, context.DeadlineExceeded, true},
		{"ignore/500-is-the-application", 500, nil, false},
		{"ignore/501", 501, nil, false},
		{"ignore/404", 404, nil, false},
		{"ignore/client-canceled", 0, fmt.Errorf("read: %w", context.Canceled), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
			p := ejectPool(t, clock, []string{"http://a"})
			for range 3 {
				p.Observe(p.targets[0], c.status, c.err)
			}
			if got := p.targets[0].ejections.Load() == 1; got != c.counts {
				t.Fatalf("ejected %v, want %v", got, c.counts)
			}
		})
	}
}

func TestObserveForeignOrNilTarget(t *testing.T) {
	p1 := mustPool(t, Options{URLs: []string{"http://a"}, Ejection: Ejection{Consecutive: 1}})
	p2 := mustPool(t, Options{URLs: []string{"http://a"}, Ejection: Ejection{Consecutive: 1}})
	p1.Observe(nil, 502, nil)
	p1.Observe(p2.targets[0], 502, nil)
	if p2.targets[0].ejections.Load() != 0 {
		t.Fatal("a pool ejected another pool's target")
	}
}

func TestEjectionOff(t *testing.T) {
	p := mustPool(t, Options{URLs: []string{"http://a"}, Ejection: Ejection{Consecutive: -1}})
	for range 100 {
		p.Observe(p.targets[0], 503, nil)
	}
	if _, err := p.Pick(""); err != nil {
		t.Fatalf("ejection off, yet: %v", err)
	}
}

func TestBackoffNoOverflow(t *testing.T) {
	maxTime := time.Duration(1<<63 - 1)
	if got := backoff(time.Hour, maxTime, 1000); got != maxTime {
		t.Fatalf("backoff = %s", got)
	}
	if got := backoff(3*time.Second, 10*time.Second, 3); got != 10*time.Second {
		t.Fatalf("backoff = %s", got)
	}
}
