package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// The gateway's header contract with an upstream (issue 12, "Headers"):
//
//  1. StripInbound removes every inbound header that could claim an
//     identity, a client address, a scheme, a host or a path, in every
//     spelling, and removes those names from the Connection header.
//  2. Hop-by-hop headers are removed (httputil.ReverseProxy does this
//     before it calls Rewrite).
//  3. SetForwarded and SetIdentity set the gateway's own values.
//
// Step 3 must come after step 2: a header set before the hop-by-hop
// removal is dropped when a client lists its name in Connection (RFC 9110
// §7.6.1), which would let a client delete X-Rampart-Subject after the
// gateway set it. With httputil.ReverseProxy, all three run inside
// Rewrite (never Director, which runs before the removal), in this order.

// Names of the headers the gateway sets for the upstream, canonical form.
const (
	HeaderSubject   = "X-Rampart-Subject"
	HeaderClient    = "X-Rampart-Client"
	HeaderScopes    = "X-Rampart-Scopes"
	HeaderAssertion = "X-Rampart-Assertion"
	// HeaderPeerID is the SPIFFE ID of the client certificate the
	// gateway verified, on the routes with an mtls rule.
	HeaderPeerID = "X-Rampart-Peer-Id"

	headerXFF       = "X-Forwarded-For"
	headerXFProto   = "X-Forwarded-Proto"
	headerXFHost    = "X-Forwarded-Host"
	headerForwarded = "Forwarded"
	headerAuthz     = "Authorization"
)

// spoofPrefixes are the normalized name prefixes of header families that
// only the gateway may set. X-Rampart-* carries the identity; the whole
// X-Forwarded-* family (For, Proto, Host, Port, Prefix, Server, Ssl, Uri,
// Client-Ip, ...) is read by frameworks as client address, scheme, host or
// path; oauth2-proxy's X-Forwarded-Uri trust is GHSA-7x63-xv5r-3p2x.
var spoofPrefixes = [...]string{"x-rampart-", "x-forwarded-"}

// isSpoofName reports whether n is a normalized name removed exactly.
// Each one is read by a common stack as the client address, the scheme,
// or the request path, so a client that sets it can impersonate another
// address or make the upstream serve a path other than the one the
// gateway authorized. A switch, not a map: it is on every request's path.
func isSpoofName(n []byte) bool {
	switch string(n) {
	case "forwarded", // RFC 7239: for=, proto=, host=
		"x-forwarded", // the bare family name, read by some Rack and PHP stacks
		"x-rampart",   // the bare family name: only the gateway speaks it
		"x-real-ip":   // nginx realip module
		return true
	case "x-client-ip", // The client-IP family (OWASP WSTG-INPV "IP spoofing"
		"true-client-ip",           // headers; what Spring, Rails, PHP frameworks and CDNs
		"cf-connecting-ip",         // read as the client): Akamai / Cloudflare Enterprise,
		"x-cluster-client-ip",      // Cloudflare, Rackspace / Riverbed, GKE and
		"x-original-forwarded-for": // ingress-nginx chains.
		return true
	case "x-original-url", "x-rewrite-url", "x-original-uri":
		// Path overrides: IIS URL Rewrite, and Symfony's Request before
		// the CVE-2018-14773 fix, serve X-Original-URL / X-Rewrite-URL
		// instead of the request line, so a gateway that authorizes
		// /public would have the upstream serve /admin (OWASP WSTG-ATHZ-02,
		// "Bypassing Authorization Schema"); nginx auth_request setups read
		// X-Original-URI the same way. The gateway's canonical path is the
		// only path the upstream may act on.
		return true
	case "proxy-authorization":
		// Credentials addressed to the gateway itself (RFC 9110 §11.7.4);
		// never forwarded, whatever forward_authorization says.
		return true
	}
	return false
}

// nameBuf bounds the normalized form kept of a header name. The longest
// exact forbidden name, "x-original-forwarded-for", is 24 bytes; a longer
// name can only match by prefix, and the prefixes are 12 bytes at most.
const nameBuf = 32

