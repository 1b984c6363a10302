package devicelogin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Format is the token response as printed or written: indented JSON with
// a final newline.
func Format(resp []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Indent(&buf, resp, "", "  "); err != nil {
		return nil, fmt.Errorf("devicelogin: the token response is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// WriteFile writes data to path readable by its owner only (0600). It
// writes a new file in the same directory (os.CreateTemp makes it 0600)
// and renames it over path, so the tokens are never in a file with looser
// permissions, not even for an instant, whatever mode an existing file
// had, and a symlink at path is replaced rather than followed.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".rampart-login-*")
	if err != nil {
		return fmt.Errorf("devicelogin: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return fmt.Errorf("devicelogin: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("devicelogin: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("devicelogin: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("devicelogin: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("devicelogin: %w", err)
	}
	ok = true
	return nil
}
