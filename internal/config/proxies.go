package config

import (
	"net/netip"
	"slices"
	"strings"
)

// The values of http.client_ip_header (case-insensitive).
const (
	ClientIPHeaderXFF       = "x-forwarded-for"
	ClientIPHeaderForwarded = "forwarded"
)

// defaultProxies applies the defaults of the client-address keys: the
// header is X-Forwarded-For (what nginx, HAProxy, cloud load balancers and
// Caddy write), and the deprecated rate_limits.trusted_proxies fills
// http.trusted_proxies when only it is set (Validate refuses the two when
// they differ).
func (c *Config) defaultProxies() {
	if c.HTTP.ClientIPHeader == "" {
		c.HTTP.ClientIPHeader = ClientIPHeaderXFF
	}
	if len(c.HTTP.TrustedProxies) == 0 && len(c.RateLimits.TrustedProxies) > 0 {
		c.HTTP.TrustedProxies = slices.Clone(c.RateLimits.TrustedProxies)
	}
}

// Notices returns what an operator should change although the
// configuration is valid (deprecated keys). `config check` prints them and
// `serve` logs them at warn level.
func (c *Config) Notices() []string {
	var out []string
	if len(c.RateLimits.TrustedProxies) > 0 {
		out = append(out, "rate_limits.trusted_proxies is deprecated: move the list to http.trusted_proxies, "+
			"which now sets the one client address used by rate limits, audit events and the access log")
	}
	return append(out, c.gatewayNotices()...)
}

// TrustedPrefixes returns http.trusted_proxies parsed and masked. It
// assumes Validate passed; entries that do not parse are skipped.
func (h HTTP) TrustedPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range h.TrustedProxies {
		if p, err := parseProxy(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// parseProxy parses a CIDR, masked. A bare address is refused rather than
// guessed as /32: the operator states the width of what is trusted.
func parseProxy(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		// ::ffff:10.0.0.0/104 would never match: peers are unmapped first.
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// validateProxies checks http.trusted_proxies, http.client_ip_header and the
// deprecated rate_limits.trusted_proxies.
func (c *Config) validateProxies(bad func(string, string, ...any)) {
	checkClientIPHeader("http.client_ip_header", c.HTTP.ClientIPHeader, bad)
	now := checkProxies("http.trusted_proxies", c.HTTP.TrustedProxies, bad)
	old := checkProxies("rate_limits.trusted_proxies", c.RateLimits.TrustedProxies, bad)
	if len(c.RateLimits.TrustedProxies) > 0 && !samePrefixes(now, old) {
		bad("rate_limits.trusted_proxies", "is deprecated and differs from http.trusted_proxies; keep only http.trusted_proxies (one list decides the client address everywhere)")
	}
}

// checkClientIPHeader checks a client_ip_header value.
func checkClientIPHeader(key, v string, bad func(string, string, ...any)) {
	switch strings.ToLower(v) {
	case ClientIPHeaderXFF, ClientIPHeaderForwarded:
	default:
		// One configured header, never a guess or a list: a proxy writes one
		// header and passes the others through from the client, so believing
		// another one lets any client choose its address (RFC 7239 §8.1; the
		// same choice as Caddy's client_ip_headers).
		bad(key, "%q is not a header Rampart reads; use x-forwarded-for or forwarded (the one header your trusted proxies write)", v)
	}
}

// checkProxies checks a trusted_proxies list and returns its prefixes.
func checkProxies(key string, list []string, bad func(string, string, ...any)) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		p, err := parseProxy(s)
		switch {
		case err != nil:
			bad(key, "%q is not a CIDR (write 10.0.0.0/8, fd00::/8, or 192.0.2.10/32 for a single proxy)", s)
		case p.Bits() == 0:
			// Trusting every address lets every client write its own
			// address into the header (OWASP Logging Cheat Sheet).
			bad(key, "%q trusts every address, so any client could choose its own address; list only your proxies' networks", s)
		default:
			out = append(out, p)
		}
	}
	return out
}

// samePrefixes reports whether a and b hold the same set of prefixes.
func samePrefixes(a, b []netip.Prefix) bool {
	has := func(ps []netip.Prefix, p netip.Prefix) bool { return slices.Contains(ps, p) }
	for _, p := range a {
		if !has(b, p) {
			return false
		}
	}
	for _, p := range b {
		if !has(a, p) {
			return false
		}
	}
	return true
}
