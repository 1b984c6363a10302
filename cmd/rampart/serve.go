package main

import (
	"context"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/app"
	"github.com/rampart-auth/rampart/internal/config"
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

// serve runs the server until ctx is cancelled (internal/app owns the
// lifecycle). ready, when not nil, receives the bound address once the
// server accepts connections.
func serve(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer, ready chan<- net.Addr) error {
	o := app.ServeOptions{Config: cfg, Env: app.OSEnv(), Stdout: stdout, Stderr: stderr, Name: bannerName(), Version: currentVersion()}
	if ready != nil {
		o.Ready = func(a net.Addr) { ready <- a }
	}
	return app.Serve(ctx, o)
}
