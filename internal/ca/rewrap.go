package ca

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/rampart-auth/rampart/internal/kms"
)

// nextSuffix names the re-wrapped CA key a master-key rotation writes
// before its database commit (ca.key.sealed.next) and renames into place
// after it.
const nextSuffix = ".next"

// RewrapCAKey is the master-key rotation's step for the local CA key in
// dir (<data_dir>/tls): it opens ca.key.sealed with the current key,
// seals it with the new one into ca.key.sealed.next (mode 0600, synced)
// and returns how to rename it into place after the commit, or remove it
// when the rotation does not commit. Without a CA there is nothing to do.
func RewrapCAKey(dir string) kms.FileRewrap {
	return func(from, to kms.Sealer) (kms.Pending, error) {
		keyPath := filepath.Join(dir, caKeyFile)
		sealed, err := os.ReadFile(keyPath) // #nosec G304 -- the path is the configured data directory.
		if errors.Is(err, fs.ErrNotExist) {
			return kms.Pending{}, nil
		}
		if err != nil {
			return kms.Pending{}, fmt.Errorf("ca: %w", err)
		}
		der, err := from.Open([]byte(caKeyAD), sealed)
		if err != nil {
			return kms.Pending{}, fmt.Errorf("ca: cannot decrypt the CA key %s with the current master key: %w", keyPath, err)
		}
		resealed, err := to.Seal([]byte(caKeyAD), der)
		clear(der)
		if err != nil {
			return kms.Pending{}, fmt.Errorf("ca: seal CA key: %w", err)
		}
		next := keyPath + nextSuffix
		if err := writeSynced(next, resealed); err != nil {
			_ = os.Remove(next)
			return kms.Pending{}, fmt.Errorf("ca: write %s: %w", next, err)
		}
		return kms.Pending{
			Finish: func() error { return renameSynced(next, keyPath) },
			Abort:  func() { _ = os.Remove(next) },
		}, nil
	}
}

// recoverRewrapped finishes a rotation that committed but crashed before
// renaming ca.key.sealed.next: a .next that opens with the current key
// (the store's current version) wins. One that does not is from a
// rotation that never committed; it is left alone, with a warning.
func recoverRewrapped(opts LocalOptions, keyPath string) error {
	next := keyPath + nextSuffix
	sealed, err := os.ReadFile(next) // #nosec G304 -- the path is the configured data directory.
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	der, err := opts.Sealer.Open([]byte(caKeyAD), sealed)
	if err != nil {
		opts.Logger.Warn("ca: ignoring a re-wrapped CA key the current master key cannot open (a master-key rotation that did not commit); delete it",
			slog.String("file", next), slog.Any("err", err))
		return nil
	}
	clear(der)
	if err := renameSynced(next, keyPath); err != nil {
		return fmt.Errorf("ca: recover %s: %w", next, err)
	}
	opts.Logger.Info("ca: completed the master-key rotation of the CA key", slog.String("file", keyPath))
	return nil
}

// writeSynced writes data to path (created or truncated, mode 0600) and
// syncs it, so the file is durable before the rotation commits.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) // #nosec G304 -- the path is the configured data directory.
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	return errors.Join(werr, serr, cerr)
}

// renameSynced renames from to to and syncs the directory, so the rename
// survives a crash.
func renameSynced(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(to)) // #nosec G304 -- the configured data directory.
	if err != nil {
		return err
	}
	serr := d.Sync()
	return errors.Join(serr, d.Close())
}
