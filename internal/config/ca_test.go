package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCADefaults(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		dev   bool
		check func(t *testing.T, a CA)
	}{
		{"accept/trust-domain-from-issuer", "issuer: https://auth.example.com\n", false, func(t *testing.T, a CA) {
			if a.TrustDomain != "auth.example.com" || a.Listen != "" || len(a.Hosts) != 0 {
				t.Errorf("ca %+v", a)
			}
			if a.SVIDTTL.D() != time.Hour || a.MaxSVIDTTL.D() != 24*time.Hour || a.IntermediateTTL.D() != 720*time.Hour ||
				a.RotationPropagation.D() != 10*time.Minute || a.CRLValidity.D() != 10*time.Minute || a.JoinTokenTTL.D() != time.Hour {
				t.Errorf("lifetimes %+v", a)
			}
		}},
		{"accept/trust-domain-from-loopback-issuer", "", false, func(t *testing.T, a CA) {
			if a.TrustDomain != "localhost" {
				t.Errorf("trust domain %q", a.TrustDomain)
			}
		}},
		{"accept/trust-domain-from-ipv6-loopback-issuer", "http: {listen: '[::1]:8080', tls: {mode: 'off'}}\n", false, func(t *testing.T, a CA) {
			if a.TrustDomain != "localhost" {
				t.Errorf("trust domain %q", a.TrustDomain)
			}
		}},
		{"accept/explicit-trust-domain", "issuer: https://Auth.Example.com\nca: {trust_domain: prod.example}\n", false, func(t *testing.T, a CA) {
			if a.TrustDomain != "prod.example" {
				t.Errorf("trust domain %q", a.TrustDomain)
			}
		}},
		{"accept/listen-default-hosts", "ca: {listen: '10.0.0.5:8443'}\n", false, func(t *testing.T, a CA) {
			if !slices.Equal(a.Hosts, []string{"10.0.0.5", "localhost", "127.0.0.1", "::1"}) {
				t.Errorf("hosts %q", a.Hosts)
			}
		}},
		{"accept/cert-bound-client-with-external-url", "ca: {listen: '0.0.0.0:8443', external_url: 'https://ca.example.com:8443'}\nclients: [{id: c, secret_env: S, grant_types: [client_credentials], certificate_bound_access_tokens: true}]\n", false, func(t *testing.T, a CA) {
			if o, ok := a.CAAliasOrigin("0.0.0.0:8443"); !ok || o != "https://ca.example.com:8443" {
				t.Errorf("alias origin %q %v", o, ok)
			}
		}},
		{"accept/wildcard-listen-hosts", "ca: {listen: '0.0.0.0:8443'}\n", false, func(t *testing.T, a CA) {
			if !slices.Equal(a.Hosts, []string{"localhost", "127.0.0.1", "::1"}) {
				t.Errorf("hosts %q", a.Hosts)
			}
		}},
		{"accept/explicit-hosts", "ca: {listen: '0.0.0.0:8443', hosts: [ca.example.com, 192.0.2.1]}\n", false, func(t *testing.T, a CA) {
			if !slices.Equal(a.Hosts, []string{"ca.example.com", "192.0.2.1"}) {
				t.Errorf("hosts %q", a.Hosts)
			}
		}},
		{"accept/dev-listen", "", true, func(t *testing.T, a CA) {
			if a.Listen != DefaultDevCAListen || !slices.Contains(a.Hosts, "127.0.0.1") {
				t.Errorf("dev ca %+v", a)
			}
		}},
		{"accept/dev-listen-os-port", "http: {listen: '127.0.0.1:0'}\n", true, func(t *testing.T, a CA) {
			if a.Listen != "127.0.0.1:0" {
				t.Errorf("dev ca listen %q", a.Listen)
			}
		}},
		{"accept/short-lifetimes", "ca: {svid_ttl: 10s, max_svid_ttl: 30s, intermediate_ttl: 2m, rotation_propagation: 5s, crl_validity: 10s, join_token_ttl: 1m}\n", false, func(t *testing.T, a CA) {
			if a.SVIDTTL.D() != 10*time.Second || a.IntermediateTTL.D() != 2*time.Minute {
				t.Errorf("lifetimes %+v", a)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			c.Dev = tc.dev
			c.Defaults()
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			tc.check(t, c.CA)
		})
	}
}

