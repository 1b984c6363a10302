package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
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
	if a.Claims != nil {
		c.Claims = make(map[string]string, len(a.Claims))
		for k, v := range a.Claims {
			c.Claims[k] = v
		}
	}
	return c
}

// Router is a compiled, immutable route table. It is safe for concurrent
// use; Match does not allocate.
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
	exact   map[string]*group
	prefix  map[string]*group
	lengths []int // the distinct prefix lengths, longest first
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
		errs = append(errs, err)
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
	for _, m := range ms {
		if !isMethodToken(m) {
			return nil, fmt.Errorf("method %q is not an uppercase RFC 9110 token", m)
		}
		for _, o := range out {
			if o == m {
				return nil, fmt.Errorf("method %s listed twice", m)
			}
		}
		out = append(out, m)
	}
	return out, nil
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

// finish records the distinct prefix lengths, longest first.
func (t *table) finish() {
	seen := make(map[int]bool, len(t.prefix))
	for p := range t.prefix {
		if !seen[len(p)] {
			seen[len(p)] = true
			t.lengths = append(t.lengths, len(p))
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(t.lengths)))
}

// MatchResult is the outcome of Router.Match.
type MatchResult uint8

// The outcomes of Match. NoRoute and MethodNotAllowed are told apart for
// metrics and audit, but both are answered 404 (see Status).
const (
	Matched          MatchResult = iota // a route serves the request
	NoRoute                             // no route's host and path match
	MethodNotAllowed                    // the most specific route's path matches, but not the method
	BadHost                             // the host is not a valid host[:port]
)

// Status is the HTTP status for the outcome: 0 for Matched (the route
// decides), 400 for BadHost, and 404 for both NoRoute and MethodNotAllowed.
// A 405 with its Allow header would tell an unauthenticated caller which
// paths exist and which methods they take, before any authentication ran;
// issue 12 answers "matches no route" with 404, and a path without the
// method is such a request (OWASP REST Security Cheat Sheet lists 405 for
// APIs, but the gateway fronts services whose route map is not public).
func (m MatchResult) Status() int {
	switch m {
	case Matched:
		return 0
	case BadHost:
		return 400
	}
	return 404
}

// String names the outcome, for logs and metric labels.
func (m MatchResult) String() string {
	switch m {
	case Matched:
		return "matched"
	case NoRoute:
		return "no_route"
	case MethodNotAllowed:
		return "method_not_allowed"
	case BadHost:
		return "bad_host"
	}
	return "unknown"
}

// Match returns the route that serves a request, or nil and the reason no
// route does. It does not allocate.
//
// The inputs are the request's own method, its host, and its path already
// canonical (Canonicalize); a raw path would reopen the differentials
// Canonicalize closes. The method is the request line's: headers such as
// X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override are ignored
// here, and the proxy must strip them before forwarding, or an upstream
// that honours them would run DELETE on a route that allows only POST.
// The host is the authority the request names (the Host header, or the
// absolute-form target's authority, RFC 9112 §3.2.2), with the userinfo
// and scheme already refused by the caller; Match compares it
// case-insensitively (RFC 9110 §4.2.3) and answers BadHost for anything
// that is not an ASCII hostname or [IPv6] literal with an optional port:
// a trailing dot ("notes.example.") names the same host (RFC 1034 §3.1)
// yet would miss that host's routes and fall to the host-less ones, so it
// is refused rather than stripped. An empty host matches host-less routes
// only.
//
// The most specific route wins, in this order: a route for the host with
// the same port, then one for the host without a port (it serves every
// port: the port in a Host header is the client's to write, and
// "notes.example:443" is the same origin as "notes.example", RFC 9110
// §4.2.1, so an exact-port rule would let a client step past the host's
// routes to the host-less ones), then host-less routes; within one host
// level an exact path beats any prefix and a longer prefix a shorter one.
// The winning (host, path) decides alone: if none of its routes serves the
// method, the answer is MethodNotAllowed, never a less specific route, so
// a broad `auth: none` prefix cannot serve a method that a narrower route
// for the same path left out.
func (rt *Router) Match(method, host, canonicalPath string) (*Route, MatchResult) {
	var buf [maxHostLen]byte
	h, nameLen, ok := foldHost(buf[:0], host)
	if !ok {
		return nil, BadHost
	}
	g := rt.lookup(h, nameLen, canonicalPath)
	if g == nil {
		return nil, NoRoute
	}
	for _, r := range g.routes {
		for _, m := range r.methods {
			if m == method {
				return r, Matched
			}
		}
	}
	return nil, MethodNotAllowed
}

