package main

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/oauth"
)

// adminClients: the CLI client administrators sign in with through the
// device flow; it may ask for the admin scope (what the token may do is
// then the admin API's check: the scope, MFA and the user's role).
const adminClients = `clients:
  - id: rampart-cli
    public: true
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code']
    scopes: [openid, rampart:admin]
`

// deviceSignIn completes the device page for verify as user with
// password; for an administrator without TOTP it goes through the forced
// enrolment first (the sign-in is not done before it), and returns the
// TOTP secret it enrolled ("" for a password-only user).
func (p *pageClient) deviceSignIn(verify, user, password string) string {
	p.t.Helper()
	_, login := p.send(http.MethodGet, verify, nil)
	f := formOf(login)
	f.Set("username", user)
	f.Set("password", password)
	st, page := p.send(http.MethodPost, p.base+oauth.PathLogin, f)
	secret := ""
	if strings.Contains(page, `id="mfa-required"`) {
		_, rest, _ := strings.Cut(page, `<code id="secret">`)
		secret, _, _ = strings.Cut(rest, `</code>`)
		f = formOf(page)
		f.Set("otp", nowCode(p.t, secret))
		st, page = p.send(http.MethodPost, p.base+oauth.PathLoginEnrol, f)
		if st != http.StatusOK || !strings.Contains(page, `id="continue"`) {
			p.t.Fatalf("enrolment: %d %.300s", st, page)
		}
		_, rest, _ = strings.Cut(page, `<a href="`)
		next, _, _ := strings.Cut(rest, `" id="continue"`)
		st, page = p.send(http.MethodGet, p.base+html.UnescapeString(next), nil)
	}
	if st != http.StatusOK || !strings.Contains(page, `id="user_code"`) {
		p.t.Fatalf("after sign-in: %d %.300s", st, page)
	}
	f = formOf(page)
	u, _ := url.Parse(verify)
	f.Set("user_code", u.Query().Get("user_code"))
	st, confirm := p.send(http.MethodPost, p.base+"/device", f)
	if st != http.StatusOK || !strings.Contains(confirm, `id="allow"`) {
		p.t.Fatalf("confirmation: %d %.300s", st, confirm)
	}
	f = formOf(confirm)
	f.Set("decision", "allow")
	if st, done := p.send(http.MethodPost, p.base+"/device", f); st != http.StatusOK {
		p.t.Fatalf("decision: %d %.300s", st, done)
	}
	return secret
}

// loginToFile runs `rampart login --output` for user and returns the token
// file.
func loginToFile(t *testing.T, base, user, password string) (string, map[string]any) {
	t.Helper()
	out := filepath.Join(t.TempDir(), user+".json")
	l := startLogin("--issuer", base, "--client-id", "rampart-cli", "--scope", "openid rampart:admin", "--output", out)
	newPageClient(t, base).deviceSignIn(l.verifyURL(t), user, loginPass)
	if code := l.wait(t); code != 0 {
		t.Fatalf("login %s: exit %d: %s", user, code, l.stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var resp map[string]any
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	return out, resp
}

// TestAdminAPIEndToEnd: an administrator signs in with `rampart login`
// (the device flow, with the forced TOTP enrolment on the device page),
// and the CLI's client and user commands then work against the running
// server with --issuer and that token; the same scope from a password-only
// sign-in is refused, and so is a regular user.
func TestAdminAPIEndToEnd(t *testing.T) {
	base, cfgPath := authServer(t, adminClients)
	for _, u := range []struct{ name, role string }{{"root", "admin"}, {"alice", ""}} {
		args := []string{"user", "create", "--config", cfgPath, "--username", u.name, "--password-stdin"}
		if u.role != "" {
			args = append(args, "--role", u.role)
		}
		if code, out, errOut := cli(t, loginPass+"\n", args...); code != 0 {
			t.Fatalf("user create %s: %d %s %s", u.name, code, out, errOut)
		}
	}
	adminFile, adminTok := loginToFile(t, base, "root", loginPass)
	if !strings.Contains(adminTok["scope"].(string), "rampart:admin") {
		t.Fatalf("admin token scope %v", adminTok["scope"])
	}
	remote := func(stdin string, args ...string) (int, string, string) {
		return cli(t, stdin, append(args, "--issuer", base, "--token-file", adminFile)...)
	}
	if code, out, errOut := remote("", "client", "create", "--id", "reports", "--grant-type", "client_credentials", "--scope", "reports:read", "--json"); code != 0 || !strings.Contains(out, `"client_secret"`) {
		t.Fatalf("remote client create: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := remote("", "client", "list"); code != 0 || !strings.Contains(out, "reports") || !strings.Contains(out, "rampart-cli") {
		t.Fatalf("remote client list: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := remote("", "client", "rotate-secret", "reports", "--overlap", "1h"); code != 0 || !strings.Contains(out, "client_secret:") {
		t.Fatalf("remote rotate-secret: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := remote("another long passphrase\n", "user", "create", "--username", "bob", "--password-stdin"); code != 0 || !strings.Contains(out, "created user bob") {
		t.Fatalf("remote user create: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := remote("", "client", "show", "nobody"); code != 1 || !strings.Contains(errOut, "404") {
		t.Fatalf("remote show of an unknown client: %d %s", code, errOut)
	}
	// The store sees what the API did: the same use cases, one database.
	if code, out, _ := cli(t, "", "client", "show", "reports", "--config", cfgPath); code != 0 || !strings.Contains(out, "reports") {
		t.Fatalf("store client show after remote create: %d %s", code, out)
	}
	if code, _, errOut := cli(t, "", "client", "list", "--config", cfgPath, "--issuer", base, "--token-file", adminFile); code != 2 {
		t.Fatalf("--config with --issuer: exit %d %s", code, errOut)
	}

	// A regular user's device-flow token with the same scope: no MFA, and
	// not an administrator.
	userFile, userTok := loginToFile(t, base, "alice", loginPass)
	if !strings.Contains(userTok["scope"].(string), "rampart:admin") {
		t.Fatalf("user token scope %v", userTok["scope"])
	}
	if code, _, errOut := cli(t, "", "client", "list", "--issuer", base, "--token-file", userFile); code != 1 || !strings.Contains(errOut, "403") || !strings.Contains(errOut, "second factor") {
		t.Fatalf("a password-only token at the admin API: exit %d %s", code, errOut)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/admin/api/v1/audit?action=admin.request&limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+adminTok["access_token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Records []struct{ Actor, Outcome, Reason, Target string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("audit query: %d %v", resp.StatusCode, err)
	}
	var ok, denied int
	for _, r := range page.Records {
		switch {
		case r.Outcome == "success" && strings.HasPrefix(r.Actor, "user:"):
			ok++
		case r.Outcome == "denied" && r.Reason == "mfa_required" && strings.HasPrefix(r.Actor, "user:"):
			denied++
		}
	}
	// create, list, rotate-secret, user create; the 404 is a failure.
	if ok != 4 || denied != 1 {
		t.Fatalf("admin.request events: %d successful, %d denied for MFA: %+v", ok, denied, page.Records)
	}
}
