package config

import (
	"strings"
	"testing"
)

// TestSecretRotationWindowUsesTheEnginesParser: a window the rotation
// engine would refuse fails config check with the key named; the forms
// the engine runs are accepted.
func TestSecretRotationWindowUsesTheEnginesParser(t *testing.T) {
	base := "secrets:\n  rotations:\n    - {path: team/db, rotator: random, every: 168h, window: %s}\n"
	for _, bad := range []string{"'Sat 2:00-4:00'", "'Caturday 02:00-04:00'", "'02:00-02:00'", "'25:00-26:00'", "'Sat  02:00-04:00'"} {
		_, err := Parse([]byte(strings.Replace(base, "%s", bad, 1)))
		if err == nil || !strings.Contains(err.Error(), "secrets.rotations[0].window") {
			t.Errorf("window %s: %v, want a refusal naming secrets.rotations[0].window", bad, err)
		}
	}
	for _, good := range []string{"''", "'Sat 02:00-04:00'", "'Mon-Fri 01:00-03:00'", "'02:00-04:00'", "'23:00-01:00'"} {
		if _, err := Parse([]byte(strings.Replace(base, "%s", good, 1))); err != nil {
			t.Errorf("window %s refused: %v", good, err)
		}
	}
}
