package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/pgdyn"
	"github.com/rampart-auth/rampart/internal/secrets/pgrotate"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
	"github.com/rampart-auth/rampart/internal/secrets/rotation/oauthrotate"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

// SecretEngines are the secrets manager's engines of a process: the
// administrative PostgreSQL pools of secrets.databases, the dynamic
// credential engine (nil without secrets.dynamic) and the rotation
// engine. serve runs their loops; a CLI command calls them once.
type SecretEngines struct {
	Pools     map[string]*pgxpool.Pool
	Leases    *pgdyn.Engine
	Rotations *rotation.Engine
}

// SecretEngineDeps are what the rotators act on besides PostgreSQL.
type SecretEngineDeps struct {
	// DSNs: secrets.databases name → administrative DSN (config.Resolved
	// SecretDatabaseDSNs).
	DSNs map[string]string
	// ClientSecrets and ClientAuth rotate stored OAuth clients' secrets
	// (the oauth_client rotator: the admin use case and the token
	// endpoint's client verification); nil refuses a configuration that
	// has one.
	ClientSecrets oauthrotate.Secrets
	ClientAuth    oauthrotate.Authenticator
}

// OpenSecretEngines builds the engines of cfg over db and the stack's
// manager and wires them into st (its Leases and Rotations), so the API
// and the CLI reach them. Close releases the pools.
func OpenSecretEngines(ctx context.Context, cfg *config.Config, db *sqlstore.DB, st *SecretsStack, al secrets.Auditor, deps SecretEngineDeps, logger *slog.Logger) (*SecretEngines, error) {
	if st == nil || st.Manager == nil {
		return nil, errors.New("secrets: the engines need the manager")
	}
	e := &SecretEngines{Pools: map[string]*pgxpool.Pool{}}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	for _, d := range cfg.Secrets.Databases {
		dsn, has := deps.DSNs[d.Name]
		if !has {
			return nil, fmt.Errorf("secrets.databases %q: its DSN was not resolved", d.Name)
		}
		p, err := pgdyn.NewPool(ctx, dsn, d.MaxConnections)
		if err != nil {
			return nil, fmt.Errorf("secrets.databases %q: %w", d.Name, err)
		}
		e.Pools[d.Name] = p
	}
	if len(cfg.Secrets.Dynamic) > 0 {
		roles := make([]pgdyn.Role, len(cfg.Secrets.Dynamic))
		for i, r := range cfg.Secrets.Dynamic {
			roles[i] = pgdyn.Role{Path: secrets.Path(r.Path), Database: r.Database, Creation: slices.Clone(r.CreationStatements),
				Revocation: slices.Clone(r.RevocationStatements), DefaultTTL: r.DefaultTTL.D(), MaxTTL: r.MaxTTL.D()}
		}
		le, err := pgdyn.New(pgdyn.Options{Store: db.SecretLeases(), Pools: e.Pools, Roles: roles, Policies: st.Policies,
			Audit: al, Logger: logger.With("component", "secrets.leases")})
		if err != nil {
			return nil, err
		}
		e.Leases = le
		st.Leases = le
	}
	scheds := make([]rotation.Schedule, 0, len(cfg.Secrets.Rotations))
	for _, r := range cfg.Secrets.Rotations {
		impl, err := e.rotator(r, deps, al, logger)
		if err != nil {
			return nil, fmt.Errorf("secrets.rotations %q: %w", r.Path, err)
		}
		w, err := rotation.ParseWindow(r.Window)
		if err != nil {
			return nil, fmt.Errorf("secrets.rotations %q: %w", r.Path, err)
		}
		scheds = append(scheds, rotation.Schedule{Path: secrets.Path(r.Path), Rotator: r.Rotator, Every: r.Every.D(), Window: w, Impl: impl})
	}
	ro := rotation.Options{Manager: st.Manager, Store: db.SecretRotations(), Schedules: scheds, Policies: st.Policies,
		Audit: al, Logger: logger.With("component", "secrets.rotation")}
	if e.Leases != nil {
		// An emergency rotation of a dynamic role's path ends its leases.
		ro.Revoker = e.Leases
	}
	re, err := rotation.New(ro)
	if err != nil {
		return nil, err
	}
	e.Rotations = re
	st.Rotations = re
	ok = true
	return e, nil
}

