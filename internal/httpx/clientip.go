package httpx

import (
	"net"
	"net/http"
	"net/netip"

	"github.com/rampart-auth/rampart/ratelimit"
)

// ClientAddr resolves the client address once per request and stores it in
// the request context (ratelimit.ContextWithClientIP), so the access log,
// audit events and rate limits all name the same client. The forwarding
// header (ratelimit.HeaderXForwardedFor, the default, or
// ratelimit.HeaderForwarded) is believed only from a peer in trusted, and
// only the configured one is read: see ratelimit.ClientIPResolver. With no
// trusted proxies the address is the socket peer, whatever headers a
// client sends (OWASP Logging Cheat Sheet; RFC 7239 §8.1). It must come
// first in the chain, before anything that logs or limits.
func ClientAddr(trusted []netip.Prefix, header string) Middleware {
	res := ratelimit.ClientIPResolver{Trusted: trusted, Header: header}
	return func(next http.Handler) http.Handler {
		if len(trusted) == 0 {
			// Nothing to resolve: the address is the socket peer, which
			// ClientIP and ratelimit.ClientIPKey read from the request
			// itself. Skipping the context copy keeps the direct case free.
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, done := ratelimit.ClientIPFromContext(r.Context()); !done {
				if a := res.ClientIP(r); a.IsValid() {
					r = r.WithContext(ratelimit.ContextWithClientIP(r.Context(), a))
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ClientIP returns the client address of r: the one ClientAddr resolved
// for the request when it ran, else the peer address from r.RemoteAddr
// (IPv4-mapped IPv6 addresses unmapped). Forwarded and X-Forwarded-For are
// never read here: any client can set them, and only ClientAddr, with a
// configured list of trusted proxies, may believe one of them. When
// RemoteAddr cannot be parsed, its host part (or all of it) is returned as
// is. The peer is parsed by ratelimit's resolver, the one parser of client
// addresses, so logs, audit events and rate-limit keys name the same
// client even for unusual peers (an IPv6 zone is dropped everywhere).
func ClientIP(r *http.Request) string {
	if a, ok := ratelimit.ClientIPFromContext(r.Context()); ok {
		return a.String()
	}
	if a := ratelimit.ClientIP(r, nil); a.IsValid() {
		return a.String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return host
}
