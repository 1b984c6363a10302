package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/kms"
)

// MasterKeyRotated is what `rampart master-key rotate` did.
type MasterKeyRotated struct {
	From, To uint32
	// Generated is the file holding a generated new key ("" when the key
	// came from --new-key-file).
	Generated string
	// NewKeyFile is --new-key-file ("" when the key was generated).
	NewKeyFile string
	// DevKeyFile is the dev-mode key file the server reads (data_dir/
	// master.key) when the rotated key came from it: the new key must
	// replace it there. Empty for master_key_file and RAMPART_MASTER_KEY.
	DevKeyFile string
}

// RotateMasterKey opens the store with the current master key (checked
// against it), reads the new key from newKeyFile or generates one into a
// new file, and runs the rotation use case (admin.RotateMasterKey) with
// the CA's keys (in the store) re-wrapped in the same transaction.
func RotateMasterKey(ctx context.Context, cfg *config.Config, env config.Env, newKeyFile, actor string, stderr io.Writer) (*MasterKeyRotated, error) {
	res, err := cfg.Resolve(env, config.Needs{Store: true, MasterKey: true})
	if err != nil {
		return nil, err
	}
	mk, err := LoadMasterKey(cfg, res, false, stderr)
	if err != nil {
		return nil, err
	}
	var next *kms.MasterKey
	if newKeyFile != "" {
		if next, err = readNewKeyFile(newKeyFile); err != nil {
			return nil, err
		}
	}
	db, err := OpenCheckedStore(ctx, cfg, res.StoreDSN)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	kr, err := OpenKeyring(ctx, db, mk)
	if err != nil {
		return nil, err
	}
	out := &MasterKeyRotated{From: kr.Version(), To: kr.Version() + 1, NewKeyFile: newKeyFile, DevKeyFile: res.DevMasterKeyFile}
	if next == nil {
		out.Generated = newKeyPath(cfg, res, out.To)
		if next, err = kms.CreateMasterKeyFile(out.Generated); err != nil {
			return nil, err
		}
	}
	logger := NewCLILogger(cfg, stderr)
	nkr, err := admin.RotateMasterKey(ctx, admin.MasterKeyRotation{
		Actor: actor, Current: kr, Next: next,
		Audit: func(k *kms.Keyring) (admin.Auditor, func(context.Context) error, error) {
			al, err := OpenAudit(cfg, db, k, logger, nil)
			if err != nil {
				return nil, nil, err
			}
			return al, al.Close, nil
		},
	})
	if nkr == nil {
		if out.Generated != "" {
			_ = os.Remove(out.Generated) // never used: nothing was sealed under it
		}
		return nil, err
	}
	out.To = nkr.Version()
	return out, err
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
