package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// route builds a gateway config with one route: the base keys (name,
// match, upstreams, auth) overridden or added by key/value pairs, a value
// of "-" removing the key. Values are one-line YAML.
func route(kv ...string) string {
	keys := []string{"name", "match", "upstreams", "auth"}
	vals := map[string]string{
		"name":      "r",
		"match":     "{path_prefix: /api, methods: [GET]}",
		"upstreams": "[http://127.0.0.1:9001]",
		"auth":      "{issuer: self, audience: [https://api.example.test]}",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if _, ok := vals[kv[i]]; !ok {
			keys = append(keys, kv[i])
		}
		vals[kv[i]] = kv[i+1]
	}
	var b strings.Builder
	b.WriteString("gateway:\n  routes:\n")
	first := true
	for _, k := range keys {
		if vals[k] == "-" {
			continue
		}
		lead := "      "
		if first {
			lead, first = "    - ", false
		}
		fmt.Fprintf(&b, "%s%s: %s\n", lead, k, vals[k])
	}
	return b.String()
}

// TestGatewayExample: the configuration block, as published,
// loads and validates, and its schema path resolves beside the file.
func TestGatewayExample(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "gateway-example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := c.Gateway
	if g == nil || g.Listen != "127.0.0.1:8081" || g.TLS.Mode != TLSAuto || len(g.Routes) != 1 {
		t.Fatalf("gateway %+v", g)
	}
	r := g.Routes[0]
	if r.Name != "notes-read" || r.Match.PathPrefix != "/api/notes" || !slices.Equal(r.Match.Methods, []string{"GET"}) || len(r.Upstreams) != 2 {
		t.Errorf("route %+v", r)
	}
	a := r.Auth
	if !a.Set || a.None || a.Issuer != AuthIssuerSelf || a.Claims["tenant"] != "acme" || a.DPoP != DPoPOptional || !slices.Equal(a.Scopes, []string{"notes:read"}) {
		t.Errorf("auth %+v", a)
	}
	if len(r.RateLimits) != 3 || r.RateLimits[2].Key != "claim:tenant" || r.RateLimits[2].Burst != 200 || r.RateLimits[0].Period.D() != time.Minute {
		t.Errorf("limits %+v", r.RateLimits)
	}
	if r.UpstreamRate == nil || r.UpstreamRate.MaxDelay.D() != 2*time.Second || r.ShuffleShard == nil || r.ShuffleShard.Size != 2 || r.ForwardAuthorization {
		t.Errorf("upstream_rate %+v shuffle_shard %+v", r.UpstreamRate, r.ShuffleShard)
	}
	schema := c.GatewaySchemaPath(r.Request.JSONSchema)
	if schema != filepath.Join("testdata", "schemas", "note.json") {
		t.Errorf("schema path %q", schema)
	}
	if _, err := os.Stat(schema); err != nil {
		t.Errorf("schema stub: %v", err)
	}
	if n := c.Notices(); len(n) != 1 || !strings.Contains(n[0], "shuffle_shard: size 2 is every upstream") {
		t.Errorf("notices %q", n)
	}
}

func TestGatewaySchemaPath(t *testing.T) {
	c := &Config{File: filepath.Join("etc", "rampart", "rampart.yaml")}
	for in, want := range map[string]string{
		"":                      "",
		"schemas/a.json":        filepath.Join("etc", "rampart", "schemas", "a.json"),
		"/srv/schemas/a.json":   "/srv/schemas/a.json",
		"../shared/schema.json": filepath.Join("etc", "shared", "schema.json"),
	} {
		if got := c.GatewaySchemaPath(in); got != want {
			t.Errorf("GatewaySchemaPath(%q) = %q, want %q", in, got, want)
		}
	}
	if got := (&Config{}).GatewaySchemaPath("s.json"); got != "s.json" {
		t.Errorf("without a file: %q", got)
	}
}

