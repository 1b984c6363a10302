package mtls

import (
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

func TestAuthorizers(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.test")
	other := spiffeid.RequireTrustDomainFromString("other.test")
	id := func(s string) spiffeid.ID { return spiffeid.RequireFromString(s) }
	a := id("spiffe://example.test/svc/a")
	cases := []struct {
		name  string
		authz Authorizer
		peer  spiffeid.ID
		ok    bool
	}{
		{"accept/any", AuthorizeAny(), a, true},
		{"accept/id", AuthorizeID(a), a, true},
		{"reject/id-other-path", AuthorizeID(a), id("spiffe://example.test/svc/b"), false},
		{"reject/id-other-domain", AuthorizeID(a), id("spiffe://other.test/svc/a"), false},
		{"reject/id-zero-vs-zero", AuthorizeID(spiffeid.ID{}), spiffeid.ID{}, false},
		{"accept/one-of", AuthorizeOneOf(id("spiffe://example.test/x"), a), a, true},
		{"reject/one-of", AuthorizeOneOf(id("spiffe://example.test/x")), a, false},
		{"reject/one-of-empty", AuthorizeOneOf(), a, false},
		{"accept/member-of", AuthorizeMemberOf(td), a, true},
		{"reject/member-of-other", AuthorizeMemberOf(other), a, false},
		{"reject/member-of-zero", AuthorizeMemberOf(spiffeid.TrustDomain{}), a, false},
		{"accept/prefix-exact", AuthorizePathPrefix(td, "/svc/a"), a, true},
		{"accept/prefix-below", AuthorizePathPrefix(td, "/svc"), id("spiffe://example.test/svc/a/b"), true},
		{"accept/prefix-trailing-slash", AuthorizePathPrefix(td, "/svc/"), a, true},
		{"accept/prefix-root", AuthorizePathPrefix(td, "/"), a, true},
		{"reject/prefix-not-segment", AuthorizePathPrefix(td, "/svc"), id("spiffe://example.test/svcx"), false},
		{"reject/prefix-not-segment-deeper", AuthorizePathPrefix(td, "/svc/a"), id("spiffe://example.test/svc/ab"), false},
		{"reject/prefix-sibling", AuthorizePathPrefix(td, "/svc"), id("spiffe://example.test/admin"), false},
		{"reject/prefix-other-domain", AuthorizePathPrefix(td, "/svc"), id("spiffe://other.test/svc/a"), false},
		{"reject/prefix-invalid-relative", AuthorizePathPrefix(td, "svc"), a, false},
		{"reject/prefix-invalid-dots", AuthorizePathPrefix(td, "/svc/../"), a, false},
		{"reject/prefix-invalid-double-slash", AuthorizePathPrefix(td, "/svc//a"), a, false},
		{"reject/prefix-zero-domain", AuthorizePathPrefix(spiffeid.TrustDomain{}, "/svc"), a, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.authz(tc.peer)
			if (err == nil) != tc.ok {
				t.Fatalf("authz(%s) = %v, want ok=%v", tc.peer, err, tc.ok)
			}
		})
	}
}
