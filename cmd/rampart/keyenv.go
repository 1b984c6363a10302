package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

// keyEnv is what the key commands need: the store, the audit log (key
// changes are audited) and a key manager.
type keyEnv struct {
	store *sqlstore.DB
	audit *audit.Log
	keys  *keys.Manager
}

// openKeyEnv opens the store (schema checked, not migrated), the master key
// (never created outside serve), the audit log and the key manager.
func openKeyEnv(cmd *cobra.Command, path string) (*keyEnv, error) {
	ctx := cmd.Context()
	cfg, err := loadConfig(path, false)
	if err != nil {
		return nil, err
	}
	res, err := cfg.Resolve(osEnv(), config.Needs{Store: true, MasterKey: true})
	if err != nil {
		return nil, err
	}
	mk, err := loadMasterKey(cfg, res, false, cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	s, err := openCheckedStore(ctx, cfg, res.StoreDSN)
	if err != nil {
		return nil, err
	}
	kr, err := openKeyring(ctx, s, mk)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	logger := newCLILogger(cfg, cmd.ErrOrStderr())
	al, err := openAudit(cfg, s, kr, logger, nil)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	km, err := newKeyManager(cfg, s, kr, al, logger)
	if err == nil {
		err = km.Init(ctx, cliActor())
	}
	if err != nil {
		env := &keyEnv{store: s, audit: al}
		env.close(ctx)
		return nil, err
	}
	return &keyEnv{store: s, audit: al, keys: km}, nil
}

// close flushes the audit log and closes the store.
func (e *keyEnv) close(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = e.audit.Close(cctx)
	_ = e.store.Close()
}
