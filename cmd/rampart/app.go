package main

import (
	"context"
	"os/user"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/app"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

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
	res, err := cfg.Resolve(app.OSEnv(), config.Needs{Store: true})
	if err != nil {
		return nil, err
	}
	return app.OpenStore(ctx, cfg, res.StoreDSN)
}

// storeFor loads the config at path (dev defaults when empty) and opens its
// store with the schema checked: what read-only commands need.
func storeFor(cmd *cobra.Command, path string) (*sqlstore.DB, error) {
	cfg, err := loadConfig(path, false)
	if err != nil {
		return nil, err
	}
	res, err := cfg.Resolve(app.OSEnv(), config.Needs{Store: true})
	if err != nil {
		return nil, err
	}
	return app.OpenCheckedStore(cmd.Context(), cfg, res.StoreDSN)
}

// openCLI loads the config at path and opens what the command needs.
func openCLI(cmd *cobra.Command, path string, need app.CLINeeds) (*app.CLI, error) {
	cfg, err := loadConfig(path, false)
	if err != nil {
		return nil, err
	}
	return app.OpenCLI(cmd.Context(), cfg, app.OSEnv(), need, cliActor(), cmd.ErrOrStderr())
}

// cliActor names the operator running a CLI command, for the audit trail.
func cliActor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return "cli:" + name
}