// normName writes into buf the normal form of name's first nameBuf bytes
// and returns it with whether the whole name fitted. With classify's
// trimming first, the normal form is the one every stack behind the
// gateway could read the name as:
//
//   - surrounding bytes that are not ASCII letters or digits trimmed
//     (trimSeparators: '_', '.', '-', ...): lenient parsers drop them, and
//     no forbidden name starts or ends with one, so trimming them can
//     only make more names match;
//   - ASCII letters lowercased: field names are case-insensitive (RFC 9110
//     §5.1);
//   - every other byte that is not a letter or digit mapped to '-': CGI
//     (RFC 3875 §4.1.18) and the WSGI / PHP / Rack servers built on its
//     HTTP_* variables turn '-' into '_' and read X_Forwarded_For as
//     X-Forwarded-For (oauth2-proxy CVE-2025-64484); several (lighttpd,
//     PHP's variable naming) also fold '.' and other punctuation into '_',
//     so X.Forwarded.For is the same header there.
//
// It does not allocate.
func normName(buf *[nameBuf]byte, name string) ([]byte, bool) {
	n := min(len(name), nameBuf)
	for i := 0; i < n; i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		default:
			c = '-'
		}
		buf[i] = c
	}
	return buf[:n], n == len(name)
}

// nameKind is what StripInbound does with a header name.
type nameKind uint8

const (
	keepName       nameKind = iota // not the gateway's concern
	dropName                       // spoofable: removed in every spelling
	authzName                      // Authorization: kept only when forwarded, canonical key only
	connectionName                 // Connection: forbidden tokens removed from its list
)

// trimSeparators returns name without the bytes around it that are not
// ASCII letters or digits.
func trimSeparators(name string) string {
	i, j := 0, len(name)
	for i < j && !isAlnum(name[i]) {
		i++
	}
	for j > i && !isAlnum(name[j-1]) {
		j--
	}
	return name[i:j]
}

// classify returns what StripInbound does with a header named name. A
// name that is not an RFC 9110 §5.1 token (empty, or holding whitespace,
// controls, delimiters or non-ASCII bytes) is dropped: Go's server never
// stores one, no upstream can receive it as a field, and stacks that do
// not refuse it repair it in ways no filter can predict (trimming,
// Unicode case folding), so it is treated as the worst name it could be.
func classify(name string) nameKind {
	if !isToken(name) {
		return dropName
	}
	name = trimSeparators(name)
	if name == "" {
		return keepName
	}
	switch name[0] | 0x20 { // every forbidden name starts with one of these
	case 'x', 'f', 't', 'c', 'p', 'a':
	default:
		return keepName
	}
	var buf [nameBuf]byte
	b, whole := normName(&buf, name)
	for _, p := range spoofPrefixes {
		if len(b) >= len(p) && string(b[:len(p)]) == p {
			return dropName
		}
	}
	if !whole {
		return keepName
	}
	if isSpoofName(b) {
		return dropName
	}
	switch string(b) {
	case "authorization":
		return authzName
	case "connection":
		return connectionName
	}
	return keepName
}

// removes reports whether StripInbound removes a header key of kind k.
// With forwardAuthorization only the canonical "Authorization" key, the
// one Go's server stores and the gateway validated, is forwarded: another
// spelling set in the map would reach the upstream as a second, unchecked
// credential.
func removes(k nameKind, key string, forwardAuthorization bool) bool {
	switch k {
	case dropName:
		return true
	case authzName:
		return !forwardAuthorization || key != headerAuthz
	}
	return false
}

