package ratelimit

import (
	"context"
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

// The forwarding headers a ClientIPResolver can be told to believe. Exactly
// one is read: a proxy writes one of them, and the other is whatever the
// client sent, passed through.
const (
	// HeaderXForwardedFor is the de-facto X-Forwarded-For list (the
	// default: nginx, HAProxy, AWS ALB, Cloudflare, Caddy write it).
	HeaderXForwardedFor = "X-Forwarded-For"
	// HeaderForwarded is the RFC 7239 Forwarded header (its for= values).
	HeaderForwarded = "Forwarded"
)

// ClientIPResolver finds the client address of a request that may have
// come through proxies. Trusted lists the proxies' networks; Header names
// the one forwarding header they write (HeaderXForwardedFor when empty,
// compared case-insensitively). The zero value believes no header.
//
// Only the configured header is read; the other one is ignored entirely,
// because a proxy that appends to one header usually passes the other
// through unchanged, so believing "whichever is present" lets any client
// pick its address (as Caddy's client_ip_headers, the header is configured,
// never guessed; RFC 7239 §8.1, OWASP "IP address spoofing"). An unknown
// Header value believes no header at all (fail closed: the peer address).
type ClientIPResolver struct {
	Trusted []netip.Prefix
	Header  string
}

// ClientIP returns the client address of r. The forwarding header is
// honoured only when the direct peer is in Trusted: its list is then
// walked from the right (the entry the nearest proxy appended) past trusted
// proxies, and the first untrusted address is the client. Entries a client
// wrote itself (to the left) are never believed, so spoofing the header
// from outside changes nothing. An unparsable entry stops the walk at the
// last address that could be trusted. The result is invalid only when
// r.RemoteAddr is not an address.
func (c ClientIPResolver) ClientIP(r *http.Request) netip.Addr {
	peer := addrOf(r.RemoteAddr)
	if !peer.IsValid() || !inPrefixes(peer, c.Trusted) {
		return peer
	}
	var hops []string
	switch {
	case c.Header == "" || strings.EqualFold(c.Header, HeaderXForwardedFor):
		for _, v := range r.Header.Values(HeaderXForwardedFor) {
			for _, h := range strings.Split(v, ",") {
				hops = append(hops, strings.TrimSpace(h))
			}
		}
	case strings.EqualFold(c.Header, HeaderForwarded):
		hops = forwardedFor(r.Header.Values(HeaderForwarded))
	default:
		return peer
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a := addrOf(hops[i])
		if !a.IsValid() {
			return client // garbage: stop at the last address we could trust
		}
		client = a
		if !inPrefixes(a, c.Trusted) {
			return a
		}
	}
	return client
}

// Key keys a limit by the client address: the one stored in the request
// context by ContextWithClientIP when there is one (the address was
// resolved once for the whole request), else c.ClientIP(r). IPv6 clients
// are grouped by their /64, the smallest block a host is usually given, so
// an attacker cannot rotate through the 2^64 addresses of one network to
// escape the limit.
func (c ClientIPResolver) Key() KeyFunc {
	return func(r *http.Request) string {
		a, ok := ClientIPFromContext(r.Context())
		if !ok {
			a = c.ClientIP(r)
		}
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

// ClientIP returns the client address of r behind the trusted proxies,
// reading X-Forwarded-For only: it is ClientIPResolver{Trusted: trusted}.
// It used to believe Forwarded instead whenever that header was
// present, which let a client behind an X-Forwarded-For proxy choose its
// address; use a ClientIPResolver with Header HeaderForwarded when the
// proxies write Forwarded.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	return ClientIPResolver{Trusted: trusted}.ClientIP(r)
}

type clientIPCtxKey struct{}

// ContextWithClientIP returns ctx carrying the resolved client address of
// its request. A middleware that resolves the address once (Rampart's
// listener, a gateway) stores it so that ClientIPKey, logs and audit all
// see the same value. An invalid address is not stored.
func ContextWithClientIP(ctx context.Context, a netip.Addr) context.Context {
	if !a.IsValid() {
		return ctx
	}
	return context.WithValue(ctx, clientIPCtxKey{}, a)
}

// ClientIPFromContext returns the address stored by ContextWithClientIP.
func ClientIPFromContext(ctx context.Context) (netip.Addr, bool) {
	a, ok := ctx.Value(clientIPCtxKey{}).(netip.Addr)
	return a, ok
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

// ClientIPKey keys a limit by client address: the address in the request
// context (ContextWithClientIP) when a middleware resolved it, else
// ClientIP(r, trusted). It is ClientIPResolver{Trusted: trusted}.Key(); see
// there for the IPv6 /64 grouping.
func ClientIPKey(trusted []netip.Prefix) KeyFunc {
	return ClientIPResolver{Trusted: trusted}.Key()
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