func TestCARefused(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"reject/trust-domain-not-derivable", "issuer: https://Auth.Example.com\n", []string{"ca.trust_domain", "cannot be derived", "ca.trust_domain: example.org"}},
		{"reject/trust-domain-public-ip-issuer", "issuer: https://192.0.2.10:8443\n", []string{"ca.trust_domain", "cannot be derived"}},
		{"reject/trust-domain-ip", "ca: {trust_domain: 10.0.0.1}\n", []string{"ca.trust_domain", "IP address"}},
		{"reject/trust-domain-uppercase", "ca: {trust_domain: Example.org}\n", []string{"ca.trust_domain", "lowercase"}},
		{"reject/trust-domain-with-scheme", "ca: {trust_domain: 'spiffe://example.org'}\n", []string{"ca.trust_domain", "without spiffe://"}},
		{"reject/trust-domain-with-path", "ca: {trust_domain: 'example.org/x'}\n", []string{"ca.trust_domain", "lowercase"}},
		{"reject/listen-not-host-port", "ca: {listen: '8443'}\n", []string{"ca.listen", "host:port"}},
		{"reject/listen-same-as-http", "ca: {listen: '127.0.0.1:8080'}\n", []string{"ca.listen", "http.listen"}},
		{"reject/listen-same-as-gateway", "gateway: {listen: '127.0.0.1:9000'}\nca: {listen: '127.0.0.1:9000'}\n", []string{"ca.listen", "gateway.listen"}},
		{"reject/hosts-without-listen", "ca: {hosts: [a.example]}\n", []string{"ca.hosts", "ca.listen is empty"}},
		{"reject/hosts-wildcard", "ca: {listen: '0.0.0.0:8443', hosts: ['*.example.com']}\n", []string{"ca.hosts", "no wildcards"}},
		{"reject/hosts-empty-entry", "ca: {listen: '0.0.0.0:8443', hosts: ['']}\n", []string{"ca.hosts", "entry 0"}},
		{"reject/svid-ttl-too-short", "ca: {svid_ttl: 1s}\n", []string{"ca.svid_ttl", "10s"}},
		{"reject/svid-ttl-over-max", "ca: {svid_ttl: 2h, max_svid_ttl: 1h}\n", []string{"ca.svid_ttl", "ca.max_svid_ttl"}},
		{"reject/max-svid-ttl-over-24h", "ca: {max_svid_ttl: 48h}\n", []string{"ca.max_svid_ttl", "24h"}},
		{"reject/intermediate-not-longer-than-svid", "ca: {max_svid_ttl: 24h, intermediate_ttl: 24h}\n", []string{"ca.intermediate_ttl", "three times ca.max_svid_ttl"}},
		{"reject/intermediate-under-three-svids", "ca: {max_svid_ttl: 24h, intermediate_ttl: 71h}\n", []string{"ca.intermediate_ttl", "three times"}},
		{"reject/intermediate-over-ten-years", "ca: {intermediate_ttl: 100000h}\n", []string{"ca.intermediate_ttl", "ten years"}},
		{"reject/propagation-too-long", "ca: {intermediate_ttl: 30m, max_svid_ttl: 10m, svid_ttl: 10m, rotation_propagation: 10m}\n", []string{"ca.rotation_propagation", "third"}},
		{"reject/propagation-negative", "ca: {rotation_propagation: -1s}\n", []string{"ca.rotation_propagation", "negative"}},
		{"reject/crl-validity-over-10m", "ca: {crl_validity: 11m}\n", []string{"ca.crl_validity", "10m"}},
		{"reject/crl-validity-too-short", "ca: {crl_validity: 1s}\n", []string{"ca.crl_validity"}},
		{"reject/join-token-over-1h", "ca: {join_token_ttl: 2h}\n", []string{"ca.join_token_ttl", "1h"}},
		{"reject/unknown-ca-key", "ca: {trustdomain: example.org}\n", []string{`unknown key "ca.trustdomain"`, "trust_domain"}},
		{"reject/external-url-without-listen", "ca: {external_url: 'https://ca.example.com'}\n", []string{"ca.external_url", "ca.listen is empty"}},
		{"reject/external-url-http", "ca: {listen: '0.0.0.0:8443', external_url: 'http://ca.example.com:8443'}\n", []string{"ca.external_url", "https"}},
		{"reject/external-url-path", "ca: {listen: '0.0.0.0:8443', external_url: 'https://ca.example.com/x'}\n", []string{"ca.external_url", "origin only"}},
		{"reject/external-url-relative", "ca: {listen: '0.0.0.0:8443', external_url: 'ca.example.com'}\n", []string{"ca.external_url", "absolute URL"}},
		{"reject/cert-bound-client-without-ca-listen", "clients: [{id: c, secret_env: S, grant_types: [client_credentials], certificate_bound_access_tokens: true}]\n", []string{"certificate_bound_access_tokens", "ca.listen is empty"}},
		{"reject/cert-bound-client-wildcard-listen", "ca: {listen: '0.0.0.0:8443'}\n" + "clients: [{id: c, secret_env: S, grant_types: [client_credentials], certificate_bound_access_tokens: true}]\n", []string{"certificate_bound_access_tokens", "wildcard", "set ca.external_url"}},
		{"reject/ca-duration-as-number", "ca: {svid_ttl: 3600}\n", []string{"ca.svid_ttl", "3600 is a number", "60m"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatal("Parse accepted the config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestCAAliasOrigin: the token endpoint's mTLS alias is ca.external_url,
// else https://<ca.listen host>:<bound port>; none without a listener or
// with a wildcard listen host and no external_url.
func TestCAAliasOrigin(t *testing.T) {
	for _, tc := range []struct {
		name, listen, ext, addr, want string
		ok                            bool
	}{
		{"accept/external-url", "0.0.0.0:8443", "https://ca.example.com:8443/", "0.0.0.0:8443", "https://ca.example.com:8443", true},
		{"accept/concrete-host", "ca.example.com:8443", "", "10.0.0.1:8443", "https://ca.example.com:8443", true},
		{"accept/os-port", "127.0.0.1:0", "", "127.0.0.1:41234", "https://127.0.0.1:41234", true},
		{"accept/ipv6", "[::1]:8443", "", "[::1]:8443", "https://[::1]:8443", true},
		{"reject/no-listener", "", "", "", "", false},
		{"reject/wildcard", "0.0.0.0:8443", "", "0.0.0.0:8443", "", false},
		{"reject/empty-host", ":8443", "", "[::]:8443", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := CA{Listen: tc.listen, ExternalURL: tc.ext}.CAAliasOrigin(tc.addr)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("CAAliasOrigin = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestValidCertHost(t *testing.T) {
	for h, want := range map[string]bool{
		"localhost": true, "ca.example.com": true, "::1": true, "192.0.2.1": true, "a-b.example": true,
		"": false, "*.example.com": false, "-a.example": false, "a..b": false, "a.example.": false, "a_b.example": false,
		strings.Repeat("a", 64) + ".example": false, "a b": false,
	} {
		if got := validCertHost(h); got != want {
			t.Errorf("validCertHost(%q) = %v, want %v", h, got, want)
		}
	}
}