// TestGatewayDefaults: no gateway key, no gateway; a minimal route gets
// every default.
func TestGatewayDefaults(t *testing.T) {
	if c, err := Parse(nil); err != nil || c.Gateway != nil {
		t.Fatalf("no gateway key: %v, %+v", err, c.Gateway)
	}
	c, err := Parse([]byte(route("rate_limits", "[{name: ip, key: client_ip, rate: 10, period: 1s}]", "upstream_rate", "{rate: 5, period: 1s}")))
	if err != nil {
		t.Fatal(err)
	}
	g := c.Gateway
	if g.Listen != DefaultGatewayListen || g.TLS.Mode != TLSAuto || g.ClientIPHeader != ClientIPHeaderXFF || g.MaxHeaderBytes != 32<<10 {
		t.Errorf("gateway defaults %+v", g)
	}
	if g.ReadHeaderTimeout.D() != 5*time.Second || g.ReadTimeout.D() != 30*time.Second || g.WriteTimeout.D() != time.Minute || g.IdleTimeout.D() != 2*time.Minute {
		t.Errorf("timeouts %+v", g)
	}
	r := g.Routes[0]
	if r.Cost != 1 || r.Auth.DPoP != DPoPOptional || r.RateLimits[0].Burst != 10 || r.Request.MaxBodyBytes != 1<<20 || r.Timeout.D() != 30*time.Second {
		t.Errorf("route defaults %+v", r)
	}
	if r.HealthCheck.Interval.D() != 10*time.Second || r.HealthCheck.Timeout.D() != 2*time.Second || r.UpstreamRate.MaxDelay.D() != time.Second {
		t.Errorf("health %+v shaper %+v", r.HealthCheck, r.UpstreamRate)
	}
	if r.ShuffleShard != nil || len(c.Notices()) != 0 {
		t.Errorf("shard %+v notices %q", r.ShuffleShard, c.Notices())
	}
	dev, err := Parse([]byte("issuer: http://127.0.0.1:8080\n" + route()))
	if err != nil || dev.Gateway.TLS.Mode != TLSOff {
		t.Errorf("plain-HTTP loopback deployment: gateway tls %v, %v", dev.Gateway, err)
	}
	wild, err := Parse([]byte("issuer: http://127.0.0.1:8080\n" + route() + "  listen: 0.0.0.0:8081\n  external_url: https://api.example.com\n"))
	if err != nil || wild.Gateway.TLS.Mode != TLSAuto {
		t.Errorf("wildcard gateway of a plain-HTTP deployment: tls %v, %v", wild.Gateway, err)
	}
}

// TestGatewayAccepts: the forms that are valid beside the example.
func TestGatewayAccepts(t *testing.T) {
	for name, y := range map[string]string{
		"accept/auth-none":                  route("auth", "none"),
		"accept/auth-none-quoted":           route("auth", `"none"`),
		"accept/auth-none-client-ip-limit":  route("auth", "none", "rate_limits", "[{name: ip, key: client_ip, rate: 1, period: 1s}]"),
		"accept/auth-block-form":            route("auth", "\n        issuer: https://login.example.com\n        audience: [api]\n        dpop: required"),
		"accept/loopback-http-issuer":       route("auth", "{issuer: 'http://127.0.0.1:9000', audience: [api]}"),
		"accept/exact-path-host":            route("match", "{host: api.example.test, path: /v1/ping, methods: [GET, HEAD]}"),
		"accept/https-upstreams-tls":        route("upstreams", "[https://a.internal:8443, https://b.internal/base]", "upstream_tls", "{ca_file: ca.pem, cert_file: c.pem, key_file: k.pem, server_name: api.internal}"),
		"accept/forward-auth-https":         route("upstreams", "[https://api.internal]", "forward_authorization", "true"),
		"accept/forward-auth-loopback":      route("forward_authorization", "true"),
		"accept/json-suffix-with-sanitize":  route("request", "{content_types: [application/json, application/merge-patch+json], sanitize_html: ['/a~1b/~0c', /items/0/html]}"),
		"accept/schema-without-types":       route("request", "{json_schema: s.json, sanitize_html: [/body]}"),
		"accept/shard-of-many":              route("upstreams", "[http://127.0.0.1:1, http://127.0.0.1:2, http://127.0.0.1:3]", "shuffle_shard", "{key: client_ip, size: 2}"),
		"accept/security-headers":           route("security_headers", "{Content-Security-Policy: \"default-src 'self'\", X-Frame-Options: ''}") + "  security_headers: {Strict-Transport-Security: max-age=63072000}\n",
		"accept/external-url":               route() + "  listen: '[::]:8443'\n  external_url: https://api.example.com/\n",
		"accept/external-url-loopback-http": route() + "  tls: {mode: 'off'}\n  external_url: 'http://localhost:8081'\n",
		"accept/wildcard-public-only":       route("auth", "none") + "  listen: 0.0.0.0:8081\n",
		"accept/gateway-proxies":            route() + "  trusted_proxies: [10.0.0.0/8]\n  client_ip_header: forwarded\n",
		"accept/same-port-other-ip":         "http: {listen: '127.0.0.1:8080'}\n" + route() + "  listen: 127.0.0.2:8080\n  tls: {mode: 'off'}\n",
		"accept/health-check":               route("health_check", "{path: /healthz, interval: 5s, timeout: 1s}", "timeout", "10s"),
		"accept/cost-within-burst":          route("cost", "5", "rate_limits", "[{name: u, key: subject, rate: 10, period: 1m}]"),
		"accept/claim-key-on-authenticated": route("rate_limits", "[{name: t, key: 'claim:org_id', rate: 10, period: 1m}]"),
		"accept/mtls-only":                  route("auth", "{mtls: {allow: ['spiffe://example.test/svc/orders', 'spiffe://example.test/svc/a/b']}}") + spiffeGW,
		"accept/mtls-and-jwt-bound":         route("auth", "{issuer: self, audience: [a], mtls: {allow: ['spiffe://example.test/svc/orders'], bind_token: true}}") + spiffeGW,
		"accept/mtls-subject-limit":         route("auth", "{mtls: {allow: ['spiffe://example.test/svc/orders']}}", "rate_limits", "[{name: s, key: subject, rate: 1, period: 1s}]") + spiffeGW,
		"accept/mtls-required-client-cert":  route("auth", "{mtls: {allow: ['spiffe://example.test/svc/orders']}}") + "  tls: {mode: spiffe}\n  spiffe: {socket: /run/rampart/agent.sock, require_client_cert: true}\n",
		"accept/upstream-spiffe":            route("upstreams", "[https://127.0.0.1:9443]", "upstream_tls", "{spiffe_id: 'spiffe://example.test/svc/billing'}") + "  spiffe: {dir: /run/rampart/gateway}\n",
		"accept/spiffe-wildcard-mtls-only":  route("auth", "{mtls: {allow: ['spiffe://example.test/svc/orders']}}") + spiffeGW + "  listen: 0.0.0.0:8443\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(y)); err != nil {
				t.Fatalf("Parse:\n%s\n%v", y, err)
			}
		})
	}
}

