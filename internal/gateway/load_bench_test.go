package gateway

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/ratelimit"
)

// BenchmarkLoad is the gateway's load harness (issue 12): requests per
// second and latency percentiles through real loopback listeners, for a
// bare httputil.ReverseProxy and for the gateway in front of the same
// upstream, in the same run. Each sub-benchmark reports req/s, p50 and p99
// (µs); the gateway's "added" latency is its p99 minus the bare proxy's.
//
//	go test ./internal/gateway -run '^$' -bench BenchmarkLoad -benchtime 20000x -cpu 2
//
// The gateway runs ES256 validation with the verified-token cache on, and
// two composed in-process limits (per user, per client address) set high
// enough never to deny; "schema4k" adds JSON-Schema validation of a 4 KiB
// body; "redis-limits" moves the two limits to Redis
// (RAMPART_TEST_REDIS_URL).
func BenchmarkLoad(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1,"title":"hello"}`))
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL)

	b.Run("bare-reverseproxy", func(b *testing.B) {
		rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() }, Transport: benchTransport()}
		front := httptest.NewServer(rp)
		defer front.Close()
		runLoad(b, front.URL+"/api/notes/1", "", nil)
	})
	b.Run("bare-reverseproxy-4k", func(b *testing.B) {
		rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() }, Transport: benchTransport()}
		front := httptest.NewServer(rp)
		defer front.Close()
		runLoad(b, front.URL+"/api/notes", "", noteBody4K())
	})
	b.Run("gateway", func(b *testing.B) {
		h := benchGateway(b, up.URL, nil)
		runLoad(b, h.srv.URL+"/api/notes/1", h.token(b, nil), nil)
	})
	b.Run("gateway-schema4k", func(b *testing.B) {
		h := benchGateway(b, up.URL, func(rc *config.GatewayRoute) {
			rc.Request = config.RouteRequest{MaxBodyBytes: 64 << 10, ContentTypes: []string{"application/json"},
				JSONSchema: writeNoteSchema(b), SanitizeHTML: []string{"/body"}}
		})
		runLoad(b, h.srv.URL+"/api/notes", h.token(b, nil), noteBody4K())
	})
	b.Run("gateway-redis-limits", func(b *testing.B) {
		u := os.Getenv("RAMPART_TEST_REDIS_URL")
		if u == "" {
			b.Skip("set RAMPART_TEST_REDIS_URL to measure Redis limits")
		}
		opt, err := redis.ParseURL(u)
		if err != nil {
			b.Fatal(err)
		}
		rc := redis.NewClient(opt)
		defer rc.Close()
		h := benchGateway(b, up.URL, nil, func(d *Deps) {
			d.Limits = ratelimit.NewRedisStore(rc, ratelimit.RedisOptions{Prefix: fmt.Sprintf("rampart:bench:%d:", time.Now().UnixNano()),
				Logger: slog.New(slog.DiscardHandler)})
		})
		runLoad(b, h.srv.URL+"/api/notes/1", h.token(b, nil), nil)
	})
}

// benchTransport is the bare proxy's transport: pooled like the
// gateway's upstream pool (http.DefaultTransport keeps 2 idle connections
// per host, which under 16 clients measures connection churn, not the
// proxy).
func benchTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	return t
}

func benchGateway(b *testing.B, upstream string, edit func(*config.GatewayRoute), opts ...hOption) *harness {
	h := newHarness(b, nil, opts...)
	rc := route("notes", "/api/notes", []string{upstream}, selfAuth("notes:read"))
	rc.RateLimits = []config.RouteLimit{
		{Name: "per-user", Key: "subject", Rate: 1e9, Period: config.Duration(time.Second), Burst: 1e9},
		{Name: "per-ip", Key: "client_ip", Rate: 1e9, Period: config.Duration(time.Second), Burst: 1e9},
	}
	if edit != nil {
		edit(&rc)
	}
	h.cfg.Gateway.Routes = []config.GatewayRoute{rc}
	if err := h.gw.Load(h.cfg); err != nil {
		b.Fatal(err)
	}
	return h
}

// runLoad sends b.N requests from 16 concurrent keep-alive clients and
// reports throughput and latency percentiles.
func runLoad(b *testing.B, target, token string, body []byte) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	send := func() (time.Duration, error) {
		method, rd := http.MethodGet, io.Reader(nil)
		if body != nil {
			method, rd = http.MethodPost, bytes.NewReader(body)
		}
		req, _ := http.NewRequest(method, target, rd)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	if _, err := send(); err != nil { // warm: connections, token cache, JWKS
		b.Fatal(err)
	}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			d, err := send()
			if err != nil {
				b.Error(err)
				return
			}
			local = append(local, d)
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// noteBody4K is a 4 KiB JSON note with a rich-text body.
func noteBody4K() []byte {
	html := "<p>" + strings.Repeat("Lorem <b>ipsum</b> dolor sit amet, ", 130) + "</p>"
	return []byte(`{"title":"A note of four kibibytes","body":"` + html[:4000] + `","tags":["a","b"]}`)
}

func writeNoteSchema(b *testing.B) string {
	p := filepath.Join(b.TempDir(), "note.json")
	schema := `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
"additionalProperties":false,"required":["title","body"],
"properties":{"title":{"type":"string","minLength":1,"maxLength":200},
"body":{"type":"string","maxLength":32768},"tags":{"type":"array","maxItems":20,"items":{"type":"string","maxLength":40}}}}`
	if err := os.WriteFile(p, []byte(schema), 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}
