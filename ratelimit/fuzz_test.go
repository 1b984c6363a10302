package ratelimit

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// FuzzClientIP: header parsing never panics; an untrusted peer is always
// its own address; the result is the peer or an address written in the
// configured header; and the header that is not configured never changes
// the result.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:80", "1.2.3.4, 5.6.7.8", "", false)
	f.Add("10.0.0.1:80", "", `for="[2001:db8::1]:80";proto=https, for=unknown`, true)
	f.Add("10.0.0.1:80", "198.51.100.9", "for=1.2.3.4", false)
	f.Add("203.0.113.1:1", "x", "for=", true)
	f.Fuzz(func(t *testing.T, remote, xff, fwd string, useForwarded bool) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		if fwd != "" {
			r.Header.Set("Forwarded", fwd)
		}
		trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		res := ClientIPResolver{Trusted: trusted}
		believed, other := xff, "Forwarded"
		if useForwarded {
			res.Header, believed, other = HeaderForwarded, fwd, "X-Forwarded-For"
		}
		got := res.ClientIP(r)
		peer := addrOf(remote)
		if peer.IsValid() && !trusted[0].Contains(peer) && got != peer {
			t.Fatalf("untrusted peer %s yielded %s", peer, got)
		}
		if got.IsValid() && got != peer && !strings.Contains(believed, got.String()) && !containsAddr(believed, got) {
			t.Fatalf("%s is neither the peer nor in the configured header %q", got, believed)
		}
		r.Header.Del(other)
		if again := res.ClientIP(r); again != got {
			t.Fatalf("the %s header changed the result: %s with it, %s without", other, got, again)
		}
		if !useForwarded && ClientIP(r, trusted) != got {
			t.Fatal("ClientIP and the default resolver disagree")
		}
	})
}

// containsAddr reports whether some token of s parses as a.
func containsAddr(s string, a netip.Addr) bool {
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '=' || r == '"' || r == ' ' }) {
		if addrOf(tok) == a {
			return true
		}
	}
	return false
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