// StripInbound removes from h, in place, every header a client could use
// to spoof an identity, a client address, a scheme, a host or a path:
// X-Rampart-*, Forwarded, X-Forwarded-*, X-Real-IP, the client-IP family
// (X-Client-IP, True-Client-IP, CF-Connecting-IP, X-Cluster-Client-IP,
// X-Original-Forwarded-For), the path overrides X-Original-URL,
// X-Rewrite-URL and X-Original-URI, and Proxy-Authorization. Names match
// in every spelling normName folds together; a key set directly in the
// map that is not a valid field name (surrounding or inner whitespace,
// controls, non-ASCII) is removed whatever it spells. Authorization is
// removed unless forwardAuthorization, and then only its canonical key is
// kept. The names of removed headers are also removed from every
// Connection header's list (a Connection left empty is deleted), so that
// the hop-by-hop removal that follows cannot drop the gateway's own
// headers. Other headers are untouched. It allocates only when it
// rewrites a Connection header.
func StripInbound(h http.Header, forwardAuthorization bool) {
	for key, vals := range h {
		k := classify(key)
		switch {
		case removes(k, key, forwardAuthorization):
			delete(h, key)
		case k == connectionName:
			if kept, changed := filterConnection(vals, forwardAuthorization); !changed {
				continue
			} else if len(kept) == 0 {
				delete(h, key)
			} else {
				h[key] = kept
			}
		}
	}
}

// filterConnection returns vals without the connection options (RFC 9110
// §7.6.1: a comma-separated list of field names) that StripInbound
// removes, and whether anything was removed. It allocates only then.
func filterConnection(vals []string, forwardAuthorization bool) ([]string, bool) {
	if !connectionNamesRemoved(vals, forwardAuthorization) {
		return vals, false
	}
	var kept []string
	for _, v := range vals {
		var opts []string
		for opt := range strings.SplitSeq(v, ",") {
			opt = trimOWS(opt)
			if opt == "" || removes(classify(opt), opt, forwardAuthorization) {
				continue
			}
			opts = append(opts, opt)
		}
		if len(opts) > 0 {
			kept = append(kept, strings.Join(opts, ", "))
		}
	}
	return kept, true
}

// connectionNamesRemoved reports whether a Connection list in vals names a
// header StripInbound removes. It does not allocate.
func connectionNamesRemoved(vals []string, forwardAuthorization bool) bool {
	for _, v := range vals {
		for opt := range strings.SplitSeq(v, ",") {
			opt = trimOWS(opt)
			if opt != "" && removes(classify(opt), opt, forwardAuthorization) {
				return true
			}
		}
	}
	return false
}

// trimOWS returns s without surrounding RFC 9110 §5.6.3 OWS.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// errHeaderValue is wrapped by every refusal of a value the gateway would
// otherwise put in a header it sets.
var errHeaderValue = errors.New("gateway: invalid header value")

// SetForwarded sets X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host
// and Forwarded (RFC 7239) on h for a request from client (the one
// address httpx.ClientAddr resolved) with scheme proto ("http" or
// "https") and host (the Host the gateway received: a DNS name, an IPv4
// address or a bracketed IPv6 literal, with an optional port). Each is a
// single value, never appended to an inbound chain: StripInbound removed
// that chain, and the gateway is the only hop the upstream trusts. The
// client address is unmapped and loses any IPv6 zone. An empty host
// leaves the host parts out. Every input is checked before anything is
// set: an invalid address, scheme or host (any byte outside the RFC 3986
// reg-name unreserved set, a port that is not digits) returns an error
// and leaves h unchanged, so no value can inject a header, a list element
// or a Forwarded parameter.
func SetForwarded(h http.Header, client netip.Addr, proto, host string) error {
	if !client.IsValid() {
		return fmt.Errorf("%w: no client address", errHeaderValue)
	}
	if proto != "http" && proto != "https" {
		return fmt.Errorf("%w: forwarded proto must be http or https", errHeaderValue)
	}
	if host != "" && !validHost(host) {
		return fmt.Errorf("%w: forwarded host is not a host[:port]", errHeaderValue)
	}
	client = client.Unmap().WithZone("")
	addr := client.String()
	h[headerXFF] = []string{addr}
	h[headerXFProto] = []string{proto}
	fwd := "for=" + forwardedNode(client) + ";proto=" + proto
	if host == "" {
		delete(h, headerXFHost)
	} else {
		h[headerXFHost] = []string{host}
		fwd += ";host=" + forwardedValue(host)
	}
	h[headerForwarded] = []string{fwd}
	return nil
}

// forwardedNode is a's RFC 7239 §6 node: an IPv4 address is a token, an
// IPv6 one is bracketed and so must be a quoted-string (§4, §6.1).
func forwardedNode(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	return `"[` + a.String() + `]"`
}

