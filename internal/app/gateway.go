package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/gateway"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/jwtauth"
	"github.com/rampart-auth/rampart/ratelimit"
)

// Redis key prefixes of the gateway's shared state.
const (
	gatewayRateLimitPrefix = "rampart:gw:rl:"
	gatewayDPoPPrefix      = "rampart:gw:dpop:"
)

// newGateway builds the gateway over the process's key manager, deny list
// and stores, and the gateway's SPIFFE identity when it has one, and loads
// the configured route table.
func (s *server) newGateway(trust *gatewayTrust) (*gateway.Gateway, error) {
	gc := s.cfg.Gateway
	d := gateway.Deps{
		Issuer:      s.cfg.Issuer,
		SelfKeys:    oauth.NewKeySource(s.km),
		Deny:        oauth.NewStoreDenyList(s.db.OAuth(), nil),
		Signer:      s.km,
		Limits:      ratelimit.NewMemoryStore(nil),
		ShardSecret: s.kr.DataKey(kms.DataKeyGatewayShard),
		TLS:         gc.TLS.Mode != config.TLSOff,
		Audit:       s.audit,
		Logger:      s.logger.With("listener", "gateway"),
		Registerer:  s.reg,
	}
	if trust != nil {
		d.SPIFFE = trust.src
		d.MTLSListener, d.TrustDomain = gc.TLS.Mode == config.TLSSPIFFE, trust.td
	}
	if s.redis != nil {
		// One fleet: revocations, limits and DPoP proof ids are shared, so
		// a token revoked on one instance, or a budget spent on one, holds
		// on all (issue 12: revoked fleet-wide within one second).
		d.Deny = jwtauth.NewRedisDenyList(s.redis, oauth.DenyListPrefix)
		d.Limits = ratelimit.NewRedisStore(s.redis, ratelimit.RedisOptions{Prefix: gatewayRateLimitPrefix, Logger: d.Logger})
		d.DPoPReplay = jwtauth.NewRedisReplayCache(s.redis, gatewayDPoPPrefix)
	}
	gw, err := gateway.New(d)
	if err != nil {
		return nil, err
	}
	if err := gw.Load(s.cfg); err != nil {
		gw.Close()
		return nil, err
	}
	return gw, nil
}

// gatewayListener builds the listener of gateway.listen.
func (s *server) gatewayListener(ctx context.Context) (Component, error) {
	gc := s.cfg.Gateway
	trust, err := openGatewayTrust(ctx, gc, s.logger.With("listener", "gateway"))
	if err != nil {
		return nil, err
	}
	gw, err := s.newGateway(trust)
	if err != nil {
		trust.close()
		return nil, err
	}
	s.gateway = gw
	var tlsConf *tls.Config
	if gc.TLS.Mode == config.TLSSPIFFE {
		tlsConf = trust.serverConfig(gc.SPIFFE)
	} else {
		tlsConf, err = serverTLS(gc.TLS, gatewayTLSHosts(s.cfg), s.ca, s.logger)
	}
	if err != nil {
		gw.Close()
		trust.close()
		return nil, err
	}
	// Order (outermost first), as on the main listener: one client
	// address, then the request id, then the log, then panic recovery. No
	// httpx.SecurityHeaders: the gateway sets its routes' own headers on
	// every answer, over the upstream's.
	h := httpx.Chain(gw,
		httpx.ClientAddr(gc.TrustedPrefixes(), gc.ClientIPHeader),
		httpx.RequestID,
		httpx.AccessLog(s.logger),
		httpx.Recover(s.logger),
	)
	srv := httpx.NewServer(httpx.ServerOptions{
		Addr: gc.Listen, Handler: h, TLSConfig: tlsConf,
		ReadHeaderTimeout: gc.ReadHeaderTimeout.D(), ReadTimeout: gc.ReadTimeout.D(),
		WriteTimeout: gc.WriteTimeout.D(), IdleTimeout: gc.IdleTimeout.D(),
		ShutdownTimeout: s.cfg.HTTP.ShutdownTimeout.D(), MaxHeaderBytes: gc.MaxHeaderBytes, Logger: s.logger,
	})
	s.gwListen = &Listener{Name: "gateway", Listen: gc.Listen, Server: srv, Audit: s.audit, Logger: s.logger,
		Details: map[string]string{"listener": "gateway", "tls": gc.TLS.Mode, "routes": strconv.Itoa(len(gc.Routes))}}
	return &gatewayComponent{Listener: s.gwListen, gw: gw, trust: trust}, nil
}

// gatewayComponent is the gateway's listener; stopping it also stops the
// gateway's background work (health checks, JWKS refresh, the SVID
// socket's polling).
type gatewayComponent struct {
	*Listener
	gw    *gateway.Gateway
	trust *gatewayTrust
}

func (c *gatewayComponent) Stop(ctx context.Context) error {
	err := c.Listener.Stop(ctx)
	c.gw.Close()
	c.trust.close()
	return err
}

// gatewayTLSHosts are the auto-TLS names of the gateway's certificate: the
// main listener's names plus the gateway's listen host.
func gatewayTLSHosts(cfg *config.Config) []string {
	hosts := tlsHosts(cfg)
	if h, _, err := net.SplitHostPort(cfg.Gateway.Listen); err == nil {
		h = strings.Trim(h, "[]")
		if ip := net.ParseIP(h); h != "" && (ip == nil || !ip.IsUnspecified()) && !contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// printGateway adds the gateway's line to the banner.
func (s *server) printGateway() {
	if s.gwListen == nil {
		return
	}
	scheme := "https"
	if s.cfg.Gateway.TLS.Mode == config.TLSOff {
		scheme = "http"
	}
	fmt.Fprintf(s.o.Stdout, "  gateway  %s://%s   %d routes: %s\n", scheme, s.gwListen.Addr(), len(s.gateway.Routes()), strings.Join(s.gateway.Routes(), ", "))
}
