package config

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds of the gateway keys.
const (
	// MaxRouteNameLen mirrors gateway.MaxRouteNameLen (config is a leaf
	// and does not import the gateway): a route name is one DNS label, so
	// it fits metric labels, audit fields and header values as is.
	MaxRouteNameLen = 63
	// MaxRouteUpstreams mirrors gateway.MaxUpstreams, the most upstreams a
	// shuffle-shard placement takes.
	MaxRouteUpstreams = 64
	// MaxRouteCost bounds a route's cost: one request taking more than a
	// thousand units of a limit is a misconfiguration, not a price.
	MaxRouteCost = 1000
	// MaxRouteBodyBytes bounds request.max_body_bytes, as http.max_body_bytes.
	MaxRouteBodyBytes = 64 << 20
)

// validateGateway checks the gateway section; nothing when there is none.
// Route-table checks that need every route at once (overlapping routes)
// and the matcher's own path, host and method syntax are gateway.Compile's
// (which the start-up preflight runs); this checks what is local to a key.
func (c *Config) validateGateway(bad func(string, string, ...any)) {
	g := c.Gateway
	if g == nil {
		return
	}
	lt := g.TLS
	switch lt.Mode {
	case TLSSPIFFE:
		lt.Mode = TLSAuto // the listen and cert_file checks of a TLS listener
	case TLSAuto, TLSFiles, TLSOff:
	default:
		bad("gateway.tls.mode", "%q is not a mode; use auto, files, off or spiffe (service mTLS with the gateway's SVID)", lt.Mode)
		lt.Mode = TLSAuto
	}
	validateListener("gateway", g.Listen, DefaultGatewayListen, lt, bad)
	validateGatewaySPIFFE(g, bad)
	if sameListenAddr(g.Listen, c.HTTP.Listen) {
		bad("gateway.listen", "%q is also http.listen (%q); the gateway needs its own address, like %s", g.Listen, c.HTTP.Listen, DefaultGatewayListen)
	}
	validateExternalURL(g, bad)
	checkClientIPHeader("gateway.client_ip_header", g.ClientIPHeader, bad)
	checkProxies("gateway.trusted_proxies", g.TrustedProxies, bad)
	if g.MaxHeaderBytes < 1<<10 || g.MaxHeaderBytes > 1<<20 {
		bad("gateway.max_header_bytes", "%d is out of range; use 1024 to 1048576 (32768 is the default)", g.MaxHeaderBytes)
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"gateway.read_header_timeout", g.ReadHeaderTimeout}, {"gateway.read_timeout", g.ReadTimeout},
		{"gateway.write_timeout", g.WriteTimeout}, {"gateway.idle_timeout", g.IdleTimeout},
	} {
		if d.v.D() <= 0 || d.v.D() > time.Hour {
			bad(d.key, "%s is out of range; use a positive duration up to 1h", d.v.D())
		}
	}
	checkSecurityHeaders("gateway.security_headers", g.SecurityHeaders, bad)
	if len(g.Routes) == 0 {
		bad("gateway.routes", "is empty, so the gateway would answer 404 to everything; add a route, or remove the gateway section to run no gateway")
	}
	names := make(map[string]int, len(g.Routes))
	for i := range g.Routes {
		validateRoute(g, i, names, bad)
	}
}

// validateExternalURL checks gateway.external_url: an origin, https or
// http on a loopback host (the issuer's rule, RFC 8414 §2 / RFC 8252
// §8.3), http only when the gateway itself speaks plain HTTP. Without one,
// the origin is derived from gateway.listen, which a wildcard address
// cannot give: every DPoP proof would then fail its htu check.
func validateExternalURL(g *Gateway, bad func(string, string, ...any)) {
	const key = "gateway.external_url"
	if g.ExternalURL == "" {
		host, _, err := net.SplitHostPort(g.Listen)
		ip := net.ParseIP(host)
		wild := err == nil && (host == "" || ip != nil && ip.IsUnspecified())
		if wild && slices.ContainsFunc(g.Routes, func(r GatewayRoute) bool { return r.Auth.Set && !r.Auth.None && r.Auth.Issuer != "" }) {
			bad(key, "cannot be derived from gateway.listen %q (a wildcard address); set the origin clients reach the gateway at, like https://api.example.com (DPoP proofs are checked against it)", g.Listen)
		}
		return
	}
	u, err := url.Parse(g.ExternalURL)
	switch {
	case err != nil || !u.IsAbs() || u.Hostname() == "" || u.Opaque != "":
		bad(key, "%q is not an absolute URL; write the origin, like https://api.example.com", redactURL(g.ExternalURL))
	case u.Scheme != "https" && u.Scheme != "http":
		bad(key, "%q must use https", redactURL(g.ExternalURL))
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		bad(key, "%q uses plain http on a host that is not loopback; use https", redactURL(g.ExternalURL))
	case u.Scheme == "http" && g.TLS.Mode != TLSOff:
		bad(key, "%q is http but gateway.tls.mode is %q, so the gateway speaks https; make it https://", redactURL(g.ExternalURL), g.TLS.Mode)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(g.ExternalURL, "#") || u.Path != "" && u.Path != "/":
		bad(key, "%q must be an origin only: scheme://host[:port], without path, query, fragment or user info", redactURL(g.ExternalURL))
	}
}