// forwardedValue is s as an RFC 7239 §4 value: itself when it is a token
// (RFC 9110 §5.6.2), else a quoted-string. s passed validHost, so it holds
// no '"' or '\' that would need escaping.
func forwardedValue(s string) string {
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return `"` + s + `"`
		}
	}
	return s
}

// tchars marks the RFC 9110 §5.6.2 tchar bytes.
var tchars = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = isAlnum(byte(c)) || strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0
	}
	return t
}()

// isTchar reports whether c is an RFC 9110 §5.6.2 tchar.
func isTchar(c byte) bool { return tchars[c] }

// isToken reports whether s is an RFC 9110 §5.6.2 token: 1*tchar.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchars[s[i]] {
			return false
		}
	}
	return true
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// validHost reports whether s is host[:port] with host a reg-name of
// RFC 3986 unreserved characters (letters, digits, '-', '.', '_', '~'), an
// IPv4 address, or an IPv6 literal in brackets, and port 1-5 digits. It is
// stricter than what Go's server accepts in Host (sub-delims such as ','
// and ';' are refused): they have no place in a host the gateway routes
// on, and they are the delimiters of the Forwarded syntax.
func validHost(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		if a, err := netip.ParseAddr(s[1:end]); err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		host, port = "", s[end+1:]
		if port != "" && port[0] != ':' {
			return false
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i:]
		if host == "" {
			return false
		}
	}
	if port != "" {
		port = port[1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return false
		}
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !isAlnum(c) && c != '-' && c != '.' && c != '_' && c != '~' {
			return false
		}
	}
	return true
}

// SetIdentity sets the identity headers on h: X-Rampart-Subject,
// X-Rampart-Client and X-Rampart-Scopes (the scopes joined by single
// spaces, RFC 6749 §3.3) from the verified token, and
// X-Rampart-Assertion, the signed assertion an upstream verifies. An
// empty subject, client or scope list (an `auth: none` route) leaves its
// header out; the assertion is required. The values come from a token, so
// every one is checked before anything is set: a subject or client with a
// byte outside visible ASCII (CR, LF, NUL, space, DEL, non-ASCII; RFC 9110
// §5.5 VCHAR), a scope that is not an RFC 6749 scope-token, or an
// assertion that is not a JWS compact serialization (RFC 7515 §7.1)
// returns an error and leaves h unchanged.
func SetIdentity(h http.Header, subject, client string, scopes []string, assertion string) error {
	if !vchars(subject) {
		return fmt.Errorf("%w: subject is not visible ASCII", errHeaderValue)
	}
	if !vchars(client) {
		return fmt.Errorf("%w: client is not visible ASCII", errHeaderValue)
	}
	for _, s := range scopes {
		if s == "" || !scopeToken(s) {
			return fmt.Errorf("%w: scope is not an RFC 6749 scope-token", errHeaderValue)
		}
	}
	if !jwsCompact(assertion) {
		return fmt.Errorf("%w: assertion is not a compact JWS", errHeaderValue)
	}
	setOrDelete(h, HeaderSubject, subject)
	setOrDelete(h, HeaderClient, client)
	setOrDelete(h, HeaderScopes, strings.Join(scopes, " "))
	h[HeaderAssertion] = []string{assertion}
	return nil
}

// setOrDelete sets h[key] to the single value v, or deletes it when v is
// empty so that no empty identity header reaches the upstream.
func setOrDelete(h http.Header, key, v string) {
	if v == "" {
		delete(h, key)
		return
	}
	h[key] = []string{v}
}

// jwsCompact reports whether s has the shape of a JWS compact
// serialization (RFC 7515 §7.1): three non-empty base64url parts joined
// by '.'; an assertion is always signed, so the signature is not empty.
func jwsCompact(s string) bool {
	parts := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			if c := s[i]; !isAlnum(c) && c != '-' && c != '_' {
				return false
			}
			continue
		}
		if i == start {
			return false
		}
		parts++
		start = i + 1
	}
	return parts == 3
}