// gatewayRefused lists every gateway validation error: each case names the
// key its message must mention, and all messages together are the golden
// file testdata/gateway-errors.golden (go test -run TestGatewayRefused
// -update rewrites it; review the diff).
var gatewayRefused = []struct{ name, yaml, key string }{
	{"reject/no-routes", "gateway: {listen: '127.0.0.1:8081'}\n", "gateway.routes: is empty"},
	{"reject/missing-auth", route("auth", "-"), "gateway.routes[0] (r).auth: missing"},
	{"reject/empty-auth-mapping", route("auth", "{}"), "auth.issuer: is required"},
	{"reject/auth-without-audience", route("auth", "{issuer: self}"), "auth.audience: is required"},
	{"reject/auth-empty-audience", route("auth", "{issuer: self, audience: ['']}"), "auth.audience[0]"},
	{"reject/auth-http-issuer", route("auth", "{issuer: 'http://login.example.com', audience: [a]}"), "plain http"},
	{"reject/auth-issuer-not-url", route("auth", "{issuer: login.example.com, audience: [a]}"), "auth.issuer"},
	{"reject/auth-issuer-query", route("auth", "{issuer: 'https://login.example.com/?x=1', audience: [a]}"), "RFC 8414"},
	{"reject/auth-issuer-userinfo", route("auth", "{issuer: 'https://u:p@login.example.com', audience: [a]}"), "user info"},
	{"reject/auth-bad-scope", route("auth", "{issuer: self, audience: [a], scopes: ['notes read']}"), "auth.scopes[0]"},
	{"reject/auth-registered-claim", route("auth", "{issuer: self, audience: [a], claims: {aud: x, tenant: acme}}"), "auth.claims.aud"},
	{"reject/auth-empty-claim", route("auth", "{issuer: self, audience: [a], claims: {tenant: ''}}"), "auth.claims.tenant"},
	{"reject/auth-bad-claim-name", route("auth", "{issuer: self, audience: [a], claims: {'ten ant': x}}"), "not a claim name"},
	{"reject/auth-bad-dpop", route("auth", "{issuer: self, audience: [a], dpop: always}"), "auth.dpop"},
	{"reject/bad-name", route("name", "Notes_Read"), "gateway.routes[0].name"},
	{"reject/name-dash-edge", route("name", "-r"), "gateway.routes[0].name"},
	{"reject/name-too-long", route("name", strings.Repeat("a", 64)), "gateway.routes[0].name"},
	{"reject/duplicate-name", route() + "    - {name: r, match: {path: /x, methods: [GET]}, upstreams: ['http://127.0.0.1:1'], auth: none}\n", "is also the name of gateway.routes[0]"},
	{"reject/path-and-prefix", route("match", "{path: /a, path_prefix: /b, methods: [GET]}"), "both path and path_prefix"},
	{"reject/no-path", route("match", "{methods: [GET]}"), "needs path"},
	{"reject/relative-prefix", route("match", "{path_prefix: api, methods: [GET]}"), "match.path_prefix"},
	{"reject/no-methods", route("match", "{path_prefix: /api}"), "match.methods: is empty"},
	{"reject/lowercase-method", route("match", "{path_prefix: /api, methods: [get]}"), "match.methods[0]"},
	{"reject/duplicate-method", route("match", "{path_prefix: /api, methods: [GET, GET]}"), "lists GET twice"},
	{"reject/no-upstreams", route("upstreams", "[]"), "upstreams: is empty"},
	{"reject/upstream-scheme", route("upstreams", "['ftp://127.0.0.1/']"), "upstreams[0]"},
	{"reject/upstream-no-host", route("upstreams", "['http:///x']"), "has no host"},
	{"reject/upstream-userinfo", route("upstreams", "['http://u:secret@127.0.0.1:9001']"), "user info"},
	{"reject/upstream-query", route("upstreams", "['http://127.0.0.1:9001/?a=1']"), "query"},
	{"reject/upstream-fragment", route("upstreams", "['http://127.0.0.1:9001/#f']"), "fragment"},
	{"reject/upstream-dot-path", route("upstreams", "['http://127.0.0.1:9001/a/../b']"), "not clean"},
	{"reject/upstream-escaped-path", route("upstreams", "['http://127.0.0.1:9001/a%2Fb']"), "percent-encoded"},
	{"reject/upstream-bad-port", route("upstreams", "['http://127.0.0.1:99999']"), "port"},
	{"reject/upstream-relative", route("upstreams", "[127.0.0.1:9001]"), "upstreams[0]"},
	{"reject/upstream-duplicate", route("upstreams", "['http://api.internal', 'http://API.internal:80/']"), "same upstream"},
	{"reject/too-many-upstreams", route("upstreams", "["+manyUpstreams(65)+"]"), "at most 64"},
	{"reject/cost-negative", route("cost", "-5"), "gateway.routes[0] (r).cost"},
	{"reject/cost-too-high", route("cost", "1001"), "gateway.routes[0] (r).cost"},
	{"reject/cost-over-burst", route("cost", "5", "rate_limits", "[{name: u, key: subject, rate: 10, period: 1m, burst: 2}]"), "every request would be refused"},
	{"reject/limit-bad-name", route("rate_limits", "[{name: Per_User, key: subject, rate: 1, period: 1m}]"), "rate_limits[0].name"},
	{"reject/limit-duplicate-name", route("rate_limits", "[{name: a, key: subject, rate: 1, period: 1m}, {name: a, key: client_ip, rate: 1, period: 1m}]"), "used twice"},
	{"reject/limit-unknown-key", route("rate_limits", "[{name: a, key: user, rate: 1, period: 1m}]"), "rate_limits[0].key"},
	{"reject/limit-no-key", route("rate_limits", "[{name: a, rate: 1, period: 1m}]"), "rate_limits[0].key: is required"},
	{"reject/limit-bad-claim-key", route("rate_limits", "[{name: a, key: 'claim:', rate: 1, period: 1m}]"), "claim name"},
	{"reject/limit-subject-on-public", route("auth", "none", "rate_limits", "[{name: a, key: subject, rate: 1, period: 1m}]"), "auth: none"},
	{"reject/limit-claim-on-public", route("auth", "none", "rate_limits", "[{name: a, key: 'claim:tenant', rate: 1, period: 1m}]"), "auth: none"},
	{"reject/limit-zero-rate", route("rate_limits", "[{name: a, key: subject, rate: 0, period: 1m}]"), "rate_limits[0].rate"},
	{"reject/limit-short-period", route("rate_limits", "[{name: a, key: subject, rate: 1, period: 10ms}]"), "rate_limits[0].period"},
	{"reject/limit-no-period", route("rate_limits", "[{name: a, key: subject, rate: 1}]"), "rate_limits[0].period"},
	{"reject/limit-negative-burst", route("rate_limits", "[{name: a, key: subject, rate: 1, period: 1m, burst: -1}]"), "rate_limits[0].burst"},
	{"reject/limit-library-range", route("rate_limits", "[{name: a, key: subject, rate: 2000000000, period: 1m}]"), "out of range 1 to 1e9"},
	{"reject/limit-overflow", route("rate_limits", "[{name: a, key: subject, rate: 1, period: 24h, burst: 100000}]"), "too large"},
	{"reject/too-many-limits", route("rate_limits", manyLimits(9)), "at most 8"},
	{"reject/body-too-large", route("request", "{max_body_bytes: 67108865}"), "request.max_body_bytes"},
	{"reject/body-negative", route("request", "{max_body_bytes: -1}"), "request.max_body_bytes"},
	{"reject/content-type-params", route("request", "{content_types: ['application/json; charset=utf-8']}"), "parameters"},
	{"reject/content-type-wildcard", route("request", "{content_types: ['application/*']}"), "wildcard"},
	{"reject/content-type-not-media", route("request", "{content_types: [json]}"), "not a media type"},
	{"reject/content-type-duplicate", route("request", "{content_types: [application/json, Application/JSON]}"), "twice"},
	{"reject/schema-with-form", route("request", "{content_types: [application/json, application/x-www-form-urlencoded], json_schema: s.json}"), "read every body as JSON"},
	{"reject/sanitize-without-json", route("request", "{sanitize_html: [/body]}"), "needs JSON bodies"},
	{"reject/sanitize-with-html", route("request", "{content_types: [text/html], sanitize_html: [/body]}"), "read every body as JSON"},
	{"reject/sanitize-not-pointer", route("request", "{json_schema: s.json, sanitize_html: [body]}"), "sanitize_html[0]"},
	{"reject/sanitize-bad-escape", route("request", "{json_schema: s.json, sanitize_html: ['/a~2']}"), "RFC 6901"},
	{"reject/sanitize-root", route("request", "{json_schema: s.json, sanitize_html: ['']}"), "sanitize_html[0]"},
	{"reject/sanitize-duplicate", route("request", "{json_schema: s.json, sanitize_html: [/a, /a]}"), "twice"},
	{"reject/shaper-zero-rate", route("upstream_rate", "{rate: 0, period: 1s}"), "upstream_rate.rate"},
	{"reject/shaper-no-period", route("upstream_rate", "{rate: 5}"), "upstream_rate.period"},
	{"reject/shaper-finer-than-ns", route("upstream_rate", "{rate: 1000000000, period: 1ms}"), "finer than 1 ns"},
	{"reject/shaper-long-delay", route("upstream_rate", "{rate: 5, period: 1s, max_delay: 2m}"), "upstream_rate.max_delay"},
	{"reject/shard-size-over-n", route("shuffle_shard", "{key: client_ip, size: 2}"), "shuffle_shard.size"},
	{"reject/shard-size-zero", route("shuffle_shard", "{key: client_ip}"), "shuffle_shard.size"},
	{"reject/shard-no-key", route("shuffle_shard", "{size: 1}"), "shuffle_shard.key"},
	{"reject/shard-subject-on-public", route("auth", "none", "shuffle_shard", "{key: subject, size: 1}"), "auth: none"},
	{"reject/upstream-tls-on-http", route("upstream_tls", "{ca_file: ca.pem}"), "applies to https upstreams"},
	{"reject/upstream-tls-cert-alone", route("upstreams", "[https://api.internal]", "upstream_tls", "{cert_file: c.pem}"), "go together"},
	{"reject/upstream-tls-server-name", route("upstreams", "[https://api.internal]", "upstream_tls", "{server_name: 'api.internal:443'}"), "upstream_tls.server_name"},
	{"reject/health-relative", route("health_check", "{path: healthz}"), "health_check.path"},
	{"reject/health-fast", route("health_check", "{path: /healthz, interval: 100ms}"), "health_check.interval"},
	{"reject/health-timeout-over-interval", route("health_check", "{path: /healthz, interval: 5s, timeout: 5s}"), "health_check.timeout"},
	{"reject/timeout-too-short", route("timeout", "100ms"), "(r).timeout"},
	{"reject/timeout-too-long", route("timeout", "10m"), "(r).timeout"},
	{"reject/timeout-over-write", route("timeout", "50s", "upstream_rate", "{rate: 5, period: 1s, max_delay: 20s}"), "gateway.write_timeout"},
	{"reject/forward-auth-clear-text", route("upstreams", "['http://api.internal:8080']", "forward_authorization", "true"), "forward_authorization"},
	{"reject/security-header-name", route("security_headers", "{'X Frame': DENY}"), "not a header name"},
	{"reject/security-header-framing", route("security_headers", "{Content-Length: '0', Set-Cookie: a=b}"), "security_headers.Content-Length"},
	{"reject/security-header-crlf", route("security_headers", "{X-Frame-Options: \"DENY\\r\\nSet-Cookie: a=b\"}"), "control characters"},
	{"reject/security-header-two-spellings", route() + "  security_headers: {X-Frame-Options: DENY, x-frame-options: SAMEORIGIN}\n", "one spelling"},
	{"reject/gateway-listen-same-as-http", route() + "  listen: 127.0.0.1:8080\n", "also http.listen"},
	{"reject/gateway-listen-localhost-clash", route() + "  listen: localhost:8080\n", "also http.listen"},
	{"reject/gateway-listen-wildcard-clash", "issuer: https://auth.example.com\n" + route() + "  listen: ':8080'\n", "also http.listen"},
	{"reject/gateway-listen-not-hostport", route() + "  listen: '8081'\n", "gateway.listen"},
	{"reject/external-url-underivable", route() + "  listen: 0.0.0.0:8081\n", "gateway.external_url: cannot be derived"},
	{"reject/external-url-http-public", route() + "  external_url: 'http://api.example.com'\n", "plain http"},
	{"reject/external-url-http-with-tls", route() + "  external_url: 'http://127.0.0.1:8081'\n", "speaks https"},
	{"reject/external-url-path", route() + "  external_url: 'https://api.example.com/api'\n", "origin only"},
	{"reject/external-url-userinfo", route() + "  external_url: 'https://u:p@api.example.com'\n", "origin only"},
	{"reject/external-url-relative", route() + "  external_url: api.example.com\n", "not an absolute URL"},
	{"reject/gateway-plain-http-public", route() + "  listen: 0.0.0.0:8081\n  tls: {mode: 'off'}\n", "gateway.tls.mode"},
	{"reject/gateway-tls-files-missing", route() + "  tls: {mode: files}\n", "gateway.tls"},
	{"reject/gateway-tls-unknown", route() + "  tls: {mode: maybe}\n", "gateway.tls.mode"},
	{"reject/gateway-trust-everyone", route() + "  trusted_proxies: [0.0.0.0/0]\n", "gateway.trusted_proxies"},
	{"reject/gateway-client-ip-header", route() + "  client_ip_header: x-real-ip\n", "gateway.client_ip_header"},
	{"reject/gateway-header-bytes", route() + "  max_header_bytes: 512\n", "gateway.max_header_bytes"},
	{"reject/gateway-timeout", route() + "  read_header_timeout: 2h\n", "gateway.read_header_timeout"},
	{"reject/spiffe-mode-without-source", route() + "  tls: {mode: spiffe}\n", "gateway.spiffe is not set"},
	{"reject/spiffe-no-dir-no-socket", route() + "  tls: {mode: spiffe}\n  spiffe: {require_client_cert: true}\n", "gateway.spiffe: needs dir"},
	{"reject/spiffe-dir-and-socket", route() + "  spiffe: {dir: /a, socket: /b}\n", "both dir and socket"},
	{"reject/spiffe-dir-control", route() + "  spiffe: {dir: \"/a\\nb\"}\n", "gateway.spiffe.dir"},
	{"reject/spiffe-require-without-mode", route() + "  spiffe: {dir: /a, require_client_cert: true}\n", "gateway.spiffe.require_client_cert"},
	{"reject/spiffe-mode-with-files", route() + "  tls: {mode: spiffe, cert_file: c.pem, key_file: k.pem}\n  spiffe: {dir: /a}\n", "used only with mode files"},
	{"reject/spiffe-mode-unknown-lists-spiffe", route() + "  tls: {mode: mtls}\n", "auto, files, off or spiffe"},
	{"reject/mtls-without-spiffe-mode", route("auth", "{mtls: {allow: ['spiffe://example.test/svc/orders']}}"), "auth.mtls: needs the gateway listener"},
	{"reject/mtls-empty-allow", route("auth", "{mtls: {allow: []}}") + spiffeGW, "auth.mtls.allow: is empty"},
	{"reject/mtls-no-allow", route("auth", "{mtls: {}}") + spiffeGW, "auth.mtls.allow: is empty"},
	{"reject/mtls-not-spiffe", route("auth", "{mtls: {allow: ['https://example.test/svc/orders']}}") + spiffeGW, "auth.mtls.allow[0]"},
	{"reject/mtls-uppercase-td", route("auth", "{mtls: {allow: ['spiffe://Example.test/svc/orders']}}") + spiffeGW, "auth.mtls.allow[0]"},
	{"reject/mtls-trailing-slash", route("auth", "{mtls: {allow: ['spiffe://example.test/svc/orders/']}}") + spiffeGW, "auth.mtls.allow[0]"},
	{"reject/mtls-dot-segment", route("auth", "{mtls: {allow: ['spiffe://example.test/svc/../admin']}}") + spiffeGW, "auth.mtls.allow[0]"},
	{"reject/mtls-trust-domain-only", route("auth", "{mtls: {allow: ['spiffe://example.test']}}") + spiffeGW, "names a trust domain"},
	{"reject/mtls-query", route("auth", "{mtls: {allow: ['spiffe://example.test/svc?x=1']}}") + spiffeGW, "auth.mtls.allow[0]"},
	{"reject/mtls-duplicate", route("auth", "{mtls: {allow: ['spiffe://example.test/svc/a', 'spiffe://example.test/svc/a']}}") + spiffeGW, "twice"},
	{"reject/mtls-bind-without-issuer", route("auth", "{mtls: {allow: ['spiffe://example.test/svc/a'], bind_token: true}}") + spiffeGW, "auth.mtls.bind_token"},
	{"reject/mtls-only-with-audience", route("auth", "{audience: [a], mtls: {allow: ['spiffe://example.test/svc/a']}}") + spiffeGW, "but no issuer"},
	{"reject/mtls-only-with-dpop", route("auth", "{dpop: required, mtls: {allow: ['spiffe://example.test/svc/a']}}") + spiffeGW, "but no issuer"},
	{"reject/mtls-only-client-id-limit", route("auth", "{mtls: {allow: ['spiffe://example.test/svc/a']}}", "rate_limits", "[{name: c, key: client_id, rate: 1, period: 1s}]") + spiffeGW, "mTLS-only"},
	{"reject/mtls-only-claim-shard", route("auth", "{mtls: {allow: ['spiffe://example.test/svc/a']}}", "shuffle_shard", "{key: 'claim:tenant', size: 1}") + spiffeGW, "mTLS-only"},
	{"reject/mtls-unknown-key", route("auth", "{mtls: {allow: ['spiffe://example.test/svc/a'], deny: []}}") + spiffeGW, "deny"},
	{"reject/upstream-spiffe-on-http", route("upstream_tls", "{spiffe_id: 'spiffe://example.test/svc/billing'}") + "  spiffe: {dir: /a}\n", "applies to https upstreams"},
	{"reject/upstream-spiffe-with-ca", route("upstreams", "[https://127.0.0.1:9443]", "upstream_tls", "{spiffe_id: 'spiffe://example.test/svc/billing', ca_file: ca.pem}") + "  spiffe: {dir: /a}\n", "remove ca_file"},
	{"reject/upstream-spiffe-with-server-name", route("upstreams", "[https://127.0.0.1:9443]", "upstream_tls", "{spiffe_id: 'spiffe://example.test/svc/billing', server_name: billing}") + "  spiffe: {dir: /a}\n", "remove ca_file"},
	{"reject/upstream-spiffe-bad-id", route("upstreams", "[https://127.0.0.1:9443]", "upstream_tls", "{spiffe_id: 'spiffe://example.test/svc//billing'}") + "  spiffe: {dir: /a}\n", "upstream_tls.spiffe_id"},
	{"reject/upstream-spiffe-without-source", route("upstreams", "[https://127.0.0.1:9443]", "upstream_tls", "{spiffe_id: 'spiffe://example.test/svc/billing'}"), "needs the gateway's own SVID"},
}

