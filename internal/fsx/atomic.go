// Package fsx holds the one way Rampart replaces a file: atomically and
// durably, with its final mode from the first byte on.
package fsx

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data and gives it mode. It writes a
// new file in path's directory (os.CreateTemp makes it 0600, so a secret
// is never readable by others, not even for an instant), sets mode, syncs
// it, renames it over path and syncs the directory: a reader sees the old
// content or the new, never a part, a crash leaves one of them (rename(2)
// is atomic within a filesystem; the directory sync makes the rename
// durable), and a symlink at path is replaced rather than followed. On
// failure the temporary file is removed and path is untouched.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir makes the entries of dir (a rename into it) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- a directory Rampart itself writes into.
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("sync %s: %w", dir, serr)
	}
	if cerr != nil {
		return fmt.Errorf("sync %s: %w", dir, cerr)
	}
	return nil
}
