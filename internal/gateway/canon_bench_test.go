package gateway

import (
	"net/url"
	"path"
	"testing"
)

// benchPaths are the three shapes of request path the gateway sees: the
// common already-canonical ASCII path, a path whose escapes need rewriting,
// and an attack that is refused.
var benchPaths = []struct{ name, path string }{
	{"canonical-ascii", "/api/v1/notes/8f14e45f-ceea-467f-a0e6-1b2c3d4e5f60/comments"},
	{"escapes", "/api/v1/notes/caf%c3%a9/%7euser/r%C3%A9sum%C3%A9%20final"},
	{"rejected", "/public/%2e%2e/admin/secrets"},
}

// BenchmarkCanonicalize measures Canonicalize on each path shape.
func BenchmarkCanonicalize(b *testing.B) {
	for _, bp := range benchPaths {
		b.Run(bp.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bp.path)))
			for b.Loop() {
				_, _ = Canonicalize(bp.path)
			}
		})
	}
}

// BenchmarkNetURLClean is the usual alternative for comparison: decode with
// net/url and resolve with path.Clean, which guesses where Canonicalize
// refuses (it turns "/public/%2e%2e/admin" into "/admin").
func BenchmarkNetURLClean(b *testing.B) {
	for _, bp := range benchPaths {
		b.Run(bp.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bp.path)))
			for b.Loop() {
				if p, err := url.PathUnescape(bp.path); err == nil {
					_ = path.Clean(p)
				}
			}
		})
	}
}

// BenchmarkSegmentPrefix measures the route-prefix test.
func BenchmarkSegmentPrefix(b *testing.B) {
	b.ReportAllocs()
	p := benchPaths[0].path
	for b.Loop() {
		_ = SegmentPrefix(p, "/api/v1/notes")
	}
}
