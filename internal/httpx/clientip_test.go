package httpx

import (
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"testing"

	"github.com/rampart-auth/rampart/ratelimit"
)

// TestClientAddrThroughListener: behind a trusted proxy (the test client
// connects from 127.0.0.1, which plays the proxy) the access log, what
// handlers read with ClientIP (the audit address) and the rate-limit key
// all name the client the configured header names, never the proxy and
// never the header that is not configured; from an untrusted peer every
// header is ignored.
func TestClientAddrThroughListener(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	elsewhere := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name     string
		trusted  []netip.Prefix
		header   string
		xff, fwd string
		want     string
	}{
		{"accept/trusted-proxy-xff", loopback, "", "198.51.100.9", "", "198.51.100.9"},
		{"reject/rotated-forwarded-behind-xff-proxy", loopback, "x-forwarded-for", "198.51.100.9", "for=1.2.3.4", "198.51.100.9"},
		{"reject/client-prepends-xff-hop", loopback, "", "1.2.3.4, 198.51.100.9", "", "198.51.100.9"},
		{"accept/trusted-proxy-forwarded", loopback, "forwarded", "1.2.3.4", `for="[2001:db8::9]:4711"`, "2001:db8::9"},
		{"reject/xff-behind-forwarded-proxy", loopback, "forwarded", "1.2.3.4", "", "127.0.0.1"},
		{"reject/untrusted-peer", elsewhere, "", "1.2.3.4", "for=5.6.7.8", "127.0.0.1"},
		{"reject/no-trusted-proxies", nil, "", "1.2.3.4", "for=5.6.7.8", "127.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuf
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			var seen, key string
			h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen, key = ClientIP(r), ratelimit.ClientIPKey(nil)(r)
				w.WriteHeader(http.StatusNoContent)
			}), ClientAddr(tc.trusted, tc.header), RequestID, AccessLog(logger))
			ts := startServer(t, ServerOptions{Handler: h})
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.fwd != "" {
				req.Header.Set("Forwarded", tc.fwd)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if seen != tc.want {
				t.Errorf("handler (audit) saw %q, want %q", seen, tc.want)
			}
			wantKey := tc.want
			if a := netip.MustParseAddr(tc.want); a.Is6() {
				p, _ := a.Prefix(64)
				wantKey = p.String()
			}
			if key != wantKey {
				t.Errorf("rate-limit key %q, want %q", key, wantKey)
			}
			_ = ts.stop(t) // the access line is written before Serve returns
			lines := logs.find(t, "http request")
			if len(lines) != 1 || lines[0]["client_ip"] != tc.want {
				t.Fatalf("access log %v, want client_ip %q", lines, tc.want)
			}
		})
	}
}

// TestClientIPWithoutMiddleware: without ClientAddr, ClientIP is the
// socket peer and ignores every forwarding header.
func TestClientIPWithoutMiddleware(t *testing.T) {
	r := &http.Request{RemoteAddr: "10.0.0.2:1", Header: http.Header{"X-Forwarded-For": {"6.6.6.6"}, "Forwarded": {"for=7.7.7.7"}}}
	if got := ClientIP(r); got != "10.0.0.2" {
		t.Fatalf("ClientIP = %q", got)
	}
}

// TestClientIPAgreesWithRateLimit: the audit and log address and the
// rate-limit address come from one parser, for ordinary and unusual peers
// alike (IPv4-mapped, IPv6 with a zone, bracketed).
func TestClientIPAgreesWithRateLimit(t *testing.T) {
	for _, peer := range []string{"10.0.0.2:1", "[::ffff:10.0.0.3]:2", "[fe80::1%eth0]:3", "[2001:db8::7]:4"} {
		r := &http.Request{RemoteAddr: peer, Header: http.Header{}}
		if got, want := ClientIP(r), ratelimit.ClientIP(r, nil).String(); got != want {
			t.Errorf("peer %s: ClientIP %q, ratelimit %q", peer, got, want)
		}
	}
}
