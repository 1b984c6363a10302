package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/app"
	"github.com/rampart-auth/rampart/internal/config"
)

func newMasterKeyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "master-key", Short: "Manage the master key that seals every secret at rest"}
	var path, newKeyFile string
	rotate := &cobra.Command{
		Use:   "rotate [--new-key-file FILE] [--config FILE]",
		Short: "Re-wrap every sealed secret under a new master key (generated unless --new-key-file), in one transaction",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path, false)
			if err != nil {
				return err
			}
			done, err := app.RotateMasterKey(cmd.Context(), cfg, app.OSEnv(), newKeyFile, cliActor(), cmd.ErrOrStderr())
			if done != nil {
				// Committed (err, if any, wraps kms.ErrCommitted: a
				// re-wrapped file is still to be moved into place, which the
				// next start does).
				printRotation(cmd.OutOrStdout(), done)
			}
			return err
		},
	}
	addConfigFlag(rotate, &path)
	rotate.Flags().StringVar(&newKeyFile, "new-key-file", "", "file with the new master key (32 bytes, base64 or hex, mode 0600); without it a new key is generated into a new file")
	cmd.AddCommand(rotate)
	return cmd
}

func printRotation(w io.Writer, r *app.MasterKeyRotated) {
	fmt.Fprintf(w, "rotated the master key: key version %d → %d; every signing key, data key and the TLS CA key (if any) is re-wrapped\n", r.From, r.To)
	if r.Generated != "" {
		fmt.Fprintf(w, "the new master key is in %s (mode 0600): back it up now\n", r.Generated)
	}
	if r.DevKeyFile != "" {
		src := r.Generated
		if src == "" {
			src = r.NewKeyFile
		}
		fmt.Fprintf(w, "dev mode reads %s: replace it with the new key (mv %s %s) and restart; the old key is refused from now on\n", r.DevKeyFile, src, r.DevKeyFile)
		return
	}
	fmt.Fprintf(w, "point master_key_file (or %s) at the new key and restart EVERY instance; the old key is refused from now on\n", config.MasterKeyEnv)
}
