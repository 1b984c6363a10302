package gateway

import (
	"errors"
	"fmt"
	"slices"
)

// MaxRouteNameLen is the longest route name Compile accepts: one DNS label,
// so a name fits in metric labels, audit fields and header values as is.
const MaxRouteNameLen = 63

// AuthSpec is a route's authentication rule as configured (the `auth:` map
// of issue 12). The router holds it opaque: it only needs to know that a
// rule is set; the verifiers that enforce it are built elsewhere from
// Route.Auth.
type AuthSpec struct {
	Issuer   string
	Audience []string
	Scopes   []string
	Claims   map[string]string
	DPoP     string
	// MTLSAllow are the SPIFFE IDs of an mtls rule; Issuer "" with a
	// non-empty MTLSAllow is an mTLS-only route.
	MTLSAllow []string
	BindToken bool
}

// RouteSpec is one route as configured, before Compile checks it. Exactly
// one of Path (an exact canonical path) and PathPrefix (a segment-aware
// prefix, see SegmentPrefix) is set. Host is optional: "" matches every
// host. Methods is required. Auth nil means the configuration had no auth
// key, which is refused; Public true is the literal `auth: none`, and then
// Auth must stay nil.
type RouteSpec struct {
	Name       string
	Host       string
	Path       string
	PathPrefix string
	Methods    []string
	Auth       *AuthSpec
	Public     bool
}

// Route is one compiled route. It is immutable: its accessors return
// copies, so a Route may be shared by concurrent requests.
type Route struct {
	index   int
	name    string
	host    string // lowercase host[:port]; "" for every host
	pattern string // the exact path or the prefix
	exact   bool
	methods []string
	auth    *AuthSpec // a deep copy; nil when public
}

// Index is the route's position in the specs given to Compile, so callers
// can keep per-route compiled state (verifiers, limiters) in a slice and
// reach it without a map lookup or an allocation.
func (r *Route) Index() int { return r.index }

// Name is the route's unique name.
func (r *Route) Name() string { return r.name }

// Host is the route's host in lowercase, with its port if one was
// configured; "" when the route serves every host.
func (r *Route) Host() string { return r.host }

// Pattern is the route's exact path when Exact reports true, else its
// segment-aware prefix; both are canonical (Canonicalize).
func (r *Route) Pattern() string { return r.pattern }

// Exact reports whether the route matches one path only (`path:`) rather
// than a prefix (`path_prefix:`).
func (r *Route) Exact() bool { return r.exact }

// Methods returns a copy of the methods the route serves.
func (r *Route) Methods() []string { return append([]string(nil), r.methods...) }

// Public reports whether the route is `auth: none`: served without
// authentication.
func (r *Route) Public() bool { return r.auth == nil }

// Auth returns a deep copy of the route's authentication rule, and false
// for a public route.
func (r *Route) Auth() (AuthSpec, bool) {
	if r.auth == nil {
		return AuthSpec{}, false
	}
	return copyAuth(r.auth), true
}

func copyAuth(a *AuthSpec) AuthSpec {
	c := *a
	c.Audience = append([]string(nil), a.Audience...)
	c.Scopes = append([]string(nil), a.Scopes...)
	c.MTLSAllow = append([]string(nil), a.MTLSAllow...)
	if a.Claims != nil {
		c.Claims = make(map[string]string, len(a.Claims))
		for k, v := range a.Claims {
			c.Claims[k] = v
		}
	}
	return c
}

// Router is a compiled, immutable route table. It is safe for concurrent
// use and Match does not allocate; a reload compiles a new Router and
// swaps a pointer to it, so no request sees half of two tables.
type Router struct {
	routes []*Route
	hosts  map[string]*table // by host[:port] as configured
	any    table             // the host-less routes
}

// Routes returns the compiled routes in the order of the specs.
func (rt *Router) Routes() []*Route { return append([]*Route(nil), rt.routes...) }

// table holds the routes of one host level. A group is every route that
// shares one (host, kind, pattern): they differ by method only.
type table struct {
	exact  map[string]*group
	prefix map[string]*group
	isLen  []bool // isLen[n] reports whether some prefix is n bytes long
}

type group struct {
	routes []*Route // in spec order; they differ by method only
}

