package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Gateway configures the identity-aware reverse proxy (issue 12). A nil
// *Gateway (no `gateway:` key) means no gateway listener.
type Gateway struct {
	// Listen is the gateway's own address; it must differ from http.listen.
	Listen string `yaml:"listen"`
	// ExternalURL is the origin (scheme://host[:port]) at which clients
	// reach the gateway; DPoP proofs' htu is checked against it, never
	// against a request's Host (RFC 9449 §4.3). "" means
	// http(s)://<listen>, which needs a concrete listen host.
	ExternalURL string `yaml:"external_url"`
	// TLS is as http.tls: off (plain HTTP) only on a loopback address;
	// the gateway also has mode spiffe (TLSSPIFFE): present the gateway's
	// SVID from SPIFFE and ask for client SVIDs.
	TLS TLS `yaml:"tls"`
	// SPIFFE is the gateway's own X509-SVID, kept fresh by `rampart
	// agent` (gateway_mtls.go); nil when the gateway has none.
	SPIFFE *GatewaySPIFFE `yaml:"spiffe"`
	// TrustedProxies and ClientIPHeader are as in http, for the gateway's
	// listener: the proxies in front of the gateway, which are not
	// necessarily those in front of the main listener.
	TrustedProxies []string `yaml:"trusted_proxies"`
	ClientIPHeader string   `yaml:"client_ip_header"`
	// MaxHeaderBytes caps the request line and headers (default 32 KiB).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// Timeouts of the gateway's server.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	WriteTimeout      Duration `yaml:"write_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	// SecurityHeaders overrides the default security response headers for
	// every route: name → value, "" removes that default.
	SecurityHeaders map[string]string `yaml:"security_headers"`
	Routes          []GatewayRoute    `yaml:"routes"`
}

// TrustedPrefixes returns gateway.trusted_proxies parsed and masked, as
// HTTP.TrustedPrefixes does for the main listener.
func (g *Gateway) TrustedPrefixes() []netip.Prefix {
	return HTTP{TrustedProxies: g.TrustedProxies}.TrustedPrefixes()
}

// GatewayRoute is one route of the gateway. Route-table checks that need
// every route at once (overlaps) and the path, host and method syntax of
// the route matcher are gateway.Compile's; Validate checks what is local
// to one key.
type GatewayRoute struct {
	// Name is unique among the routes: ^[a-z0-9]+(-[a-z0-9]+)*$, at most
	// MaxRouteNameLen bytes (the rule of gateway.Compile).
	Name      string     `yaml:"name"`
	Match     RouteMatch `yaml:"match"`
	Upstreams []string   `yaml:"upstreams"`
	// Auth is required: a mapping, or the literal `none`.
	Auth       RouteAuth    `yaml:"auth"`
	RateLimits []RouteLimit `yaml:"rate_limits"`
	// Cost is what one request takes from each of RateLimits (default 1).
	Cost         int64         `yaml:"cost"`
	Request      RouteRequest  `yaml:"request"`
	UpstreamRate *UpstreamRate `yaml:"upstream_rate"`
	ShuffleShard *ShuffleShard `yaml:"shuffle_shard"`
	// ForwardAuthorization passes the client's Authorization header to the
	// upstream; by default it is stripped.
	ForwardAuthorization bool        `yaml:"forward_authorization"`
	UpstreamTLS          UpstreamTLS `yaml:"upstream_tls"`
	HealthCheck          HealthCheck `yaml:"health_check"`
	// Timeout bounds the wait for the upstream's response headers
	// (default 30s).
	Timeout Duration `yaml:"timeout"`
	// SecurityHeaders overrides gateway.security_headers for this route.
	SecurityHeaders map[string]string `yaml:"security_headers"`
}

// RouteMatch selects the requests of a route: exactly one of Path (exact)
// and PathPrefix (segment-aware), an optional exact Host, and the methods.
type RouteMatch struct {
	Host       string   `yaml:"host"`
	PathPrefix string   `yaml:"path_prefix"`
	Path       string   `yaml:"path"`
	Methods    []string `yaml:"methods"`
}

// Values of RouteAuth.
const (
	// AuthNone is the literal `auth: none`: the route is public.
	AuthNone = "none"
	// AuthIssuerSelf names Rampart itself as the issuer.
	AuthIssuerSelf = "self"
	DPoPOptional   = "optional"
	DPoPRequired   = "required"
)

// RouteAuth is a route's authentication rule: either the mapping or the
// literal scalar `none`. Set is false when the key is absent, which
// Validate refuses (deny by default, DESIGN principle 3); None is true for
// `auth: none`, and then every other field is empty.
type RouteAuth struct {
	Set, None bool `yaml:"-"`
	// Issuer is "self" or an https issuer URL found by discovery (http
	// only on a loopback host, as jwtauth's discovery allows).
	Issuer string `yaml:"issuer"`
	// Audience is required: at least one value, one of which the token's
	// aud must hold.
	Audience []string `yaml:"audience"`
	// Scopes are all required (RFC 6749 §3.3 scope-tokens).
	Scopes []string `yaml:"scopes"`
	// Claims are exact claim values the token must carry.
	Claims map[string]string `yaml:"claims"`
	// DPoP is optional (the default) or required.
	DPoP string `yaml:"dpop"`
	// MTLS admits only the listed SPIFFE IDs, verified at the TLS
	// handshake (gateway.tls.mode spiffe). Without Issuer the route is
	// mTLS-only; with one, the request needs both.
	MTLS *RouteMTLS `yaml:"mtls"`
}

