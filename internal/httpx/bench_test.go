package httpx

import (
	"io"
	"net/http"
	"net/http/httptest"
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
