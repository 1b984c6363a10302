package config

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-auth/rampart/ratelimit"
)

// registeredClaims are the claims the verifier and the rest of the route
// rule already decide (issuer, audience, lifetimes, replay, scopes, DPoP
// binding): an exact-value rule on them would fight those checks.
var registeredClaims = []string{"iss", "aud", "exp", "nbf", "iat", "jti", "scope", "cnf"}

// validateRouteAuth checks a route's auth rule.
func validateRouteAuth(key string, g *Gateway, a RouteAuth, bad func(string, string, ...any)) {
	switch {
	case !a.Set:
		// Deny by default (DESIGN principle 3, issue 12): no route is
		// served without authentication unless the file says so in words.
		bad(key, "missing; every route states its authentication: a mapping {issuer: self, audience: [...]}, {mtls: {allow: [...]}}, or `none` to serve it without one")
		return
	case a.None:
		return
	}
	validateRouteMTLS(key, g, a, bad)
	if a.MTLSOnly() {
		validateMTLSOnly(key, a, bad)
		return
	}
	switch {
	case a.Issuer == "":
		bad(key+".issuer", "is required: self (this Rampart) or the https URL of another issuer (or write only mtls: {allow: [...]} for a route that SPIFFE IDs alone may call)")
	case a.Issuer != AuthIssuerSelf:
		if err := checkIssuerURL(a.Issuer); err != nil {
			bad(key+".issuer", "%q %v", redactURL(a.Issuer), err)
		}
	}
	if len(a.Audience) == 0 {
		// A token minted for another API must not pass here (RFC 9068 §4,
		// RFC 8725 §3.9).
		bad(key+".audience", "is required; list the audience the tokens must carry, like [https://notes.example.test]")
	}
	for j, aud := range a.Audience {
		if err := CheckAudience(aud); err != nil {
			bad(fmt.Sprintf("%s.audience[%d]", key, j), "%q: %v", aud, err)
		}
	}
	for j, sc := range a.Scopes {
		if !ValidScopeToken(sc) {
			bad(fmt.Sprintf("%s.scopes[%d]", key, j), "%q is not a scope (RFC 6749 §3.3: 1 to 128 printable ASCII characters without space, quote or backslash)", sc)
		}
	}
	for _, name := range sortedNames(a.Claims) {
		k := key + ".claims." + name
		switch {
		case !validClaimName(name):
			bad(k, "is not a claim name; use 1 to 64 visible ASCII characters")
		case slices.Contains(registeredClaims, name):
			bad(k, "%s is checked by the verifier and the route's other keys (issuer, audience, scopes, dpop); claims is for other claims, like tenant", name)
		case a.Claims[name] == "":
			bad(k, "has an empty value; write the exact value the claim must have")
		}
	}
	switch a.DPoP {
	case DPoPOptional, DPoPRequired:
	default:
		bad(key+".dpop", "%q is not a DPoP mode; use optional (bearer or DPoP tokens) or required (DPoP-bound tokens only, RFC 9449)", a.DPoP)
	}
}

// checkIssuerURL is the issuer rule of jwtauth's discovery: https, or http
// on a loopback host (RFC 8414 §2; anything else in clear text lets a
// network attacker substitute the keys), no user info, query or fragment.
func checkIssuerURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Hostname() == "" || u.Opaque != "":
		return errors.New("is not an issuer; write self or an https URL like https://login.example.com")
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		return errors.New("uses plain http on a host that is not loopback; use https (its keys would come over clear text)")
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("must use https")
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New("must not carry user info, a query or a fragment (RFC 8414 §2)")
	}
	return nil
}

// validClaimName: a JSON member name of 1 to 64 visible ASCII characters,
// so it is one token in keys, logs and metric labels.
func validClaimName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7E {
			return false
		}
	}
	return true
}

