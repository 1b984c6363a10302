package ca

import (
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// FuzzPatternAllows: a join-token pattern admits an ID only when the ID
// is in the trust domain and its path continues the pattern's prefix with
// a new segment (never a sibling such as /svcx for /svc/*, never the
// prefix itself).
func FuzzPatternAllows(f *testing.F) {
	td := spiffeid.RequireTrustDomainFromString("example.test")
	f.Add("spiffe://example.test/svc/*", "spiffe://example.test/svc/a")
	f.Add("spiffe://example.test/svc/*", "spiffe://example.test/svcx")
	f.Add("spiffe://example.test/svc/*", "spiffe://example.test/svc")
	f.Add("spiffe://example.test/a/b/*", "spiffe://example.test/a/b/c/d")
	f.Add("spiffe://example.test/*", "spiffe://example.test/a")
	f.Add("spiffe://evil.test/svc/*", "spiffe://evil.test/svc/a")
	f.Fuzz(func(t *testing.T, pattern, raw string) {
		id, err := spiffeid.FromString(raw)
		if err != nil {
			return
		}
		if !patternAllows(td, pattern, id) {
			return
		}
		prefix, ok := strings.CutSuffix(pattern, "/*")
		if !ok || !strings.HasPrefix(prefix, "spiffe://example.test/") || !id.MemberOf(td) {
			t.Fatalf("%q admitted %q", pattern, raw)
		}
		p := strings.TrimPrefix(prefix, "spiffe://example.test")
		if !strings.HasPrefix(id.Path(), p+"/") || len(id.Path()) <= len(p)+1 {
			t.Fatalf("%q admitted %q outside its prefix", pattern, raw)
		}
	})
}
