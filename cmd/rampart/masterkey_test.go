package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// pointConfigAt rewrites the config at path to use the master key file
// key, as an operator does after a rotation.
func pointConfigAt(t *testing.T, path, oldKey, newKey string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), "master_key_file: "+oldKey, "master_key_file: "+newKey, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// restartServer runs serve on the config at path and returns its base URL.
func restartServer(t *testing.T, path string) string {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard, io.Discard, ready) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case addr := <-ready:
		return "https://" + addr.String()
	case err := <-done:
		t.Fatalf("serve after the rotation: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	return ""
}

// TestMasterKeyRotateCommand: `rampart master-key rotate` with
// --new-key-file and with a generated key. After each, the old key is
// refused at start with the message naming the rotation; with the new key
// a restarted server opens its signing keys and TLS CA key, authenticates
// a client created before (its secret hash still verifies) and the audit
// chain verifies. The same key is refused (exit 1), a wrong command line
// exits 2.
func TestMasterKeyRotateCommand(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ts := startServer(t, driver, config.TLSAuto)
			secret := createClient(t, ts.cfgPath, "--id", "svc", "--grant-type", "client_credentials", "--scope", "a")
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"a"}}
			ts.postForm(t, "/oauth2/token", "svc", secret, form)
			if err := ts.stop(); err != nil {
				t.Fatal(err)
			}
			oldKey := ts.cfg.MasterKeyFile

			for _, args := range [][]string{{"master-key", "rotate", "extra"}, {"master-key", "rotate", "--bogus"}, {"master-key"}} {
				if code, _, errs := cli(t, "", append(args, "--config", ts.cfgPath)...); code != exitUsage {
					t.Fatalf("%v: exit %d, %s", args, code, errs)
				}
			}
			if code, _, errs := cli(t, "", "master-key", "rotate", "--config", ts.cfgPath, "--new-key-file", oldKey); code != exitFail || !strings.Contains(errs, "current one") {
				t.Fatalf("rotate to the same key: %d %s", code, errs)
			}

			b := make([]byte, 32)
			_, _ = rand.Read(b)
			v2 := filepath.Join(filepath.Dir(oldKey), "master.key.new")
			if err := os.WriteFile(v2, []byte(base64.StdEncoding.EncodeToString(b)), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, out, errs := cli(t, "", "master-key", "rotate", "--config", ts.cfgPath, "--new-key-file", v2); code != 0 || !strings.Contains(out, "1 → 2") {
				t.Fatalf("rotate --new-key-file: %d %s %s", code, out, errs)
			}
			if code, _, errs := cli(t, "", "key", "list", "--config", ts.cfgPath); code != exitFail ||
				!strings.Contains(errs, "this master key is version 1, retired by `rampart master-key rotate` at") || !strings.Contains(errs, "(version 2)") {
				t.Fatalf("start with the retired key: %d %s", code, errs)
			}
			pointConfigAt(t, ts.cfgPath, oldKey, v2)

			code, out, errs := cli(t, "", "master-key", "rotate", "--config", ts.cfgPath)
			v3 := v2 + ".v3"
			if code != 0 || !strings.Contains(out, "2 → 3") || !strings.Contains(out, v3) {
				t.Fatalf("rotate (generated): %d %s %s", code, out, errs)
			}
			if st, err := os.Stat(v3); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("generated key file: %v %v", st, err)
			}
			pointConfigAt(t, ts.cfgPath, v2, v3)

			ts.base = restartServer(t, ts.cfgPath)
			ts.postForm(t, "/oauth2/token", "svc", secret, form) // TLS CA key, signing key and secret hash all open
			if code, _, errs := cli(t, "", "audit", "verify", "--config", ts.cfgPath); code != 0 {
				t.Fatalf("audit verify: %d %s", code, errs)
			}
			if _, out, _ := cli(t, "", "audit", "tail", "--config", ts.cfgPath, "-n", "50"); strings.Count(out, audit.ActionMasterKeyRotate) < 2 || !strings.Contains(out, "kek:v3") {
				t.Fatalf("audit has no master_key.rotate events: %s", out)
			}
		})
	}
}

// TestMasterKeyRotateDevMode: with the dev defaults the server reads
// data_dir/master.key, so the command says to move the new key there (not
// to set master_key_file), and after that move the dev server's key opens
// the store while the old one is refused.
func TestMasterKeyRotateDevMode(t *testing.T) {
	t.Chdir(t.TempDir())
	if code, _, errs := cli(t, "", "migrate"); code != exitOK {
		t.Fatalf("migrate: exit %d: %s", code, errs)
	}
	if err := os.WriteFile(filepath.Join("rampart-data", "master.key"), []byte(testkit.MasterKeyBase64+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, "", "master-key", "rotate")
	if code != exitOK {
		t.Fatalf("rotate: exit %d: %s", code, errs)
	}
	want := "dev mode reads rampart-data/master.key: replace it with the new key (mv rampart-data/master.key.v2 rampart-data/master.key)"
	if !strings.Contains(out, want) || strings.Contains(out, "point master_key_file") {
		t.Fatalf("output does not tell a dev user what to do:\n%s", out)
	}
	if code, _, errs := cli(t, "", "key", "list"); code != exitFail || !strings.Contains(errs, "retired by `rampart master-key rotate`") {
		t.Fatalf("the old dev key was not refused: exit %d: %s", code, errs)
	}
	if err := os.Rename(filepath.Join("rampart-data", "master.key.v2"), filepath.Join("rampart-data", "master.key")); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli(t, "", "key", "list"); code != exitOK {
		t.Fatalf("the moved new key does not open the store: exit %d: %s", code, errs)
	}
}
