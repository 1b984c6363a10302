package app

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/redisx"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

// CLINeeds names what a one-shot command opens beyond the store (which it
// always opens, schema checked, never migrated). Each command opens only
// what it uses (issue 10, item 18a): `client list` needs the store alone,
// so it runs in a shell where the master key and the clients' secret_env
// variables are not set.
type CLINeeds struct {
	// MasterKey opens the master key and, keyed by it, the audit log.
	MasterKey bool
	// Redis: revoking writes the shared Redis deny list whenever Redis is
	// configured, as serve does; an unset redis.url_env is then an error,
	// never a reason to skip it (issue 10, item 15).
	Redis bool
	// Keys builds the signing-key manager (needs MasterKey).
	Keys bool
	// CA opens the CA (needs MasterKey; fails when it is not initialised).
	CA bool
}

// CLI is what a one-shot command opened. Close releases it.
type CLI struct {
	Config *config.Config
	DB     *sqlstore.DB
	// Keyring is the checked master key and its data keys (nil without
	// CLINeeds.MasterKey).
	Keyring *kms.Keyring
	Audit   *audit.Log    // nil without CLINeeds.MasterKey
	Keys    *keys.Manager // nil without CLINeeds.Keys
	CA      *ca.Authority // nil without CLINeeds.CA
	Parts   *AuthParts
	Admin   *admin.Service

	redis redis.UniversalClient
}

// OpenCLI opens what need asks for, in an order that changes nothing when
// something is missing: the master key, then Redis, then the store. actor
// is who runs the command, for the key manager's initial key.
func OpenCLI(ctx context.Context, cfg *config.Config, env config.Env, need CLINeeds, actor string, stderr io.Writer) (*CLI, error) {
	need.MasterKey = need.MasterKey || need.Keys || need.CA
	res, err := cfg.Resolve(env, config.Needs{Store: true, MasterKey: need.MasterKey, Redis: need.Redis})
	if err != nil {
		return nil, err
	}
	var mk *kms.MasterKey
	if need.MasterKey {
		if mk, err = LoadMasterKey(cfg, res, false, stderr); err != nil {
			return nil, err
		}
	}
	c := &CLI{Config: cfg}
	if res.RedisURL != "" {
		if c.redis, err = redisx.Open(ctx, res.RedisURL); err != nil {
			return nil, err
		}
	}
	if err := c.open(ctx, res, mk, need, actor, stderr); err != nil {
		c.Close(ctx)
		return nil, err
	}
	return c, nil
}

func (c *CLI) open(ctx context.Context, res *config.Resolved, mk *kms.MasterKey, need CLINeeds, actor string, stderr io.Writer) error {
	var err error
	if c.DB, err = OpenCheckedStore(ctx, c.Config, res.StoreDSN); err != nil {
		return err
	}
	logger := NewCLILogger(c.Config, stderr)
	var al Auditor
	if mk != nil {
		if c.Keyring, err = OpenKeyring(ctx, c.DB, mk); err != nil {
			return err
		}
		if c.Audit, err = OpenAudit(c.Config, c.DB, c.Keyring, logger, nil); err != nil {
			return err
		}
		al = c.Audit
	}
	if need.Keys {
		if c.Keys, err = NewKeyManager(c.Config, c.DB, c.Keyring, c.Audit, logger); err != nil {
			return err
		}
		if err := c.Keys.Init(ctx, actor); err != nil {
			return err
		}
	}
	if need.CA {
		if c.CA, err = OpenCA(ctx, c, logger); err != nil {
			return err
		}
	}
	// No CLI command uses a client secret: the file's clients are built
	// without them (listed, their ids reserved, never authenticated).
	if c.Parts, err = NewAuthParts(c.Config, c.DB, c.Keyring, nil, al); err != nil {
		return err
	}
	var rec admin.Auditor
	if c.Audit != nil {
		rec = c.Audit
	}
	var km admin.KeyRing
	if c.Keys != nil {
		km = c.Keys
	}
	c.Admin = newAdminService(c.DB, c.Parts, c.redis, rec, km)
	return nil
}

// Close flushes the audit log and closes the store and Redis.
func (c *CLI) Close(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if c.Audit != nil {
		_ = c.Audit.Close(cctx)
	}
	if c.DB != nil {
		_ = c.DB.Close()
	}
	if c.redis != nil {
		_ = c.redis.Close()
	}
}

// OpenCA opens the initialised CA of c's store (c needs the master key).
func OpenCA(ctx context.Context, c *CLI, logger *slog.Logger) (*ca.Authority, error) {
	o, err := CAOptions(c.Config, c.DB, c.Keyring, c.Audit, logger)
	if err != nil {
		return nil, err
	}
	return ca.Open(ctx, o)
}

// InitCA initialises the CA in c's store: a generated root, or imp (an
// imported root certificate and key), and the first intermediate. It
// fails with ca.ErrExists when the store already holds one.
func InitCA(ctx context.Context, c *CLI, imp *ca.ImportedRoot, stderr io.Writer) (*ca.Authority, error) {
	o, err := CAOptions(c.Config, c.DB, c.Keyring, c.Audit, NewCLILogger(c.Config, stderr))
	if err != nil {
		return nil, err
	}
	return ca.Init(ctx, o, imp)
}
