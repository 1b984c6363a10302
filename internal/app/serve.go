package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/adminapi"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/caapi"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/gateway"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/redisx"
	"github.com/rampart-auth/rampart/internal/secretsapi"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

// purgeInterval is how often expired codes, tokens and sessions are
// deleted (each package keeps its own margin past expiry).
const purgeInterval = 10 * time.Minute

// ServeOptions are what `rampart serve` runs with.
type ServeOptions struct {
	Config *config.Config
	Env    config.Env // how *_env and *_file values are read (OSEnv)
	Stdout io.Writer  // the banner and the dev admin's password
	Stderr io.Writer  // logs and the dev master-key notice
	// Name and Version describe the build in the banner and server.start.
	Name, Version string
	// Ready, when not nil, receives the main listener's bound address once
	// every component has started.
	Ready func(net.Addr)
	// Listening, when not nil, receives every listener's name ("main",
	// "gateway", "notes example", "ca") and bound address, before Ready.
	Listening func(name string, addr net.Addr)
}

// server is the state of one `rampart serve` process, filled in by its
// components as they start, in order.
type server struct {
	o      ServeOptions
	cfg    *config.Config
	st     *Startup
	logger *slog.Logger
	reg    *prometheus.Registry
	checks map[string]func(context.Context) error

	redis  redis.UniversalClient
	mk     *kms.MasterKey
	db     *sqlstore.DB
	kr     *kms.Keyring
	audit  *audit.Log
	km     *keys.Manager
	parts  *AuthParts
	oauth  *oauth.Server
	admin  *adminapi.API
	listen *Listener

	ca       *ca.Authority
	caAPI    *caapi.Handlers
	caListen *Listener // the enrolment listener (nil without ca.listen)

	secrets        *SecretsStack
	secretsAPI     *secretsapi.API // on the main listener (access tokens)
	secretsPeerAPI *secretsapi.API // on ca.listen (X509-SVIDs); nil without it
	secretEngines  *SecretEngines

	gateway  *gateway.Gateway
	gwListen *Listener
	hup      chan os.Signal

	notesListen *Listener // dev mode: the notes example
	devSecret   string    // dev mode: the walk-through client's secret
}

// Serve runs the server until ctx is cancelled: every start-up check
// first, before any side effect (a configuration serve refuses leaves
// data_dir untouched, and `rampart config check` runs the same
// Preflight), then the components in order, then their reverse-order stop.
func Serve(ctx context.Context, o ServeOptions) error {
	cfg := o.Config
	logger := NewLogger(cfg, o.Stderr)
	slog.SetDefault(logger)
	for _, n := range cfg.Notices() {
		logger.Warn("configuration notice", "notice", n)
	}
	st, err := Preflight(cfg, o.Env)
	if err != nil {
		return err
	}
	s := &server{o: o, cfg: cfg, st: st, logger: logger, reg: prometheus.NewRegistry(), checks: map[string]func(context.Context) error{}}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "rampart"}))
	a := New(Options{Logger: logger})
	// Redis first (a network check, still no side effect): an unreachable
	// Redis must not leave a migrated database and a generated key behind.
	a.Add("redis", Funcs{OnStart: s.openRedis, OnStop: s.closeRedis})
	a.Add("master key", Funcs{OnStart: s.loadMasterKey})
	a.Add("store", Funcs{OnStart: s.openStore, OnStop: func(context.Context) error { return s.db.Close() }})
	a.Add("keyring", Funcs{OnStart: s.openKeyring})
	a.Add("audit", Funcs{OnStart: s.openAudit, OnStop: func(ctx context.Context) error { return s.audit.Close(ctx) }})
	a.Add("signing keys", Background{Init: s.initKeys, Loop: func(ctx context.Context) { s.km.Run(ctx) }})
	a.Add("ca", Background{Init: s.openCA, Loop: s.runCA})
	a.Add("authorization server", Funcs{OnStart: s.buildAuth})
	a.Add("ca api", Funcs{OnStart: s.buildCAAPI})
	a.Add("secrets", Funcs{OnStart: s.openSecrets})
	a.Add("secret engines", Funcs{OnStart: s.openSecretEngines, OnStop: s.closeSecretEngines})
	a.Add("secret engine loops", Background{Loop: s.runSecretEngines})
	a.Add("secrets api", Funcs{OnStart: s.buildSecretsAPI})
	a.Add("listener", Later(s.mainListener))
	if cfg.CA.Listen != "" {
		a.Add("ca listener", Later(s.caListener))
	}
	switch {
	case cfg.Gateway != nil:
		a.Add("gateway", Later(s.gatewayListener))
		a.Add("gateway reload", Background{Init: s.listenSIGHUP, Loop: s.watchGatewayConfig})
	case cfg.Dev:
		// The first look (issue 12): the notes example behind a gateway,
		// both on loopback, with a printed walk-through.
		a.Add("notes example", Later(s.devNotesListener))
		a.Add("gateway", Later(s.gatewayListener))
	}
	a.Add("purge", Every{Interval: purgeInterval, Job: s.purge})
	return a.Run(ctx, s.ready)
}

