package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/app"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// freshConfig writes a production config (master key in a file, SQLite in
// <dir>/data unless extra names another store) into a directory whose name
// has a space, as a newcomer's "My Projects" folder might, and returns the
// config path and the data dir. Nothing else is created.
func freshConfig(t *testing.T, extra string) (cfgPath, dataDir string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "my rampart")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	keyFile := writeFile(t, dir, "master.key", testkit.MasterKeyBase64+"\n")
	dataDir = filepath.Join(dir, "data")
	body := fmt.Sprintf("issuer: http://127.0.0.1:8080\ndata_dir: %s\nmaster_key_file: %s\nlog: {level: warn}\n", dataDir, keyFile) + extra
	return writeFile(t, dir, "rampart.yaml", body), dataDir
}

// TestCommandsBeforeMigrateLeaveNothing: a newcomer runs a command before
// `rampart migrate`. The command fails with the exact command to run,
// --config included (the bare hint migrated ./rampart-data instead), and
// leaves no data dir and no empty rampart.db behind. Following the hint
// then works.
func TestCommandsBeforeMigrateLeaveNothing(t *testing.T) {
	for _, args := range [][]string{
		{"user", "create", "--username", "alice", "--password-stdin"},
		{"client", "list"},
		{"key", "list"},
		{"audit", "verify"},
	} {
		name := "reject/" + strings.Join(args[:2], "-") + "-before-migrate"
		t.Run(name, func(t *testing.T) {
			cfgPath, dataDir := freshConfig(t, "")
			code, out, errs := cli(t, "correct horse battery staple\n", append(args, "--config", cfgPath)...)
			if code != exitFail {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitFail, out, errs)
			}
			want := "run `rampart migrate --config '" + cfgPath + "'`"
			if !strings.Contains(errs, want) || !strings.Contains(errs, "no database at "+filepath.Join(dataDir, "rampart.db")) {
				t.Fatalf("stderr %q does not say %q", errs, want)
			}
			if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
				t.Fatalf("the failed command left %s behind (stat: %v)", dataDir, err)
			}
			if code, out, errs := cli(t, "", "migrate", "--config", cfgPath); code != exitOK {
				t.Fatalf("following the hint: exit %d\n%s%s", code, out, errs)
			}
			if code, out, errs := cli(t, "", "client", "list", "--config", cfgPath); code != exitOK {
				t.Fatalf("client list after migrate: exit %d\n%s%s", code, out, errs)
			}
		})
	}
}

// TestEmptyDatabaseNamesMigrateCommand: a database that exists but has no
// schema (an empty rampart.db an older binary left, or a fresh PostgreSQL
// schema) gets the same hint, and no schema is written into it.
func TestEmptyDatabaseNamesMigrateCommand(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run("reject/empty-"+driver+"-schema", func(t *testing.T) {
			extra, dsn := "", ""
			if driver == sqlstore.Postgres {
				_, dsn = storetest.DSN(t, driver)
				extra = fmt.Sprintf("store: {driver: postgres, dsn: '%s'}\n", dsn)
			}
			cfgPath, dataDir := freshConfig(t, extra)
			if driver == sqlstore.SQLite {
				if err := os.Mkdir(dataDir, 0o700); err != nil {
					t.Fatal(err)
				}
				dsn = filepath.Join(dataDir, "rampart.db")
				if err := os.WriteFile(dsn, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			code, _, errs := cli(t, "", "client", "list", "--config", cfgPath)
			want := "run `rampart migrate --config '" + cfgPath + "'`"
			if code != exitFail || !strings.Contains(errs, "no Rampart schema") || !strings.Contains(errs, want) {
				t.Fatalf("exit %d, stderr %q; want the hint %q", code, errs, want)
			}
			s, err := sqlstore.Open(context.Background(), driver, dsn, sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var n int
			if err := s.SQL().QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err == nil {
				t.Fatal("the refused database got a schema_migrations table")
			}
		})
	}
}

// TestMigrateCommandHint: the hint is what the operator would type.
func TestMigrateCommandHint(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"dev-defaults", "", "rampart migrate"},
		{"plain-path", "deploy/rampart.yaml", "rampart migrate --config deploy/rampart.yaml"},
		{"path-with-space", "/srv/my conf.yaml", "rampart migrate --config '/srv/my conf.yaml'"},
		{"path-with-quote", "it's.yaml", `rampart migrate --config 'it'\''s.yaml'`},
		{"path-with-dollar", "$HOME.yaml", "rampart migrate --config '$HOME.yaml'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := app.MigrateCommand(&config.Config{File: tc.file}); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBanner: the version "dev" of an unreleased build is never printed as
// if it were the mode ("Rampart dev is running (production mode)").
func TestBanner(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	for _, tc := range []struct {
		name, version string
		dev           bool
		want          string
	}{
		{"development-build-in-production-mode", "dev", false, "Rampart (development build) is running in production mode\n"},
		{"release-in-dev-mode", "v1.2.3", true, "Rampart v1.2.3 is running in dev mode\n"},
		{"release-in-production-mode", "v1.2.3", false, "Rampart v1.2.3 is running in production mode\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := version
			version = tc.version
			t.Cleanup(func() { version = old })
			cfg := config.Dev()
			cfg.Dev = tc.dev
			var b bytes.Buffer
			app.PrintBanner(&b, bannerName(), cfg, addr)
			first, _, _ := strings.Cut(b.String(), "\n")
			if first+"\n" != tc.want {
				t.Fatalf("banner starts %q, want %q", first, tc.want)
			}
			if strings.Contains(b.String(), "Rampart dev ") {
				t.Fatalf("banner reads the version as a mode: %q", b.String())
			}
		})
	}
}

// TestConfigCheckListsEveryDecodingProblem: three mistakes in the file,
// three messages from `rampart config check`, each with its line and key.
func TestConfigCheckListsEveryDecodingProblem(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "rampart.yaml", "issuer: http://127.0.0.1:8080\ntokens:\n  access_token_ttl: 600\nhttp:\n  listen: [a, b]\nlog:\n  levle: debug\n")
	code, _, errs := cli(t, "", "config", "check", "--config", path)
	if code != exitFail {
		t.Fatalf("exit %d, want 1: %s", code, errs)
	}
	for _, want := range []string{
		"line 3: tokens.access_token_ttl: 600 is a number, not a duration; write it with a unit, like 600s or 10m",
		"line 5: http.listen",
		`line 7: unknown key "log.levle"`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not list %q:\n%s", want, errs)
		}
	}
	if n := strings.Count(errs, "config: line "); n != 3 {
		t.Errorf("%d problems listed, want 3:\n%s", n, errs)
	}
}
