package app

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-auth/rampart/internal/secretsapi"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

// engineConfig adds a PostgreSQL database (the test server, as its
// administrator), a dynamic role and a manual random rotation to the
// secrets API tests' configuration.
const engineConfig = `  databases:
    - {name: main, dsn_env: RAMPART_TEST_SEC_PGADMIN}
  dynamic:
    - path: db/app/ro
      database: main
      creation_statements: ["CREATE ROLE {{name}} WITH LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}}"]
      default_ttl: 5m
      max_ttl: 1h
  rotations:
    - {path: team/a/rot, rotator: random, length: 40, alphabet: hex}
`

// engineAppPolicies grants app leases on db/app and rotation under team/a.
const engineAppPolicies = `    - {name: app-leases, paths: [db/app], capabilities: [lease], clients: [app], scopes: [secrets]}
    - {name: app-rotate, paths: [team/a], capabilities: [rotate], clients: [app], scopes: [secrets]}
`

// TestSecretEnginesThroughServe drives the engines serve wires through
// the HTTP API: a lease is a working PostgreSQL role whose revocation
// ends its live session and drops it; a rotation makes a new current
// version; principals without the capability are refused.
func TestSecretEnginesThroughServe(t *testing.T) {
	dsn := os.Getenv("RAMPART_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("set RAMPART_TEST_POSTGRES_DSN to run (scripts/services.sh)")
	}
	t.Setenv("RAMPART_TEST_SEC_PGADMIN", dsn)
	s := startSecretsServer(t, sqlstore.SQLite, engineAppPolicies+engineConfig)
	app := s.token(t, "app", secAppSecret, "secrets")
	other := s.token(t, "other", secOtherSecret, "secrets")
	ctx := context.Background()

	// A lease: a role that logs in.
	var lease secretsapi.LeaseDoc
	s.json(t, http.MethodPost, "/secrets/v1/leases/db/app/ro", app, map[string]string{"ttl": "2m"}, http.StatusCreated, &lease)
	if lease.Password == nil || lease.Username == "" || lease.LeaseID == "" {
		t.Fatalf("lease: %+v", lease)
	}
	if d := time.Until(lease.ExpiresAt); d > 2*time.Minute+5*time.Second || d < time.Minute {
		t.Fatalf("lease expires in %s, want 2m", d)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(lease.Username, *lease.Password)
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect with the lease: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}

	// Another client may not lease, nor revoke app's lease.
	if code, _, _ := s.do(t, http.MethodPost, "/secrets/v1/leases/db/app/ro", other, "application/json", []byte(`{}`)); code != http.StatusForbidden {
		t.Fatalf("other client's lease: %d, want 403", code)
	}
	if code, _, _ := s.do(t, http.MethodDelete, "/secrets/v1/lease/"+lease.LeaseID, other, "", nil); code != http.StatusForbidden && code != http.StatusNotFound {
		t.Fatalf("other client's revoke: %d, want 403/404", code)
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("the lease died of another client's revoke: %v", err)
	}

	// Revocation ends the live session and drops the role.
	if code, _, b := s.do(t, http.MethodDelete, "/secrets/v1/lease/"+lease.LeaseID, app, "", nil); code/100 != 2 {
		t.Fatalf("revoke: %d %s", code, b)
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("the revoked lease's session still runs queries")
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", lease.Username).Scan(&n); err != nil || n != 0 {
		t.Fatalf("role after revoke: %d %v", n, err)
	}

	// A rotation through the API: a new current version from the rotator.
	s.json(t, http.MethodPut, "/secrets/v1/data/team/a/rot", app, map[string]any{"value": "initial-value-of-the-rotated-secret"}, http.StatusOK, nil)
	if code, _, _ := s.do(t, http.MethodPost, "/secrets/v1/rotate/team/a/rot", other, "application/json", []byte(`{}`)); code != http.StatusForbidden {
		t.Fatalf("other client's rotate: %d, want 403", code)
	}
	var st secretsapi.StatusDoc
	s.json(t, http.MethodPost, "/secrets/v1/rotate/team/a/rot", app, map[string]any{"reason": "manual"}, http.StatusOK, &st)
	if st.Step != "done" || st.Rotator != "random" {
		t.Fatalf("rotate: %+v", st)
	}
	var got secretsapi.SecretDoc
	s.json(t, http.MethodGet, "/secrets/v1/data/team/a/rot", app, nil, http.StatusOK, &got)
	if got.Version != 2 || got.Value == nil || len(*got.Value) != 40 {
		t.Fatalf("after rotation: version %d value length %v", got.Version, got.Value != nil)
	}
	var prev secretsapi.SecretDoc
	s.json(t, http.MethodGet, "/secrets/v1/data/team/a/rot?label=previous", app, nil, http.StatusOK, &prev)
	if prev.Version != 1 || prev.Value == nil || *prev.Value != "initial-value-of-the-rotated-secret" {
		t.Fatalf("previous after rotation: %+v", prev.Version)
	}
	// A path without a rotation: 404.
	if code, _, _ := s.do(t, http.MethodPost, "/secrets/v1/rotate/team/a/other", app, "application/json", []byte(`{}`)); code != http.StatusNotFound {
		t.Fatalf("rotate of a path without rotation: %d, want 404", code)
	}
}