// routeAuthFields are the keys of the auth mapping.
var routeAuthFields = yamlFields(reflect.TypeFor[RouteAuth]())

// UnmarshalYAML reads the mapping or the literal `none`, refusing
// anything else and unknown keys inside the mapping, so any decoder of the
// file (not only Decode, whose walk checks first) keeps deny by default:
// a typo such as `auth: nne` is never read as a rule.
func (a *RouteAuth) UnmarshalYAML(n *yaml.Node) error {
	if isAuthNone(n) {
		*a = RouteAuth{Set: true, None: true}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: auth %s", n.Line, authShapeHint(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; routeAuthFields[k.Value] == nil {
			return fmt.Errorf("line %d: unknown key %q in auth; valid keys are: %s", k.Line, k.Value, strings.Join(sortedKeys(routeAuthFields), ", "))
		}
	}
	type plain RouteAuth // the same fields without this method
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*a = RouteAuth(p)
	a.Set, a.None = true, false
	return nil
}

// isAuthNone reports whether n is the literal `none` (plain or quoted).
func isAuthNone(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!str" && n.Value == AuthNone
}

// authShapeHint says what an auth value must be, naming what it was.
func authShapeHint(n *yaml.Node) string {
	what := kindName(n)
	if isNull(n) {
		what = "empty"
	}
	return fmt.Sprintf("must be a mapping {issuer: self, audience: [...], ...} or `none`, not %s", what)
}

// RouteLimit is one of a route's composed rate limits. Key is subject,
// client_ip, client_id or "claim:NAME".
type RouteLimit struct {
	Name   string   `yaml:"name"`
	Key    string   `yaml:"key"`
	Rate   int64    `yaml:"rate"`
	Period Duration `yaml:"period"`
	// Burst defaults to Rate.
	Burst int64 `yaml:"burst"`
}

// The keys a route's rate limit or shuffle shard is counted by.
const (
	RouteKeySubject  = "subject"
	RouteKeyClientIP = "client_ip"
	RouteKeyClientID = "client_id"
	// RouteKeyClaimPrefix starts "claim:NAME": the value of the token's
	// claim NAME.
	RouteKeyClaimPrefix = "claim:"
)

// RouteKeyClaim returns NAME of a "claim:NAME" key, and false for the
// other keys.
func RouteKeyClaim(key string) (string, bool) {
	return strings.CutPrefix(key, RouteKeyClaimPrefix)
}

// RouteRequest is a route's input rules.
type RouteRequest struct {
	// MaxBodyBytes caps the body (default 1 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ContentTypes are the media types (type/subtype, no parameters) a
	// request with a body may have; empty allows any.
	ContentTypes []string `yaml:"content_types"`
	// JSONSchema is a schema file, relative to the config file's directory
	// (resolve it with Config.GatewaySchemaPath).
	JSONSchema string `yaml:"json_schema"`
	// SanitizeHTML are RFC 6901 JSON pointers whose string values are
	// cleaned of active HTML.
	SanitizeHTML []string `yaml:"sanitize_html"`
}

// UpstreamRate shapes the traffic to the upstreams (a leaky bucket as a
// queue): Rate requests per Period, each waiting at most MaxDelay (default
// 1s) for its turn.
type UpstreamRate struct {
	Rate     int64    `yaml:"rate"`
	Period   Duration `yaml:"period"`
	MaxDelay Duration `yaml:"max_delay"`
}

// ShuffleShard serves each value of Key (a tenant) from its own Size of
// the route's upstreams. Key is as RouteLimit.Key.
type ShuffleShard struct {
	Key  string `yaml:"key"`
	Size int    `yaml:"size"`
}

// UpstreamTLS configures TLS to https upstreams: a CA bundle to verify
// them (else the system roots), a client certificate, and the name to
// verify (else the URL's host); or SPIFFEID alone: mTLS with the
// gateway's SVID (gateway.spiffe) to an upstream that must present
// exactly that SPIFFE ID.
type UpstreamTLS struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
	SPIFFEID   string `yaml:"spiffe_id"`
}

// HealthCheck configures active health checks: GET Path every Interval
// (default 10s), failing after Timeout (default 2s). Path "" means passive
// checks only (ejection on errors).
type HealthCheck struct {
	Path     string   `yaml:"path"`
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`
}

// GatewaySchemaPath resolves a route's request.json_schema: an absolute
// path is kept; a relative one is relative to the directory of the config
// file (Config.File), or to the working directory when there is no file.
func (c *Config) GatewaySchemaPath(p string) string {
	if p == "" || filepath.IsAbs(p) || c.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}
