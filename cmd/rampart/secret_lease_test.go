package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestSecretLeaseCommands: `rampart secret lease PATH` on the store makes
// a real PostgreSQL role (its password shown once), `lease list` shows it
// without the password, `lease revoke` ends its live session and drops
// it; the command's own output never repeats the password elsewhere.
func TestSecretLeaseCommands(t *testing.T) {
	dsn := os.Getenv("RAMPART_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("set RAMPART_TEST_POSTGRES_DSN to run (scripts/services.sh)")
	}
	t.Setenv("RAMPART_TEST_LEASE_PGADMIN", dsn)
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "master.key", testkit.MasterKeyBase64+"\n")
	cfgPath := writeFile(t, dir, "rampart.yaml", fmt.Sprintf(`issuer: http://127.0.0.1:8080
data_dir: %s
master_key_file: %s
secrets:
  databases:
    - {name: main, dsn_env: RAMPART_TEST_LEASE_PGADMIN}
  dynamic:
    - path: db/cli/ro
      database: main
      creation_statements: ["CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}}"]
      default_ttl: 10m
`, filepath.Join(dir, "data"), keyFile))
	if code, _, errs := cli(t, "", "migrate", "--config", cfgPath); code != 0 {
		t.Fatalf("migrate: %s", errs)
	}
	code, out, errs := cli(t, "", "secret", "lease", "db/cli/ro", "--ttl", "2m", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("lease: exit %d: %s", code, errs)
	}
	var l struct {
		LeaseID  string `json:"lease_id"`
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || l.Password == "" || l.Username == "" || len(l.LeaseID) != 32 {
		t.Fatalf("lease output: %v %s", err, out)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(l.Username, l.Password)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect with the lease: %v", err)
	}
	defer conn.Close(ctx)
	code, out, errs = cli(t, "", "secret", "lease", "list", "db/cli/ro", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, l.LeaseID) || strings.Contains(out+errs, l.Password) {
		t.Fatalf("lease list: exit %d: %s %s", code, out, errs)
	}
	if code, _, errs := cli(t, "", "secret", "lease", "revoke", l.LeaseID, "--config", cfgPath); code != 0 {
		t.Fatalf("lease revoke: %s", errs)
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("the revoked lease's session still runs queries")
	}
	if code, _, _ := cli(t, "", "secret", "lease", "revoke", "not-a-lease-id", "--config", cfgPath); code == 0 {
		t.Fatal("revoking a malformed lease id succeeded")
	}
}
