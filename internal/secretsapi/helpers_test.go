package secretsapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/pgdyn"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
	"github.com/rampart-auth/rampart/internal/secretsapi"
	"github.com/rampart-auth/rampart/internal/store"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/audittest"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
	"github.com/rampart-auth/rampart/jwtauth"
)

const issuer = "https://rampart.example.test"

// recorder keeps every audit event.
type recorder struct{ audittest.Recorder }

// fakeVerifier maps a Bearer token to its claims and counts
// verifications (the cache tests).
type fakeVerifier struct {
	mu     sync.Mutex
	tokens map[string]*jwtauth.Claims
	calls  int
}

func (f *fakeVerifier) AuthenticateRequest(r *http.Request) (*jwtauth.Claims, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, oauth.ErrNoAccessToken
	}
	c, ok := f.tokens[strings.TrimPrefix(h, "Bearer ")]
	if !ok || time.Now().After(c.ExpiresAt) {
		return nil, oauth.ErrInvalidAccessToken
	}
	return c, nil
}

func (f *fakeVerifier) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// fakeDeny is a deny list of jtis.
type fakeDeny struct {
	mu   sync.Mutex
	jtis map[string]bool
	fail bool
}

func (d *fakeDeny) IsRevoked(_ context.Context, jti string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail {
		return false, errors.New("deny list down")
	}
	return d.jtis[jti], nil
}

func (d *fakeDeny) deny(jti string) { d.mu.Lock(); d.jtis[jti] = true; d.mu.Unlock() }

// fakeUsers is the identity store.
type fakeUsers map[string]*identity.User

func (u fakeUsers) ByID(_ context.Context, id string) (*identity.User, error) {
	if x, ok := u[id]; ok {
		return x, nil
	}
	return nil, store.ErrNotFound
}

// fixture is an API over a real Manager (SQLite) with fake token
// verification, a fake user store and in-test engines.
type fixture struct {
	t      *testing.T
	srv    *httptest.Server
	m      *secrets.Manager
	rec    *recorder
	ver    *fakeVerifier
	deny   *fakeDeny
	users  fakeUsers
	leases *memLeases
	rots   *memRotations
	logs   *bytes.Buffer
	st     *storetest.Store
}

var rules = []secrets.PolicyRule{
	{Name: "app", Paths: []string{"team/a"}, Capabilities: []string{"read", "list", "write", "delete", "destroy", "rotate", "lease"}, Clients: []string{"app"}, Scopes: []string{"secrets"}},
	{Name: "ops", Paths: []string{"ops"}, Capabilities: []string{"read", "write"}, Roles: []string{"user"}},
}

func newFixture(t *testing.T, engines bool) *fixture {
	t.Helper()
	st := storetest.Open(t, "sqlite")
	mk, err := kms.NewMasterKey(testkit.MasterKey())
	if err != nil {
		t.Fatal(err)
	}
	kr, err := kms.Open(context.Background(), st.KMS(), mk)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := secrets.CompilePolicies(rules)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, rec: &recorder{}, ver: &fakeVerifier{tokens: map[string]*jwtauth.Claims{}}, deny: &fakeDeny{jtis: map[string]bool{}},
		users: fakeUsers{}, logs: &bytes.Buffer{}, st: st}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.m, err = secrets.New(secrets.Options{Store: st.DB.Secrets(), Sealer: kr, AuditKey: kr.DataKey(kms.DataKeySecretAudit), Audit: f.rec, Policies: ps, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	o := secretsapi.Options{Secrets: f.m, Auth: &secretsapi.TokenAuth{Issuer: issuer, Verifier: f.ver, Users: f.users, DenyList: f.deny},
		Audit: f.rec, Logger: logger}
	if engines {
		f.leases, f.rots = &memLeases{m: map[string]pgdyn.Lease{}}, &memRotations{}
		o.Leases, o.Rotations = f.leases, f.rots
	}
	api, err := secretsapi.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.NotFoundHandler())
	f.srv = httptest.NewServer(secretsapi.Route(api, mux))
	t.Cleanup(f.srv.Close)
	f.client("app-token", "app", "secrets")
	return f
}

