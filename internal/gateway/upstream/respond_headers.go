package upstream

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"github.com/rampart-auth/rampart/internal/httpx"
)

// SecurityHeaders maps a response header's name to the value the gateway
// sets on every response of a route. In an override (With), the value ""
// removes that default.
type SecurityHeaders map[string]string

// DefaultSecurityHeaders returns the gateway's defaults (OWASP HTTP
// Headers Cheat Sheet), for a listener that serves TLS when tls is true:
//
//   - X-Content-Type-Options: nosniff — no content sniffing, so an API's
//     JSON with user text never runs as HTML or script;
//   - Referrer-Policy: no-referrer — URLs never leak through Referer;
//   - X-Frame-Options: DENY (RFC 7034) and Content-Security-Policy
//     httpx.DefaultCSP — an API default that loads nothing and denies
//     framing ("default-src 'none'; frame-ancestors 'none'" plus
//     base-uri and form-action 'none', which do not fall back to
//     default-src; CSP Level 3 §6);
//   - Cross-Origin-Resource-Policy: same-origin — other sites cannot embed
//     the responses (Spectre-class side channels; Fetch §3.7);
//   - Strict-Transport-Security: httpx.HSTS, only when tls: RFC 6797 §7.2
//     forbids it over plain HTTP.
func DefaultSecurityHeaders(tls bool) SecurityHeaders {
	s := SecurityHeaders{
		"X-Content-Type-Options":       "nosniff",
		"Referrer-Policy":              "no-referrer",
		"X-Frame-Options":              "DENY",
		"Content-Security-Policy":      httpx.DefaultCSP,
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	if tls {
		s["Strict-Transport-Security"] = httpx.HSTS
	}
	return s
}

// With returns a new set: s with overrides merged over it (names compared
// case-insensitively); an override "" removes the header from the set, so
// the gateway leaves an upstream's own value (or its absence) alone.
func (s SecurityHeaders) With(overrides SecurityHeaders) SecurityHeaders {
	out := make(SecurityHeaders, len(s)+len(overrides))
	for k, v := range s {
		out[textproto.CanonicalMIMEHeaderKey(k)] = v
	}
	for k, v := range overrides {
		out[textproto.CanonicalMIMEHeaderKey(k)] = v
	}
	return out
}

// framingHeaders may not be security headers: setting them would change
// how the response is framed or routed (response splitting and desync
// are the failures).
var framingHeaders = []string{
	"Connection", "Content-Encoding", "Content-Length", "Content-Type", "Host", "Keep-Alive",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// Validate reports entries that are not usable header fields: a name
// that is not an RFC 9110 §5.6.2 token, a value with control or
// non-ASCII characters (§5.5), or a framing header.
func (s SecurityHeaders) Validate() error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(s)) {
		if err := checkHeader(k, s[k]); err != nil {
			errs = append(errs, fmt.Errorf("upstream: security header %q: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

func checkHeader(name, value string) error {
	if !token(name) {
		return errors.New("the name must be a token (letters, digits, and !#$%&'*+-.^_`|~)")
	}
	if slices.Contains(framingHeaders, textproto.CanonicalMIMEHeaderKey(name)) {
		return errors.New("a framing header cannot be set as a security header")
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c >= 0x7f {
			return errors.New("the value may hold only visible ASCII, spaces and tabs")
		}
	}
	return nil
}

// token reports whether s is a non-empty RFC 9110 §5.6.2 token.
func token(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tchar(s[i]) {
			return false
		}
	}
	return s != ""
}

// tchar reports whether c is an RFC 9110 §5.6.2 token character.
func tchar(c byte) bool {
	return unreserved(c) || strings.IndexByte("!#$%&'*+^`|", c) >= 0
}

// headerSet is a compiled SecurityHeaders: canonical names and values in
// name order, "" values and invalid entries left out.
type headerSet struct {
	names, values []string
}

func compileHeaders(s SecurityHeaders) headerSet {
	var hs headerSet
	c := s.With(nil)
	for _, k := range slices.Sorted(maps.Keys(c)) {
		if v := c[k]; v != "" && checkHeader(k, v) == nil {
			hs.names = append(hs.names, k)
			hs.values = append(hs.values, v)
		}
	}
	return hs
}

// apply sets every header of hs on h, replacing what was there: the
// gateway's value wins over an upstream's, since the route's
// configuration, not each service, decides what browsers are told. One
// allocation backs all values; each gets a full slice (len == cap), so a
// later Add copies rather than writing into its neighbour.
func (hs headerSet) apply(h http.Header) {
	if len(hs.names) == 0 {
		return
	}
	v := make([]string, len(hs.values))
	copy(v, hs.values)
	for i, k := range hs.names {
		h[k] = v[i : i+1 : i+1]
	}
}

// identifyingHeaders are removed from every upstream response: they name
// the upstream's software, version, framework or hosts, which only helps
// an attacker pick an exploit (OWASP HTTP Headers Cheat Sheet, "Server",
// "X-Powered-By"; OWASP WSTG-INFO-02). Any X-Debug-* header goes too
// (Symfony's X-Debug-Token-Link points at a profiler).
//
// Via goes as well: an upstream's Via lists its own proxies and their
// versions ("1.1 varnish (Varnish/6.0)"), and RFC 9110 §7.6.3 lets a
// gateway omit Via in the responses it forwards.
var identifyingHeaders = []string{
	"Server", "X-Powered-By", "X-Aspnet-Version", "X-Aspnetmvc-Version", "X-Runtime",
	"X-Generator", "X-Backend-Server", "X-Server", "Via",
}

// stripIdentifying deletes identifyingHeaders and X-Debug-* from h.
func stripIdentifying(h http.Header) {
	for _, k := range identifyingHeaders {
		delete(h, k)
	}
	for k := range h {
		if len(k) >= len("X-Debug-") && strings.EqualFold(k[:len("X-Debug-")], "X-Debug-") {
			delete(h, k)
		}
	}
}
