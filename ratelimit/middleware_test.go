package ratelimit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestClientIPAndSpoofing(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		name, remote, xff, fwd, want string
	}{
		{"accept/direct", "203.0.113.7:5000", "", "", "203.0.113.7"},
		{"reject/spoofed-xff-from-untrusted-peer", "203.0.113.7:5000", "1.2.3.4", "", "203.0.113.7"},
		{"reject/spoofed-forwarded-from-untrusted-peer", "203.0.113.7:5000", "", "for=1.2.3.4", "203.0.113.7"},
		{"accept/trusted-proxy", "10.0.0.2:80", "198.51.100.9", "", "198.51.100.9"},
		{"reject/client-prepends-fake-hop", "10.0.0.2:80", "1.2.3.4, 198.51.100.9", "", "198.51.100.9"},
		{"accept/two-trusted-proxies", "10.0.0.2:80", "198.51.100.9, 10.0.0.5", "", "198.51.100.9"},
		// ClientIP reads X-Forwarded-For only (the Forwarded case moved to
		// TestClientIPResolver, where the header is configured).
		{"reject/forwarded-not-configured", "10.0.0.2:80", "", `for="[2001:db8::1]:4711"`, "10.0.0.2"},
		{"reject/forwarded-beside-xff-proxy", "10.0.0.2:80", "198.51.100.9", "for=1.2.3.4", "198.51.100.9"},
		{"reject/garbage-hop", "10.0.0.2:80", "not-an-ip", "", "10.0.0.2"},
		{"accept/ipv4-mapped", "[::ffff:203.0.113.7]:1", "", "", "203.0.113.7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.fwd != "" {
				r.Header.Set("Forwarded", tc.fwd)
			}
			if got := ClientIP(r, trusted).String(); got != tc.want {
				t.Fatalf("ClientIP = %s, want %s", got, tc.want)
			}
		})
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[2001:db8:1:2:3:4:5:6]:1"
	if k := ClientIPKey(nil)(r); k != "2001:db8:1:2::/64" {
		t.Fatalf("IPv6 key %q, want the /64", k)
	}
}

