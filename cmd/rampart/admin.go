package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/app"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
)

// needKeys is what the key commands open: the store, the master key, the
// audit log (key changes are audited) and the key manager.
var needKeys = app.CLINeeds{MasterKey: true, Keys: true}

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect configuration"}
	var path string
	check := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Validate a configuration file as serve would start it, *_env and *_file included (exit 0 when valid, 1 with every problem when not)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usageError{errors.New("config check needs --config FILE")}
			}
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			// The dry run of serve's start: the same preflight serve runs
			// before any side effect (every *_env and *_file resolved, the
			// master key parsed, the clients built), in this shell's
			// environment. Run it where serve runs.
			if _, err := app.Preflight(cfg, app.OSEnv()); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "config OK: %s\n", path)
			fmt.Fprintf(out, "  issuer %s\n  listen %s (tls %s)\n  store  %s\n  keys   %s, rotate every %s\n",
				cfg.Issuer, cfg.HTTP.Listen, cfg.HTTP.TLS.Mode, cfg.Store.Driver, cfg.Keys.Algorithm, cfg.Keys.RotationPeriod.D())
			enrol := "no enrolment listener"
			if cfg.CA.Listen != "" {
				enrol = "enrolment on " + cfg.CA.Listen
			}
			fmt.Fprintf(out, "  ca     trust domain %s, %s, SVIDs %s (max %s)\n", cfg.CA.TrustDomain, enrol, cfg.CA.SVIDTTL.D(), cfg.CA.MaxSVIDTTL.D())
			for _, n := range cfg.Notices() {
				fmt.Fprintf(out, "notice: %s\n", n)
			}
			return nil
		},
	}
	addConfigFlag(check, &path)
	cmd.AddCommand(check)
	return cmd
}

func newMigrateCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "migrate --config FILE",
		Short: "Apply pending database migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path, false)
			if err != nil {
				return err
			}
			s, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			applied, err := s.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			cur, _, err := s.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "database is up to date (schema version %d)\n", cur)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "applied migrations %v; schema version %d\n", applied, cur)
			}
			return nil
		},
	}
	addConfigFlag(cmd, &path)
	return cmd
}

func newKeyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage token signing keys"}
	var listPath, rotatePath string
	var listJSON bool
	list := &cobra.Command{
		Use:   "list [--config FILE] [--json]",
		Short: "List signing keys and their states",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := openCLI(cmd, listPath, needKeys)
			if err != nil {
				return err
			}
			defer env.Close(cmd.Context())
			infos, err := env.Keys.List(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if listJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(infos)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVATES\tRETIRED\tREMOVE AT")
			for _, k := range infos {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Algorithm, k.State,
					fmtTime(k.CreatedAt), fmtTime(k.ActivateAt), fmtTime(k.RetiredAt), fmtTime(k.RemoveAt))
			}
			return tw.Flush()
		},
	}
	addConfigFlag(list, &listPath)
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")
	rotate := &cobra.Command{
		Use:   "rotate [--config FILE]",
		Short: "Publish a new signing key now; it signs after keys.publish_ahead",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := openCLI(cmd, rotatePath, needKeys)
			if err != nil {
				return err
			}
			defer env.Close(cmd.Context())
			info, err := env.Admin.RotateKey(cmd.Context(), cliActor())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "published key %s (%s); it starts signing at %s\n",
				info.KID, info.Algorithm, fmtTime(info.ActivateAt))
			return nil
		},
	}
	addConfigFlag(rotate, &rotatePath)
	cmd.AddCommand(list, rotate, newKeyRevokeCommand())
	return cmd
}

// newKeyRevokeCommand is `rampart key revoke KID`: the emergency removal of
// a compromised key from signing, verification and the JWKS at once.
func newKeyRevokeCommand() *cobra.Command {
	var path string
	revoke := &cobra.Command{
		Use:   "revoke KID [--config FILE]",
		Short: "Revoke a signing key at once (emergency): it stops signing and verifying and leaves the JWKS; an active key is replaced immediately",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kid := args[0]
			if err := admin.ValidateKID(kid); err != nil {
				return usageError{err}
			}
			env, err := openCLI(cmd, path, needKeys)
			if err != nil {
				return err
			}
			defer env.Close(cmd.Context())
			res, err := env.Admin.RevokeKey(cmd.Context(), cliActor(), kid)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if res.AlreadyGone {
				fmt.Fprintf(out, "key %s was already %s: it neither signs nor verifies tokens\n", res.Revoked.KID, res.Revoked.State)
				return nil
			}
			fmt.Fprintf(out, "revoked key %s: it no longer signs or verifies tokens and has left the JWKS\n", res.Revoked.KID)
			if r := res.Replacement; r != nil {
				fmt.Fprintf(out, "new signing key %s (%s) signs now; relying parties refetch the JWKS when they meet its kid\n", r.KID, r.Algorithm)
			}
			fmt.Fprintln(out, "running servers follow within their key ring poll (2s); resource servers drop the key when their JWKS cache expires (keys.jwks_max_age)")
			return nil
		},
	}
	addConfigFlag(revoke, &path)
	return revoke
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func newAuditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify and read the audit trail"}
	var verifyPath, tailPath string
	var n int
	var jsonOut bool
	verify := &cobra.Command{
		Use:   "verify [--config FILE]",
		Short: "Recompute the audit hash chain; exit 1 naming the first record that does not match",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := storeFor(cmd, verifyPath)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := audit.Verify(cmd.Context(), s.Audit(), nil)
			var chainErr *audit.ChainError
			if errors.As(err, &chainErr) {
				fmt.Fprintf(cmd.ErrOrStderr(), "audit log TAMPERED: %v\n", chainErr)
				return silentError{exitFail}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "audit log verified: %s\n", res)
			return nil
		},
	}
	addConfigFlag(verify, &verifyPath)
	tail := &cobra.Command{
		Use:   "tail [--config FILE] [-n N] [--json]",
		Short: "Print the most recent audit events",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 || n > 100000 {
				return usageError{fmt.Errorf("-n must be between 1 and 100000")}
			}
			s, err := storeFor(cmd, tailPath)
			if err != nil {
				return err
			}
			defer s.Close()
			recs, err := audit.Tail(cmd.Context(), s.Audit(), n)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if err := audit.Format(cmd.OutOrStdout(), r, jsonOut); err != nil {
					return err
				}
			}
			return nil
		},
	}
	addConfigFlag(tail, &tailPath)
	tail.Flags().IntVarP(&n, "lines", "n", 20, "how many events")
	tail.Flags().BoolVar(&jsonOut, "json", false, "print JSON lines")
	cmd.AddCommand(verify, tail)
	return cmd
}