func (s *server) openRedis(ctx context.Context) error {
	if s.st.Resolved.RedisURL == "" {
		return nil
	}
	rc, err := redisx.Open(ctx, s.st.Resolved.RedisURL)
	if err != nil {
		return err
	}
	s.checks["redis"] = redisx.Check(rc)
	s.redis = rc
	return nil
}

func (s *server) closeRedis(context.Context) error {
	if s.redis == nil {
		return nil
	}
	return s.redis.Close()
}

func (s *server) loadMasterKey(context.Context) error {
	if s.mk = s.st.MasterKey; s.mk != nil {
		return nil
	}
	mk, err := LoadMasterKey(s.cfg, s.st.Resolved, true, s.o.Stderr)
	s.mk = mk
	return err
}

func (s *server) openStore(ctx context.Context) error {
	db, err := OpenStore(ctx, s.cfg, s.st.Resolved.StoreDSN)
	if err != nil {
		return err
	}
	s.db = db
	s.checks["store"] = db.Ping
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		s.logger.Info("database migrated", "driver", s.cfg.Store.Driver, "applied", applied)
	}
	return nil
}

// openKeyring refuses a retired or foreign master key before anything is
// opened with it, and loads the data keys.
func (s *server) openKeyring(ctx context.Context) error {
	kr, err := OpenKeyring(ctx, s.db, s.mk)
	s.kr = kr
	return err
}

func (s *server) openAudit(context.Context) error {
	al, err := OpenAudit(s.cfg, s.db, s.kr, s.logger, s.reg)
	s.audit = al
	return err
}

func (s *server) initKeys(ctx context.Context) error {
	km, err := NewKeyManager(s.cfg, s.db, s.kr, s.audit, s.logger)
	if err != nil {
		return err
	}
	s.km = km
	return km.Init(ctx, "system")
}

// buildAuth builds the authorization server and, in dev mode, the admin.
func (s *server) buildAuth(ctx context.Context) error {
	parts, err := NewAuthParts(s.cfg, s.db, s.kr, s.st.Resolved, s.audit)
	if err != nil {
		return err
	}
	s.parts = parts
	if s.cfg.Dev {
		pw, err := admin.EnsureDevAdmin(ctx, parts.Users)
		if err != nil {
			return fmt.Errorf("cannot create the dev admin: %w", err)
		}
		if pw != "" {
			fmt.Fprintf(s.o.Stdout, "\n  DEV MODE: created user %q with the one-time password\n\n      %s\n\n  It is shown only now, and must be changed at the first sign-in;\n  create more users with `rampart user create`.\n\n", admin.DevAdminName, pw)
		}
	}
	s.oauth, err = newAuthServer(s.cfg, authDeps{db: s.db, kr: s.kr, km: s.km, audit: s.audit, redis: s.redis, parts: parts, logger: s.logger, reg: s.reg, res: s.st.Resolved, mtls: s.mtlsAlias()})
	if err != nil {
		return err
	}
	// The admin API runs the CLI's use cases, authorized by the access
	// tokens of this server.
	s.admin, err = adminapi.New(adminapi.Options{Issuer: s.cfg.Issuer, Service: newAdminService(s.db, parts, s.redis, s.audit, s.km),
		Auth: s.oauth, Users: parts.Users, Audit: s.audit, Logger: s.logger})
	return err
}

// purge deletes expired codes, tokens and sessions.
func (s *server) purge(ctx context.Context) {
	now := time.Now()
	n, err := oauth.PurgeExpired(ctx, s.db.OAuth(), now)
	if err == nil {
		var m int64
		m, err = identity.PurgeSessions(ctx, s.db.Identity(), now)
		n += m
	}
	if err != nil {
		s.logger.Warn("purging expired tokens failed", "err", err)
	} else if n > 0 {
		s.logger.Info("purged expired codes, tokens and sessions", "rows", n)
	}
}

// ready prints the banner and tells the caller where the server listens.
func (s *server) ready() {
	addr := s.listen.Addr()
	PrintBanner(s.o.Stdout, s.o.Name, s.cfg, addr)
	s.printGateway()
	s.printCA()
	s.printWalkthrough()
	s.logger.Info("rampart started", "listen", addr.String(), "issuer", s.cfg.Issuer, "tls", s.cfg.HTTP.TLS.Mode, "store", s.cfg.Store.Driver, "dev", s.cfg.Dev)
	if s.o.Listening != nil {
		s.o.Listening("main", addr)
		if s.gwListen != nil {
			s.o.Listening("gateway", s.gwListen.Addr())
		}
		if s.notesListen != nil {
			s.o.Listening("notes example", s.notesListen.Addr())
		}
		if s.caListen != nil {
			s.o.Listening("ca", s.caListen.Addr())
		}
	}
	if s.o.Ready != nil {
		s.o.Ready(addr)
	}
}