// validateRoute checks gateway.routes[i]; names holds the names seen so
// far and their index.
func validateRoute(g *Gateway, i int, names map[string]int, bad func(string, string, ...any)) {
	r := &g.Routes[i]
	key := fmt.Sprintf("gateway.routes[%d]", i)
	if !validRouteName(r.Name) {
		bad(key+".name", "%q is not a route name; use 1 to %d characters a-z, 0-9 and single dashes between them, like notes-read", r.Name, MaxRouteNameLen)
	} else {
		key = fmt.Sprintf("gateway.routes[%d] (%s)", i, r.Name)
		if first, dup := names[r.Name]; dup {
			bad(key+".name", "is also the name of gateway.routes[%d]; route names are unique (they label metrics and audit events)", first)
		} else {
			names[r.Name] = i
		}
	}
	validateMatch(key+".match", r.Match, bad)
	ups := validateUpstreams(key+".upstreams", r.Upstreams, bad)
	validateRouteAuth(key+".auth", g, r.Auth, bad)
	if r.Cost < 1 || r.Cost > MaxRouteCost {
		bad(key+".cost", "%d is out of range; use 1 to %d (what one request takes from each rate limit)", r.Cost, MaxRouteCost)
	}
	validateRouteLimits(key, r, bad)
	validateRouteRequest(key+".request", r.Request, bad)
	validateUpstreamRate(key+".upstream_rate", r.UpstreamRate, bad)
	validateShard(key+".shuffle_shard", r, bad)
	validateUpstreamTLS(key+".upstream_tls", r.UpstreamTLS, ups, bad)
	validateUpstreamSPIFFE(key+".upstream_tls", g, r.UpstreamTLS, bad)
	validateHealthCheck(key+".health_check", r.HealthCheck, bad)
	validateRouteTimeout(key, r, g.WriteTimeout.D(), bad)
	checkSecurityHeaders(key+".security_headers", r.SecurityHeaders, bad)
	if r.ForwardAuthorization {
		for j, u := range ups {
			if u != nil && u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
				// A bearer token read in transit is a token stolen (RFC 6750 §5.3:
				// always protect it with TLS).
				bad(key+".forward_authorization", "would send the client's token to upstreams[%d] %q over plain http off loopback, where anyone on the network path could read and replay it; use an https upstream or keep forward_authorization false", j, u.Redacted())
				break
			}
		}
	}
}

// validRouteName is gateway.Compile's rule: ^[a-z0-9]+(-[a-z0-9]+)*$, at
// most MaxRouteNameLen bytes. Rate-limit names follow it too.
func validRouteName(name string) bool {
	if name == "" || len(name) > MaxRouteNameLen || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' && name[i-1] != '-') {
			return false
		}
	}
	return true
}

// validateMatch checks the keys of one match block; the matcher checks the
// rest (canonical paths, host syntax) when it compiles the table.
func validateMatch(key string, m RouteMatch, bad func(string, string, ...any)) {
	switch {
	case m.Path != "" && m.PathPrefix != "":
		bad(key, "sets both path and path_prefix; set exactly one: path for one exact path, path_prefix for a segment-aware prefix")
	case m.Path == "" && m.PathPrefix == "":
		bad(key, "needs path (one exact path) or path_prefix (a segment-aware prefix), like path_prefix: /api/notes")
	case m.Path != "" && !strings.HasPrefix(m.Path, "/"):
		bad(key+".path", "%q must start with /", m.Path)
	case m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, "/"):
		bad(key+".path_prefix", "%q must start with /", m.PathPrefix)
	}
	if len(m.Methods) == 0 {
		// An empty list meaning "every method" would serve DELETE on a
		// route written with reads in mind (deny by default).
		bad(key+".methods", "is empty; list the methods the route serves, like [GET] (no list means no method, not every method)")
	}
	for j, meth := range m.Methods {
		switch {
		case !isUpperToken(meth):
			bad(fmt.Sprintf("%s.methods[%d]", key, j), "%q is not a method; methods are case-sensitive uppercase tokens (RFC 9110 §9.1), like GET", meth)
		case slices.Index(m.Methods, meth) < j:
			bad(fmt.Sprintf("%s.methods[%d]", key, j), "lists %s twice", meth)
		}
	}
}