// lookup finds the most specific group for a folded host (whose name part
// is h[:nameLen]) and a path.
func (rt *Router) lookup(h []byte, nameLen int, path string) *group {
	if len(h) > 0 && len(rt.hosts) > 0 {
		if t := rt.hosts[string(h)]; t != nil {
			if g := t.find(path); g != nil {
				return g
			}
		}
		if nameLen < len(h) {
			if t := rt.hosts[string(h[:nameLen])]; t != nil {
				if g := t.find(path); g != nil {
					return g
				}
			}
		}
	}
	return rt.any.find(path)
}

// find returns the group of the exact path, else of the longest prefix
// that SegmentPrefix matches. It tries only the prefix lengths the table
// holds, so the work per request is bounded by the configuration, not by
// how many segments an attacker puts in the path.
func (t *table) find(path string) *group {
	if g := t.exact[path]; g != nil {
		return g
	}
	for _, n := range t.lengths {
		if n > len(path) {
			continue
		}
		if n < len(path) && path[n-1] != '/' && path[n] != '/' {
			continue
		}
		if g := t.prefix[path[:n]]; g != nil {
			return g
		}
	}
	return nil
}

// maxHostLen bounds a host[:port]: a 253-byte DNS name (RFC 1035 §2.3.4)
// and ":65535".
const maxHostLen = 253 + 6

// foldHost appends the lowercase form of host to dst and reports the
// length of its name part (without the port), or false when host is not
// a DNS name of LDH labels (RFC 1123 §2.1, at most 63 bytes each) or a
// bracketed IPv6 literal (RFC 3986 §3.2.2), optionally followed by ":"
// and a port 1–65535 without leading zeros. "" is valid and stays "".
// Non-ASCII names are refused: IDNA mapping is out of scope, and the
// xn-- form is ASCII.
func foldHost(dst []byte, host string) ([]byte, int, bool) {
	if len(host) > maxHostLen {
		return nil, 0, false
	}
	name, port := host, ""
	if len(host) > 0 && host[0] == '[' {
		end := 0
		for end < len(host) && host[end] != ']' {
			end++
		}
		if end == len(host) {
			return nil, 0, false
		}
		name, port = host[:end+1], host[end+1:]
		if !validIPv6Literal(name) {
			return nil, 0, false
		}
	} else {
		for i := len(host) - 1; i >= 0; i-- {
			if host[i] == ':' {
				name, port = host[:i], host[i:]
				break
			}
		}
		if host != "" && !validDNSName(name) {
			return nil, 0, false
		}
	}
	if port != "" && !validPort(port) {
		return nil, 0, false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, len(name), true
}

// validDNSName reports whether s is 1–253 bytes of dot-separated labels of
// letters, digits and inner hyphens, each 1–63 bytes, with no trailing dot.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 || s[i-1] == '-' {
				return false
			}
			label = 0
			continue
		case c == '-':
			if label == 0 {
				return false
			}
		case !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'):
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return label > 0 && s[len(s)-1] != '-'
}

// validIPv6Literal reports whether s is a bracketed IPv6 address without a
// zone, spelled in its RFC 5952 canonical form but for case: "[0:0::1]"
// names the host "[::1]" names, and like a trailing dot it would miss that
// host's routes and fall to the host-less ones, so it is refused.
func validIPv6Literal(s string) bool {
	if len(s) < 4 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	inner := s[1 : len(s)-1]
	for i := 0; i < len(inner); i++ {
		if c := inner[i]; c != ':' && c != '.' && !isHex(c) {
			return false // also keeps ParseAddr's allocating errors off the common refusals
		}
	}
	a, err := netip.ParseAddr(inner)
	if err != nil || !a.Is6() {
		return false
	}
	var buf [64]byte
	canon := a.AppendTo(buf[:0])
	if len(canon) != len(inner) {
		return false
	}
	for i := range canon {
		c := inner[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		if c != canon[i] {
			return false
		}
	}
	return true
}

// validPort reports whether p is ":" and a decimal 1–65535 without a
// leading zero.
func validPort(p string) bool {
	if len(p) < 2 || len(p) > 6 || p[0] != ':' || p[1] == '0' {
		return false
	}
	n := 0
	for i := 1; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}
