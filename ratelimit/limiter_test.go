package ratelimit

import (
	"context"
	"testing"
	"time"
)

// TestDecisionSummaryAndDecide: the fast single-limit path and the general
// path report the same decision; Decide fills every limit's result;
// Closest names the applied limit with the fewest remaining requests.
func TestDecisionSummaryAndDecide(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	one := mustLimiter(t, NewMemoryStore(clk.Nanos), Limit{Name: "ip", Rate: 1, Period: time.Second, Burst: 2})
	for i, want := range []Decision{
		{Allowed: true, Denied: -1, Closest: 0, Remaining: 1, Reset: time.Second},
		{Allowed: true, Denied: -1, Closest: 0, Remaining: 0, Reset: 2 * time.Second},
		{Allowed: false, Denied: 0, Closest: 0, Remaining: 0, RetryAfter: time.Second, Reset: 2 * time.Second},
	} {
		got, err := one.Allow(ctx, "k")
		if err != nil || got != want {
			t.Fatalf("request %d: got %+v %v, want %+v", i, got, err, want)
		}
		var res [1]Result
		// The general path on a twin key agrees with the fast path.
		got, err = one.Decide(ctx, 1, res[:], "twin")
		if err != nil || got != want {
			t.Fatalf("Decide %d: got %+v %v, want %+v", i, got, err, want)
		}
		if res[0].Allowed != want.Allowed || res[0].Remaining != want.Remaining || res[0].RetryAfter != want.RetryAfter {
			t.Fatalf("Decide %d result: %+v", i, res[0])
		}
	}

	three := mustLimiter(t, NewMemoryStore(clk.Nanos),
		Limit{Name: "ip", Rate: 10, Period: time.Second, Burst: 10},
		Limit{Name: "user", Rate: 1, Period: time.Second, Burst: 3},
		Limit{Name: "route", Rate: 100, Period: time.Second, Burst: 100})
	var res [3]Result
	d, err := three.Decide(ctx, 1, res[:], "1.2.3.4", "alice", "GET /")
	if err != nil || !d.Allowed || d.Closest != 1 || d.Remaining != 2 || d.Reset != time.Second {
		t.Fatalf("composed: %+v %v", d, err)
	}
	if res[0].Remaining != 9 || res[1].Remaining != 2 || res[2].Remaining != 99 {
		t.Fatalf("per-limit results: %+v", res)
	}
	// The user limit skipped: the tightest applied limit is the IP's.
	d, err = three.Decide(ctx, 1, res[:], "1.2.3.4", "", "GET /")
	if err != nil || !d.Allowed || d.Closest != 0 || d.Remaining != 8 || res[1].Remaining != 3 || !res[1].Allowed {
		t.Fatalf("skipped limit: %+v %+v %v", d, res, err)
	}
	// Every key empty: no limit applies.
	if d, err := three.Allow(ctx, "", "", ""); err != nil || !d.Allowed || d.Closest != -1 || d.Denied != -1 {
		t.Fatalf("no limit applied: %+v %v", d, err)
	}
	// Exhaust the user limit: the denial names it.
	_, _ = three.AllowN(ctx, 2, "1.2.3.4", "alice", "GET /")
	d, err = three.Decide(ctx, 1, res[:], "1.2.3.4", "alice", "GET /")
	if err != nil || d.Allowed || d.Denied != 1 || d.RetryAfter != time.Second || res[1].Allowed || !res[0].Allowed {
		t.Fatalf("denied by user: %+v %+v %v", d, res, err)
	}

	if _, err := three.Decide(ctx, 1, res[:2], "a", "b", "c"); err == nil {
		t.Fatal("Decide accepted too few results")
	}
	if _, err := one.AllowN(ctx, 0, "k"); err == nil {
		t.Fatal("cost 0 accepted")
	}
	if _, err := one.Allow(ctx, "a", "b"); err == nil {
		t.Fatal("two keys for one limit accepted")
	}
}
