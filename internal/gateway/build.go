package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/gateway/input"
	"github.com/rampart-auth/rampart/internal/gateway/upstream"
	"github.com/rampart-auth/rampart/ratelimit"
)

// Defaults of the upstream pools (not configuration keys yet: Envoy's
// outlier-detection defaults, which operators know).
const (
	ejectConsecutive = 5
	ejectBase        = 30 * time.Second
	ejectMax         = 5 * time.Minute
	healthyAfter     = 2
	unhealthyAfter   = 3
	// drainGrace is how long a replaced table's idle upstream connections
	// are kept for the requests still running on it.
	drainGrace = 30 * time.Second
)

// state is one immutable route table: the compiled router and each
// route's pipeline, indexed by Route.Index.
type state struct {
	router *Router
	routes []*routeRT
	pools  []*upstream.Pool
	cancel context.CancelFunc // stops the pools' health checks
}

// close stops the table's background work; its connections stay usable
// by requests in flight and are closed when idle after drainGrace.
func (s *state) close() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	pools := s.pools
	time.AfterFunc(drainGrace, func() {
		for _, p := range pools {
			if t, ok := p.Transport().(interface{ CloseIdleConnections() }); ok {
				t.CloseIdleConnections()
			}
		}
	})
}

// routeRT is one route's built pipeline.
type routeRT struct {
	name    string
	handler http.Handler
	rm      *routeMetrics
	sec     securityHeaders
}

func (rt *routeRT) observe(code int, d time.Duration) { rt.rm.observe(code, d) }

// Specs converts the configured routes into the router's specs.
func Specs(gc *config.Gateway) []RouteSpec {
	specs := make([]RouteSpec, 0, len(gc.Routes))
	for _, rc := range gc.Routes {
		s := RouteSpec{Name: rc.Name, Host: rc.Match.Host, Path: rc.Match.Path, PathPrefix: rc.Match.PathPrefix,
			Methods: rc.Match.Methods, Public: rc.Auth.Set && rc.Auth.None}
		if rc.Auth.Set && !rc.Auth.None {
			a := rc.Auth
			s.Auth = &AuthSpec{Issuer: a.Issuer, Audience: a.Audience, Scopes: a.Scopes, Claims: a.Claims, DPoP: a.DPoP}
			if a.MTLS != nil {
				s.Auth.MTLSAllow, s.Auth.BindToken = a.MTLS.Allow, a.MTLS.BindToken
			}
		}
		specs = append(specs, s)
	}
	return specs
}

// Check is the gateway's share of the start-up checks (`rampart config
// check` and `serve` run it through app.Preflight, before any side
// effect): the route table compiles, every route's request rules and JSON
// Schema compile, and every upstream list is valid. It reads the schema
// files and nothing else.
func Check(cfg *config.Config) error {
	gc := cfg.Gateway
	if gc == nil {
		return nil
	}
	var errs []error
	if _, err := Compile(Specs(gc)); err != nil {
		errs = append(errs, fmt.Errorf("config: gateway.routes: %w", err))
	}
	for i, rc := range gc.Routes {
		if _, err := input.Compile(inputSpec(cfg, rc)); err != nil {
			errs = append(errs, fmt.Errorf("config: gateway.routes[%d] (%s).request: %w", i, rc.Name, err))
		}
		if err := upstream.Validate(poolOptions(rc)); err != nil {
			errs = append(errs, fmt.Errorf("config: gateway.routes[%d] (%s).upstreams: %w", i, rc.Name, err))
		}
	}
	return errors.Join(errs...)
}

func inputSpec(cfg *config.Config, rc config.GatewayRoute) input.Spec {
	s := input.Spec{MaxBodyBytes: rc.Request.MaxBodyBytes, ContentTypes: rc.Request.ContentTypes,
		SanitizeHTML: rc.Request.SanitizeHTML}
	if rc.Request.JSONSchema != "" {
		s.JSONSchema = cfg.GatewaySchemaPath(rc.Request.JSONSchema)
	}
	return s
}

func poolOptions(rc config.GatewayRoute) upstream.Options {
	o := upstream.Options{
		Route: rc.Name, URLs: rc.Upstreams,
		TLS:                   upstream.TLS(rc.UpstreamTLS),
		Health:                upstream.Health{Path: rc.HealthCheck.Path, Interval: rc.HealthCheck.Interval.D(), Timeout: rc.HealthCheck.Timeout.D(), Healthy: healthyAfter, Unhealthy: unhealthyAfter},
		Ejection:              upstream.Ejection{Consecutive: ejectConsecutive, BaseTime: ejectBase, MaxTime: ejectMax},
		ResponseHeaderTimeout: rc.Timeout.D(),
	}
	return o
}