// validateRouteLimits checks a route's rate limits through the ratelimit
// package's own Limit.Validate, so the file and the limiter can never
// disagree on what is a valid limit.
func validateRouteLimits(key string, r *GatewayRoute, bad func(string, string, ...any)) {
	if len(r.RateLimits) > ratelimit.MaxLimits {
		bad(key+".rate_limits", "lists %d limits; a route composes at most %d", len(r.RateLimits), ratelimit.MaxLimits)
	}
	for j, l := range r.RateLimits {
		k := fmt.Sprintf("%s.rate_limits[%d]", key, j)
		if !validRouteName(l.Name) {
			bad(k+".name", "%q is not a limit name; use a-z, 0-9 and single dashes, like per-user", l.Name)
		} else if slices.IndexFunc(r.RateLimits[:j], func(o RouteLimit) bool { return o.Name == l.Name }) >= 0 {
			bad(k+".name", "%s is used twice in this route; a limit's name labels its RateLimit header and metrics", l.Name)
		}
		checkRouteKey(k+".key", l.Key, r.Auth, bad)
		ok := true
		if l.Rate < 1 {
			bad(k+".rate", "%d is out of range; use at least 1 (requests per period)", l.Rate)
			ok = false
		}
		if p := l.Period.D(); p < time.Second || p > 24*time.Hour {
			bad(k+".period", "%s is out of range; use 1s to 24h", p)
			ok = false
		}
		if l.Burst < 1 {
			bad(k+".burst", "%d is out of range; use at least 1 (it defaults to the rate)", l.Burst)
			ok = false
		}
		if !ok {
			continue
		}
		lim := ratelimit.Limit{Name: l.Name, Rate: l.Rate, Period: l.Period.D(), Burst: l.Burst}
		for _, err := range unjoinErr(lim.Validate()) {
			bad(k, "%s", strings.TrimPrefix(err.Error(), "ratelimit: "))
		}
		if r.Cost > l.Burst {
			bad(key+".cost", "%d is more than rate_limits[%d].burst %d, so every request would be refused; lower the cost or raise the burst", r.Cost, j, l.Burst)
		}
	}
}

// checkRouteKey checks what a limit or a shard is counted by: subject,
// client_id and claim:NAME come from the verified token, so they need an
// authenticated route; client_ip is the one address the listener resolved.
func checkRouteKey(key, v string, auth RouteAuth, bad func(string, string, ...any)) {
	fromToken := true
	switch v {
	case RouteKeySubject, RouteKeyClientID:
	case RouteKeyClientIP:
		fromToken = false
	case "":
		bad(key, "is required: subject, client_ip, client_id or claim:NAME")
		return
	default:
		name, ok := RouteKeyClaim(v)
		if !ok {
			bad(key, "%q is not a key; use subject, client_ip, client_id or claim:NAME", v)
			return
		}
		if !validClaimName(name) {
			bad(key, "%q: the claim name must be 1 to 64 visible ASCII characters", v)
			return
		}
	}
	switch {
	case fromToken && auth.None:
		bad(key, "%s comes from the token, but this route is auth: none; count a public route by client_ip", v)
	case fromToken && auth.MTLSOnly() && v != RouteKeySubject:
		// On an mTLS-only route the subject is the peer's SPIFFE ID; no
		// token carries a client id or claims.
		bad(key, "%s comes from a token, but this route is mTLS-only; count it by subject (the peer's SPIFFE ID) or client_ip", v)
	}
}