// TestClientIPResolver: only the configured header is believed, the other
// is ignored whatever it says, and nothing is believed from an untrusted
// peer.
func TestClientIPResolver(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		name, header, remote, xff, fwd, want string
	}{
		// The attack of issue 10: the proxy appends X-Forwarded-For and
		// passes the client's Forwarded through.
		{"reject/rotated-forwarded-behind-xff-proxy", "", "10.0.0.2:80", "198.51.100.9", "for=1.2.3.4", "198.51.100.9"},
		{"reject/rotated-forwarded-behind-xff-proxy-explicit", "X-Forwarded-For", "10.0.0.2:80", "198.51.100.9", "for=5.6.7.8", "198.51.100.9"},
		{"accept/header-case-insensitive", "x-forwarded-for", "10.0.0.2:80", "198.51.100.9", "for=5.6.7.8", "198.51.100.9"},
		{"accept/forwarded-configured", "forwarded", "10.0.0.2:80", "", `for="[2001:db8::1]:4711"`, "2001:db8::1"},
		{"reject/xff-behind-forwarded-proxy", "Forwarded", "10.0.0.2:80", "1.2.3.4", "for=198.51.100.9", "198.51.100.9"},
		{"reject/xff-only-behind-forwarded-proxy", "Forwarded", "10.0.0.2:80", "1.2.3.4", "", "10.0.0.2"},
		{"reject/forwarded-client-prepends-hop", "Forwarded", "10.0.0.2:80", "", "for=1.2.3.4, for=198.51.100.9;proto=https", "198.51.100.9"},
		{"accept/forwarded-two-trusted", "Forwarded", "10.0.0.2:80", "", `for=198.51.100.9, for="[fd00::5]"`, "198.51.100.9"},
		{"reject/forwarded-unbalanced-quote", "Forwarded", "10.0.0.2:80", "", `for="1.2.3.4, for=198.51.100.9`, "198.51.100.9"},
		{"reject/forwarded-obfuscated", "Forwarded", "10.0.0.2:80", "", "for=_hidden", "10.0.0.2"},
		{"reject/untrusted-peer-xff", "", "203.0.113.7:1", "1.2.3.4", "for=5.6.7.8", "203.0.113.7"},
		{"reject/untrusted-peer-forwarded", "Forwarded", "203.0.113.7:1", "1.2.3.4", "for=5.6.7.8", "203.0.113.7"},
		{"reject/unknown-header-believes-none", "X-Real-IP", "10.0.0.2:80", "1.2.3.4", "for=5.6.7.8", "10.0.0.2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.fwd != "" {
				r.Header.Set("Forwarded", tc.fwd)
			}
			res := ClientIPResolver{Trusted: trusted, Header: tc.header}
			if got := res.ClientIP(r).String(); got != tc.want {
				t.Fatalf("ClientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestClientIPKeyUsesContext: an address resolved once and stored in the
// context is the key, whatever the headers or the trusted list say.
func TestClientIPKeyUsesContext(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:80"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	if k := ClientIPKey(trusted)(r); k != "1.2.3.4" {
		t.Fatalf("no context: key %q", k)
	}
	r = r.WithContext(ContextWithClientIP(r.Context(), netip.MustParseAddr("2001:db8:7:7::1")))
	if k := ClientIPKey(trusted)(r); k != "2001:db8:7:7::/64" {
		t.Fatalf("context address ignored: key %q", k)
	}
	if ctx := ContextWithClientIP(r.Context(), netip.Addr{}); ctx != r.Context() {
		t.Fatal("an invalid address was stored")
	}
}

func TestMiddleware429AndHeaders(t *testing.T) {
	clk := newClock()
	lim, err := NewLimiter(NewMemoryStore(clk.Nanos),
		Limit{Name: "ip", Rate: 1, Period: 2 * time.Second, Burst: 3},
		Limit{Name: "route", Rate: 100, Period: time.Second, Burst: 100})
	if err != nil {
		t.Fatal(err)
	}
	mw, err := Middleware(lim, MiddlewareOptions{Keys: []KeyFunc{ClientIPKey(nil), RouteKey()}})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	do := func(remote string, spoof string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/x", nil)
		r.RemoteAddr = remote
		if spoof != "" {
			r.Header.Set("X-Forwarded-For", spoof)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := 0; i < 3; i++ {
		w := do("203.0.113.7:1", "")
		if w.Code != 204 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
		if p := w.Header().Get("RateLimit-Policy"); p != `"ip";q=3;w=6, "route";q=100;w=1` {
			t.Fatalf("RateLimit-Policy %q", p)
		}
		want := `"ip";r=` + string(rune('2'-i)) + ";t="
		if s := w.Header().Get("RateLimit"); !strings.HasPrefix(s, want) {
			t.Fatalf("RateLimit %q, want prefix %q", s, want)
		}
	}
	w := do("203.0.113.7:1", "")
	if w.Code != 429 || w.Header().Get("Retry-After") != "2" || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("denied: %d Retry-After %q CT %q", w.Code, w.Header().Get("Retry-After"), w.Header().Get("Content-Type"))
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p["status"] != float64(429) || !strings.Contains(p["detail"].(string), `"ip"`) {
		t.Fatalf("problem body %s", w.Body)
	}
	// Attack: rotating X-Forwarded-For from an untrusted peer does not escape.
	for _, fake := range []string{"1.1.1.1", "2.2.2.2", "3.3.3.3"} {
		if w := do("203.0.113.7:1", fake); w.Code != 429 {
			t.Fatalf("spoofed X-Forwarded-For %s bypassed the limit: %d", fake, w.Code)
		}
	}
	// Another client is unaffected; the route limit was not charged for denials.
	if w := do("198.51.100.1:1", ""); w.Code != 204 {
		t.Fatalf("other client: %d", w.Code)
	}
	// Retry-After rounds up: 1.5 s → 2.
	clk.Add(500 * time.Millisecond)
	if w := do("203.0.113.7:1", ""); w.Header().Get("Retry-After") != "2" {
		t.Fatalf("Retry-After %q after 0.5 s, want 2 (1.5 s rounded up)", w.Header().Get("Retry-After"))
	}
	clk.Add(1500 * time.Millisecond)
	if w := do("203.0.113.7:1", ""); w.Code != 204 {
		t.Fatalf("after the wait: %d", w.Code)
	}
}

func TestMiddlewareCost(t *testing.T) {
	lim, _ := NewLimiter(NewMemoryStore(newClock().Nanos), Limit{Name: "client", Rate: 1, Period: time.Hour, Burst: 10})
	mw, _ := Middleware(lim, MiddlewareOptions{Keys: []KeyFunc{HeaderKey("X-Client")}, Cost: func(r *http.Request) int64 {
		if r.URL.Path == "/export" {
			return 5
		}
		return 1
	}})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	req := func(path string) int {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("X-Client", "c1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	got := []int{req("/export"), req("/export"), req("/export"), req("/cheap")}
	if got[0] != 200 || got[1] != 200 || got[2] != 429 || got[3] != 429 {
		t.Fatalf("cost not charged (two exports use the whole burst of 10): %v", got)
	}
	// No key: the limit is skipped.
	r := httptest.NewRequest("GET", "/export", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("request without the key header: %d", w.Code)
	}
}
