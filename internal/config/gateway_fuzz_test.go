package config

import (
	"strings"
	"testing"
)

// FuzzDecodeGateway: random YAML under gateway: never panics, and a
// configuration that is accepted keeps deny by default (every route has
// an auth rule: a mapping with an issuer and an audience, or none) and
// validates again.
func FuzzDecodeGateway(f *testing.F) {
	for _, s := range []string{
		"",
		"routes: []",
		"listen: 127.0.0.1:8081\nroutes:\n  - {name: r, match: {path: /a, methods: [GET]}, upstreams: ['http://127.0.0.1:1'], auth: none}",
		"routes:\n  - name: r\n    match: {path_prefix: /api, methods: [GET]}\n    upstreams: [http://127.0.0.1:9001]\n    auth: {issuer: self, audience: [a]}\n    rate_limits: [{name: u, key: subject, rate: 1, period: 1s}]",
		"routes:\n  - name: r\n    auth: nne",
		"routes:\n  - name: r\n    auth: ~",
		"routes:\n  - auth: {issuer: self, audience: [a], claims: {x: y}, unknown: 1}",
		"routes:\n  - {upstreams: ['http://[::1]:1/a/../b'], shuffle_shard: {key: 'claim:', size: 99999999999999999999}}",
		"routes: &a [*a]",
		"security_headers: {X: \"a\\r\\nb\"}",
		"tls: {mode: spiffe}\nspiffe: {dir: /a}\nroutes:\n  - {name: r, match: {path: /a, methods: [GET]}, upstreams: ['https://127.0.0.1:1'], auth: {mtls: {allow: ['spiffe://td/a']}}, upstream_tls: {spiffe_id: 'spiffe://td/b'}}",
		"routes:\n  - request: {content_types: ['a/b; c=d'], sanitize_html: ['/~'], json_schema: x}\n    upstream_rate: {rate: 9223372036854775807, period: 1ns, max_delay: -1s}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		lines := strings.Split(body, "\n")
		for i, l := range lines {
			lines[i] = "  " + l
		}
		c, err := Parse([]byte("gateway:\n" + strings.Join(lines, "\n")))
		if err != nil || c.Gateway == nil {
			return
		}
		for i, r := range c.Gateway.Routes {
			a := r.Auth
			mtlsOnly := a.MTLSOnly() && len(a.MTLS.Allow) > 0 && c.Gateway.TLS.Mode == TLSSPIFFE
			if !a.Set || !a.None && !mtlsOnly && (a.Issuer == "" || len(a.Audience) == 0) {
				t.Fatalf("route %d accepted without an auth rule: %+v", i, a)
			}
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
		_ = c.Notices()
	})
}
