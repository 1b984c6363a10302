package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/adminapi"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
	"github.com/rampart-auth/rampart/jwtauth"
)

// oneToken accepts one bearer token as an administrator's MFA token: the
// admin API's own checks run; the token verification is oauth's (tested
// there and in the browser tests).
type oneToken struct {
	token  string
	claims *jwtauth.Claims
}

func (o oneToken) AuthenticateRequest(r *http.Request) (*jwtauth.Claims, error) {
	if r.Header.Get("Authorization") != "Bearer "+o.token {
		return nil, oauth.ErrInvalidAccessToken
	}
	return o.claims, nil
}

// TestLifecycleCommandsRemote drives the same commands with --issuer
// through a running admin API: each lands in the store and the audit
// trail with the administrator as actor, and the API's own refusal (an
// administrator resetting their own password) reaches the CLI.
func TestLifecycleCommandsRemote(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, "sqlite")
	key := []byte("0123456789abcdef0123456789abcdef")
	al, err := audit.New(audit.Options{Store: db.AuditStore, HMACKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close(context.Background()) })
	h, err := identity.NewHasher(identity.Params{}, 1, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reg := oauth.NewRegistry([]*oauth.Client{{ID: "from-file", GrantTypes: []string{"client_credentials"}, Source: oauth.SourceConfig}}, db.OAuthStore, key, h)
	users := identity.NewUsers(db.IdentityStore, h, al, nil, nil)
	revoker := oauth.Revoker{Store: db.OAuthStore}
	svc := admin.New(admin.Options{Clients: db.OAuthStore, Configured: reg, SecretKey: key, Revoker: revoker, Users: users,
		Directory: db.IdentityStore, Sessions: db.IdentityStore,
		Ender: oauth.AccessEnder{Sessions: db.IdentityStore, Tokens: db.OAuthStore, Revoker: revoker, Audit: al}, AuditLog: db.AuditStore, Audit: al})
	root, err := users.Create(ctx, identity.NewUser{Actor: "system", Username: "root", Password: "root's own long passphrase", Role: identity.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	aud := []string{base + adminapi.Prefix}
	raw, _ := json.Marshal(map[string]any{"sub": root.ID, "scope": adminapi.Scope, "acr": adminapi.ACRMFA, "aud": aud})
	auth := oneToken{token: "admin-token", claims: &jwtauth.Claims{Issuer: base, Subject: root.ID, Audience: aud, Scope: adminapi.Scope, Raw: raw,
		ExpiresAt: time.Now().Add(time.Hour)}}
	api, err := adminapi.New(adminapi.Options{Issuer: base, Service: svc, Auth: auth, Users: users, Audit: al})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	t.Setenv("RAMPART_TOKEN", "admin-token")

	run := func(stdin string, want int, args ...string) string {
		t.Helper()
		code, out, errOut := cli(t, stdin, append(args, "--issuer", base)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d: %s %s", args, code, want, out, errOut)
		}
		return out + errOut
	}
	run("", 0, "client", "create", "--id", "svc", "--grant-type", "client_credentials")
	run("", 0, "client", "disable", "svc")
	if c, err := db.GetClient(ctx, "svc"); err != nil || !c.Disabled {
		t.Fatalf("remote disable did not reach the store: %+v %v", c, err)
	}
	if _, err := reg.Get(ctx, "svc"); err == nil {
		t.Fatal("the registry serves a disabled client")
	}
	if out := run("", 1, "client", "disable", "from-file"); !strings.Contains(out, "409") {
		t.Fatalf("config client: %s", out)
	}
	run("", 0, "client", "enable", "svc")
	if _, err := reg.Get(ctx, "svc"); err != nil {
		t.Fatalf("enabled client: %v", err)
	}

	run("bob's first long password\n", 0, "user", "create", "--username", "bob", "--password-stdin")
	var list []admin.UserView
	if err := json.Unmarshal([]byte(run("", 0, "user", "list", "--json")), &list); err != nil || len(list) != 2 {
		t.Fatalf("user list: %+v %v", list, err)
	}
	if out := run("a temporary password from ops\n", 0, "user", "reset-password", "--username", "bob", "--password-stdin"); strings.Contains(out, "temporary password") {
		t.Fatal("the password was echoed")
	}
	u, err := users.Authenticate(ctx, "bob", "a temporary password from ops")
	if err != nil || !u.MustChangePassword {
		t.Fatalf("remote reset: %+v %v", u, err)
	}
	if out := run("a temporary password from ops\n", 1, "user", "reset-password", "--username", "root", "--password-stdin"); !strings.Contains(out, "own password") {
		t.Fatalf("self reset through the API: %s", out)
	}
	if out := run("a temporary password from ops\n", 1, "user", "reset-password", "--username", "nobody", "--password-stdin"); !strings.Contains(out, "404") {
		t.Fatalf("unknown username: %s", out)
	}
	run("", 0, "user", "disable", "--username", "bob")
	if _, err := users.Authenticate(ctx, "bob", "a temporary password from ops"); err == nil {
		t.Fatal("a user disabled remotely signs in")
	}
	run("", 0, "user", "enable", "--id", u.ID)
	for _, action := range []string{audit.ActionClientDisable, audit.ActionClientEnable, audit.ActionPasswordReset, audit.ActionUserDisable, audit.ActionUserEnable} {
		recs, err := db.QueryAudit(ctx, audit.Query{Action: action, Limit: 10})
		if err != nil || len(recs) != 1 || recs[0].Actor != "user:"+root.ID {
			t.Errorf("%s: %+v %v", action, recs, err)
		}
	}
}
