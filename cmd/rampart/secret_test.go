package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit"
)

const (
	secCLIAppSecret   = "a-client-secret-of-at-least-32-characters-cli"
	secCLIOtherSecret = "a-client-secret-of-at-least-32-characters-oth"
)

// secretServer starts serve with two clients and a policy granting app
// team/a, logging at debug level into logs.
func secretServer(t *testing.T) (*testServer, *testkit.SyncBuffer) {
	t.Helper()
	t.Setenv("RAMPART_TEST_CLI_APP", secCLIAppSecret)
	t.Setenv("RAMPART_TEST_CLI_OTHER", secCLIOtherSecret)
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "master.key", testkit.MasterKeyBase64+"\n")
	body := fmt.Sprintf(`issuer: http://127.0.0.1:0
data_dir: %s
master_key_file: %s
http: {listen: '127.0.0.1:0', tls: {mode: 'off'}}
log: {level: debug}
clients:
  - {id: app, secret_env: RAMPART_TEST_CLI_APP, grant_types: [client_credentials], scopes: [secrets]}
  - {id: other, secret_env: RAMPART_TEST_CLI_OTHER, grant_types: [client_credentials], scopes: [secrets]}
secrets:
  policies:
    - {name: app, paths: [team/a], capabilities: [read, list, write, delete, destroy], clients: [app], scopes: [secrets]}
    - {name: app-rotates, paths: [team/a/rot], capabilities: [rotate], clients: [app], scopes: [secrets]}
  rotations:
    - {path: team/a/rot, rotator: random, length: 24, alphabet: hex}
`, filepath.Join(dir, "data"), keyFile)
	path := writeFile(t, dir, "rampart.yaml", body)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, &testkit.SyncBuffer{}, logs, ready) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	ts := &testServer{cfgPath: path, cfg: cfg, base: "http://" + addr.String(), client: &http.Client{Timeout: 10 * time.Second}}
	var (
		stopped bool
		stopErr error
	)
	ts.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			stopErr = <-done
		}
		return stopErr
	}
	t.Cleanup(func() { _ = ts.stop() })
	return ts, logs
}

// tokenFile gets a client_credentials token and writes the token
// response as `rampart login --output` does.
func (ts *testServer) tokenFile(t *testing.T, id, secret string) string {
	t.Helper()
	out := ts.postForm(t, "/oauth2/token", id, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"secrets"}})
	b, _ := json.Marshal(out)
	return writeFile(t, t.TempDir(), id+".token.json", string(b))
}

