package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/admin"
)

// TestSetClientSecret: the rotation engine's use case sets a given
// secret (idempotent), and refuses a short secret, an out-of-range
// overlap and a client from the configuration file, without quoting the
// secret.
func TestSetClientSecret(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "sqlite")
	_, s1, err := f.svc.CreateClient(ctx, "cli:ops", ccSpec("reporting"))
	if err != nil {
		t.Fatal(err)
	}
	s2 := strings.Repeat("n", 43)
	if changed, err := f.svc.SetClientSecret(ctx, "system:rotation", "reporting", s2, time.Hour); err != nil || !changed {
		t.Fatalf("set: %v %v", changed, err)
	}
	if changed, err := f.svc.SetClientSecret(ctx, "system:rotation", "reporting", s2, time.Hour); err != nil || changed {
		t.Fatalf("set again: %v %v", changed, err)
	}
	for _, s := range []string{s1, s2} {
		if _, err := f.reg.Authenticate(ctx, "reporting", s, true); err != nil {
			t.Fatalf("a secret stopped working inside the overlap: %v", err)
		}
	}
	for name, tc := range map[string]struct {
		id, secret string
		overlap    time.Duration
	}{
		"reject/short-secret":      {"reporting", "short-secret-value", 0},
		"reject/negative-overlap":  {"reporting", strings.Repeat("a", 43), -time.Second},
		"reject/overlap-too-long":  {"reporting", strings.Repeat("a", 43), admin.MaxSecretOverlap + time.Second},
		"reject/configured-client": {"from-file", strings.Repeat("a", 43), 0},
		"reject/missing-client":    {"nobody", strings.Repeat("a", 43), 0},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.svc.SetClientSecret(ctx, "system:rotation", tc.id, tc.secret, tc.overlap)
			if err == nil || strings.Contains(err.Error(), tc.secret) {
				t.Fatalf("SetClientSecret: %v", err)
			}
		})
	}
}
