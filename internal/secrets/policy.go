package secrets

import (
	"fmt"
	"slices"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Capability is what a policy grants on a path (the configuration's
// vocabulary, config.SecretCapabilities).
type Capability string

// Capabilities.
const (
	CapRead    Capability = "read"
	CapList    Capability = "list"
	CapWrite   Capability = "write"
	CapDelete  Capability = "delete"
	CapDestroy Capability = "destroy"
	CapRotate  Capability = "rotate"
	CapLease   Capability = "lease"
)

// capabilities lists every capability.
var capabilities = []Capability{CapRead, CapList, CapWrite, CapDelete, CapDestroy, CapRotate, CapLease}

// PrincipalKind says how a principal was authenticated.
type PrincipalKind string

// Principal kinds.
const (
	// KindAdmin: the local CLI holding the master key, or an administrator
	// of the admin API. Every capability.
	KindAdmin PrincipalKind = "admin"
	// KindSystem: Rampart's own engines (rotation, reaper). Every
	// capability.
	KindSystem PrincipalKind = "system"
	// KindClient: an OAuth client's token; ID is the client id.
	KindClient PrincipalKind = "client"
	// KindUser: a signed-in user's token; ID is the user id, Role the role.
	KindUser PrincipalKind = "user"
	// KindSPIFFE: an mTLS peer; ID is its SPIFFE ID, verified by the caller.
	KindSPIFFE PrincipalKind = "spiffe"
)

// Principal is who asks.
type Principal struct {
	Kind   PrincipalKind
	ID     string
	Role   string
	Scopes []string
}

// Actor returns the audit actor: "cli" (an admin without ID), "admin:ID",
// "system:ID", "client:ID", "user:ID", "spiffe:ID".
func (p Principal) Actor() string {
	switch p.Kind {
	case KindAdmin:
		if p.ID == "" {
			return "cli"
		}
		return "admin:" + p.ID
	case KindSystem:
		if p.ID == "" {
			return "system"
		}
		return "system:" + p.ID
	case KindClient, KindUser, KindSPIFFE:
		return string(p.Kind) + ":" + p.ID
	default:
		return "unknown"
	}
}

// PolicyRule is one policy as configured (config.SecretPolicy).
type PolicyRule struct {
	Name         string
	Paths        []string
	Capabilities []string
	Clients      []string
	Roles        []string
	SPIFFEIDs    []string
	Scopes       []string
}

// rule is a compiled PolicyRule.
type rule struct {
	name    string
	paths   []Prefix
	caps    []Capability
	clients []string
	roles   []string
	ids     []spiffeid.ID
	scopes  []string
}

// Policies are compiled rules. The zero value and nil deny every
// client, user and SPIFFE principal (deny by default, OWASP
// Authorization Cheat Sheet).
type Policies struct {
	rules []rule
}

// CompilePolicies validates and compiles rules: every path a prefix
// (ParsePrefix), every capability known, every SPIFFE ID parsed
// (spiffeid.FromString), at least one principal per rule. The error names
// the rule and the field.
func CompilePolicies(rules []PolicyRule) (*Policies, error) {
	ps := &Policies{rules: make([]rule, 0, len(rules))}
	names := map[string]bool{}
	for i, r := range rules {
		where := fmt.Sprintf("policy %d (%q)", i, r.Name)
		if r.Name == "" {
			return nil, fmt.Errorf("%w: policy %d has no name", ErrInvalid, i)
		}
		if names[r.Name] {
			return nil, fmt.Errorf("%w: %s: the name is used by another policy", ErrInvalid, where)
		}
		names[r.Name] = true
		c := rule{name: r.Name, clients: slices.Clone(r.Clients), roles: slices.Clone(r.Roles), scopes: slices.Clone(r.Scopes)}
		if len(r.Paths) == 0 {
			return nil, fmt.Errorf("%w: %s: no path", ErrInvalid, where)
		}
		for _, s := range r.Paths {
			p, err := ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%s: path %q: %w", where, s, err)
			}
			c.paths = append(c.paths, p)
		}
		if len(r.Capabilities) == 0 {
			return nil, fmt.Errorf("%w: %s: no capability", ErrInvalid, where)
		}
		for _, s := range r.Capabilities {
			if !slices.Contains(capabilities, Capability(s)) {
				return nil, fmt.Errorf("%w: %s: %q is not a capability", ErrInvalid, where, s)
			}
			c.caps = append(c.caps, Capability(s))
		}
		for _, s := range r.SPIFFEIDs {
			// Parsed and compared as IDs (trust domain and path), never
			// as strings: spiffeid.FromString refuses upper case, dot
			// segments, query and fragment, so two spellings of one ID
			// cannot both exist.
			id, err := spiffeid.FromString(s)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: SPIFFE ID %q: %v", ErrInvalid, where, s, err)
			}
			c.ids = append(c.ids, id)
		}
		for _, s := range slices.Concat(r.Clients, r.Roles) {
			if s == "" {
				return nil, fmt.Errorf("%w: %s: an empty client or role", ErrInvalid, where)
			}
		}
		if len(c.clients)+len(c.roles)+len(c.ids) == 0 {
			return nil, fmt.Errorf("%w: %s: no principal (clients, roles or spiffe_ids)", ErrInvalid, where)
		}
		ps.rules = append(ps.rules, c)
	}
	return ps, nil
}

// Allowed reports whether p holds c on path. KindAdmin and KindSystem
// hold everything; any other principal needs a rule that names it, grants
// c and covers path, and (a client or user token) carries every scope of
// the rule. Nothing matches: denied.
func (ps *Policies) Allowed(p Principal, c Capability, path Path) bool {
	switch p.Kind {
	case KindAdmin, KindSystem:
		return true
	case KindClient, KindUser, KindSPIFFE:
	default:
		return false
	}
	if ps == nil || p.ID == "" || path == "" {
		return false
	}
	var peer spiffeid.ID
	if p.Kind == KindSPIFFE {
		id, err := spiffeid.FromString(p.ID)
		if err != nil {
			return false
		}
		peer = id
	}
	for _, r := range ps.rules {
		if !slices.Contains(r.caps, c) || !r.names(p, peer) || !r.covers(path) {
			continue
		}
		if p.Kind != KindSPIFFE && !hasAll(p.Scopes, r.scopes) {
			continue
		}
		return true
	}
	return false
}

// names reports whether the rule names p.
func (r rule) names(p Principal, peer spiffeid.ID) bool {
	switch p.Kind {
	case KindClient:
		return slices.Contains(r.clients, p.ID)
	case KindUser:
		return p.Role != "" && slices.Contains(r.roles, p.Role)
	case KindSPIFFE:
		return slices.Contains(r.ids, peer)
	}
	return false
}

// covers reports whether a prefix of the rule covers path.
func (r rule) covers(path Path) bool {
	for _, p := range r.paths {
		if p.Covers(path) {
			return true
		}
	}
	return false
}

// hasAll reports whether have holds every scope of need.
func hasAll(have, need []string) bool {
	for _, s := range need {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}
