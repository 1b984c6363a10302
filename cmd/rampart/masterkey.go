package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

func newMasterKeyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "master-key", Short: "Manage the master key that seals every secret at rest"}
	var path, newKeyFile string
	rotate := &cobra.Command{
		Use:   "rotate [--new-key-file FILE] [--config FILE]",
		Short: "Re-wrap every sealed secret under a new master key (generated unless --new-key-file), in one transaction",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return rotateMasterKey(cmd.Context(), cmd, path, newKeyFile)
		},
	}
	addConfigFlag(rotate, &path)
	rotate.Flags().StringVar(&newKeyFile, "new-key-file", "", "file with the new master key (32 bytes, base64 or hex, mode 0600); without it a new key is generated into a new file")
	cmd.AddCommand(rotate)
	return cmd
}

// rotateMasterKey opens the store with the current key (checked against
// the store), gets the new key, calls kms.Rotate and audits the result.
func rotateMasterKey(ctx context.Context, cmd *cobra.Command, path, newKeyFile string) error {
	cfg, err := loadConfig(path, false)
	if err != nil {
		return err
	}
	res, err := cfg.Resolve(osEnv(), config.Needs{Store: true, MasterKey: true})
	if err != nil {
		return err
	}
	mk, err := loadMasterKey(cfg, res, false, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	var next *kms.MasterKey
	if newKeyFile != "" {
		if next, err = readNewKeyFile(newKeyFile); err != nil {
			return err
		}
	}
	s, err := openCheckedStore(ctx, cfg, res.StoreDSN)
	if err != nil {
		return err
	}
	defer s.Close()
	kr, err := openKeyring(ctx, s, mk)
	if err != nil {
		return err
	}
	generated := ""
	if next == nil {
		generated = newKeyPath(cfg, res, kr.Version()+1)
		if next, err = kms.CreateMasterKeyFile(generated); err != nil {
			return err
		}
	}
	nkr, err := kms.Rotate(ctx, kr, next, kms.RotateOptions{
		Files: []kms.FileRewrap{httpx.RewrapCAKey(filepath.Join(cfg.DataDir, "tls"))},
	})
	if nkr == nil {
		if generated != "" {
			_ = os.Remove(generated) // never used: nothing was sealed under it
		}
		_ = auditRotation(ctx, cmd, cfg, s, kr, kr.Version(), kr.Version()+1, err)
		return err
	}
	// Committed (err, if any, wraps kms.ErrCommitted: a re-wrapped file is
	// still to be moved into place, which the next start does).
	if aerr := auditRotation(ctx, cmd, cfg, s, nkr, kr.Version(), nkr.Version(), nil); aerr != nil {
		err = errors.Join(err, fmt.Errorf("the master key was rotated to version %d, but the audit event could not be recorded: %w", nkr.Version(), aerr))
	}
	printRotation(cmd.OutOrStdout(), kr.Version(), nkr.Version(), generated)
	return err
}

// readNewKeyFile reads --new-key-file with the strict reader of
// master_key_file (regular file, mode 0600 or stricter).
func readNewKeyFile(path string) (*kms.MasterKey, error) {
	b, err := kms.ReadMasterKeyFile(path)
	if err != nil {
		return nil, err
	}
	mk, err := kms.ParseMasterKey(b)
	clear(b)
	if err != nil {
		return nil, fmt.Errorf("--new-key-file %s: %w", path, err)
	}
	return mk, nil
}

// newKeyPath is where a generated key of version v goes: next to
// master_key_file as <name>.v<N>, else (RAMPART_MASTER_KEY, the dev key)
// in data_dir as master.key.v<N>.
func newKeyPath(cfg *config.Config, res *config.Resolved, v uint32) string {
	base := filepath.Join(cfg.DataDir, config.DevMasterKeyName)
	if cfg.MasterKeyFile != "" {
		base = cfg.MasterKeyFile
	} else if res.DevMasterKeyFile != "" {
		base = res.DevMasterKeyFile
	}
	return base + ".v" + strconv.FormatUint(uint64(v), 10)
}

// auditRotation records the rotation's outcome (best effort when it
// failed: the failure itself is the error reported).
func auditRotation(ctx context.Context, cmd *cobra.Command, cfg *config.Config, s *sqlstore.DB, kr *kms.Keyring, from, to uint32, failure error) error {
	al, err := openAudit(cfg, s, kr, newCLILogger(cfg, cmd.ErrOrStderr()), nil)
	if err != nil {
		return err
	}
	ev := audit.Event{Actor: cliActor(), Action: audit.ActionMasterKeyRotate, Target: fmt.Sprintf("kek:v%d", to), Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"old_version": strconv.FormatUint(uint64(from), 10), "new_version": strconv.FormatUint(uint64(to), 10)}}
	if failure != nil {
		ev.Outcome, ev.Reason = audit.OutcomeFailure, "rotation_failed"
	}
	rerr := al.Record(ctx, ev)
	return errors.Join(rerr, al.Close(context.WithoutCancel(ctx)))
}

func printRotation(w io.Writer, from, to uint32, generated string) {
	fmt.Fprintf(w, "rotated the master key: key version %d → %d; every signing key, data key and the TLS CA key (if any) is re-wrapped\n", from, to)
	if generated != "" {
		fmt.Fprintf(w, "the new master key is in %s (mode 0600): back it up now\n", generated)
	}
	fmt.Fprintf(w, "point master_key_file (or %s) at the new key and restart EVERY instance; the old key is refused from now on\n", masterKeyEnv)
}
