package config

import "net/netip"

// TEMPORARY: the lead's copy of the gateway types while gw-config is built; removed at merge.

type Gateway struct {
	Listen            string            `yaml:"listen"`
	ExternalURL       string            `yaml:"external_url"`
	TLS               TLS               `yaml:"tls"`
	TrustedProxies    []string          `yaml:"trusted_proxies"`
	ClientIPHeader    string            `yaml:"client_ip_header"`
	MaxHeaderBytes    int               `yaml:"max_header_bytes"`
	ReadHeaderTimeout Duration          `yaml:"read_header_timeout"`
	ReadTimeout       Duration          `yaml:"read_timeout"`
	WriteTimeout      Duration          `yaml:"write_timeout"`
	IdleTimeout       Duration          `yaml:"idle_timeout"`
	SecurityHeaders   map[string]string `yaml:"security_headers"`
	Routes            []GatewayRoute    `yaml:"routes"`
}
type GatewayRoute struct {
	Name                 string            `yaml:"name"`
	Match                RouteMatch        `yaml:"match"`
	Upstreams            []string          `yaml:"upstreams"`
	Auth                 RouteAuth         `yaml:"auth"`
	RateLimits           []RouteLimit      `yaml:"rate_limits"`
	Cost                 int64             `yaml:"cost"`
	Request              RouteRequest      `yaml:"request"`
	UpstreamRate         *UpstreamRate     `yaml:"upstream_rate"`
	ShuffleShard         *ShuffleShard     `yaml:"shuffle_shard"`
	ForwardAuthorization bool              `yaml:"forward_authorization"`
	UpstreamTLS          UpstreamTLS       `yaml:"upstream_tls"`
	HealthCheck          HealthCheck       `yaml:"health_check"`
	Timeout              Duration          `yaml:"timeout"`
	SecurityHeaders      map[string]string `yaml:"security_headers"`
}
type RouteMatch struct {
	Host       string   `yaml:"host"`
	PathPrefix string   `yaml:"path_prefix"`
	Path       string   `yaml:"path"`
	Methods    []string `yaml:"methods"`
}
type RouteAuth struct {
	Set, None bool              `yaml:"-"`
	Issuer    string            `yaml:"issuer"`
	Audience  []string          `yaml:"audience"`
	Scopes    []string          `yaml:"scopes"`
	Claims    map[string]string `yaml:"claims"`
	DPoP      string            `yaml:"dpop"`
}
type RouteLimit struct {
	Name   string   `yaml:"name"`
	Key    string   `yaml:"key"`
	Rate   int64    `yaml:"rate"`
	Period Duration `yaml:"period"`
	Burst  int64    `yaml:"burst"`
}
type RouteRequest struct {
	MaxBodyBytes int64    `yaml:"max_body_bytes"`
	ContentTypes []string `yaml:"content_types"`
	JSONSchema   string   `yaml:"json_schema"`
	SanitizeHTML []string `yaml:"sanitize_html"`
}
type UpstreamRate struct {
	Rate     int64    `yaml:"rate"`
	Period   Duration `yaml:"period"`
	MaxDelay Duration `yaml:"max_delay"`
}
type ShuffleShard struct {
	Key  string `yaml:"key"`
	Size int    `yaml:"size"`
}
type UpstreamTLS struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}
type HealthCheck struct {
	Path     string   `yaml:"path"`
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`
}

func (c *Config) GatewaySchemaPath(p string) string { return p }

func (g *Gateway) TrustedPrefixes() []netip.Prefix { return nil }