// rotator builds the rotator of one secrets.rotations entry.
func (e *SecretEngines) rotator(r config.SecretRotation, deps SecretEngineDeps, al secrets.Auditor, logger *slog.Logger) (rotation.Rotator, error) {
	switch r.Rotator {
	case "random":
		return rotation.NewRandom(r.Length, r.Alphabet)
	case "signing_key":
		return rotation.NewSigningKey(r.Algorithm)
	case "postgres":
		p := e.Pools[r.Database]
		if p == nil {
			return nil, fmt.Errorf("database %q is not in secrets.databases", r.Database)
		}
		return pgrotate.New(pgrotate.Options{Pool: p, Users: slices.Clone(r.Users), Strategy: r.Strategy, Audit: al,
			Logger: logger.With("component", "secrets.rotation", "rotator", "postgres")})
	case "oauth_client":
		if deps.ClientSecrets == nil || deps.ClientAuth == nil {
			return nil, errors.New("the oauth_client rotator needs the OAuth client store")
		}
		return oauthrotate.New(oauthrotate.Options{ClientID: r.ClientID, Overlap: r.Overlap.D(), Secrets: deps.ClientSecrets, Auth: deps.ClientAuth})
	default:
		return nil, fmt.Errorf("%q is not a rotator", r.Rotator)
	}
}

// Run runs the engines' loops (lease reaping, scheduled rotations and
// the resumption of interrupted ones) until ctx ends.
func (e *SecretEngines) Run(ctx context.Context, logger *slog.Logger) {
	var wg sync.WaitGroup
	if e.Leases != nil {
		wg.Go(func() {
			if err := e.Leases.Run(ctx); err != nil && ctx.Err() == nil {
				logger.Error("secrets: lease reaper stopped", "err", err)
			}
		})
	}
	if e.Rotations != nil {
		wg.Go(func() {
			if err := e.Rotations.Run(ctx); err != nil && ctx.Err() == nil {
				logger.Error("secrets: rotation engine stopped", "err", err)
			}
		})
	}
	wg.Wait()
}

// Close closes the administrative pools.
func (e *SecretEngines) Close() {
	for _, p := range e.Pools {
		p.Close()
	}
}

// openSecretEngines is serve's engines component (after the manager,
// before its API).
func (s *server) openSecretEngines(ctx context.Context) error {
	e, err := OpenSecretEngines(ctx, s.cfg, s.db, s.secrets, s.audit, s.secretEngineDeps(), s.logger)
	s.secretEngines = e
	return err
}

func (s *server) closeSecretEngines(context.Context) error {
	if s.secretEngines != nil {
		s.secretEngines.Close()
	}
	return nil
}

func (s *server) runSecretEngines(ctx context.Context) {
	if s.secretEngines != nil {
		s.secretEngines.Run(ctx, s.logger)
	}
}

func (s *server) secretEngineDeps() SecretEngineDeps {
	return SecretEngineDeps{DSNs: s.st.Resolved.SecretDatabaseDSNs,
		ClientSecrets: newAdminService(s.db, s.parts, s.redis, s.audit, s.km), ClientAuth: s.parts.Clients}
}

// SecretEngineDeps are the engines' dependencies of a CLI command, with
// the DSNs res resolved.
func (c *CLI) SecretEngineDeps(res *config.Resolved) SecretEngineDeps {
	return SecretEngineDeps{DSNs: res.SecretDatabaseDSNs, ClientSecrets: c.Admin, ClientAuth: c.Parts.Clients}
}

var _ rotation.LeaseRevoker = (*pgdyn.Engine)(nil)
