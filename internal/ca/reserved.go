package ca

import (
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// ReservedPath is the SPIFFE ID path prefix of Rampart's own identities
// (the enrolment listener is spiffe://<td>/rampart/ca, which agents pin on
// first contact): no workload may hold an ID under it, or it could pose as
// the CA to agents. The CA refuses such IDs at issuance, registration and
// join-token creation; the admin use cases explain it earlier.
const ReservedPath = "/rampart"

// IsReservedPath reports whether path is ReservedPath or below it
// (segment-aware: /rampartx is not reserved).
func IsReservedPath(path string) bool {
	return path == ReservedPath || strings.HasPrefix(path, ReservedPath+"/")
}

// workloadID reports whether id may name a workload of td: a member of
// td, with a path, outside ReservedPath.
func workloadID(td spiffeid.TrustDomain, id spiffeid.ID) bool {
	return id.MemberOf(td) && id.Path() != "" && !IsReservedPath(id.Path())
}