// client registers a client_credentials token.
func (f *fixture) client(tok, id, scope string) {
	f.ver.tokens[tok] = &jwtauth.Claims{Issuer: issuer, Subject: id, ClientID: id, Scope: scope, ID: "jti-" + tok,
		Audience: []string{issuer + secretsapi.Prefix}, ExpiresAt: time.Now().Add(time.Hour), Raw: json.RawMessage(`{}`)}
}

// user registers a user and a token of theirs.
func (f *fixture) user(tok, id, role, scope, acr string, disabled bool) {
	f.users[id] = &identity.User{ID: id, Username: id, Role: role, Disabled: disabled}
	raw, _ := json.Marshal(map[string]string{"acr": acr})
	f.ver.tokens[tok] = &jwtauth.Claims{Issuer: issuer, Subject: id, ClientID: "web", Scope: scope, ID: "jti-" + tok,
		Audience: []string{oauth.DefaultAudience(issuer)}, ExpiresAt: time.Now().Add(time.Hour), Raw: raw}
}

// call sends a request with a raw path.
func (f *fixture) call(method, rawPath, tok, ct, body string) (int, http.Header, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+"/", strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	p, q, _ := strings.Cut(rawPath, "?")
	req.URL.Opaque = "//" + req.URL.Host + p
	req.URL.RawQuery = q
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// memLeases is an in-test Leases engine.
type memLeases struct {
	mu sync.Mutex
	m  map[string]pgdyn.Lease
	n  int
}

func (l *memLeases) Create(_ context.Context, p secrets.Principal, path secrets.Path, ttl time.Duration) (pgdyn.Lease, error) {
	if p.Kind != secrets.KindClient && p.Kind != secrets.KindAdmin {
		return pgdyn.Lease{}, secrets.ErrForbidden
	}
	if path != "team/a/db" {
		return pgdyn.Lease{}, secrets.ErrNotFound
	}
	if ttl == 0 {
		ttl = time.Hour
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	id := strings.Repeat("0", 31) + string(rune('0'+l.n))
	lease := pgdyn.Lease{ID: id, Path: path, Username: "v_app_" + id[28:], Password: secrets.NewValue([]byte("lease-password-" + id)),
		Owner: p.Actor(), CreatedAt: now, ExpiresAt: now.Add(ttl), MaxExpiresAt: now.Add(24 * time.Hour)}
	l.m[id] = lease
	return lease, nil
}

func (l *memLeases) Renew(_ context.Context, _ secrets.Principal, id string, ttl time.Duration) (pgdyn.Lease, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lease, ok := l.m[id]
	if !ok {
		return pgdyn.Lease{}, secrets.ErrNotFound
	}
	lease.ExpiresAt = lease.ExpiresAt.Add(ttl)
	l.m[id] = lease
	return lease, nil
}

func (l *memLeases) Revoke(_ context.Context, _ secrets.Principal, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.m[id]; !ok {
		return secrets.ErrNotFound
	}
	delete(l.m, id)
	return nil
}

func (l *memLeases) List(_ context.Context, _ secrets.Principal, path secrets.Path) ([]pgdyn.Lease, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []pgdyn.Lease
	for _, x := range l.m {
		if x.Path == path {
			out = append(out, x)
		}
	}
	return out, nil
}

// memRotations is an in-test Rotations engine.
type memRotations struct {
	mu   sync.Mutex
	last rotation.Request
}

func (r *memRotations) Rotate(_ context.Context, _ secrets.Principal, path secrets.Path, req rotation.Request) (rotation.Status, error) {
	r.mu.Lock()
	r.last = req
	r.mu.Unlock()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	return rotation.Status{Path: path, Rotator: "random", Step: rotation.StepDone, RunID: "run-1", Reason: req.Reason, PendingVersion: 0,
		Attempts: 1, StartedAt: now, UpdatedAt: now, LastRotated: now}, nil
}

func (r *memRotations) Status(_ context.Context, _ secrets.Principal, path secrets.Path) (rotation.Status, error) {
	if path != "team/a/db" {
		return rotation.Status{}, secrets.ErrNotFound
	}
	return rotation.Status{Path: path, Rotator: "random", Every: 2160 * time.Hour, Window: "Sat 02:00-04:00", Step: rotation.StepDone}, nil
}
