package adminapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/adminapi"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
	"github.com/rampart-auth/rampart/jwtauth"
)

const issuer = "https://rampart.example.test"

var secretKey = []byte("0123456789abcdef0123456789abcdef")

// fakeAuth maps an access token to its claims: the API's own checks
// (audience, scope, acr, the user) are what these tests exercise; the
// token verification itself is oauth's (tested there and end to end).
type fakeAuth map[string]*jwtauth.Claims

func (f fakeAuth) AuthenticateRequest(r *http.Request) (*jwtauth.Claims, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, oauth.ErrNoAccessToken
	}
	c, ok := f[strings.TrimPrefix(h, "Bearer ")]
	if !ok {
		return nil, oauth.ErrInvalidAccessToken
	}
	return c, nil
}

type fakeKeys struct{ rotated, revoked []string }

func (k *fakeKeys) Rotate(context.Context, string) (keys.KeyInfo, error) {
	k.rotated = append(k.rotated, "k2")
	return keys.KeyInfo{KID: "k2", Algorithm: "ES256", State: keys.StatePublished}, nil
}

func (k *fakeKeys) Revoke(_ context.Context, _, kid string) (keys.Revocation, error) {
	if kid != "k1" {
		return keys.Revocation{}, keys.ErrUnknownKey
	}
	k.revoked = append(k.revoked, kid)
	return keys.Revocation{Revoked: keys.KeyInfo{KID: kid, State: keys.StateRevoked}}, nil
}

func (k *fakeKeys) List(context.Context) ([]keys.KeyInfo, error) {
	return []keys.KeyInfo{{KID: "k1", Algorithm: "ES256", State: keys.StateActive}}, nil
}

type recordingRevoker struct{ jtis []string }

func (r *recordingRevoker) Revoke(_ context.Context, tokens []oauth.IssuedAccess) error {
	for _, t := range tokens {
		r.jtis = append(r.jtis, t.JTI)
	}
	return nil
}

type fixture struct {
	t       *testing.T
	srv     *httptest.Server
	db      *storetest.Store
	users   *identity.Users
	auth    fakeAuth
	keys    *fakeKeys
	revoker *recordingRevoker
	admin   *identity.User
}

func newFixture(t *testing.T, driver string) *fixture {
	t.Helper()
	db := storetest.Open(t, driver)
	al, err := audit.New(audit.Options{Store: db.AuditStore, HMACKey: secretKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close(context.Background()) })
	h, err := identity.NewHasher(identity.Params{}, 1, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	configured := []*oauth.Client{{ID: "from-file", GrantTypes: []string{"client_credentials"}, Source: oauth.SourceConfig}}
	reg := oauth.NewRegistry(configured, db.OAuthStore, secretKey, h)
	users := identity.NewUsers(db.IdentityStore, h, al, nil, nil)
	f := &fixture{t: t, db: db, users: users, auth: fakeAuth{}, keys: &fakeKeys{}, revoker: &recordingRevoker{}}
	svc := admin.New(admin.Options{Clients: db.OAuthStore, Configured: reg, SecretKey: secretKey, Revoker: f.revoker,
		Users: users, Directory: db.IdentityStore, Sessions: db.IdentityStore,
		Ender: oauth.AccessEnder{Sessions: db.IdentityStore, Tokens: db.OAuthStore, Revoker: oauth.Revoker{Store: db.OAuthStore}, Audit: al},
		Keys:  f.keys, AuditLog: db.AuditStore, Audit: al})
	api, err := adminapi.New(adminapi.Options{Issuer: issuer, Service: svc, Auth: f.auth, Users: users, Audit: al})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.admin = f.user("root", identity.RoleAdmin)
	f.token("admin", f.admin.ID, adminapi.Scope, adminapi.ACRMFA, issuer+adminapi.Prefix)
	return f
}

// user creates a user with a throwaway strong password.
func (f *fixture) user(name, role string) *identity.User {
	f.t.Helper()
	u, err := f.users.Create(context.Background(), identity.NewUser{Actor: "system", Username: name, Password: "correct horse battery staple " + name, Role: role})
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// token registers an access token with the given claims.
func (f *fixture) token(tok, sub, scope, acr string, aud ...string) {
	raw, _ := json.Marshal(map[string]any{"sub": sub, "scope": scope, "acr": acr, "aud": aud})
	c := &jwtauth.Claims{Issuer: issuer, Subject: sub, Audience: aud, Scope: scope, Raw: raw, ExpiresAt: time.Now().Add(time.Minute)}
	f.auth[tok] = c
}

// call sends a request with the token and returns the status, the
// headers and the body.
func (f *fixture) call(method, path, tok, contentType string, body []byte) (int, http.Header, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// json calls with a JSON body (or none) and the admin token, and decodes
// the answer into out when out is not nil.
func (f *fixture) json(method, path string, in any, want int, out any) {
	f.t.Helper()
	var body []byte
	ct := ""
	if in != nil {
		body, _ = json.Marshal(in)
		ct = "application/json"
	}
	code, _, b := f.call(method, path, "admin", ct, body)
	if code != want {
		f.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// records returns the audit records with action, oldest first.
func (f *fixture) records(action string) []audit.Record {
	f.t.Helper()
	recs, err := f.db.QueryAudit(context.Background(), audit.Query{Action: action, Limit: audit.MaxQueryLimit})
	if err != nil {
		f.t.Fatal(err)
	}
	return recs
}