// spiffeGW puts the gateway listener in mode spiffe with the agent's
// directory, for the service-mTLS cases.
const spiffeGW = "  tls: {mode: spiffe}\n  spiffe: {dir: /run/rampart/gateway}\n"

func manyUpstreams(n int) string {
	us := make([]string, n)
	for i := range us {
		us[i] = fmt.Sprintf("'http://127.0.0.1:%d'", 9000+i)
	}
	return strings.Join(us, ", ")
}

func manyLimits(n int) string {
	ls := make([]string, n)
	for i := range ls {
		ls[i] = fmt.Sprintf("{name: l%d, key: client_ip, rate: 100, period: 1m}", i)
	}
	return "[" + strings.Join(ls, ", ") + "]"
}

func TestGatewayRefused(t *testing.T) {
	var golden strings.Builder
	for _, tc := range gatewayRefused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tc.yaml)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q does not mention %q", err, tc.key)
			}
			if strings.Contains(err.Error(), "secret@") || strings.Contains(err.Error(), ":p@") {
				t.Errorf("error leaks the upstream's user info: %q", err)
			}
			fmt.Fprintf(&golden, "== %s\n%s\n", tc.name, err)
		})
	}
	testkit.Golden(t, "gateway-errors.golden", []byte(golden.String()))
}

