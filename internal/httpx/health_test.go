package httpx

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHealthz(t *testing.T) {
	ts := startServer(t, ServerOptions{Handler: Healthz()})
	resp, body := do(t, http.DefaultClient, http.MethodGet, ts.URL, nil)
	if resp.StatusCode != 200 || body != `{"status":"ok"}`+"\n" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// TestReadyz swaps slog.Default to see the logged errors: not parallel.
func TestReadyz(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(NewLogger(&logs, "info", "json"))
	t.Cleanup(func() { slog.SetDefault(prev) })

	ok := func(context.Context) error { return nil }
	leaky := func(context.Context) error {
		return errors.New("dial postgres://rampart:hunter2@10.0.0.5/db: refused")
	}
	hang := func(ctx context.Context) error { <-ctx.Done(); time.Sleep(50 * time.Millisecond); return ctx.Err() }
	ignoresCtx := func(context.Context) error { time.Sleep(2 * time.Second); return nil }
	panics := func(context.Context) error { panic("boom") }

	cases := []struct {
		name   string
		checks map[string]func(context.Context) error
		status int
		body   string
	}{
		{"ready/all-ok", map[string]func(context.Context) error{"store": ok, "redis": ok}, 200, `{"status":"ok"}`},
		{"ready/no-checks", nil, 200, `{"status":"ok"}`},
		{"unready/error-names-only", map[string]func(context.Context) error{"store": leaky, "redis": ok}, 503,
			`{"status":"unavailable","failing":["store"]}`},
		{"unready/timeout", map[string]func(context.Context) error{"store": hang, "slow": ignoresCtx, "redis": ok}, 503,
			`{"status":"unavailable","failing":["slow","store"]}`},
		{"unready/panic", map[string]func(context.Context) error{"store": panics}, 503,
			`{"status":"unavailable","failing":["store"]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, ServerOptions{Handler: Readyz(tc.checks, 200*time.Millisecond)})
			start := time.Now()
			resp, body := do(t, http.DefaultClient, http.MethodGet, ts.URL, nil)
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v despite the timeout", d)
			}
			if resp.StatusCode != tc.status || strings.TrimSpace(body) != tc.body {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Error("readiness cacheable")
			}
		})
	}
	if !strings.Contains(logs.String(), "10.0.0.5") {
		t.Error("check error not logged")
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Error("password from the check error logged")
	}
}

func TestMetricsExposition(t *testing.T) {
	_, reg, h := newTestApp(t, false, 1024)
	ts := startServer(t, ServerOptions{Handler: h})
	for _, p := range []string{"/items/1", "/items/2", "/items/3", "/nope-1", "/nope-2", "/panic"} {
		do(t, http.DefaultClient, http.MethodGet, ts.URL+p, nil)
	}
	do(t, http.DefaultClient, "FOOBAR", ts.URL+"/ok", nil)
	_, body := do(t, http.DefaultClient, http.MethodGet, ts.URL+"/metrics", nil)
	want := []string{
		`rampart_http_requests_total{code="200",method="GET",route="GET /items/{id}"} 3`,
		`rampart_http_requests_total{code="404",method="GET",route="unmatched"} 2`,
		`rampart_http_requests_total{code="500",method="GET",route="GET /panic"} 1`,
		`rampart_http_requests_total{code="405",method="OTHER",route="unmatched"} 1`,
		`rampart_http_request_duration_seconds_bucket{method="GET",route="GET /items/{id}",le="+Inf"} 3`,
		`rampart_http_in_flight_requests 1`, // the scrape itself
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("missing %s", w)
		}
	}
	// Raw paths and methods never become labels.
	if regexp.MustCompile(`/items/\d|nope-|FOOBAR`).MatchString(body) {
		t.Errorf("raw request data in labels:\n%s", body)
	}
	// A second listener on the same registry shares the collectors.
	m2 := NewHTTPMetrics(reg)
	if m2 == nil {
		t.Fatal("nil metrics")
	}
}

func TestNewHTTPMetricsNilRegistry(t *testing.T) {
	m := NewHTTPMetrics(nil)
	reg := prometheus.NewRegistry()
	if err := reg.Register(m.requests); err != nil {
		t.Fatal(err)
	}
}
