package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

// masterKeyEnv names the environment variable holding the master key.
const masterKeyEnv = config.MasterKeyEnv

// addConfigFlag adds --config to cmd.
func addConfigFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVar(path, "config", "", "configuration file (YAML); without it the dev defaults apply (./rampart-data, SQLite, loopback)")
}

// loadConfig loads path, or returns the dev configuration when path is empty.
func loadConfig(path string, dev bool) (*config.Config, error) {
	if path == "" {
		return config.Dev(), nil
	}
	return config.LoadWith(path, dev)
}

// openStore connects to the configured database, resolving store.dsn_env
// itself (for commands that need nothing else). It neither migrates nor
// checks the schema.
func openStore(ctx context.Context, cfg *config.Config) (*sqlstore.DB, error) {
	res, err := cfg.Resolve(osEnv(), config.Needs{Store: true})
	if err != nil {
		return nil, err
	}
	return openResolvedStore(ctx, cfg, res.StoreDSN)
}

// openResolvedStore connects to the database at dsn (resolved by
// config.Resolve). For SQLite it creates data_dir first: call it only once
// every start-up check has passed.
func openResolvedStore(ctx context.Context, cfg *config.Config, dsn string) (*sqlstore.DB, error) {
	if cfg.Store.Driver == config.DriverSQLite {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create data_dir %s: %w", cfg.DataDir, err)
		}
	}
	return sqlstore.Open(ctx, cfg.Store.Driver, dsn, sqlstore.Options{MaxOpenConns: cfg.Store.MaxOpenConns})
}

// openCheckedStore opens an existing store and refuses a schema that is not
// exactly this binary's. Commands other than serve and migrate never
// migrate and never create anything: a missing SQLite file (or data_dir)
// is refused before it could be created, no schema is written into an
// empty or older database, and each refusal names the exact command that
// fixes it, --config included (following a bare "run `rampart migrate`"
// would migrate the dev default ./rampart-data instead).
// dsn is the store DSN config.Resolve found (the caller resolves it with
// whatever else it needs, once).
func openCheckedStore(ctx context.Context, cfg *config.Config, dsn string) (*sqlstore.DB, error) {
	if cfg.Store.Driver == config.DriverSQLite {
		if _, err := os.Stat(dsn); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s; run `%s` first", dsn, migrateCommand(cfg))
		}
	}
	s, err := sqlstore.Open(ctx, cfg.Store.Driver, dsn, sqlstore.Options{MaxOpenConns: cfg.Store.MaxOpenConns})
	if err != nil {
		return nil, err
	}
	if err := s.CheckSchema(ctx); err != nil {
		_ = s.Close()
		if errors.Is(err, sqlstore.ErrSchemaTooOld) {
			return nil, fmt.Errorf("%w; run `%s` first", err, migrateCommand(cfg))
		}
		return nil, err
	}
	return s, nil
}

// storeFor loads the config at path (dev defaults when empty) and opens its
// store with the schema checked: what read-only commands need.
func storeFor(cmd *cobra.Command, path string) (*sqlstore.DB, error) {
	cfg, err := loadConfig(path, false)
	if err != nil {
		return nil, err
	}
	res, err := cfg.Resolve(osEnv(), config.Needs{Store: true})
	if err != nil {
		return nil, err
	}
	return openCheckedStore(cmd.Context(), cfg, res.StoreDSN)
}

// loadMasterKey parses the master key config.Resolve found
// (master_key_file, then RAMPART_MASTER_KEY, then in dev mode
// <data_dir>/master.key). In dev mode with no key yet it creates one when
// create is true (serve, after every start-up check has passed) and
// refuses otherwise. The notice on creation is deliberately loud: whoever
// holds that file can decrypt every signing key.
func loadMasterKey(cfg *config.Config, res *config.Resolved, create bool, notice io.Writer) (*kms.MasterKey, error) {
	if res.MasterKey != nil {
		mk, err := kms.ParseMasterKey(res.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", res.MasterKeySource, err)
		}
		return mk, nil
	}
	path := res.DevMasterKeyFile
	if path == "" {
		return nil, errors.New("no master key was resolved") // a caller that did not ask Resolve for it
	}
	if !create {
		return nil, fmt.Errorf("no master key: %s does not exist (start `rampart serve --dev` once, or pass --config with master_key_file, or set %s)", path, masterKeyEnv)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create data_dir %s: %w", cfg.DataDir, err)
	}
	mk, created, err := kms.EnsureMasterKeyFile(path)
	if err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(notice, "\n"+
			"!!! DEV MODE: generated a new master key in %s (mode 0600).\n"+
			"!!! It encrypts every signing key at rest. Anyone who reads it can decrypt them.\n"+
			"!!! For production, keep the master key outside the data directory\n"+
			"!!! (master_key_file or %s) and back it up.\n\n", path, masterKeyEnv)
	}
	return mk, nil
}

// newLogger builds the process logger (JSON on stderr by default).
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	return httpx.NewLogger(w, cfg.Log.Level, cfg.Log.Format)
}

// newCLILogger is the logger of one-shot commands: warnings and errors only
// (their results go to stdout), unless the config asks for debug.
func newCLILogger(cfg *config.Config, w io.Writer) *slog.Logger {
	level := "warn"
	if cfg.Log.Level == "debug" || cfg.Log.Level == "error" {
		level = cfg.Log.Level
	}
	return httpx.NewLogger(w, level, "text")
}

// openKeyring checks the master key against the key versions recorded in
// s (a retired or foreign key is refused) and loads the data keys.
func openKeyring(ctx context.Context, s *sqlstore.DB, mk *kms.MasterKey) (*kms.Keyring, error) {
	return kms.Open(ctx, s.KMS(), mk)
}

// openAudit starts the audit log on s.
func openAudit(cfg *config.Config, s *sqlstore.DB, kr *kms.Keyring, logger *slog.Logger, reg prometheus.Registerer) (*audit.Log, error) {
	return audit.New(audit.Options{
		Store:         s.Audit(),
		HMACKey:       kr.DataKey(kms.DataKeyAuditHMAC),
		BatchSize:     cfg.Audit.BatchSize,
		FlushInterval: cfg.Audit.FlushInterval.D(),
		Logger:        logger,
		Registerer:    reg,
	})
}

// newKeyManager builds the signing key manager.
func newKeyManager(cfg *config.Config, s *sqlstore.DB, kr *kms.Keyring, al *audit.Log, logger *slog.Logger) (*keys.Manager, error) {
	return keys.NewManager(keys.Options{
		Store:            s.Keys(),
		Master:           kr,
		Algorithm:        cfg.Keys.Algorithm,
		RSABits:          cfg.Keys.RSABits,
		RotationPeriod:   cfg.Keys.RotationPeriod.D(),
		PublishAhead:     cfg.Keys.PublishAhead.D(),
		MaxTokenLifetime: maxTokenLifetime(cfg),
		JWKSMaxAge:       cfg.Keys.JWKSMaxAge.D(),
		Logger:           logger,
		Auditor:          al,
	})
}

// cliActor names the operator running a CLI command, for the audit trail.
func cliActor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return "cli:" + name
}

// osEnv is how commands resolve *_env and *_file values: the process
// environment and the file system, the master key file read by its one
// reader (kms.ReadMasterKeyFile).
func osEnv() config.Env { return config.OSEnv(kms.ReadMasterKeyFile) }