// build compiles a whole table. Nothing is started: Load starts the
// pools' health checks only once the table is complete and swapped in.
func (g *Gateway) build(cfg *config.Config) (*state, error) {
	gc := cfg.Gateway
	if gc == nil {
		gc = &config.Gateway{}
	}
	router, err := Compile(Specs(gc))
	if err != nil {
		return nil, err
	}
	st := &state{router: router}
	external := gc.ExternalURL
	if external == "" {
		// The origin clients reach the gateway at, for DPoP's htu: never
		// read from a request's Host (RFC 9449 §4.3 compares htu with the
		// URI the server knows it serves).
		external = "http://" + gc.Listen
		if g.d.TLS {
			external = "https://" + gc.Listen
		}
	}
	for _, rc := range gc.Routes {
		rt, pool, err := g.buildRoute(cfg, gc, rc, external)
		if err != nil {
			return nil, err
		}
		st.routes = append(st.routes, rt)
		st.pools = append(st.pools, pool)
	}
	return st, nil
}

// buildRoute builds one route's pipeline, outermost first:
// authentication → rate limits → request rules → upstream.
func (g *Gateway) buildRoute(cfg *config.Config, gc *config.Gateway, rc config.GatewayRoute, external string) (*routeRT, *upstream.Pool, error) {
	rm := g.m.forRoute(rc.Name)
	sec := mergeSecurity(defaultSecurity(g.d.TLS), gc.SecurityHeaders, rc.SecurityHeaders)
	po := poolOptions(rc)
	po.Logger, po.Clock, po.SPIFFE = g.d.Logger, g.d.Clock, g.d.SPIFFE
	if ss := rc.ShuffleShard; ss != nil {
		sh, err := NewSharder(rc.Upstreams, ss.Size, g.d.ShardSecret)
		if err != nil {
			return nil, nil, fmt.Errorf("route %s: shuffle_shard: %w", rc.Name, err)
		}
		po.Shard = sh
	}
	pool, err := upstream.New(po)
	if err != nil {
		return nil, nil, fmt.Errorf("route %s: %w", rc.Name, err)
	}
	f, err := g.newForwarder(rc, pool, &rm, sec)
	if err != nil {
		return nil, nil, err
	}
	rules, err := input.Compile(inputSpec(cfg, rc))
	if err != nil {
		return nil, nil, fmt.Errorf("route %s: %w", rc.Name, err)
	}
	var h http.Handler = g.inputStage(rules, sec, f)
	if h, err = g.limitStage(rc, h); err != nil {
		return nil, nil, err
	}
	if !rc.Auth.None {
		if rc.Auth.Issuer == "" && rc.Auth.MTLS == nil {
			// Deny by default, here too: a rule with neither a token nor
			// an mtls part authenticates nothing.
			return nil, nil, fmt.Errorf("route %s: auth has neither an issuer nor an mtls rule", rc.Name)
		}
		if rc.Auth.Issuer != "" {
			if h, err = g.authStage(rc.Name, rc.Auth, external, h); err != nil {
				return nil, nil, err
			}
		}
		if m := rc.Auth.MTLS; m != nil {
			// Outermost: a service that may not call the route is refused
			// before its token is even looked at.
			if h, err = g.mtlsStage(rc.Name, m.Allow, h); err != nil {
				return nil, nil, err
			}
		}
	}
	return &routeRT{name: rc.Name, handler: h, rm: &rm, sec: sec}, pool, nil
}

func (g *Gateway) newForwarder(rc config.GatewayRoute, pool *upstream.Pool, rm *routeMetrics, sec securityHeaders) (*forwarder, error) {
	f := &forwarder{g: g, name: rc.Name, pool: pool, forwardAuth: rc.ForwardAuthorization, proto: "http", rm: rm, sec: sec}
	if g.d.TLS {
		f.proto = "https"
	}
	if ur := rc.UpstreamRate; ur != nil {
		s, err := ratelimit.NewShaper(ratelimit.ShaperOptions{Rate: ur.Rate, Period: ur.Period.D(), MaxDelay: ur.MaxDelay.D()})
		if err != nil {
			return nil, fmt.Errorf("route %s: upstream_rate: %w", rc.Name, err)
		}
		f.shaper = s
	}
	if ss := rc.ShuffleShard; ss != nil {
		value := keyValue(ss.Key)
		f.shardKey = func(r *http.Request) string {
			if v := value(r); v != "" {
				return v
			}
			return missingKey
		}
	}
	f.proxy = &httputil.ReverseProxy{
		Rewrite:        f.rewrite,
		Transport:      pool.Transport(),
		ModifyResponse: f.modifyResponse(upstream.ModifyResponse(upstream.SecurityHeaders(sec))),
		ErrorHandler:   f.errorHandler(upstream.ErrorHandler(pool, upstream.SecurityHeaders(sec))),
		ErrorLog:       proxyErrorLog(g.d.Logger),
		BufferPool:     proxyBuffers,
	}
	return f, nil
}

// Load builds the table of cfg.Gateway and swaps it in atomically; the
// old table's requests finish on it. On error nothing changes.
func (g *Gateway) Load(cfg *config.Config) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	st, err := g.build(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(g.ctx)
	st.cancel = cancel
	for _, p := range st.pools {
		go p.Run(ctx)
	}
	old := g.st.Swap(st)
	old.close()
	g.m.routes.Set(float64(len(st.routes)))
	return nil
}

// newRequestID returns 128 random bits in hex, for assertions of requests
// that reached the gateway without httpx.RequestID (tests, embedding).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
