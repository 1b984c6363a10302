package main

import (
	"os"
	"path/filepath"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/fsx"
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
		if err := fsx.WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}
