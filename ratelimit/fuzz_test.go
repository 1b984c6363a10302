package ratelimit

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// FuzzClientIP: header parsing never panics, and the result is always the
// peer or an address that appears in the headers; an untrusted peer is
// always its own key.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:80", "1.2.3.4, 5.6.7.8", "")
	f.Add("10.0.0.1:80", "", `for="[2001:db8::1]:80";proto=https, for=unknown`)
	f.Add("203.0.113.1:1", "x", "for=")
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		if fwd != "" {
			r.Header.Set("Forwarded", fwd)
		}
		trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		got := ClientIP(r, trusted)
		peer := addrOf(remote)
		if peer.IsValid() && !trusted[0].Contains(peer) && got != peer {
			t.Fatalf("untrusted peer %s yielded %s", peer, got)
		}
	})
}

// FuzzDecide: the meter never panics, never admits beyond the burst from a
// fresh state, and never returns a negative wait.
func FuzzDecide(f *testing.F) {
	f.Add(int64(5), int64(1000), int64(3), int64(1), int64(7), uint8(0))
	f.Add(int64(1), int64(1), int64(1), int64(1000), int64(1<<60), uint8(1))
	f.Fuzz(func(t *testing.T, rate, periodMs, burst, cost, now int64, alg uint8) {
		l := Limit{Name: "f", Algorithm: Algorithm(alg % 2), Rate: rate, Period: time.Duration(periodMs) * time.Millisecond, Burst: burst}
		if l.Validate() != nil || cost < 1 || cost > 1e6 || now < 1 || now > 1<<62 {
			return
		}
		_, _, r := l.decide(0, 0, now, cost)
		if r.Allowed != (cost <= burst) {
			t.Fatalf("fresh key, cost %d, burst %d: allowed=%v", cost, burst, r.Allowed)
		}
		if r.RetryAfter < 0 || r.Reset < 0 || r.Remaining < 0 {
			t.Fatalf("negative values: %+v", r)
		}
	})
}
