package main

import (
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/agent"
)

// newAgentCommand is `rampart agent`: flags and wiring only; the
// lifecycle is internal/agent.
func newAgentCommand() *cobra.Command {
	var cfg agent.Config
	cmd := &cobra.Command{
		Use:   "agent --server URL (--join-token-file FILE | --client-id ID --client-secret-file FILE) --out DIR [--socket PATH]",
		Short: "Obtain an X509-SVID from the Rampart CA, keep it renewed, and hand it to services (files and/or a unix socket)",
		Long: "agent enrols with the CA's enrolment listener once (a one-time join token, or\n" +
			"OAuth client credentials mapped to a SPIFFE ID), renews the SVID over mTLS at\n" +
			"half of its lifetime, writes svid.pem, svid.key (0600), bundle.pem and crl.pem\n" +
			"to --out atomically and/or serves them on --socket for the mtls package. When\n" +
			"--out already holds a valid SVID it renews with it and does not read the join\n" +
			"token. It keeps serving the SVID through CA downtime until it expires, then\n" +
			"exits 1 (a new join token is needed). Exit 2 on a usage error.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			a, err := agent.New(cfg)
			if err == nil {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				err = a.Run(ctx)
			}
			var ue *agent.UsageError
			if errors.As(err, &ue) {
				return usageError{err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Server, "server", "", "the CA's enrolment URL (https://host:port, ca.listen)")
	f.StringVar(&cfg.JoinTokenFile, "join-token-file", "", "file holding a one-time join token (rjt1....)")
	f.StringVar(&cfg.ClientID, "client-id", "", "OAuth client id mapped to a SPIFFE ID (with --client-secret-file)")
	f.StringVar(&cfg.ClientSecretFile, "client-secret-file", "", "file holding the client's secret")
	f.StringVar(&cfg.OutDir, "out", "", "directory (0700) for svid.pem, svid.key, bundle.pem, crl.pem")
	f.StringVar(&cfg.Socket, "socket", "", "unix socket (0600) serving the SVID to the mtls package")
	f.StringVar(&cfg.SPIFFEID, "spiffe-id", "", "the SPIFFE ID to ask for (needed when the credential allows several)")
	f.StringVar(&cfg.BundleFile, "bundle-file", "", "PEM trust bundle to verify the CA with on first contact (required with --client-id)")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", "", "loopback host:port serving Prometheus /metrics over plain HTTP")
	f.StringVar(&cfg.KeyType, "key-type", agent.KeyTypeECP256, "key type of the SVID (ec-p256)")
	return cmd
}
