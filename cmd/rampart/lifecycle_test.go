package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestLifecycleCommandsOnStore drives `client disable|enable`, `user
// list`, `user reset-password` and `user disable|enable` on the store of
// a running server: a disabled client is refused by the server at once
// and its secret works again only after enable; the reset password signs
// in, the old one does not.
func TestLifecycleCommandsOnStore(t *testing.T) {
	t.Setenv("CFG_SECRET", "configured-secret-0123456789abcdefghijklmn")
	base, cfg := authServer(t, `clients:
  - id: from-config
    secret_env: CFG_SECRET
    grant_types: [client_credentials]
    scopes: [a]
`)
	code, out, errOut := cli(t, "", "client", "create", "--config", cfg, "--id", "svc", "--grant-type", "client_credentials", "--scope", "a", "--json")
	if code != 0 {
		t.Fatalf("client create: %d %s %s", code, out, errOut)
	}
	var created struct {
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	if st := tokenStatus(t, base, "svc", created.Secret); st != http.StatusOK {
		t.Fatalf("new client cannot get a token (test broken): %d", st)
	}
	if code, out, errOut := cli(t, "", "client", "disable", "svc", "--config", cfg); code != 0 || !strings.Contains(out, "disabled client svc") {
		t.Fatalf("client disable: %d %s %s", code, out, errOut)
	}
	if st := tokenStatus(t, base, "svc", created.Secret); st != http.StatusUnauthorized {
		t.Fatalf("the server still gives a disabled client tokens: %d", st)
	}
	if code, out, _ := cli(t, "", "client", "show", "svc", "--config", cfg, "--json"); code != 0 || !strings.Contains(out, `"disabled": true`) {
		t.Fatalf("client show after disable: %d %s", code, out)
	}
	code, out, _ = cli(t, "", "client", "list", "--config", cfg)
	disabled := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		disabled[f[0]] = f[len(f)-1]
	}
	if code != 0 || disabled["svc"] != "true" || disabled["from-config"] != "false" {
		t.Fatalf("client list after disable: %d %s", code, out)
	}
	if code, out, errOut := cli(t, "", "client", "enable", "--id", "svc", "--config", cfg); code != 0 {
		t.Fatalf("client enable: %d %s %s", code, out, errOut)
	}
	if st := tokenStatus(t, base, "svc", created.Secret); st != http.StatusOK {
		t.Fatalf("an enabled client cannot get a token: %d", st)
	}

	const first, reset = "bob's first long password\n", "a temporary password from ops\n"
	if code, out, errOut := cli(t, first, "user", "create", "--config", cfg, "--username", "bob", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %s %s", code, out, errOut)
	}
	code, out, _ = cli(t, "", "user", "list", "--config", cfg, "--json")
	var users []struct{ ID, Username string }
	if code != 0 || json.Unmarshal([]byte(out), &users) != nil || len(users) != 1 || users[0].Username != "bob" {
		t.Fatalf("user list: %d %s", code, out)
	}
	if code, out, _ := cli(t, "", "user", "list", "--config", cfg); code != 0 || !strings.Contains(out, "bob") || !strings.Contains(out, users[0].ID) {
		t.Fatalf("user list (table): %d %s", code, out)
	}
	if code, out, errOut := cli(t, reset, "user", "reset-password", "--config", cfg, "--username", "BOB", "--password-stdin"); code != 0 ||
		!strings.Contains(out, "must change it") {
		t.Fatalf("reset-password: %d %s %s", code, out, errOut)
	}
	if st := loginStatus(t, base, "bob", strings.TrimSpace(first)); st != http.StatusUnauthorized {
		t.Fatalf("the old password still signs in after the reset: %d", st)
	}
	if st := loginStatus(t, base, "bob", strings.TrimSpace(reset)); st != http.StatusSeeOther {
		t.Fatalf("the reset password does not sign in: %d", st)
	}
	if code, out, errOut := cli(t, "", "user", "disable", "--config", cfg, "--id", users[0].ID); code != 0 || !strings.Contains(out, "disabled user") {
		t.Fatalf("user disable: %d %s %s", code, out, errOut)
	}
	if st := loginStatus(t, base, "bob", strings.TrimSpace(reset)); st != http.StatusUnauthorized {
		t.Fatalf("a disabled user signs in: %d", st)
	}
	if code, out, errOut := cli(t, "", "user", "enable", "--config", cfg, "--username", "bob"); code != 0 {
		t.Fatalf("user enable: %d %s %s", code, out, errOut)
	}

	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		err         string
	}{
		{"fail/disable-config-client", "", []string{"client", "disable", "from-config"}, 1, "configuration file"},
		{"fail/enable-unknown-client", "", []string{"client", "enable", "nope"}, 1, "no client"},
		{"usage/disable-no-id", "", []string{"client", "disable"}, 2, "required"},
		{"usage/user-no-target", "", []string{"user", "disable"}, 2, "--username or --id"},
		{"usage/user-both-targets", "", []string{"user", "enable", "--username", "bob", "--id", "x"}, 2, "not both"},
		{"usage/reset-no-stdin-flag", "", []string{"user", "reset-password", "--username", "bob"}, 2, "--password-stdin"},
		{"usage/reset-short", "short\n", []string{"user", "reset-password", "--username", "bob", "--password-stdin"}, 2, "at least"},
		{"fail/reset-unknown-user", "a good long password\n", []string{"user", "reset-password", "--username", "nobody", "--password-stdin"}, 1, "no user"},
		{"fail/disable-unknown-id", "", []string{"user", "disable", "--id", "nope"}, 1, "no user"},
	} {
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
	code, out, _ = cli(t, "", "audit", "tail", "--config", cfg, "-n", "200")
	for _, action := range []string{"client.disable", "client.enable", "user.password_reset", "user.access_end", "user.disable", "user.enable"} {
		if !strings.Contains(out, action) {
			t.Errorf("audit trail lacks %s (exit %d)", action, code)
		}
	}
}

// loginStatus signs in at the login page in a fresh browser and returns
// the status of the form post (303 signed in, 401 refused).
func loginStatus(t *testing.T, base, username, password string) int {
	t.Helper()
	p := newPageClient(t, base)
	p.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	_, body := p.send(http.MethodGet, base+"/login", nil)
	form := formOf(body)
	form.Set("username", username)
	form.Set("password", password)
	st, _ := p.send(http.MethodPost, base+"/login", form)
	return st
}
