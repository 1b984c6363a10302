package gateway

import (
	"strconv"
	"testing"
)

// benchRoutes builds n routes shaped like a real table: per service a read
// prefix, a write prefix and an exact export path, a third of them bound
// to a host.
func benchRoutes(n int) []RouteSpec {
	specs := make([]RouteSpec, 0, n)
	for i := 0; len(specs) < n; i++ {
		svc := "/api/v1/svc" + strconv.Itoa(i)
		host := ""
		if i%3 == 0 {
			host = "svc" + strconv.Itoa(i) + ".example"
		}
		for _, s := range []RouteSpec{
			{PathPrefix: svc, Methods: []string{"GET", "HEAD"}},
			{PathPrefix: svc + "/items/", Methods: []string{"POST", "PUT", "DELETE"}},
			{Path: svc + "/export", Methods: []string{"GET"}},
		} {
			if len(specs) == n {
				break
			}
			s.Name, s.Host, s.Auth = "r"+strconv.Itoa(len(specs)), host, authSelf
			specs = append(specs, s)
		}
	}
	return specs
}

// BenchmarkMatch measures Match on tables of 10 and 1000 routes: a hit on
// a deep path under a prefix, a hit on a host-bound route, and a miss that
// walks every level.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1000} {
		rt := mustCompile(b, benchRoutes(n)...)
		mid := strconv.Itoa(n / 6)
		cases := []struct{ name, method, host, path string }{
			{"hit", "PUT", "notes.example", "/api/v1/svc" + mid + "/items/8f14e45f-ceea-467f/comments/7"},
			{"hit-host", "GET", "SVC0.example:8443", "/api/v1/svc0/export"},
			{"miss", "GET", "svc0.example", "/api/v2/other/deep/path/with/segments"},
		}
		for _, c := range cases {
			if _, res := rt.Match(c.method, c.host, c.path); (res == Matched) != (c.name != "miss") {
				b.Fatalf("%d routes, %s: %v", n, c.name, res)
			}
			b.Run(strconv.Itoa(n)+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					rt.Match(c.method, c.host, c.path)
				}
			})
		}
	}
}

// BenchmarkMatchDistinctLengths is the worst case of the prefix lookup:
// 1000 prefixes of 1000 different lengths, so a miss checks every length
// (a map lookup only where the path has a segment boundary there).
func BenchmarkMatchDistinctLengths(b *testing.B) {
	specs := make([]RouteSpec, 1000)
	seg := ""
	for i := range specs {
		seg += string(rune('a' + i%26))
		specs[i] = RouteSpec{Name: "r" + strconv.Itoa(i), PathPrefix: "/" + seg, Methods: []string{"GET"}, Auth: authSelf}
	}
	rt := mustCompile(b, specs...)
	path := "/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z"
	if _, res := rt.Match("GET", "", path); res != NoRoute {
		b.Fatalf("distinct lengths: %v", res)
	}
	b.ReportAllocs()
	for b.Loop() {
		rt.Match("GET", "", path)
	}
}

// BenchmarkMatchLinear is the alternative Match replaces: a scan of every
// compiled route with SegmentPrefix, keeping the most specific, on the same
// tables and request (host already lowercase, so the scan does no host
// folding at all), to show how the indexed lookup scales.
func BenchmarkMatchLinear(b *testing.B) {
	for _, n := range []int{10, 1000} {
		routes := mustCompile(b, benchRoutes(n)...).Routes()
		path := "/api/v1/svc" + strconv.Itoa(n/6) + "/items/8f14e45f-ceea-467f/comments/7"
		if linearMatch(routes, "PUT", "notes.example", path) == nil {
			b.Fatalf("%d routes: linear scan missed", n)
		}
		b.Run(strconv.Itoa(n)+"/hit", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				linearMatch(routes, "PUT", "notes.example", path)
			}
		})
	}
}

// linearMatch scans routes for the most specific one serving method on
// host (lowercase, no port) and path.
func linearMatch(routes []*Route, method, host, path string) *Route {
	var best *Route
	for _, r := range routes {
		if r.host != "" && r.host != host || r.exact && r.pattern != path || !r.exact && !SegmentPrefix(path, r.pattern) {
			continue
		}
		if best == nil || r.host != "" && best.host == "" ||
			(r.host == "") == (best.host == "") && (r.exact && !best.exact || r.exact == best.exact && len(r.pattern) > len(best.pattern)) {
			best = r
		}
	}
	if best == nil {
		return nil
	}
	for _, m := range best.methods {
		if m == method {
			return best
		}
	}
	return nil
}
