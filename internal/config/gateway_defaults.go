package config

import (
	"net"
	"strings"
	"time"
)

// Gateway defaults. Security-relevant ones carry their reason.
const (
	DefaultGatewayListen = "127.0.0.1:8081"
	// DefaultGatewayMaxHeaderBytes: 32 KiB holds a large JWT (a DPoP proof
	// beside it) and cookies, well under net/http's 1 MiB default, which
	// lets one connection make the gateway buffer a megabyte before any
	// check (OWASP DoS Cheat Sheet, "limit request size").
	DefaultGatewayMaxHeaderBytes = 32 << 10
	// DefaultRouteMaxBodyBytes caps a route's request body; see
	// DefaultMaxBodyBytes.
	DefaultRouteMaxBodyBytes = 1 << 20
	// DefaultUpstreamMaxDelay is how long a request may queue in a route's
	// upstream_rate shaper when max_delay is not set.
	DefaultUpstreamMaxDelay = time.Second
)

// defaultGateway fills the gateway's unset keys; nothing when there is no
// gateway. Called by Defaults after the issuer is known.
func (c *Config) defaultGateway() {
	g := c.Gateway
	if g == nil {
		return
	}
	if g.Listen == "" {
		g.Listen = DefaultGatewayListen
	}
	if g.TLS.Mode == "" {
		g.TLS.Mode = c.defaultGatewayTLS(g.Listen)
	}
	if g.ClientIPHeader == "" {
		g.ClientIPHeader = ClientIPHeaderXFF
	}
	if g.MaxHeaderBytes == 0 {
		g.MaxHeaderBytes = DefaultGatewayMaxHeaderBytes
	}
	// Slowloris protection as on the main listener (OWASP DoS Cheat
	// Sheet); the write timeout is longer than a route's default upstream
	// timeout (30s), so the upstream's timeout answers first.
	setDur(&g.ReadHeaderTimeout, 5*time.Second)
	setDur(&g.ReadTimeout, 30*time.Second)
	setDur(&g.WriteTimeout, 60*time.Second)
	setDur(&g.IdleTimeout, 120*time.Second)
	for i := range g.Routes {
		defaultRoute(&g.Routes[i])
	}
}

// defaultGatewayTLS is http.tls's rule: plain HTTP where the main listener
// is plain (dev mode, or an http:// issuer, both loopback only), else TLS.
// Plain HTTP is chosen only for a loopback gateway address; elsewhere the
// default is auto, never a value Validate would refuse.
func (c *Config) defaultGatewayTLS(listen string) string {
	plain := c.Dev || strings.HasPrefix(c.Issuer, "http://")
	if host, _, err := net.SplitHostPort(listen); plain && err == nil && isLoopbackHost(host) {
		return TLSOff
	}
	return TLSAuto
}

func defaultRoute(r *GatewayRoute) {
	if r.Cost == 0 {
		r.Cost = 1
	}
	if r.Auth.Set && !r.Auth.None && !r.Auth.MTLSOnly() && r.Auth.DPoP == "" {
		r.Auth.DPoP = DPoPOptional
	}
	for j := range r.RateLimits {
		// A burst of one period's rate: a fresh key may spend one
		// period's worth at once, then rate per period.
		if l := &r.RateLimits[j]; l.Burst == 0 {
			l.Burst = l.Rate
		}
	}
	if r.Request.MaxBodyBytes == 0 {
		r.Request.MaxBodyBytes = DefaultRouteMaxBodyBytes
	}
	if r.UpstreamRate != nil {
		setDur(&r.UpstreamRate.MaxDelay, DefaultUpstreamMaxDelay)
	}
	setDur(&r.HealthCheck.Interval, 10*time.Second)
	setDur(&r.HealthCheck.Timeout, 2*time.Second)
	setDur(&r.Timeout, 30*time.Second)
}
