package gateway

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
// method is such a request. (OWASP's REST Security Cheat Sheet has an API
// answer 405; that suits a service whose route map is public, which the
// services behind a gateway need not be.)
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
// The host is the authority the request names, as the caller extracted
// it: the absolute-form target's authority when there is one, else the
// Host header (RFC 9112 §3.2.2 has the target win), e.g. r.Host in
// net/http. Match compares it case-insensitively (RFC 9110 §4.2.3) and
// answers BadHost for anything but an ASCII hostname (IDNA names in their
// xn-- form) or an RFC 5952 [IPv6] literal, with an optional port; that
// refuses userinfo ("user@host"), escapes, spaces and NUL. A trailing dot
// ("notes.example.") names the same host (RFC 1034 §3.1), as does a
// non-canonical IPv6 spelling, yet either would miss that host's routes
// and fall to the host-less ones, so both are refused rather than
// repaired. An empty host (a request without one) matches host-less
// routes only.
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
// that SegmentPrefix matches. It walks the path's lengths from the longest
// prefix configured down, and looks a prefix up only where one of that
// length exists and the path has a segment boundary, so the work per
// request is bounded by the configuration's longest prefix, not by the
// path's length or how many segments an attacker puts in it.
func (t *table) find(path string) *group {
	if g := t.exact[path]; g != nil {
		return g
	}
	for n := min(len(path), len(t.isLen)-1); n > 0; n-- {
		if !t.isLen[n] || n < len(path) && path[n-1] != '/' && path[n] != '/' {
			continue
		}
		if g := t.prefix[path[:n]]; g != nil {
			return g
		}
	}
	return nil
}