// TestSecretCommandsOnStore: every command on the store (--config, the
// administrator "cli"), the values byte for byte, and the exit codes: 2
// for a wrong command line, 1 for a refused operation.
func TestSecretCommandsOnStore(t *testing.T) {
	ts, _ := secretServer(t)
	cfg := []string{"--config", ts.cfgPath}
	run := func(stdin string, want int, args ...string) (string, string) {
		t.Helper()
		code, out, errs := cli(t, stdin, append(append([]string{"secret"}, args...), cfg...)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, want, out, errs)
		}
		return out, errs
	}
	run("first\n", 0, "put", "team/a/db", "--value-stdin", "--meta", "owner=a", "--cas", "0")
	bin := writeFile(t, t.TempDir(), "v.bin", "\x00\xffbinary")
	run("", 0, "put", "team/a/db", "--value-file", bin, "--cas", "1")
	if out, _ := run("", 0, "get", "team/a/db"); out != "\x00\xffbinary" {
		t.Fatalf("raw get: %q", out)
	}
	if out, _ := run("", 0, "get", "team/a/db", "--version", "1"); out != "first\n" {
		t.Fatalf("get v1: %q", out)
	}
	out, _ := run("", 0, "get", "team/a/db", "--json")
	var doc map[string]any
	if json.Unmarshal([]byte(out), &doc) != nil || doc["value_base64"] == nil || doc["version"] != float64(2) {
		t.Fatalf("get --json: %s", out)
	}
	run("x", 1, "put", "team/a/db", "--value-stdin", "--cas", "1") // CAS conflict
	run("", 0, "label", "team/a/db", "stable", "1", "--expect", "0")
	run("", 1, "label", "team/a/db", "stable", "2", "--expect", "0")
	if out, _ := run("", 0, "get", "team/a/db", "--label", "stable"); out != "first\n" {
		t.Fatalf("get --label: %q", out)
	}
	run("", 0, "label", "team/a/db", "stable", "--remove")
	if out, _ := run("", 0, "versions", "team/a/db"); !strings.Contains(out, "current") || !strings.Contains(out, "previous") || !strings.Contains(out, "cli") {
		t.Fatalf("versions: %s", out)
	}
	run("", 0, "delete", "team/a/db")
	run("", 1, "get", "team/a/db")
	run("", 0, "undelete", "team/a/db")
	run("", 0, "destroy", "team/a/db", "--version", "1")
	if out, _ := run("", 0, "list"); !strings.Contains(out, "team/a/db") {
		t.Fatalf("list: %s", out)
	}
	run("", 0, "destroy", "team/a/db", "--all")
	run("", 1, "get", "team/a/db")
	_, errs := run("", 1, "rotate", "team/a/db", "--now")
	if !strings.Contains(errs, "no rotation") {
		t.Fatalf("rotate of a path without rotation: %s", errs)
	}
	// On the store the command runs the whole rotation itself.
	run("first-rotated-value", 0, "put", "team/a/rot", "--value-stdin")
	run("", 0, "rotate", "team/a/rot", "--now", "--reason", "suspicion")
	if out, _ := run("", 0, "get", "team/a/rot"); len(out) != 24 || out == "first-rotated-value" {
		t.Fatalf("after rotate: %q", out)
	}
	if out, _ := run("", 0, "get", "team/a/rot", "--label", "previous"); out != "first-rotated-value" {
		t.Fatalf("previous after rotate: %q", out)
	}
	if _, errs := run("", 1, "lease", "create", "team/a/db"); !strings.Contains(errs, "no dynamic credentials") {
		t.Fatalf("lease without dynamic roles: %s", errs)
	}

	// Usage errors: exit 2.
	for name, args := range map[string][]string{
		"no-backend":        {"secret", "get", "team/a/db"},
		"both-backends":     {"secret", "get", "team/a/db", "--config", ts.cfgPath, "--issuer", ts.base},
		"bad-path":          {"secret", "get", "team/../etc", "--config", ts.cfgPath},
		"upper-case":        {"secret", "get", "Team/a", "--config", ts.cfgPath},
		"no-value-source":   {"secret", "put", "team/a/x", "--config", ts.cfgPath},
		"two-value-sources": {"secret", "put", "team/a/x", "--value-stdin", "--value-file", "f", "--config", ts.cfgPath},
		"destroy-no-scope":  {"secret", "destroy", "team/a/x", "--config", ts.cfgPath},
		"label-no-version":  {"secret", "label", "team/a/x", "l", "--config", ts.cfgPath},
		"version-and-label": {"secret", "get", "team/a/x", "--version", "1", "--label", "l", "--config", ts.cfgPath},
		"unknown-sub":       {"secret", "frob"},
		"render-no-secret":  {"secret", "render", "--issuer", ts.base, "--token-file", "x"},
	} {
		t.Run("usage/"+name, func(t *testing.T) {
			if code, _, errs := cli(t, "", args...); code != exitUsage {
				t.Fatalf("exit %d, want 2: %s", code, errs)
			}
		})
	}
}

