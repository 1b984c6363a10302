package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/config"
)

func tokenStatus(t *testing.T, base, id, secret string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestClientAndUserCommands drives `rampart client` and `rampart user`
// against a running server sharing the store.
func TestClientAndUserCommands(t *testing.T) {
	t.Setenv("CFG_SECRET", "configured-secret-0123456789abcdefghijklmn")
	base, cfg := authServer(t, `clients:
  - id: from-config
    secret_env: CFG_SECRET
    grant_types: [client_credentials]
    scopes: [a]
`)
	code, out, errOut := cli(t, "", "client", "create", "--config", cfg, "--id", "svc", "--grant-type", "client_credentials",
		"--scope", "reports:read", "--audience", "https://api.example.test", "--json")
	if code != 0 {
		t.Fatalf("client create: %d %s %s", code, out, errOut)
	}
	var created struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.ID != "svc" || len(created.Secret) != 43 {
		t.Fatalf("create output %q: %v", out, err)
	}
	if st := tokenStatus(t, base, "svc", created.Secret); st != http.StatusOK {
		t.Fatalf("new client cannot get a token: %d", st)
	}
	if st := tokenStatus(t, base, "from-config", "configured-secret-0123456789abcdefghijklmn"); st != http.StatusOK {
		t.Fatalf("config client cannot get a token: %d", st)
	}

	code, out, _ = cli(t, "", "client", "list", "--config", cfg, "--json")
	if code != 0 || !strings.Contains(out, `"svc"`) || !strings.Contains(out, `"from-config"`) || strings.Contains(out, created.Secret) || strings.Contains(out, "hmac") {
		t.Fatalf("client list: %d %s", code, out)
	}
	if code, out, _ = cli(t, "", "client", "show", "svc", "--config", cfg); code != 0 || !strings.Contains(out, "client_credentials") || strings.Contains(out, "hmac") {
		t.Fatalf("client show: %d %s", code, out)
	}

	code, out, _ = cli(t, "", "client", "rotate-secret", "svc", "--config", cfg, "--json")
	var rotated struct {
		Secret string `json:"client_secret"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rotated) != nil || rotated.Secret == created.Secret || len(rotated.Secret) != 43 {
		t.Fatalf("rotate-secret: %d %s", code, out)
	}
	if st := tokenStatus(t, base, "svc", created.Secret); st != http.StatusUnauthorized {
		t.Fatalf("old secret still works after rotation: %d", st)
	}
	if st := tokenStatus(t, base, "svc", rotated.Secret); st != http.StatusOK {
		t.Fatalf("rotated secret fails: %d", st)
	}

	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
		err   string
	}{
		{"usage/implicit-grant", "", []string{"client", "create", "--id", "x", "--grant-type", "implicit"}, 2, "not supported"},
		{"usage/public-client-credentials", "", []string{"client", "create", "--id", "x", "--public", "--grant-type", "client_credentials"}, 2, "confidential"},
		{"usage/bad-redirect", "", []string{"client", "create", "--id", "x", "--public", "--grant-type", "authorization_code", "--redirect-uri", "http://evil.example/cb"}, 2, "loopback"},
		{"usage/wildcard-redirect", "", []string{"client", "create", "--id", "x", "--public", "--grant-type", "authorization_code", "--redirect-uri", "https://*.example.com/cb"}, 2, "wildcard"},
		{"usage/bad-id", "", []string{"client", "create", "--id", "a b", "--grant-type", "client_credentials"}, 2, "not a client id"},
		{"fail/duplicate-id", "", []string{"client", "create", "--id", "svc", "--grant-type", "client_credentials"}, 1, "already exists"},
		{"fail/config-id", "", []string{"client", "create", "--id", "from-config", "--grant-type", "client_credentials"}, 1, "configuration file"},
		{"fail/show-unknown", "", []string{"client", "show", "nope"}, 1, "no client"},
		{"fail/delete-config-client", "", []string{"client", "delete", "from-config"}, 1, "configuration file"},
		{"fail/rotate-unknown", "", []string{"client", "rotate-secret", "nope"}, 1, "no client"},
		{"usage/show-no-id", "", []string{"client", "show"}, 2, "required"},
		{"usage/user-no-stdin-flag", "", []string{"user", "create", "--username", "bob"}, 2, "--password-stdin"},
		{"usage/user-short-password", "short\n", []string{"user", "create", "--username", "bob", "--password-stdin"}, 2, "at least"},
		{"usage/user-empty-stdin", "", []string{"user", "create", "--username", "bob", "--password-stdin"}, 2, "no password"},
		{"usage/user-bad-name", "a good long password\n", []string{"user", "create", "--username", "bob smith", "--password-stdin"}, 2, "username"},
		{"usage/user-bad-role", "a good long password\n", []string{"user", "create", "--username", "bob", "--password-stdin", "--role", "root"}, 2, "role"},
		{"ok/user-create", "a good long password\n", []string{"user", "create", "--username", "Bob", "--password-stdin", "--role", "admin"}, 0, ""},
		{"fail/user-duplicate", "another long password\n", []string{"user", "create", "--username", "bob", "--password-stdin"}, 1, "already exists"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, tc.stdin, append(tc.args, "--config", cfg)...)
			if code != tc.code || !strings.Contains(errOut, tc.err) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q), stdout %q", code, tc.code, errOut, tc.err, out)
			}
			if strings.Contains(out+errOut, "a good long password") {
				t.Fatal("the password was echoed")
			}
		})
	}

	// Plural flag spellings, as in the YAML keys.
	if code, out, errOut := cli(t, "", "client", "create", "--config", cfg, "--client-id", "plural", "--public", "--grant-types", "authorization_code",
		"--redirect-uris", "http://127.0.0.1:9999/cb", "--scopes", "openid profile"); code != 0 || !strings.Contains(out, "openid profile") {
		t.Fatalf("plural flags: %d %s %s", code, out, errOut)
	}

	// Delete: the client stops working, and its tokens stop introspecting.
	if code, out, errOut := cli(t, "", "client", "delete", "svc", "--config", cfg); code != 0 {
		t.Fatalf("delete: %d %s %s", code, out, errOut)
	}
	if st := tokenStatus(t, base, "svc", rotated.Secret); st != http.StatusUnauthorized {
		t.Fatalf("deleted client still gets tokens: %d", st)
	}
	if code, _, _ := cli(t, "", "client", "delete", "svc", "--config", cfg); code != 1 {
		t.Fatalf("second delete: exit %d", code)
	}
	code, out, _ = cli(t, "", "audit", "verify", "--config", cfg)
	if code != 0 {
		t.Fatalf("audit verify after client and user changes: %d %s", code, out)
	}
	code, out, _ = cli(t, "", "audit", "tail", "--config", cfg, "-n", "100")
	for _, action := range []string{"client.create", "client.rotate_secret", "client.delete", "user.create", "oauth.token"} {
		if !strings.Contains(out, action) {
			t.Errorf("audit trail lacks %s (exit %d)", action, code)
		}
	}
}

// TestDevModeAdminPassword: the first dev start creates "admin" with a
// one-time password printed once; the next start prints none.
func TestDevModeAdminPassword(t *testing.T) {
	dir := t.TempDir()
	start := func() string {
		cfg := config.Dev()
		cfg.DataDir = dir
		cfg.Store.DSN = filepath.Join(dir, "rampart.db")
		cfg.HTTP.Listen = "127.0.0.1:0"
		cfg.CA.Listen = "127.0.0.1:0" // not the dev default 8443: tests run side by side
		cfg.Log.Level = "error"
		var out bytes.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan net.Addr, 1)
		done := make(chan error, 1)
		go func() { done <- serve(ctx, cfg, &out, io.Discard, ready) }()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("serve: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	first := start()
	i := strings.Index(first, "one-time password")
	if i < 0 {
		t.Fatalf("no admin password printed: %s", first)
	}
	pw := strings.Fields(first[i+len("one-time password"):])[0]
	if len(pw) != 43 {
		t.Fatalf("password %q", pw)
	}
	if second := start(); strings.Contains(second, "one-time password") || strings.Contains(second, pw) {
		t.Fatal("the password was printed again")
	}
}