// TestGatewayDecode: the strict decoder refuses typos in the gateway
// section with their line and dotted key, and names a malformed auth
// clearly instead of reading it as no rule.
func TestGatewayDecode(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want [][]string
	}{
		{"reject/auth-typo-scalar", route("auth", "nne"), [][]string{
			{"line 6", "gateway.routes[].auth", "must be a mapping", "or `none`", `"nne"`}}},
		{"reject/auth-null", route("auth", "~"), [][]string{{"line 6", "gateway.routes[].auth", "not empty"}}},
		{"reject/auth-empty-value", route("auth", ""), [][]string{{"line 6", "gateway.routes[].auth", "not empty"}}},
		{"reject/auth-list", route("auth", "[none]"), [][]string{{"line 6", "gateway.routes[].auth", "not a list"}}},
		{"reject/auth-none-capitalized", route("auth", "None"), [][]string{{"line 6", "lowercase"}}},
		{"reject/auth-bool", route("auth", "false"), [][]string{{"line 6", "gateway.routes[].auth", `"false"`}}},
		{"reject/auth-unknown-key", route("auth", "\n        issuer: self\n        audiences: [a]"), [][]string{
			{"line 8", `unknown key "gateway.routes[].auth.audiences"`, "audience, claims, dpop, issuer, mtls, scopes"}}},
		{"reject/route-unknown-key", route("upstream", "[http://127.0.0.1:1]"), [][]string{
			{"line 7", `unknown key "gateway.routes[].upstream"`, "upstreams"}}},
		{"reject/match-typo", route("match", "{prefix: /api, methods: [GET]}"), [][]string{
			{"line 4", `unknown key "gateway.routes[].match.prefix"`, "path_prefix"}}},
		{"reject/gateway-typo", "gateway:\n  listn: 127.0.0.1:8081\n", [][]string{
			{"line 2", `unknown key "gateway.listn"`, "listen"}}},
		{"reject/limit-period-number", route("rate_limits", "[{name: a, key: subject, rate: 1, period: 60}]"), [][]string{
			{"line 7", "gateway.routes[].rate_limits[].period", "60 is a number", "60s or 1m"}}},
		{"reject/shaper-scalar", route("upstream_rate", "50"), [][]string{
			{"line 7", "gateway.routes[].upstream_rate", "must be a mapping"}}},
		{"reject/claims-list", route("auth", "{issuer: self, audience: [a], claims: [tenant]}"), [][]string{
			{"line 6", "gateway.routes[].auth.claims", "must be a mapping"}}},
		{"reject/forward-yes", route("forward_authorization", "yes"), [][]string{
			{"line 7", "gateway.routes[].forward_authorization", "true or false"}}},
		{"reject/headers-list", route("security_headers", "[X-Frame-Options]"), [][]string{
			{"line 7", "gateway.routes[].security_headers", "must be a mapping"}}},
		{"reject/two-problems", route("auth", "nne", "cost", "lots"), [][]string{
			{"line 6", "auth"}, {"line 7", "gateway.routes[].cost", "whole number"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("Decode accepted:\n%s", tc.yaml)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tc.want) {
				t.Fatalf("got %d messages, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i, frags := range tc.want {
				for _, f := range frags {
					if !strings.Contains(got[i], f) {
						t.Errorf("message %d %q does not mention %q", i, got[i], f)
					}
				}
			}
		})
	}
}

