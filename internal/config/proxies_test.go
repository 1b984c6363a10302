package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestClientAddressKeys: http.trusted_proxies and http.client_ip_header
// are parsed, defaulted and checked; the deprecated rate_limits key still
// works with a notice, and a conflict between the two is refused.
func TestClientAddressKeys(t *testing.T) {
	accept := []struct {
		name, yaml string
		header     string
		want       []string
		notice     bool
	}{
		{"accept/defaults", "", ClientIPHeaderXFF, nil, false},
		{"accept/http-keys", "http: {trusted_proxies: [10.0.0.0/8, 'fd00::/8'], client_ip_header: forwarded}\n", "forwarded", []string{"10.0.0.0/8", "fd00::/8"}, false},
		{"accept/header-case-insensitive", "http: {client_ip_header: X-Forwarded-For}\n", "X-Forwarded-For", nil, false},
		{"accept/host-bits-masked", "http: {trusted_proxies: [10.1.2.3/8]}\n", ClientIPHeaderXFF, []string{"10.0.0.0/8"}, false},
		{"accept/deprecated-alias-alone", "rate_limits: {trusted_proxies: [192.0.2.0/24]}\n", ClientIPHeaderXFF, []string{"192.0.2.0/24"}, true},
		{"accept/deprecated-alias-same", "http: {trusted_proxies: [192.0.2.0/24]}\nrate_limits: {trusted_proxies: [192.0.2.0/24]}\n", ClientIPHeaderXFF, []string{"192.0.2.0/24"}, true},
	}
	for _, tc := range accept {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if c.HTTP.ClientIPHeader != tc.header {
				t.Errorf("client_ip_header %q, want %q", c.HTTP.ClientIPHeader, tc.header)
			}
			var got []string
			for _, p := range c.HTTP.TrustedPrefixes() {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("trusted %v, want %v", got, tc.want)
			}
			n := c.Notices()
			if tc.notice != (len(n) == 1 && strings.Contains(n[0], "rate_limits.trusted_proxies is deprecated") && strings.Contains(n[0], "http.trusted_proxies")) {
				t.Errorf("notices %q, want a deprecation notice: %v", n, tc.notice)
			}
		})
	}
	refuse := []struct{ name, yaml, want string }{
		{"reject/alias-conflict", "http: {trusted_proxies: [10.0.0.0/8]}\nrate_limits: {trusted_proxies: [192.0.2.0/24]}\n", "rate_limits.trusted_proxies: is deprecated and differs"},
		{"reject/unknown-header", "http: {client_ip_header: x-real-ip}\n", `http.client_ip_header: "x-real-ip" is not a header`},
		{"reject/header-list", "http: {client_ip_header: 'x-forwarded-for, forwarded'}\n", "http.client_ip_header"},
		{"reject/not-a-cidr", "http: {trusted_proxies: [proxy.internal]}\n", `http.trusted_proxies: "proxy.internal" is not a CIDR`},
		{"reject/bare-address", "http: {trusted_proxies: [10.0.0.1]}\n", "http.trusted_proxies"},
		{"reject/trust-everyone-v4", "http: {trusted_proxies: [0.0.0.0/0]}\n", "trusts every address"},
		{"reject/trust-everyone-v6", "http: {trusted_proxies: ['::/0']}\n", "trusts every address"},
		{"reject/trust-everyone-mapped", "http: {trusted_proxies: ['::ffff:0.0.0.0/96']}\n", "trusts every address"},
		{"reject/alias-trust-everyone", "rate_limits: {trusted_proxies: [0.0.0.0/0]}\n", "rate_limits.trusted_proxies"},
	}
	for _, tc := range refuse {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestTrustedPrefixesMapped: a v4-mapped CIDR matches the unmapped peers
// the resolver sees.
func TestTrustedPrefixesMapped(t *testing.T) {
	h := HTTP{TrustedProxies: []string{"::ffff:10.0.0.0/104"}}
	ps := h.TrustedPrefixes()
	if len(ps) != 1 || !ps[0].Contains(netip.MustParseAddr("10.1.2.3")) {
		t.Fatalf("prefixes %v", ps)
	}
}
