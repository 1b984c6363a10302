package upstream

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func benchURLs(n int) []string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://10.0.0.%d:8080", i+1)
	}
	return urls
}

// BenchmarkPick: one Pick per request over 8 targets, and with one target
// ejected (the clock is read). The sharded cases, which need
// gateway.Sharder, are BenchmarkPickSharded in shard_test.go.
func BenchmarkPick(b *testing.B) {
	cases := []struct {
		name  string
		o     Options
		eject bool
	}{
		{"round-robin/n=8", Options{URLs: benchURLs(8)}, false},
		{"round-robin/n=8/one-ejected", Options{URLs: benchURLs(8)}, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p := mustPool(b, c.o)
			if c.eject {
				p.targets[3].ejectedUntil.Store(p.clock().Add(1 << 40).UnixNano())
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := p.Pick("tenant-acme"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkModifyResponse: the hook on a typical 2xx (headers only) and a
// 5xx (body replaced), with the defaults and a request carrying a target.
func BenchmarkModifyResponse(b *testing.B) {
	p := mustPool(b, Options{URLs: benchURLs(1)})
	tg, _ := p.Pick("")
	req, _ := http.NewRequestWithContext(WithTarget(b.Context(), tg), http.MethodGet, "http://10.0.0.1:8080/", nil)
	mr := ModifyResponse(DefaultSecurityHeaders(true))
	newResp := func(status int) *http.Response {
		return &http.Response{StatusCode: status, Request: req, Body: io.NopCloser(strings.NewReader("x")), Header: http.Header{
			"Server": {"nginx"}, "Content-Type": {"application/json"}, "Date": {"x"}, "Content-Length": {"1"},
			"X-Powered-By": {"PHP"}, "Cache-Control": {"no-cache"},
		}}
	}
	// The response's construction, which every case below includes: subtract it.
	b.Run("baseline/construct-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = newResp(200)
		}
	})
	for _, status := range []int{200, 500} {
		b.Run(fmt.Sprint(status), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = mr(newResp(status))
			}
		})
	}
}
