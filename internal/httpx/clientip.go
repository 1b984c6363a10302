package httpx

import (
	"net"
	"net/http"
	"net/netip"
)

// ClientIP returns the IP address of the peer that sent r, from
// r.RemoteAddr only (IPv4-mapped IPv6 addresses unmapped). Forwarded and
// X-Forwarded-For are ignored on purpose: any client can set them, so
// trusting them without a configured list of trusted proxies lets an
// attacker pick the address that logs, audit events and rate limits see
// (OWASP Logging Cheat Sheet; RFC 7239 §8.1). Trusted-proxy handling comes
// with the rate-limit issue. When RemoteAddr cannot be parsed, its host
// part (or all of it) is returned as is.
func ClientIP(r *http.Request) string {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap().String()
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