// Compile checks every spec and builds the Router. It reports every
// problem at once (errors.Join), each naming the route by index and name,
// so an operator fixes a configuration in one pass.
func Compile(specs []RouteSpec) (*Router, error) {
	rt := &Router{hosts: make(map[string]*table)}
	var errs []error
	names := make(map[string]int, len(specs))
	for i := range specs {
		r, rerrs := compileRoute(i, &specs[i])
		if first, dup := names[specs[i].Name]; dup && specs[i].Name != "" {
			rerrs = append(rerrs, fmt.Errorf("name already used by route %d", first))
		} else {
			names[specs[i].Name] = i
		}
		for _, e := range rerrs {
			errs = append(errs, fmt.Errorf("gateway: route %d (%q): %w", i, specs[i].Name, e))
		}
		if len(rerrs) == 0 {
			if e := rt.add(r); e != nil {
				errs = append(errs, fmt.Errorf("gateway: route %d (%q): %w", i, specs[i].Name, e))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rt.any.finish()
	for _, t := range rt.hosts {
		t.finish()
	}
	return rt, nil
}

// compileRoute checks one spec and returns its Route, or every problem.
func compileRoute(i int, s *RouteSpec) (*Route, []error) {
	var errs []error
	if err := checkRouteName(s.Name); err != nil {
		errs = append(errs, err)
	}
	r := &Route{index: i, name: s.Name}
	var err error
	if r.pattern, r.exact, err = routePattern(s.Path, s.PathPrefix); err != nil {
		errs = append(errs, err)
	}
	if r.host, err = routeHost(s.Host); err != nil {
		errs = append(errs, err)
	}
	if r.methods, err = routeMethods(s.Methods); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	// Deny by default (DESIGN principle 3, issue 12): a route is served
	// without authentication only when the configuration says so in words.
	switch {
	case s.Auth == nil && !s.Public:
		errs = append(errs, errors.New("no auth: write auth: none to serve it without authentication"))
	case s.Auth != nil && s.Public:
		errs = append(errs, errors.New("both an auth rule and auth: none"))
	case s.Auth != nil:
		a := copyAuth(s.Auth)
		r.auth = &a
	}
	return r, errs
}

// unjoin splits an errors.Join result so each problem gets its own line
// and route prefix.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// checkRouteName enforces ^[a-z0-9]+(-[a-z0-9]+)*$ and MaxRouteNameLen.
func checkRouteName(name string) error {
	bad := name == "" || len(name) > MaxRouteNameLen || name[0] == '-' || name[len(name)-1] == '-'
	for i := 0; i < len(name) && !bad; i++ {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' && name[i-1] != '-'
		bad = !ok
	}
	if bad {
		return fmt.Errorf("name must match ^[a-z0-9]+(-[a-z0-9]+)*$ and be at most %d bytes", MaxRouteNameLen)
	}
	return nil
}

// routePattern checks that exactly one of path and prefix is set and that
// it is already canonical: a pattern Canonicalize would change (or refuse)
// could never equal a request path, so it is a configuration mistake, and
// refusing it beats a route that silently never matches.
func routePattern(path, prefix string) (string, bool, error) {
	switch {
	case path != "" && prefix != "":
		return "", false, errors.New("both path and path_prefix: set exactly one")
	case path == "" && prefix == "":
		return "", false, errors.New("neither path nor path_prefix: set exactly one")
	}
	p, exact, key := prefix, false, "path_prefix"
	if path != "" {
		p, exact, key = path, true, "path"
	}
	c, err := Canonicalize(p)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", key, err)
	}
	if c != p {
		return "", false, fmt.Errorf("%s is not canonical: write %q", key, c)
	}
	return p, exact, nil
}

// routeHost checks a configured host and returns it in lowercase.
func routeHost(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	var buf [maxHostLen]byte
	out, _, ok := foldHost(buf[:0], h)
	if !ok || len(out) == 0 {
		return "", errors.New("host must be an ASCII hostname or [IPv6] literal with an optional port, without a trailing dot (IDNA names in their xn-- form)")
	}
	return string(out), nil
}

// routeMethods checks the method list: required, since an empty list that
// meant "every method" would serve DELETE on a route written with reads in
// mind (deny by default); each an uppercase RFC 9110 §9.1 token, since
// methods are case-sensitive and a lowercase one in a config is a typo that
// would never match; no duplicates. HEAD is not implied by GET: a route
// serves exactly the methods it lists.
func routeMethods(ms []string) ([]string, error) {
	if len(ms) == 0 {
		return nil, errors.New("no methods: list the methods the route serves")
	}
	out := make([]string, 0, len(ms))
	var errs []error
	for _, m := range ms {
		switch {
		case !isMethodToken(m):
			errs = append(errs, fmt.Errorf("method %q is not an uppercase RFC 9110 token", m))
		case slices.Contains(out, m):
			errs = append(errs, fmt.Errorf("method %s listed twice", m))
		default:
			out = append(out, m)
		}
	}
	return out, errors.Join(errs...)
}

// isMethodToken reports whether m is a token (RFC 9110 §5.6.2) without
// lowercase letters.
func isMethodToken(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !tchar[c] || 'a' <= c && c <= 'z' {
			return false
		}
	}
	return true
}

var tchar = func() (t [256]bool) {
	const s = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for i := 0; i < len(s); i++ {
		t[s[i]] = true
	}
	return t
}()

// add places r in its host's table, refusing a (host, path, method) that
// another route already serves: which of the two would run is not
// something a reader of the configuration could tell.
func (rt *Router) add(r *Route) error {
	t := &rt.any
	if r.host != "" {
		if t = rt.hosts[r.host]; t == nil {
			t = &table{}
			rt.hosts[r.host] = t
		}
	}
	m := &t.prefix
	if r.exact {
		m = &t.exact
	}
	if *m == nil {
		*m = make(map[string]*group)
	}
	g := (*m)[r.pattern]
	if g == nil {
		g = &group{}
		(*m)[r.pattern] = g
	}
	for _, o := range g.routes {
		for _, om := range o.methods {
			for _, rm := range r.methods {
				if om == rm {
					return fmt.Errorf("ambiguous: route %d (%q) already serves %s on this host and path", o.index, o.name, rm)
				}
			}
		}
	}
	g.routes = append(g.routes, r)
	rt.routes = append(rt.routes, r)
	return nil
}

// finish records which prefix lengths the table holds.
func (t *table) finish() {
	if len(t.prefix) == 0 {
		return
	}
	longest := 0
	for p := range t.prefix {
		longest = max(longest, len(p))
	}
	t.isLen = make([]bool, longest+1)
	for p := range t.prefix {
		t.isLen[len(p)] = true
	}
}
