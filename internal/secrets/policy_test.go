package secrets

import (
	"errors"
	"testing"
)

func mustPath(t testing.TB, s string) Path {
	t.Helper()
	p, err := ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testPolicies(t *testing.T) *Policies {
	t.Helper()
	ps, err := CompilePolicies([]PolicyRule{
		{Name: "app-read", Paths: []string{"team/a"}, Capabilities: []string{"read", "list"}, Clients: []string{"app"}, Scopes: []string{"secrets:read"}},
		{Name: "ops", Paths: []string{"*"}, Capabilities: []string{"read", "write"}, Roles: []string{"ops"}},
		{Name: "wl", Paths: []string{"svc/db"}, Capabilities: []string{"read"}, SPIFFEIDs: []string{"spiffe://example.org/ns/prod/sa/api"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestPoliciesDenyByDefault(t *testing.T) {
	ps := testPolicies(t)
	app := Principal{Kind: KindClient, ID: "app", Scopes: []string{"secrets:read"}}
	cases := []struct {
		name string
		ps   *Policies
		p    Principal
		c    Capability
		path string
		want bool
	}{
		{"client granted", ps, app, CapRead, "team/a/db", true},
		{"client exact path", ps, app, CapList, "team/a", true},
		{"prefix confusion", ps, app, CapRead, "team/ab", false},
		{"capability not granted", ps, app, CapWrite, "team/a/db", false},
		{"missing scope", ps, Principal{Kind: KindClient, ID: "app"}, CapRead, "team/a/db", false},
		{"other client", ps, Principal{Kind: KindClient, ID: "app2", Scopes: []string{"secrets:read"}}, CapRead, "team/a/db", false},
		{"client id as role", ps, Principal{Kind: KindUser, ID: "u1", Role: "app"}, CapRead, "team/a/db", false},
		{"user role", ps, Principal{Kind: KindUser, ID: "u1", Role: "ops"}, CapWrite, "x/y", true},
		{"user role without capability", ps, Principal{Kind: KindUser, ID: "u1", Role: "ops"}, CapDestroy, "x/y", false},
		{"role name as client", ps, Principal{Kind: KindClient, ID: "ops"}, CapRead, "x", false},
		{"user without role", ps, Principal{Kind: KindUser, ID: "ops"}, CapRead, "x", false},
		{"spiffe", ps, Principal{Kind: KindSPIFFE, ID: "spiffe://example.org/ns/prod/sa/api"}, CapRead, "svc/db/password", true},
		{"spiffe other id", ps, Principal{Kind: KindSPIFFE, ID: "spiffe://example.org/ns/prod/sa/api2"}, CapRead, "svc/db", false},
		{"spiffe other trust domain", ps, Principal{Kind: KindSPIFFE, ID: "spiffe://evil.org/ns/prod/sa/api"}, CapRead, "svc/db", false},
		{"spiffe upper case spelling", ps, Principal{Kind: KindSPIFFE, ID: "spiffe://EXAMPLE.org/ns/prod/sa/api"}, CapRead, "svc/db", false},
		{"spiffe dot segment", ps, Principal{Kind: KindSPIFFE, ID: "spiffe://example.org/ns/prod/sa/x/../api"}, CapRead, "svc/db", false},
		{"spiffe trailing slash", ps, Principal{Kind: KindSPIFFE, ID: "spiffe://example.org/ns/prod/sa/api/"}, CapRead, "svc/db", false},
		{"spiffe id as client", ps, Principal{Kind: KindClient, ID: "spiffe://example.org/ns/prod/sa/api"}, CapRead, "svc/db", false},
		{"admin", ps, Principal{Kind: KindAdmin}, CapDestroy, "any/thing", true},
		{"system", nil, Principal{Kind: KindSystem, ID: "rotation"}, CapRotate, "any", true},
		{"nil policies", nil, app, CapRead, "team/a", false},
		{"unknown kind", ps, Principal{Kind: "root", ID: "app", Scopes: []string{"secrets:read"}}, CapRead, "team/a", false},
		{"empty kind", ps, Principal{ID: "app", Scopes: []string{"secrets:read"}}, CapRead, "team/a", false},
		{"empty client id", ps, Principal{Kind: KindClient}, CapRead, "team/a", false},
		{"unknown capability", ps, app, Capability("READ"), "team/a", false},
	}
	for _, c := range cases {
		if got := c.ps.Allowed(c.p, c.c, mustPath(t, c.path)); got != c.want {
			t.Errorf("%s: Allowed = %v, want %v", c.name, got, c.want)
		}
	}
	var zero Policies
	if zero.Allowed(app, CapRead, "team/a") {
		t.Error("zero Policies allow")
	}
}

func TestCompilePoliciesRefuses(t *testing.T) {
	ok := PolicyRule{Name: "p", Paths: []string{"a"}, Capabilities: []string{"read"}, Clients: []string{"c"}}
	mod := func(f func(*PolicyRule)) []PolicyRule { r := ok; f(&r); return []PolicyRule{r} }
	for name, rules := range map[string][]PolicyRule{
		"no name":          mod(func(r *PolicyRule) { r.Name = "" }),
		"duplicate name":   {ok, ok},
		"no path":          mod(func(r *PolicyRule) { r.Paths = nil }),
		"traversal":        mod(func(r *PolicyRule) { r.Paths = []string{"team/../x"} }),
		"trailing slash":   mod(func(r *PolicyRule) { r.Paths = []string{"team/"} }),
		"glob":             mod(func(r *PolicyRule) { r.Paths = []string{"team/*"} }),
		"upper case":       mod(func(r *PolicyRule) { r.Paths = []string{"Team"} }),
		"no capability":    mod(func(r *PolicyRule) { r.Capabilities = nil }),
		"bad capability":   mod(func(r *PolicyRule) { r.Capabilities = []string{"admin"} }),
		"no principal":     mod(func(r *PolicyRule) { r.Clients = nil }),
		"empty client":     mod(func(r *PolicyRule) { r.Clients = []string{""} }),
		"bad spiffe":       mod(func(r *PolicyRule) { r.SPIFFEIDs = []string{"spiffe://Example.org/x"} }),
		"spiffe not a uri": mod(func(r *PolicyRule) { r.SPIFFEIDs = []string{"example.org/x"} }),
		"spiffe query":     mod(func(r *PolicyRule) { r.SPIFFEIDs = []string{"spiffe://example.org/x?y=1"} }),
	} {
		if _, err := CompilePolicies(rules); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: CompilePolicies = %v, want ErrInvalid", name, err)
		}
	}
	if ps, err := CompilePolicies(nil); err != nil || ps == nil {
		t.Fatalf("no rules: %v", err)
	}
}

func TestPrincipalActor(t *testing.T) {
	for p, want := range map[string]Principal{
		"cli": {Kind: KindAdmin}, "admin:alice": {Kind: KindAdmin, ID: "alice"}, "system:rotation": {Kind: KindSystem, ID: "rotation"},
		"client:app": {Kind: KindClient, ID: "app"}, "user:u1": {Kind: KindUser, ID: "u1"}, "spiffe:spiffe://td/x": {Kind: KindSPIFFE, ID: "spiffe://td/x"},
	} {
		if got := want.Actor(); got != p {
			t.Errorf("Actor = %q, want %q", got, p)
		}
	}
}