// TestRouteAuthOutsideDecode: a plain yaml.Unmarshal of the file (a
// decoder other than Decode) also refuses a typo'd or unknown-keyed auth,
// so no reader of the file can take it for "no rule".
func TestRouteAuthOutsideDecode(t *testing.T) {
	var c Config
	for _, y := range []string{route("auth", "nne"), route("auth", "{issuer: self, audiences: [a]}"), route("auth", "[a]")} {
		if err := yaml.Unmarshal([]byte(y), &c); err == nil || !strings.Contains(err.Error(), "auth") {
			t.Errorf("yaml.Unmarshal accepted:\n%s\n%v", y, err)
		}
	}
	if err := yaml.Unmarshal([]byte(route("auth", "none")), &c); err != nil || !c.Gateway.Routes[0].Auth.None || !c.Gateway.Routes[0].Auth.Set {
		t.Fatalf("auth: none: %v %+v", err, c.Gateway)
	}
	c = Config{}
	if err := yaml.Unmarshal([]byte(route()), &c); err != nil || c.Gateway.Routes[0].Auth.None || !c.Gateway.Routes[0].Auth.Set || c.Gateway.Routes[0].Auth.Issuer != "self" {
		t.Fatalf("auth mapping: %v %+v", err, c.Gateway)
	}
}

