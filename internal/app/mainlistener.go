package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-auth/rampart/internal/adminapi"
	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/caapi"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/secretsapi"
	"github.com/rampart-auth/rampart/mtls"
)

// maxHeaderBytes bounds request headers on the main listener (64 KiB: far
// above any legitimate cookie set, far below what a header flood needs).
const maxHeaderBytes = 64 << 10

// mainListener builds the listener of http.listen: the OAuth endpoints,
// pages, JWKS, health and metrics.
func (s *server) mainListener(context.Context) (Component, error) {
	tlsConf, err := serverTLS(s.cfg.HTTP.TLS, tlsHosts(s.cfg), s.ca, s.logger)
	if err != nil {
		return nil, err
	}
	h := s.cfg.HTTP
	srv := httpx.NewServer(httpx.ServerOptions{
		Addr:              h.Listen,
		Handler:           newHandler(s.cfg, s.logger, s.reg, s.km, s.oauth, s.admin, s.caAPI, s.secretsAPI, s.checks),
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: h.ReadHeaderTimeout.D(),
		ReadTimeout:       h.ReadTimeout.D(),
		WriteTimeout:      h.WriteTimeout.D(),
		IdleTimeout:       h.IdleTimeout.D(),
		ShutdownTimeout:   h.ShutdownTimeout.D(),
		MaxHeaderBytes:    maxHeaderBytes,
		Logger:            s.logger,
	})
	s.listen = &Listener{Name: "main", Listen: h.Listen, Server: srv, Audit: s.audit, Logger: s.logger,
		Details: map[string]string{"version": s.o.Version, "store": s.cfg.Store.Driver, "tls": h.TLS.Mode, "dev": fmt.Sprint(s.cfg.Dev)}}
	return s.listen, nil
}

// newHandler builds the main HTTP handler: routes plus the middleware every
// request passes through.
func newHandler(cfg *config.Config, logger *slog.Logger, reg *prometheus.Registry, km *keys.Manager, as *oauth.Server, api *adminapi.API,
	caAPI *caapi.Handlers, secretsAPI *secretsapi.API, checks map[string]func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	as.Register(mux)
	api.Register(mux)
	// The CA's public documents (trust bundle, CRL) under the issuer; the
	// enrolment endpoint is on ca.listen only.
	caAPI.RegisterPublic(mux)
	mux.Handle("GET /.well-known/jwks.json", km.JWKSHandler())
	mux.Handle("GET /healthz", httpx.Healthz())
	mux.Handle("GET /readyz", httpx.Readyz(checks, 3*time.Second))
	mux.Handle("GET /metrics", httpx.MetricsHandler(reg))
	// Order (outermost first): the client address is resolved once, from
	// the trusted proxies' one header, before anything logs, audits or
	// limits, so all of them name the same client; the request id exists
	// before anything logs;
	// security headers cover every answer, including panics and limits;
	// AccessLog and Metrics see the final status; Recover turns a panic into
	// a problem answer inside them; the body limit is closest to the handlers.
	// The secrets API is routed before the mux, on the raw path: the mux
	// would answer a path with ".." or "//" with a redirect to its cleaned
	// form, and the API refuses such a path instead (secretsapi.Route).
	return httpx.Chain(secretsapi.Route(secretsAPI, httpx.MuxProblems(mux)),
		httpx.ClientAddr(cfg.HTTP.TrustedPrefixes(), cfg.HTTP.ClientIPHeader),
		httpx.RequestID,
		httpx.SecurityHeaders(cfg.HTTP.TLS.Mode != config.TLSOff),
		httpx.AccessLog(logger),
		httpx.Metrics(httpx.NewHTTPMetrics(reg)),
		httpx.Recover(logger),
		httpx.LimitBody(cfg.HTTP.MaxBodyBytes),
	)
}

// serverTLS returns a listener's TLS configuration for its mode (nil for
// off, which Validate allows only on loopback); auto mode serves a server
// certificate for hosts from the CA (its root is <data_dir>/tls/ca.pem),
// in memory only and renewed before it expires.
func serverTLS(t config.TLS, hosts []string, authority *ca.Authority, logger *slog.Logger) (*tls.Config, error) {
	switch t.Mode {
	case config.TLSFiles:
		src, err := mtls.NewFileSource(t.CertFile, t.KeyFile, mtls.WithLogger(logger))
		if err != nil {
			return nil, err
		}
		return mtls.ServerConfig(src), nil
	case config.TLSAuto:
		src := authority.ServerCertSource(hosts, "")
		// Issue the first certificate now: a CA that cannot sign fails
		// the start, not the first handshake.
		if _, err := src.GetCertificate(&tls.ClientHelloInfo{}); err != nil {
			return nil, fmt.Errorf("auto tls: %w", err)
		}
		return mtls.ServerConfig(src), nil
	default:
		return nil, nil
	}
}

// tlsHosts lists the names the auto-TLS server certificate must cover: the
// issuer's host, the listen host, and the loopback names when local.
func tlsHosts(cfg *config.Config) []string {
	seen := map[string]bool{}
	var hosts []string
	add := func(h string) {
		h = strings.Trim(h, "[]")
		if h == "" || seen[h] {
			return
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
			return
		}
		seen[h] = true
		hosts = append(hosts, h)
	}
	if u, err := url.Parse(cfg.Issuer); err == nil {
		add(u.Hostname())
	}
	if h, _, err := net.SplitHostPort(cfg.HTTP.Listen); err == nil {
		add(h)
	}
	if len(hosts) == 0 || config.IsLoopbackHost(hosts[0]) {
		add("localhost")
		add("127.0.0.1")
		add("::1")
	}
	return hosts
}

// PrintBanner tells a person what started and where.
func PrintBanner(w io.Writer, name string, cfg *config.Config, addr net.Addr) {
	scheme := "https"
	if cfg.HTTP.TLS.Mode == config.TLSOff {
		scheme = "http"
	}
	base := scheme + "://" + addr.String()
	mode := "production"
	if cfg.Dev {
		mode = "dev"
	}
	storeDesc := cfg.Store.Driver
	if cfg.Store.Driver == config.DriverSQLite {
		storeDesc += " " + cfg.Store.DSN
	}
	// "Rampart dev is running (production mode)" read as a contradiction:
	// an unreleased build says so in words, and the mode stands alone.
	fmt.Fprintf(w, "%s is running in %s mode\n", name, mode)
	fmt.Fprintf(w, "  issuer   %s\n", cfg.Issuer)
	fmt.Fprintf(w, "  listen   %s\n", base)
	fmt.Fprintf(w, "  OIDC     %s/.well-known/openid-configuration\n", base)
	fmt.Fprintf(w, "  sign in  %s/login   account %s/account\n", base, base)
	fmt.Fprintf(w, "  JWKS     %s/.well-known/jwks.json\n", base)
	fmt.Fprintf(w, "  health   %s/healthz   ready %s/readyz   metrics %s/metrics\n", base, base, base)
	fmt.Fprintf(w, "  data     %s   store %s\n", cfg.DataDir, storeDesc)
	if cfg.HTTP.TLS.Mode == config.TLSAuto {
		fmt.Fprintf(w, "  TLS CA   %s (trust this file to connect)\n", caFilePath(cfg))
	}
	fmt.Fprintln(w, "Stop with Ctrl-C.")
}
