package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestConfigCheckGolden: the stdout of `rampart config check` on the
// representative files in testdata/config is the golden file's, with the
// config path replaced by <config>. Refresh with
// go test ./cmd/rampart -run Golden -update (and review the diff).
func TestConfigCheckGolden(t *testing.T) {
	t.Setenv(config.MasterKeyEnv, testkit.MasterKeyBase64)
	t.Setenv("GOLDEN_PG_DSN", "postgres://rampart@db.internal/rampart?sslmode=verify-full")
	t.Setenv("GOLDEN_REDIS_URL", "rediss://cache.internal:6380/0")
	t.Setenv("GOLDEN_REPORTING_SECRET", "reporting-secret-0123456789abcdefghijklmnop")
	for _, name := range []string{"dev", "production"} {
		t.Run(name, func(t *testing.T) {
			path, err := filepath.Abs(filepath.Join("testdata", "config", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			code, out, errOut := cli(t, "", "config", "check", "--config", path)
			if code != 0 {
				t.Fatalf("config check: exit %d\n%s\n%s", code, out, errOut)
			}
			testkit.Golden(t, filepath.Join("config-check", name+".golden"), []byte(strings.ReplaceAll(out, path, "<config>")))
		})
	}
}
