package mtls

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Authorizer decides whether a verified peer ID may connect; a non-nil
// error refuses the handshake. It is called concurrently.
type Authorizer func(id spiffeid.ID) error

// AuthorizeAny accepts every verified peer: the bundle alone decides. Use
// it only where every workload of every trusted domain may connect.
func AuthorizeAny() Authorizer {
	return func(spiffeid.ID) error { return nil }
}

// AuthorizeID accepts exactly the peer want (compared as spiffeid.ID,
// never as strings).
func AuthorizeID(want spiffeid.ID) Authorizer {
	return func(id spiffeid.ID) error {
		if id.IsZero() || id != want {
			return fmt.Errorf("mtls: peer %s is not %s", id, want)
		}
		return nil
	}
}

// AuthorizeOneOf accepts a peer whose ID is one of ids; with no ids it
// accepts nobody.
func AuthorizeOneOf(ids ...spiffeid.ID) Authorizer {
	allowed := slices.Clone(ids)
	return func(id spiffeid.ID) error {
		if id.IsZero() || !slices.Contains(allowed, id) {
			return fmt.Errorf("mtls: peer %s is not allowed", id)
		}
		return nil
	}
}

// AuthorizeMemberOf accepts every peer of trust domain td.
func AuthorizeMemberOf(td spiffeid.TrustDomain) Authorizer {
	return func(id spiffeid.ID) error {
		if td.IsZero() || !id.MemberOf(td) {
			return fmt.Errorf("mtls: peer %s is not a member of trust domain %q", id, td.Name())
		}
		return nil
	}
}

// AuthorizePathPrefix accepts a peer of trust domain td whose path is
// prefix or lies below it, segment by segment: prefix "/svc" (or "/svc/")
// accepts spiffe://td/svc and spiffe://td/svc/a/b but not
// spiffe://td/svcx. Prefix "/" (or "") accepts every workload of td. A
// prefix that is not a valid SPIFFE path ("svc", "/a//b", "/a/../b")
// accepts nobody: a typo must not open the door.
func AuthorizePathPrefix(td spiffeid.TrustDomain, prefix string) Authorizer {
	p := strings.TrimSuffix(prefix, "/")
	if err := spiffeid.ValidatePath(p); err != nil || td.IsZero() {
		return func(id spiffeid.ID) error {
			return fmt.Errorf("mtls: invalid path prefix %q: no peer is authorized", prefix)
		}
	}
	return func(id spiffeid.ID) error {
		if !id.MemberOf(td) {
			return fmt.Errorf("mtls: peer %s is not a member of trust domain %q", id, td.Name())
		}
		path := id.Path()
		if p == "" || path == p || strings.HasPrefix(path, p+"/") {
			return nil
		}
		return fmt.Errorf("mtls: peer %s is not under %s", id, p)
	}
}
