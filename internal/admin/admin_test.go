package admin_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

var secretKey = []byte("0123456789abcdef0123456789abcdef")

type fixture struct {
	svc   *admin.Service
	reg   *oauth.Registry
	db    *storetest.Store
	audit *audit.Log
	// revoked counts the access tokens handed to the revoker.
	revoked *int
}

type countingRevoker struct{ n *int }

func (r countingRevoker) Revoke(_ context.Context, tokens []oauth.IssuedAccess) error {
	*r.n += len(tokens)
	return nil
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
	n := 0
	svc := admin.New(admin.Options{Clients: db.OAuthStore, Configured: reg, SecretKey: secretKey, Revoker: countingRevoker{&n},
		Users: identity.NewUsers(db.IdentityStore, h, al, nil, nil), Audit: al})
	return &fixture{svc: svc, reg: reg, db: db, audit: al, revoked: &n}
}

// actions returns the recorded actions, oldest first.
func (f *fixture) actions(t *testing.T) []string {
	t.Helper()
	// Record returns once the event is durable: no flush is needed.
	recs, err := audit.Tail(context.Background(), f.db.AuditStore, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Action+" "+r.Target)
	}
	return out
}

func ccSpec(id string) admin.ClientSpec {
	return admin.ClientSpec{ID: id, GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}}
}

// TestClientLifecycleIsAudited: create, rotate-secret and delete each
// store their change and record their own event; the secrets they return
// authenticate, the replaced one no longer does.
func TestClientLifecycleIsAudited(t *testing.T) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d)
			c, secret, err := f.svc.CreateClient(ctx, "cli:ops", ccSpec("reporting"))
			if err != nil || c.ID != "reporting" || secret == "" {
				t.Fatalf("create: %v %v %q", c, err, secret)
			}
			if _, err := f.reg.Authenticate(ctx, "reporting", secret, true); err != nil {
				t.Fatalf("the returned secret does not authenticate: %v", err)
			}
			next, err := f.svc.RotateClientSecret(ctx, "cli:ops", "reporting", 0)
			if err != nil || next == secret {
				t.Fatalf("rotate: %v", err)
			}
			if _, err := f.reg.Authenticate(ctx, "reporting", secret, true); err == nil {
				t.Fatal("the replaced secret still authenticates")
			}
			if _, err := f.svc.DeleteClient(ctx, "cli:ops", "reporting"); err != nil {
				t.Fatalf("delete: %v", err)
			}
			want := []string{"client.create client:reporting", "client.rotate_secret client:reporting", "client.delete client:reporting"}
			got := f.actions(t)
			if len(got) != len(want) {
				t.Fatalf("audit %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("audit %v, want %v", got, want)
				}
			}
		})
	}
}

// TestClientUseCasesRefuse: input mistakes are InvalidError (exit 2 in the
// CLI), and clients of the configuration file are never changed here.
func TestClientUseCasesRefuse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "sqlite")
	var inv *admin.InvalidError
	for name, spec := range map[string]admin.ClientSpec{
		"reject/unknown-grant":         {ID: "x", GrantTypes: []string{"password"}},
		"reject/implicit-redirectless": {ID: "x", Public: true, GrantTypes: []string{"authorization_code"}},
		"reject/bad-id":                {ID: "no spaces allowed", GrantTypes: []string{"client_credentials"}},
	} {
		if _, _, err := f.svc.CreateClient(ctx, "cli:ops", spec); !errors.As(err, &inv) {
			t.Errorf("%s: got %v, want an InvalidError", name, err)
		}
	}
	if _, _, err := f.svc.CreateClient(ctx, "cli:ops", ccSpec("from-file")); err == nil {
		t.Error("a client id of the configuration file was registered")
	}
	if _, err := f.svc.DeleteClient(ctx, "cli:ops", "from-file"); err == nil {
		t.Error("a client of the configuration file was deleted")
	}
	if _, err := f.svc.RotateClientSecret(ctx, "cli:ops", "from-file", 0); err == nil {
		t.Error("a client of the configuration file was re-keyed")
	}
	if _, _, err := f.svc.CreateClient(ctx, "cli:ops", ccSpec("dup")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.CreateClient(ctx, "cli:ops", ccSpec("dup")); err == nil || err.Error() != "client dup already exists" {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := f.svc.DeleteClient(ctx, "cli:ops", "nobody"); err == nil || err.Error() != "no client nobody" {
		t.Errorf("unknown: %v", err)
	}
	if got := f.actions(t); len(got) != 1 || got[0] != "client.create client:dup" {
		t.Errorf("refusals changed the audit trail: %v", got)
	}
}

// TestCreateUserIsAuditedByIdentity: the user use case validates, and the
// identity service records user.create itself.
func TestCreateUserIsAuditedByIdentity(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "sqlite")
	var inv *admin.InvalidError
	if _, err := f.svc.CreateUser(ctx, "cli:ops", "alice", "short", ""); !errors.As(err, &inv) {
		t.Fatalf("short password: %v", err)
	}
	if _, err := f.svc.CreateUser(ctx, "cli:ops", "alice", "correct horse battery", "root"); !errors.As(err, &inv) {
		t.Fatalf("unknown role: %v", err)
	}
	u, err := f.svc.CreateUser(ctx, "cli:ops", "Alice", "correct horse battery", identity.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateUser(ctx, "cli:ops", "alice", "correct horse battery", ""); err == nil || err.Error() != "user alice already exists" {
		t.Fatalf("duplicate: %v", err)
	}
	if got := f.actions(t); len(got) != 1 || got[0] != "user.create user:"+u.ID {
		t.Fatalf("audit %v", got)
	}
}

// TestUnwiredUseCaseFails: a Service without what a use case needs fails
// loudly instead of skipping the store or the evidence.
func TestUnwiredUseCaseFails(t *testing.T) {
	svc := admin.New(admin.Options{})
	if _, _, err := svc.CreateClient(context.Background(), "cli:ops", ccSpec("x")); !errors.Is(err, admin.ErrUnavailable) {
		t.Fatalf("got %v", err)
	}
	if _, err := svc.RotateKey(context.Background(), "cli:ops"); !errors.Is(err, admin.ErrUnavailable) {
		t.Fatalf("got %v", err)
	}
}
