package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/jwtauth"
)

// codeFlowToken signs user in through the real pages and redeems the code
// of public client id; it returns the access token's jti (the token is in
// a refresh family, so deleting the client revokes it).
func codeFlowToken(t *testing.T, base, id, cb, user, pass string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	conf := oauth2.Config{ClientID: id, RedirectURL: cb, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth2/authorize", TokenURL: base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	get := func(u string) *http.Response {
		t.Helper()
		if strings.HasPrefix(u, "/") {
			u = base + u
		}
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	resp.Body.Close()
	resp = get(resp.Header.Get("Location"))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{"username": {user}, "password": {pass}}
	for _, m := range csrfRE.FindAllStringSubmatch(string(body), -1) {
		form.Set("csrf_token", html.UnescapeString(m[1]))
	}
	if m := regexpReturn.FindStringSubmatch(string(body)); m != nil {
		form.Set("return", html.UnescapeString(m[1]))
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp = get(resp.Header.Get("Location"))
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("no code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token: the access token would not be in a family")
	}
	parts := strings.Split(tok.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok.AccessToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.JTI == "" {
		t.Fatalf("no jti in %s", payload)
	}
	return claims.JTI
}

// TestClientDeleteRevokesOnRedis (issue 10, item 15): `client delete` run
// from a shell where redis.url_env is not set used to skip the shared
// Redis deny list silently, so resource servers kept accepting the
// client's live access tokens. Now it refuses with exit 1 naming the
// variable and deletes nothing; with the variable set, the token's jti is
// on the Redis deny list (rampart:revoked:) and the store's.
func TestClientDeleteRevokesOnRedis(t *testing.T) {
	redisURL := os.Getenv("RAMPART_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("needs Redis: set RAMPART_TEST_REDIS_URL=redis://127.0.0.1:6379/0")
	}
	const envName = "RAMPART_TEST_DENY_REDIS_URL"
	t.Setenv(envName, redisURL)
	base, cfgPath := authServer(t, "redis: {url_env: "+envName+"}\n")

	const cb = "http://127.0.0.1:9/callback" // never fetched: the redirect is inspected
	if code, _, errOut := cli(t, "", "client", "create", "--config", cfgPath, "--id", "doomed", "--public", "--skip-consent",
		"--grant-type", "authorization_code,refresh_token", "--redirect-uri", cb, "--scope", "openid"); code != 0 {
		t.Fatalf("client create: %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, "a long revoke password\n", "user", "create", "--config", cfgPath, "--username", "dora", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errOut)
	}
	jti := codeFlowToken(t, base, "doomed", cb, "dora", "a long revoke password")

	t.Run("reject/url-env-unset-in-this-shell", func(t *testing.T) {
		t.Setenv(envName, "")
		code, _, errOut := cli(t, "", "client", "delete", "doomed", "--config", cfgPath)
		if code != exitFail || !strings.Contains(errOut, envName) {
			t.Fatalf("exit %d, stderr %q; want 1 naming %s", code, errOut, envName)
		}
		// Nothing was deleted.
		if code, _, errOut := cli(t, "", "client", "show", "doomed", "--config", cfgPath); code != 0 {
			t.Fatalf("the refused delete removed the client: %s", errOut)
		}
	})

	t.Run("accept/url-env-set", func(t *testing.T) {
		if code, out, errOut := cli(t, "", "client", "delete", "doomed", "--config", cfgPath); code != 0 {
			t.Fatalf("delete: %d %s %s", code, out, errOut)
		}
		opts, err := redis.ParseURL(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		rc := redis.NewClient(opts)
		defer rc.Close()
		ctx := context.Background()
		if on, err := jwtauth.NewRedisDenyList(rc, oauth.DenyListPrefix).IsRevoked(ctx, jti); err != nil || !on {
			t.Fatalf("jti %s not on the Redis deny list (%v)", jti, err)
		}
		cfg, err := loadConfig(cfgPath, false)
		if err != nil {
			t.Fatal(err)
		}
		s, err := openStore(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if on, err := s.OAuth().IsDenied(ctx, jti, time.Now()); err != nil || !on {
			t.Fatalf("jti %s not on the store's deny list (%v)", jti, err)
		}
	})
}

// TestCLIWithoutClientSecrets (issue 10, item 18a): a newcomer's shell has
// none of the configured clients' secret_env variables; `user create`,
// `client list` and `client show` used to refuse to run. They resolve only
// what they use now; `client list` runs without the master key too.
func TestCLIWithoutClientSecrets(t *testing.T) {
	const envName = "RAMPART_TEST_NEWCOMER_SECRET"
	t.Setenv(envName, "a-secret-only-the-server-shell-has-0123456789")
	_, cfgPath := authServer(t, "clients: [{id: reporting, secret_env: "+envName+", grant_types: [client_credentials], scopes: [reports:read]}]\n")
	t.Setenv(envName, "") // the operator's other shell

	if code, out, errOut := cli(t, "a long enough password\n", "user", "create", "--config", cfgPath, "--username", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("accept/user-create: %d %s %s", code, out, errOut)
	}
	code, out, errOut := cli(t, "", "client", "list", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "reporting") {
		t.Fatalf("accept/client-list: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := cli(t, "", "client", "show", "reporting", "--config", cfgPath); code != 0 || !strings.Contains(out, "confidential") {
		t.Fatalf("accept/client-show: %d %s %s", code, out, errOut)
	}
	// client list needs the store only: not even the master key.
	cfg, err := loadConfig(cfgPath, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(cfg.MasterKeyFile, cfg.MasterKeyFile+".away"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Rename(cfg.MasterKeyFile+".away", cfg.MasterKeyFile) }()
	if code, out, errOut := cli(t, "", "client", "list", "--config", cfgPath); code != 0 || !strings.Contains(out, "reporting") {
		t.Fatalf("accept/client-list-without-master-key: %d %s %s", code, out, errOut)
	}
	// What does need the master key still says so.
	if code, _, errOut := cli(t, "a long enough password\n", "user", "create", "--config", cfgPath, "--username", "bob", "--password-stdin"); code != exitFail || !strings.Contains(errOut, "master_key_file") {
		t.Fatalf("reject/user-create-without-master-key: %d %s", code, errOut)
	}
}
