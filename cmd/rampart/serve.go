package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/redisx"
)

func newServeCommand() *cobra.Command {
	var (
		path string
		dev  bool
	)
	cmd := &cobra.Command{
		Use:   "serve [--config FILE] [--dev]",
		Short: "Run the server (with no config: dev mode on loopback with ./rampart-data)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path, dev)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, cmd.OutOrStdout(), cmd.ErrOrStderr(), nil)
		},
	}
	addConfigFlag(cmd, &path)
	cmd.Flags().BoolVar(&dev, "dev", false, "development mode: generate a master key in the data dir, plain HTTP on loopback unless configured otherwise")
	return cmd
}

// serve runs the server until ctx is cancelled. ready, when not nil,
// receives the bound address once the server accepts connections.
func serve(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer, ready chan<- net.Addr) (err error) {
	logger := newLogger(cfg, stderr)
	slog.SetDefault(logger)
	for _, n := range cfg.Notices() {
		logger.Warn("configuration notice", "notice", n)
	}
	// Every start-up check first, before any side effect: a configuration
	// serve refuses leaves data_dir untouched, and `rampart config check`
	// runs the same preflight, so it refuses exactly what serve refuses.
	st, err := preflight(cfg, osEnv())
	if err != nil {
		return err
	}
	// Redis next (a network check, still no side effect): an unreachable
	// Redis must not leave a migrated database and a generated key behind.
	checks := map[string]func(context.Context) error{}
	var rdb redis.UniversalClient
	if st.res.RedisURL != "" {
		rc, err := redisx.Open(ctx, st.res.RedisURL)
		if err != nil {
			return err
		}
		defer rc.Close()
		checks["redis"] = redisx.Check(rc)
		rdb = rc
	}
	mk := st.mk
	if mk == nil {
		if mk, err = loadMasterKey(cfg, st.res, true, stderr); err != nil {
			return err
		}
	}
	store, err := openResolvedStore(ctx, cfg, st.res.StoreDSN)
	if err != nil {
		return err
	}
	defer store.Close()
	checks["store"] = store.Ping
	applied, err := store.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		logger.Info("database migrated", "driver", cfg.Store.Driver, "applied", applied)
	}
	kr, err := openKeyring(ctx, store, mk)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "rampart"}))

	auditLog, err := openAudit(cfg, store, kr, logger, reg)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if cerr := auditLog.Close(cctx); cerr != nil && err == nil {
			err = cerr
		}
	}()

	km, err := newKeyManager(cfg, store, kr, auditLog, logger)
	if err != nil {
		return err
	}
	if err := km.Init(ctx, "system"); err != nil {
		return err
	}

	parts, err := newAuthParts(cfg, store, kr, st.res)
	if err != nil {
		return err
	}
	if cfg.Dev {
		if err := devAdmin(ctx, parts.users, auditLog, stdout); err != nil {
			return fmt.Errorf("cannot create the dev admin: %w", err)
		}
	}

	authServer, err := newAuthServer(cfg, store, kr, km, auditLog, rdb, parts, logger, reg)
	if err != nil {
		return err
	}

	tlsConf, err := serverTLS(cfg, kr, logger)
	if err != nil {
		return err
	}
	handler := newHandler(cfg, logger, reg, km, authServer, checks)
	srv := httpx.NewServer(httpx.ServerOptions{
		Addr:              cfg.HTTP.Listen,
		Handler:           handler,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout.D(),
		ReadTimeout:       cfg.HTTP.ReadTimeout.D(),
		WriteTimeout:      cfg.HTTP.WriteTimeout.D(),
		IdleTimeout:       cfg.HTTP.IdleTimeout.D(),
		ShutdownTimeout:   cfg.HTTP.ShutdownTimeout.D(),
		MaxHeaderBytes:    64 << 10,
		Logger:            logger,
	})
	addr, err := srv.Listen()
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.HTTP.Listen, err)
	}

	if err := auditLog.Record(ctx, audit.Event{
		Actor: "system", Action: "server.start", Target: "server:" + addr.String(), Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"version": currentVersion(), "store": cfg.Store.Driver, "tls": cfg.HTTP.TLS.Mode, "dev": fmt.Sprint(cfg.Dev)},
	}); err != nil {
		return fmt.Errorf("cannot record the start in the audit log: %w", err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go km.Run(runCtx)
	go purgeLoop(runCtx, store, logger, 10*time.Minute)

	printBanner(stdout, cfg, addr)
	logger.Info("rampart started", "listen", addr.String(), "issuer", cfg.Issuer, "tls", cfg.HTTP.TLS.Mode, "store", cfg.Store.Driver, "dev", cfg.Dev)
	if ready != nil {
		ready <- addr
	}
	serveErr := srv.Serve(runCtx)
	logger.Info("rampart stopping")

	stopCtx, stopCancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer stopCancel()
	outcome, reason := audit.OutcomeSuccess, ""
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		outcome, reason = audit.OutcomeFailure, "serve_error"
	}
	if err := auditLog.Record(stopCtx, audit.Event{
		Actor: "system", Action: "server.stop", Target: "server:" + addr.String(), Outcome: outcome, Reason: reason,
	}); err != nil {
		logger.Error("cannot record the stop in the audit log", "err", err)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// newHandler builds the main HTTP handler: routes plus the middleware every
// request passes through.
func newHandler(cfg *config.Config, logger *slog.Logger, reg *prometheus.Registry, km *keys.Manager, as *oauth.Server, checks map[string]func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	as.Register(mux)
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
	return httpx.Chain(httpx.MuxProblems(mux),
		httpx.ClientAddr(cfg.HTTP.TrustedPrefixes(), cfg.HTTP.ClientIPHeader),
		httpx.RequestID,
		httpx.SecurityHeaders(cfg.HTTP.TLS.Mode != config.TLSOff),
		httpx.AccessLog(logger),
		httpx.Metrics(httpx.NewHTTPMetrics(reg)),
		httpx.Recover(logger),
		httpx.LimitBody(cfg.HTTP.MaxBodyBytes),
	)
}

// serverTLS returns the listener's TLS configuration for the mode (nil for
// off, which Validate allows only on loopback).
func serverTLS(cfg *config.Config, kr *kms.Keyring, logger *slog.Logger) (*tls.Config, error) {
	switch cfg.HTTP.TLS.Mode {
	case config.TLSFiles:
		return httpx.FilesTLS(cfg.HTTP.TLS.CertFile, cfg.HTTP.TLS.KeyFile, logger)
	case config.TLSAuto:
		return httpx.AutoTLS(httpx.AutoTLSOptions{
			Dir:    filepath.Join(cfg.DataDir, "tls"),
			Hosts:  tlsHosts(cfg),
			Sealer: kr,
			Logger: logger,
		})
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

// printBanner tells a person what started and where.
func printBanner(w io.Writer, cfg *config.Config, addr net.Addr) {
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
	fmt.Fprintf(w, "%s is running in %s mode\n", bannerName(), mode)
	fmt.Fprintf(w, "  issuer   %s\n", cfg.Issuer)
	fmt.Fprintf(w, "  listen   %s\n", base)
	fmt.Fprintf(w, "  OIDC     %s/.well-known/openid-configuration\n", base)
	fmt.Fprintf(w, "  sign in  %s/login   account %s/account\n", base, base)
	fmt.Fprintf(w, "  JWKS     %s/.well-known/jwks.json\n", base)
	fmt.Fprintf(w, "  health   %s/healthz   ready %s/readyz   metrics %s/metrics\n", base, base, base)
	fmt.Fprintf(w, "  data     %s   store %s\n", cfg.DataDir, storeDesc)
	if cfg.HTTP.TLS.Mode == config.TLSAuto {
		fmt.Fprintf(w, "  TLS CA   %s (trust this file to connect)\n", httpx.CAFile(filepath.Join(cfg.DataDir, "tls")))
	}
	fmt.Fprintln(w, "Stop with Ctrl-C.")
}
