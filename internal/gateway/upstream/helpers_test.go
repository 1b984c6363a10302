package upstream

import (
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// quiet is a logger for pools under test.
func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// backend is an upstream under test: it answers 200 with its name, or
// 503 once dead, and counts the requests it got per tenant.
type backend struct {
	srv   *httptest.Server
	name  string
	dead  atomic.Bool
	hits  atomic.Int64
	check atomic.Bool // true: the health endpoint fails
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if b.check.Load() {
				w.WriteHeader(http.StatusInternalServerError)
			}
			return
		}
		b.hits.Add(1)
		if b.dead.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, b.name)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func backends(t *testing.T, n int) ([]*backend, []string) {
	t.Helper()
	bs := make([]*backend, n)
	urls := make([]string, n)
	for i := range bs {
		bs[i] = newBackend(t, "b"+string(rune('0'+i)))
		urls[i] = bs[i].srv.URL
	}
	return bs, urls
}

func mustPool(t testing.TB, o Options) *Pool {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet()
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gatewayFor serves a minimal proxy in front of p on 127.0.0.1, wired as
// doc.go shows: Pick (the tenant from X-Tenant), WithTarget, Rewrite with
// SetURL, the pool's transport, ModifyResponse and ErrorHandler.
func gatewayFor(t *testing.T, p *Pool, sec SecurityHeaders) *httptest.Server {
	t.Helper()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(TargetFrom(pr.In.Context()).URL)
			pr.Out.Host = ""
		},
		Transport:      p.Transport(),
		ModifyResponse: ModifyResponse(sec),
		ErrorHandler:   ErrorHandler(p, sec),
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg, err := p.Pick(r.Header.Get("X-Tenant"))
		if err != nil {
			WriteProblem(w, http.StatusServiceUnavailable, "no upstream is available")
			return
		}
		rp.ServeHTTP(w, r.WithContext(WithTarget(r.Context(), tg)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// result is one response through the gateway.
type result struct {
	status int
	body   string
	header http.Header
}

func get(t *testing.T, url, tenant string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tenant != "" {
		req.Header.Set("X-Tenant", tenant)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, string(b), resp.Header}
}

// assertProblem checks r is a problem+json of status that leaks none of
// the forbidden strings.
func assertProblem(t *testing.T, r result, status int, forbidden ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %q)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if !strings.Contains(r.body, `"status":`) || !strings.Contains(r.body, `"type":"about:blank"`) {
		t.Errorf("body %q is not a problem", r.body)
	}
	for _, f := range forbidden {
		if strings.Contains(r.body, f) {
			t.Errorf("body %q leaks %q", r.body, f)
		}
	}
}
