package ratelimit

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/rampart-auth/rampart/jwtauth"
)

// KeyFunc extracts a limit's key from a request. An empty key skips the
// limit for that request (a per-user limit does not apply to an anonymous
// request).
type KeyFunc func(r *http.Request) string

// ClientIP returns the client address of r. X-Forwarded-For and Forwarded
// (RFC 7239) are honoured only when the direct peer is in trusted: the
// list is then walked from the right (the entry the nearest proxy
// appended) past trusted proxies, and the first untrusted address is the
// client. Entries a client wrote itself (to the left) are never believed,
// so spoofing the header from outside changes nothing. An unparsable
// header yields the peer address.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := addrOf(r.RemoteAddr)
	if !peer.IsValid() || !inPrefixes(peer, trusted) {
		return peer
	}
	var hops []string
	if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		hops = forwardedFor(fwd)
	} else {
		for _, v := range r.Header.Values("X-Forwarded-For") {
			for _, h := range strings.Split(v, ",") {
				hops = append(hops, strings.TrimSpace(h))
			}
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a := addrOf(hops[i])
		if !a.IsValid() {
			return client // garbage: stop at the last address we could trust
		}
		client = a
		if !inPrefixes(a, trusted) {
			return a
		}
	}
	return client
}

// forwardedFor extracts the for= values of RFC 7239 Forwarded headers.
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				val = strings.Trim(val, `"`)
				out = append(out, val)
			}
		}
	}
	return out
}

// addrOf parses "ip", "ip:port", "[ipv6]:port" or "[ipv6]".
func addrOf(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIPKey keys a limit by client address (see ClientIP). IPv6 clients
// are grouped by their /64, the smallest block a host is usually given, so
// an attacker cannot rotate through the 2^64 addresses of one network to
// escape the limit.
func ClientIPKey(trusted []netip.Prefix) KeyFunc {
	return func(r *http.Request) string {
		a := ClientIP(r, trusted)
		if !a.IsValid() {
			return "unknown"
		}
		if a.Is6() {
			p, _ := a.Prefix(64)
			return p.String()
		}
		return a.String()
	}
}

// HeaderKey keys a limit by a request header (for example an API key id
// set by an upstream authenticator). Missing: the limit is skipped.
func HeaderKey(name string) KeyFunc {
	return func(r *http.Request) string { return r.Header.Get(name) }
}

// RouteKey keys a limit by the matched ServeMux pattern (r.Pattern), or
// the method and path when there is none.
func RouteKey() KeyFunc {
	return func(r *http.Request) string {
		if r.Pattern != "" {
			return r.Pattern
		}
		return r.Method + " " + r.URL.Path
	}
}

// SubjectKey keys a limit by the verified token's subject (jwtauth claims
// in the request context); anonymous requests skip it.
func SubjectKey() KeyFunc {
	return func(r *http.Request) string {
		if c, ok := jwtauth.ClaimsFrom(r.Context()); ok {
			return c.Subject
		}
		return ""
	}
}

// ClientIDKey keys a limit by the verified token's client_id.
func ClientIDKey() KeyFunc {
	return func(r *http.Request) string {
		if c, ok := jwtauth.ClaimsFrom(r.Context()); ok {
			return c.ClientID
		}
		return ""
	}
}

// ClaimKey keys a limit by a string claim of the verified token (for
// example "tenant").
func ClaimKey(name string) KeyFunc {
	return func(r *http.Request) string {
		c, ok := jwtauth.ClaimsFrom(r.Context())
		if !ok {
			return ""
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(c.Raw, &m) != nil {
			return ""
		}
		var v string
		if json.Unmarshal(m[name], &v) != nil {
			return ""
		}
		return v
	}
}