// isUpperToken reports whether s is an RFC 9110 §5.6.2 token without
// lowercase letters.
func isUpperToken(s string) bool {
	return isToken(s) && strings.ToUpper(s) == s
}

// isToken reports whether s is an RFC 9110 §5.6.2 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// isTokenChar reports whether c is an RFC 9110 §5.6.2 tchar.
func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validateUpstreams checks a route's upstream URLs and returns them parsed,
// index for index, nil where one is refused.
func validateUpstreams(key string, list []string, bad func(string, string, ...any)) []*url.URL {
	switch {
	case len(list) == 0:
		bad(key, "is empty; list at least one upstream URL, like [http://127.0.0.1:9001]")
	case len(list) > MaxRouteUpstreams:
		bad(key, "lists %d upstreams; a route takes at most %d", len(list), MaxRouteUpstreams)
	}
	out := make([]*url.URL, len(list))
	seen := make(map[string]int, len(list))
	for j, s := range list {
		u, err := parseUpstream(s)
		if err != nil {
			bad(fmt.Sprintf("%s[%d]", key, j), "%q %v", redactURL(s), err)
			continue
		}
		id := upstreamIdentity(u)
		if first, dup := seen[id]; dup {
			bad(fmt.Sprintf("%s[%d]", key, j), "%q is the same upstream as %s[%d]; list each once", redactURL(s), key, first)
			continue
		}
		seen[id] = j
		out[j] = u
	}
	return out
}

// parseUpstream accepts http(s)://host[:port][/base-path]. No user info
// (credentials would end up in logs and metrics; the gateway sends the
// identity itself), no query or fragment (the request's own are sent), and
// a clean, unescaped base path, so the path the upstream sees is the
// canonical request path under a prefix that means what it says.
func parseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "":
		return nil, fmt.Errorf("is not an absolute URL; write it like http://127.0.0.1:9001")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("must be an http:// or https:// URL")
	case u.Hostname() == "":
		return nil, fmt.Errorf("has no host")
	case u.User != nil:
		return nil, fmt.Errorf("must not carry user info; the gateway identifies the caller with X-Rampart-Assertion")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return nil, fmt.Errorf("must not have a query or a fragment")
	case u.RawPath != "" || strings.Contains(u.Path, "%"):
		return nil, fmt.Errorf("must not hold percent-encoded characters in its path")
	case u.Path != "" && u.Path != "/" && path.Clean(u.Path) != strings.TrimSuffix(u.Path, "/"):
		return nil, fmt.Errorf("has a base path that is not clean; write it like %s", path.Clean(u.Path))
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("has an invalid port; use 1 to 65535")
		}
	}
	return u, nil
}

// redactURL is s with a password in its user info masked, for messages:
// a URL in the file may carry one by mistake, and a message repeating it
// would put it in logs and CI output.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// upstreamIdentity is the form two spellings of one upstream share: the
// host in lowercase, the scheme's default port dropped, no trailing slash.
func upstreamIdentity(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if p := u.Port(); p != "" && !(u.Scheme == "http" && p == "80" || u.Scheme == "https" && p == "443") {
		host = net.JoinHostPort(host, p)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return u.Scheme + "://" + host + strings.TrimSuffix(u.Path, "/")
}

// sameListenAddr reports whether two listen addresses would take the same
// socket: the same port on the same host, or on a wildcard address, or
// localhost beside a loopback address. Port 0 (picked by the OS) never
// clashes.
func sameListenAddr(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool {
		ip := net.ParseIP(h)
		return h == "" || ip != nil && ip.IsUnspecified()
	}
	local := func(h string) bool { return strings.EqualFold(h, "localhost") }
	return strings.EqualFold(ha, hb) || wild(ha) || wild(hb) ||
		local(ha) && isLoopbackHost(hb) || local(hb) && isLoopbackHost(ha)
}
