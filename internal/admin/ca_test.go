package admin

import (
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

func TestParseWorkloadID(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.test")
	for _, tc := range []struct{ name, in, err string }{
		{"accept/workload", "spiffe://example.test/svc/a", ""},
		{"accept/rampart-lookalike", "spiffe://example.test/rampartx/ca", ""},
		{"reject/not-spiffe", "https://example.test/svc/a", "not a SPIFFE ID"},
		{"reject/other-trust-domain", "spiffe://other.test/svc/a", "not in this CA's trust domain"},
		{"reject/subdomain-trust-domain", "spiffe://sub.example.test/svc/a", "not in this CA's trust domain"},
		{"reject/trust-domain-only", "spiffe://example.test", "names the trust domain"},
		{"reject/uppercase-trust-domain", "spiffe://Example.test/svc/a", "not a SPIFFE ID"},
		{"reject/dot-segment", "spiffe://example.test/svc/../a", "not a SPIFFE ID"},
		{"reject/trailing-slash", "spiffe://example.test/svc/", "not a SPIFFE ID"},
		{"reject/query", "spiffe://example.test/svc?a=b", "not a SPIFFE ID"},
		{"reject/reserved-ca", "spiffe://example.test/rampart/ca", "reserved"},
		{"reject/reserved-root", "spiffe://example.test/rampart", "reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := ParseWorkloadID(td, tc.in)
			if tc.err == "" {
				if err != nil || id.String() != tc.in {
					t.Fatalf("got %v, %v", id, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}

func TestCheckPattern(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.test")
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"accept/service-prefix", "spiffe://example.test/svc/*", true},
		{"accept/deep-prefix", "spiffe://example.test/a/b/*", true},
		{"accept/rampart-lookalike", "spiffe://example.test/rampartx/*", true},
		{"reject/no-star", "spiffe://example.test/svc", false},
		{"reject/whole-domain", "spiffe://example.test/*", false},
		{"reject/reserved", "spiffe://example.test/rampart/*", false},
		{"reject/under-reserved", "spiffe://example.test/rampart/ca/*", false},
		{"reject/other-trust-domain", "spiffe://other.test/svc/*", false},
		{"reject/inner-star", "spiffe://example.test/s*c/*", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkPattern(td, tc.in); (err == nil) != tc.ok {
				t.Fatalf("checkPattern(%q) = %v", tc.in, err)
			}
		})
	}
}
