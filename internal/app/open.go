package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

// auditHMACLabel derives the audit pseudonymization key from the master key.
const auditHMACLabel = "rampart audit hmac v1"

// OSEnv is how Rampart resolves *_env and *_file values: the process
// environment and the file system, the master key file read by its one
// reader (keys.ReadMasterKeyFile).
func OSEnv() config.Env { return config.OSEnv(keys.ReadMasterKeyFile) }

// OpenStore connects to the database at dsn (resolved by config.Resolve).
// For SQLite it creates data_dir first: call it only once every start-up
// check has passed. It neither migrates nor checks the schema.
func OpenStore(ctx context.Context, cfg *config.Config, dsn string) (*sqlstore.DB, error) {
	if cfg.Store.Driver == config.DriverSQLite {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create data_dir %s: %w", cfg.DataDir, err)
		}
	}
	return sqlstore.Open(ctx, cfg.Store.Driver, dsn, sqlstore.Options{MaxOpenConns: cfg.Store.MaxOpenConns})
}

// OpenCheckedStore opens an existing store and refuses a schema that is
// not exactly this binary's. Commands other than serve and migrate never
// migrate and never create anything: a missing SQLite file (or data_dir)
// is refused before it could be created, no schema is written into an
// empty or older database, and each refusal names the exact command that
// fixes it, --config included (following a bare "run `rampart migrate`"
// would migrate the dev default ./rampart-data instead).
func OpenCheckedStore(ctx context.Context, cfg *config.Config, dsn string) (*sqlstore.DB, error) {
	if cfg.Store.Driver == config.DriverSQLite {
		if _, err := os.Stat(dsn); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s; run `%s` first", dsn, MigrateCommand(cfg))
		}
	}
	s, err := sqlstore.Open(ctx, cfg.Store.Driver, dsn, sqlstore.Options{MaxOpenConns: cfg.Store.MaxOpenConns})
	if err != nil {
		return nil, err
	}
	if err := s.CheckSchema(ctx); err != nil {
		_ = s.Close()
		if errors.Is(err, sqlstore.ErrSchemaTooOld) {
			return nil, fmt.Errorf("%w; run `%s` first", err, MigrateCommand(cfg))
		}
		return nil, err
	}
	return s, nil
}

// MigrateCommand is the command that migrates cfg's database, as the
// operator would type it: with the --config they gave, shell-quoted when
// needed, or none for the dev defaults.
func MigrateCommand(cfg *config.Config) string {
	if cfg.File == "" {
		return "rampart migrate"
	}
	return "rampart migrate --config " + shellQuote(cfg.File)
}

// shellQuote returns s as one POSIX shell word.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-:@%+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// LoadMasterKey parses the master key config.Resolve found
// (master_key_file, then RAMPART_MASTER_KEY, then in dev mode
// <data_dir>/master.key). In dev mode with no key yet it creates one when
// create is true (serve, after every start-up check has passed) and
// refuses otherwise. The notice on creation is deliberately loud: whoever
// holds that file can decrypt every signing key.
func LoadMasterKey(cfg *config.Config, res *config.Resolved, create bool, notice io.Writer) (*keys.MasterKey, error) {
	if res.MasterKey != nil {
		mk, err := keys.ParseMasterKey(res.MasterKey)
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
		return nil, fmt.Errorf("no master key: %s does not exist (start `rampart serve --dev` once, or pass --config with master_key_file, or set %s)", path, config.MasterKeyEnv)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create data_dir %s: %w", cfg.DataDir, err)
	}
	mk, created, err := keys.EnsureMasterKeyFile(path)
	if err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(notice, "\n"+
			"!!! DEV MODE: generated a new master key in %s (mode 0600).\n"+
			"!!! It encrypts every signing key at rest. Anyone who reads it can decrypt them.\n"+
			"!!! For production, keep the master key outside the data directory\n"+
			"!!! (master_key_file or %s) and back it up.\n\n", path, config.MasterKeyEnv)
	}
	return mk, nil
}

// NewLogger builds the process logger (JSON on stderr by default).
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	return httpx.NewLogger(w, cfg.Log.Level, cfg.Log.Format)
}

// NewCLILogger is the logger of one-shot commands: warnings and errors
// only (their results go to stdout), unless the config asks for debug.
func NewCLILogger(cfg *config.Config, w io.Writer) *slog.Logger {
	level := "warn"
	if cfg.Log.Level == "debug" || cfg.Log.Level == "error" {
		level = cfg.Log.Level
	}
	return httpx.NewLogger(w, level, "text")
}

// OpenAudit starts the audit log on db.
func OpenAudit(cfg *config.Config, db *sqlstore.DB, mk *keys.MasterKey, logger *slog.Logger, reg prometheus.Registerer) (*audit.Log, error) {
	return audit.New(audit.Options{
		Store:         db.Audit(),
		HMACKey:       mk.Derive(auditHMACLabel),
		BatchSize:     cfg.Audit.BatchSize,
		FlushInterval: cfg.Audit.FlushInterval.D(),
		Logger:        logger,
		Registerer:    reg,
	})
}

// NewKeyManager builds the signing key manager.
func NewKeyManager(cfg *config.Config, db *sqlstore.DB, mk *keys.MasterKey, al *audit.Log, logger *slog.Logger) (*keys.Manager, error) {
	return keys.NewManager(keys.Options{
		Store:            db.Keys(),
		Master:           mk,
		Algorithm:        cfg.Keys.Algorithm,
		RSABits:          cfg.Keys.RSABits,
		RotationPeriod:   cfg.Keys.RotationPeriod.D(),
		PublishAhead:     cfg.Keys.PublishAhead.D(),
		MaxTokenLifetime: cfg.MaxTokenLifetime(),
		JWKSMaxAge:       cfg.Keys.JWKSMaxAge.D(),
		Logger:           logger,
		Auditor:          al,
	})
}