// TestDenyByDefaultAttack: an operator's route without auth, or with an
// auth a typo turned into something else, never loads: every way of
// writing "no rule" that is not the literal none is refused at Load.
func TestDenyByDefaultAttack(t *testing.T) {
	dir := t.TempDir()
	for i, auth := range []string{"-", "~", "''", "{}", "nne", "None", "NONE", "'none '", "[]", "{issuer: ''}", "{audience: [a]}"} {
		file := filepath.Join(dir, fmt.Sprintf("c%d.yaml", i))
		if err := os.WriteFile(file, []byte(route("auth", auth)), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(file)
		if err == nil {
			t.Errorf("auth %s: loaded, route auth %+v", auth, c.Gateway.Routes[0].Auth)
		}
	}
}

// TestGatewayResolveFiles: `config check` reads the gateway's TLS files
// and each route's upstream_tls files, refusing an unreadable file, a CA
// file without a certificate and a certificate that is not the key's.
func TestGatewayResolveFiles(t *testing.T) {
	now := time.Now()
	certA, keyA, _ := testkit.CertPair(t, "a.internal", now.Add(-time.Hour), now.Add(time.Hour), true)
	_, keyB, _ := testkit.CertPair(t, "b.internal", now.Add(-time.Hour), now.Add(time.Hour), false)
	y := route("upstreams", "[https://api.internal]", "upstream_tls", "{ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}") +
		"  tls: {mode: files, cert_file: gw.crt, key_file: gw.key}\n"
	c, err := Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	good := &fakeEnv{files: map[string]string{"ca.pem": string(certA), "c.pem": string(certA), "k.pem": string(keyA), "gw.crt": string(certA), "gw.key": string(keyA)}}
	if _, err := c.Resolve(good.env(), Needs{TLSFiles: true}); err != nil {
		t.Fatalf("good files: %v", err)
	}
	if good.reads["ca.pem"] != 1 || good.reads["gw.key"] != 1 {
		t.Errorf("reads %v, want each file once", good.reads)
	}
	bad := &fakeEnv{files: map[string]string{"ca.pem": "not pem", "c.pem": string(certA), "k.pem": string(keyB)}}
	_, err = c.Resolve(bad.env(), Needs{TLSFiles: true})
	for _, want := range []string{
		"gateway.tls.cert_file: cannot read gw.crt",
		"gateway.tls.key_file: cannot read gw.key",
		"gateway.routes[0] (r).upstream_tls.ca_file: ca.pem holds no PEM certificate",
		"gateway.routes[0] (r).upstream_tls: c.pem and k.pem are not a matching",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	if _, err := c.Resolve(bad.env(), Needs{Store: true}); err != nil {
		t.Errorf("files read without TLSFiles: %v", err)
	}
}
