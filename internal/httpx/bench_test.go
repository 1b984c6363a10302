package httpx

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func benchMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	return mux
}

// BenchmarkChain measures the full middleware chain the listeners use
// around a trivial route (logs to io.Discard, metrics in a registry).
// Compare with BenchmarkBareMux for the per-request overhead.
func BenchmarkChain(b *testing.B) {
	logger := NewLogger(io.Discard, "info", "json")
	h := Chain(MuxProblems(benchMux()),
		RequestID,
		SecurityHeaders(true),
		AccessLog(logger),
		Metrics(NewHTTPMetrics(prometheus.NewRegistry())),
		Recover(logger),
		LimitBody(1<<20),
	)
	req := httptest.NewRequest(http.MethodGet, "/items/42?code=x", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkBareMux is the baseline: the same route with no middleware.
func BenchmarkBareMux(b *testing.B) {
	h := benchMux()
	req := httptest.NewRequest(http.MethodGet, "/items/42?code=x", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
	}
}

// BenchmarkClientAddr measures resolving the client address once per
// request (ClientAddr, first in the listeners' chain): with no trusted
// proxies (nothing to do), a direct client of a server that trusts a proxy
// network, and a client behind two trusted proxies that appended
// X-Forwarded-For. ClientIP is read once per request, as the audit does.
func BenchmarkClientAddr(b *testing.B) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		name            string
		trusted         []netip.Prefix
		peer, xff, want string
	}{
		{"no-trusted-proxies", nil, "192.0.2.7:4321", "", "192.0.2.7"},
		{"direct", proxies, "192.0.2.7:4321", "", "192.0.2.7"},
		{"behind-two-proxies", proxies, "10.0.0.2:4321", "198.51.100.9, 10.0.0.1", "198.51.100.9"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var got string
			h := ClientAddr(c.trusted, "x-forwarded-for")(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				got = ClientIP(r)
			}))
			req := httptest.NewRequest(http.MethodGet, "/items/42", nil)
			req.RemoteAddr = c.peer
			if c.xff != "" {
				req.Header.Set("X-Forwarded-For", c.xff)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(nil, req)
			}
			if got != c.want {
				b.Fatalf("client %q, want %q", got, c.want)
			}
		})
	}
}
