package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rampart-auth/rampart/internal/admin"
)

// writeSVIDFiles writes what the agent writes (contract.md) to dir
// (created 0700): svid.key (0600) first, then svid.pem, bundle.pem and
// crl.pem (0644), each atomically, so a reader never sees a certificate
// without its key.
func writeSVIDFiles(dir string, res *admin.CAIssued) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"svid.key", res.KeyPEM, 0o600},
		{"svid.pem", res.ChainPEM, 0o644},
		{"bundle.pem", res.BundlePEM, 0o644},
		{"crl.pem", res.CRLPEM, 0o644},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes data to path with mode: a temporary file in the
// same directory (created 0600), synced, its mode set, renamed over path,
// then the directory synced, so a reader sees the old content or the new,
// never a part, and a key is never readable by others even briefly.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	merr := f.Chmod(mode)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, merr, serr, cerr); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dir) // #nosec G304 -- the directory the operator named.
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