// TestSecretCommandsRemote: the same commands through the API with a
// client's token: its policy applies (team/a yes, team/ab no: exit 1).
func TestSecretCommandsRemote(t *testing.T) {
	ts, _ := secretServer(t)
	tok := ts.tokenFile(t, "app", secCLIAppSecret)
	remote := []string{"--issuer", ts.base, "--token-file", tok}
	run := func(stdin string, want int, args ...string) string {
		t.Helper()
		code, out, errs := cli(t, stdin, append(append([]string{"secret"}, args...), remote...)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, want, out, errs)
		}
		return out + errs
	}
	run("remote-value", 0, "put", "team/a/api", "--value-stdin", "--label", "current", "--label", "blue")
	if out := run("", 0, "get", "team/a/api"); out != "remote-value" {
		t.Fatalf("get: %q", out)
	}
	if out := run("", 0, "get", "team/a/api", "--label", "blue"); out != "remote-value" {
		t.Fatalf("get blue: %q", out)
	}
	if out := run("x", 1, "put", "team/ab/api", "--value-stdin"); !strings.Contains(out, "403") {
		t.Fatalf("prefix confusion: %s", out)
	}
	if out := run("", 0, "versions", "team/a/api", "--json"); !strings.Contains(out, `"created_by": "client:app"`) {
		t.Fatalf("versions: %s", out)
	}
	if out := run("", 0, "list", "team/a"); !strings.Contains(out, "team/a/api") {
		t.Fatalf("list: %s", out)
	}
	if out := run("", 1, "rotate", "team/a/api"); !strings.Contains(out, "403") {
		t.Fatalf("rotate without the capability: %s", out)
	}
	run("remote-first", 0, "put", "team/a/rot", "--value-stdin")
	if out := run("", 0, "rotate", "team/a/rot", "--reason", "manual"); !strings.Contains(out, "done") {
		t.Fatalf("rotate: %s", out)
	}
	if out := run("", 0, "get", "team/a/rot"); len(out) != 24 {
		t.Fatalf("after a remote rotate: %q", out)
	}
	run("", 0, "destroy", "team/a/api", "--all")
	other := ts.tokenFile(t, "other", secCLIOtherSecret)
	if code, _, errs := cli(t, "", "secret", "get", "team/a/api", "--issuer", ts.base, "--token-file", other); code != 1 || !strings.Contains(errs, "403") {
		t.Fatalf("other client: %d %s", code, errs)
	}
	if code, _, errs := cli(t, "", "secret", "get", "team/a/api", "--issuer", "http://example.com", "--token-file", tok); code != exitUsage {
		t.Fatalf("plain http to a remote host: %d %s", code, errs)
	}
}

// TestSecretRender: render writes the value 0600 atomically, only when
// it changed, and then signals the process in the pid file (or runs
// --exec); --once exits 1 when a secret cannot be read.
func TestSecretRender(t *testing.T) {
	ts, _ := secretServer(t)
	tok := ts.tokenFile(t, "app", secCLIAppSecret)
	put := func(v string) {
		t.Helper()
		if code, _, errs := cli(t, v, "secret", "put", "team/a/cfg", "--value-stdin", "--config", ts.cfgPath); code != 0 {
			t.Fatal(errs)
		}
	}
	put("v1")
	dir := t.TempDir()
	out := filepath.Join(dir, "cfg.secret")
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill() })
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	pidFile := writeFile(t, dir, "app.pid", fmt.Sprint(child.Process.Pid))
	render := func(want int, extra ...string) string {
		t.Helper()
		args := append([]string{"secret", "render", "--issuer", ts.base, "--token-file", tok, "--secret", "team/a/cfg=" + out, "--once"}, extra...)
		code, o, errs := cli(t, "", args...)
		if code != want {
			t.Fatalf("render: exit %d, want %d: %s %s", code, want, o, errs)
		}
		return o
	}
	// A first render with --exec, then unchanged: nothing written, nothing run.
	marker := filepath.Join(dir, "ran")
	render(0, "--exec", "echo x >> "+marker)
	if b, err := os.ReadFile(out); err != nil || string(b) != "v1" {
		t.Fatalf("rendered %q %v", b, err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	render(0, "--exec", "echo x >> "+marker)
	if b, _ := os.ReadFile(marker); string(b) != "x\n" {
		t.Fatalf("--exec ran %q times", b)
	}
	// Unchanged with --signal: the child lives on.
	render(0, "--signal", pidFile+":HUP")
	select {
	case err := <-exited:
		t.Fatalf("signalled without a change: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	put("v2")
	render(0, "--signal", pidFile+":HUP")
	if b, _ := os.ReadFile(out); string(b) != "v2" {
		t.Fatalf("after change: %q", b)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !asExit(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGHUP {
			t.Fatalf("child ended with %v, want SIGHUP", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the child was not signalled")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Fatalf("temporary files left: %v", ents)
	}
	// A secret the token may not read: exit 1, the file untouched.
	code, _, errs := cli(t, "", "secret", "render", "--issuer", ts.base, "--token-file", tok, "--secret", "team/b/x="+filepath.Join(dir, "b"), "--once")
	if code != 1 || !strings.Contains(errs, "403") {
		t.Fatalf("forbidden render: %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "b")); err == nil {
		t.Fatal("a refused secret was written")
	}
}

func asExit(err error, ee **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*ee = e
	return ok
}