// unjoinErr splits an errors.Join result into its errors.
func unjoinErr(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// sortedNames returns the keys of m in order, so every report lists the
// problems of a mapping in the same order.
func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// validateRouteRequest checks a route's input rules.
//
// json_schema and sanitize_html read the body as JSON. A route with either
// admits only JSON media types, and sanitize_html needs JSON bodies for
// sure: json_schema (every body is then parsed and validated as one JSON
// document, whatever its declared type) or content_types limited to JSON.
// Otherwise a payload declared as another type would meet one of two
// readings (the gateway's or the upstream's) that disagree: a
// parser-differential gap (OWASP Input Validation Cheat Sheet).
func validateRouteRequest(key string, q RouteRequest, bad func(string, string, ...any)) {
	if q.MaxBodyBytes < 1 || q.MaxBodyBytes > MaxRouteBodyBytes {
		bad(key+".max_body_bytes", "%d is out of range; use 1 to %d (the default is %d)", q.MaxBodyBytes, MaxRouteBodyBytes, DefaultRouteMaxBodyBytes)
	}
	nonJSON := ""
	for j, ct := range q.ContentTypes {
		k := fmt.Sprintf("%s.content_types[%d]", key, j)
		mt, err := checkMediaType(ct)
		if err != nil {
			bad(k, "%q %v", ct, err)
			continue
		}
		if slices.IndexFunc(q.ContentTypes[:j], func(o string) bool { return strings.EqualFold(o, ct) }) >= 0 {
			bad(k, "lists %s twice", ct)
		}
		if !isJSONMediaType(mt) && nonJSON == "" {
			nonJSON = ct
		}
	}
	if nonJSON != "" && (q.JSONSchema != "" || len(q.SanitizeHTML) > 0) {
		bad(key+".content_types", "admits %s, but json_schema and sanitize_html read every body as JSON; list only JSON media types (application/json, application/*+json)", nonJSON)
	}
	if len(q.SanitizeHTML) > 0 && q.JSONSchema == "" && len(q.ContentTypes) == 0 {
		bad(key+".sanitize_html", "needs JSON bodies: set json_schema, or content_types: [application/json]")
	}
	for j, p := range q.SanitizeHTML {
		k := fmt.Sprintf("%s.sanitize_html[%d]", key, j)
		if err := checkJSONPointer(p); err != nil {
			bad(k, "%q %v", p, err)
		} else if slices.Index(q.SanitizeHTML[:j], p) >= 0 {
			bad(k, "lists %s twice", p)
		}
	}
}

// checkMediaType accepts type/subtype without parameters (they are
// ignored when matching) or wildcards (list each type), and returns it in
// lowercase.
func checkMediaType(ct string) (string, error) {
	mt, params, err := mime.ParseMediaType(ct)
	switch {
	case err != nil || !strings.Contains(mt, "/"):
		return "", errors.New("is not a media type; write type/subtype, like application/json")
	case len(params) > 0 || strings.Contains(ct, ";"):
		return "", errors.New("has parameters; write the type alone (parameters such as charset are ignored when matching)")
	case strings.Contains(mt, "*"):
		return "", errors.New("is a wildcard; list each media type the route accepts")
	}
	return mt, nil
}

// isJSONMediaType: application/json or a +json structured syntax suffix
// (RFC 6839 §3.1).
func isJSONMediaType(mt string) bool {
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// checkJSONPointer checks an RFC 6901 pointer to a member: it starts with
// "/", and "~" appears only as ~0 or ~1 (§3).
func checkJSONPointer(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return errors.New("is not a JSON pointer; it starts with /, like /body (RFC 6901)")
	case len(p) > 1024 || !utf8.ValidString(p):
		return errors.New("is not a JSON pointer of at most 1024 bytes of UTF-8")
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '~' && (i+1 == len(p) || p[i+1] != '0' && p[i+1] != '1') {
			return errors.New("has a ~ that is not ~0 (for ~) or ~1 (for /) (RFC 6901 §3)")
		}
	}
	return nil
}

// validateUpstreamRate checks the shaper to the upstreams, finally through
// ratelimit.NewShaper itself, so the file and the shaper cannot disagree.
func validateUpstreamRate(key string, u *UpstreamRate, bad func(string, string, ...any)) {
	if u == nil {
		return
	}
	ok := true
	if u.Rate < 1 || u.Rate > 1e9 {
		bad(key+".rate", "%d is out of range; use 1 to 1e9 (requests per period)", u.Rate)
		ok = false
	}
	if p := u.Period.D(); p < time.Millisecond || p > 24*time.Hour {
		bad(key+".period", "%s is out of range; use 1ms to 24h", p)
		ok = false
	}
	if d := u.MaxDelay.D(); d < time.Millisecond || d > time.Minute {
		bad(key+".max_delay", "%s is out of range; use 1ms to 1m (how long a request may queue for its turn)", d)
		ok = false
	}
	if !ok {
		return
	}
	_, err := ratelimit.NewShaper(ratelimit.ShaperOptions{Rate: u.Rate, Period: u.Period.D(), MaxDelay: u.MaxDelay.D()})
	if err != nil {
		bad(key, "rate %d per %s is not a shaper (%s); lower the rate or lengthen the period", u.Rate, u.Period.D(), strings.TrimPrefix(err.Error(), "ratelimit: "))
	}
}

// validateShard checks shuffle_shard. A size equal to the number of
// upstreams is accepted with a notice (Notices): it isolates nothing yet,
// but the issue's own example does it, and placements stay stable as
// upstreams are added, which is when the shard starts to isolate.
func validateShard(key string, r *GatewayRoute, bad func(string, string, ...any)) {
	s := r.ShuffleShard
	if s == nil {
		return
	}
	checkRouteKey(key+".key", s.Key, r.Auth, bad)
	if n := len(r.Upstreams); s.Size < 1 || n > 0 && s.Size > n {
		bad(key+".size", "%d is out of range; use 1 to the number of upstreams (%d): each tenant is served by that many of them (2 of 8 gives 28 distinct shards)", s.Size, n)
	}
}

// gatewayNotices: a shuffle shard as large as the upstream list is valid
// but isolates no tenant yet.
func (c *Config) gatewayNotices() []string {
	if c.Gateway == nil {
		return nil
	}
	var out []string
	for i, r := range c.Gateway.Routes {
		if s := r.ShuffleShard; s != nil && s.Size > 0 && s.Size == len(r.Upstreams) {
			out = append(out, fmt.Sprintf("gateway.routes[%d] (%s).shuffle_shard: size %d is every upstream, so every tenant shares all of them and none is isolated yet; "+
				"add upstreams (2 of 8 gives each tenant one of 28 shards) or lower the size", i, r.Name, s.Size))
		}
	}
	return out
}

// validateUpstreamTLS checks upstream_tls; ups are the parsed upstreams.
func validateUpstreamTLS(key string, t UpstreamTLS, ups []*url.URL, bad func(string, string, ...any)) {
	if t == (UpstreamTLS{}) {
		return
	}
	for j, u := range ups {
		if u != nil && u.Scheme != "https" {
			bad(key, "applies to https upstreams, but upstreams[%d] is %s; use https:// upstreams or remove upstream_tls", j, u.Redacted())
			break
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		bad(key, "cert_file and key_file go together: the client certificate and its private key")
	}
	if t.ServerName != "" && !validServerName(t.ServerName) {
		bad(key+".server_name", "%q is not a host name; write the name in the upstream's certificate, without scheme or port", t.ServerName)
	}
}

// validServerName: a DNS name of letters, digits, dashes and dots (at most
// 253 bytes, labels of 1 to 63) or an IP address.
func validServerName(s string) bool {
	if net.ParseIP(s) != nil {
		return true
	}
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// validateHealthCheck checks health_check; its durations are defaulted
// even when path is empty (passive checks only).
func validateHealthCheck(key string, h HealthCheck, bad func(string, string, ...any)) {
	if h.Path != "" && (!strings.HasPrefix(h.Path, "/") || len(h.Path) > 1024 ||
		strings.IndexFunc(h.Path, func(r rune) bool { return r <= 0x20 || r == 0x7F || r == '#' || r >= 0x80 }) >= 0) {
		bad(key+".path", "%q is not a path; write it like /healthz (at most 1024 visible ASCII characters, no fragment)", h.Path)
	}
	iv, to := h.Interval.D(), h.Timeout.D()
	if iv < time.Second || iv > time.Hour {
		bad(key+".interval", "%s is out of range; use 1s to 1h", iv)
	}
	if to < time.Millisecond || to >= iv && iv >= time.Second {
		bad(key+".timeout", "%s is out of range; use 1ms up to less than the interval (%s)", to, iv)
	}
}

// validateRouteTimeout checks the upstream timeout, and that the gateway's
// write timeout leaves it room: the server would cut the connection before
// the upstream's timeout could answer with a clean 504.
func validateRouteTimeout(key string, r *GatewayRoute, write time.Duration, bad func(string, string, ...any)) {
	t := r.Timeout.D()
	if t < time.Second || t > 5*time.Minute {
		bad(key+".timeout", "%s is out of range; use 1s to 5m", t)
		return
	}
	wait := t
	if r.UpstreamRate != nil {
		wait += r.UpstreamRate.MaxDelay.D()
	}
	if write > 0 && wait > write {
		bad(key+".timeout", "%s (with upstream_rate.max_delay) is longer than gateway.write_timeout %s, which would cut the response first; raise gateway.write_timeout or lower the timeout", wait, write)
	}
}

// reservedResponseHeaders frame the message or the connection (RFC 9110
// §7.6.1, RFC 9112 §6) or carry state: a fixed value for every response
// would break responses or fix one cookie on every client.
var reservedResponseHeaders = []string{
	"connection", "content-encoding", "content-length", "content-type", "keep-alive",
	"proxy-connection", "set-cookie", "te", "trailer", "transfer-encoding", "upgrade",
}

// checkSecurityHeaders checks security_headers: field names (RFC 9110
// §5.1), one spelling per name (two spellings of one header would have the
// random map order decide), and values without control characters, which
// would split the header (RFC 9110 §5.5).
func checkSecurityHeaders(key string, m map[string]string, bad func(string, string, ...any)) {
	seen := make(map[string]string, len(m))
	for _, name := range sortedNames(m) {
		k := key + "." + name
		lower := strings.ToLower(name)
		switch {
		case !isToken(name):
			bad(k, "is not a header name (RFC 9110 §5.1)")
			continue
		case slices.Contains(reservedResponseHeaders, lower):
			bad(k, "is not a security header the gateway may set on every response")
		case seen[lower] != "":
			bad(k, "is also written %s; keep one spelling", seen[lower])
		}
		seen[lower] = name
		v := m[name]
		if len(v) > 4096 || strings.IndexFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7F }) >= 0 {
			bad(k, "has a value with control characters or over 4096 bytes")
		}
	}
}
