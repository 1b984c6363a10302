package devicelogin

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/rampart-auth/rampart/internal/fsx"
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

// WriteFile writes data to path readable by its owner only (0600), with
// fsx.WriteFileAtomic: a new file in the same directory renamed over
// path, so the tokens are never in a file with looser
// permissions, not even for an instant, whatever mode an existing file
// had, and a symlink at path is replaced rather than followed.
func WriteFile(path string, data []byte) error {
	if err := fsx.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("devicelogin: %w", err)
	}
	return nil
}
