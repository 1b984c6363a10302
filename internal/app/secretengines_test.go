package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
	"github.com/rampart-auth/rampart/internal/secretsapi"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit"
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

	// The generated values (the lease's password, the rotated value) are
	// in no log line, no audit event and no byte of the database file.
	assertNeverStored(t, s, *lease.Password, *got.Value, "initial-value-of-the-rotated-secret")
}

// assertNeverStored greps the server's log, every audit event (which
// must include lease and rotation events) and the SQLite file with its
// WAL for each value.
func assertNeverStored(t *testing.T, s *secServer, values ...string) {
	t.Helper()
	ctx := context.Background()
	check := func(where string, b []byte) {
		t.Helper()
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds a secret value", where)
			}
		}
	}
	if !strings.Contains(s.logs.String(), "secret") {
		t.Fatalf("the server logged nothing about secrets; the grep would prove nothing")
	}
	check("the server's log", []byte(s.logs.String()))
	db, err := sqlstore.Open(ctx, s.cfg.Store.Driver, s.cfg.Store.DSN, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Audit().QueryAudit(ctx, audit.Query{Limit: audit.MaxQueryLimit})
	if err != nil {
		t.Fatal(err)
	}
	var leaseEvents, rotateEvents int
	for _, r := range recs {
		b, _ := json.Marshal(r)
		check("audit event "+r.Action, b)
		switch r.Action {
		case audit.ActionSecretLease:
			leaseEvents++
		case audit.ActionSecretRotate:
			rotateEvents++
		}
	}
	if leaseEvents < 2 || rotateEvents < 4 {
		t.Fatalf("audit: %d lease and %d rotate events, want the create and revoke and every step", leaseEvents, rotateEvents)
	}
	for _, f := range []string{s.dbFile, s.dbFile + "-wal"} {
		if b, err := os.ReadFile(f); err == nil { // #nosec G304 -- the test's own database
			check(f, b)
		}
	}
}

// TestSecretEnginesOAuthClientRotation wires the oauth_client rotator as
// the CLI does (the admin use case and the token endpoint's client
// check): a scheduled rotation keeps the old secret working for the
// overlap, an emergency one ends it; the secret's value is the client's
// working secret.
func TestSecretEnginesOAuthClientRotation(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	testkit.WriteFile(t, keyFile, []byte(testkit.MasterKeyBase64+"\n"))
	cfgPath := filepath.Join(dir, "rampart.yaml")
	testkit.WriteFile(t, cfgPath, []byte(fmt.Sprintf(`issuer: http://127.0.0.1:8080
data_dir: %s
master_key_file: %s
secrets:
  rotations:
    - {path: team/a/client, rotator: oauth_client, client_id: billing, overlap: 1h}
    - {path: team/a/jwt, rotator: signing_key, algorithm: EdDSA}
`, filepath.Join(dir, "data"), keyFile)))
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := cfg.Resolve(OSEnv(), config.Needs{Store: true})
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenStore(ctx, cfg, res.StoreDSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cli, err := OpenCLI(ctx, cfg, OSEnv(), CLINeeds{MasterKey: true}, "cli:test", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close(ctx)
	_, first, err := cli.Admin.CreateClient(ctx, "cli:test", admin.ClientSpec{ID: "billing", GrantTypes: []string{"client_credentials"}, Scopes: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenSecrets(cfg, cli.DB, cli.Keyring, cli.Audit, slogDiscard())
	if err != nil {
		t.Fatal(err)
	}
	eng, err := OpenSecretEngines(ctx, cfg, cli.DB, st, cli.Audit, cli.SecretEngineDeps(res), slogDiscard())
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	adminP := secrets.Principal{Kind: secrets.KindAdmin}
	works := func(secret string) bool {
		_, err := cli.Parts.Clients.Authenticate(ctx, "billing", secret, true)
		return err == nil
	}
	if _, err := st.Rotations.Rotate(ctx, adminP, "team/a/client", rotation.Request{Reason: "manual"}); err != nil {
		t.Fatal(err)
	}
	cur, err := st.Manager.Get(ctx, adminP, "team/a/client", secrets.Selector{})
	if err != nil {
		t.Fatal(err)
	}
	second := string(cur.Value.Bytes())
	if !works(second) || !works(first) {
		t.Fatalf("after a scheduled rotation: new works %v, old (overlap) works %v; want both", works(second), works(first))
	}
	if _, err := st.Rotations.Rotate(ctx, adminP, "team/a/client", rotation.Request{Now: true, Reason: "suspicion"}); err != nil {
		t.Fatal(err)
	}
	cur, err = st.Manager.Get(ctx, adminP, "team/a/client", secrets.Selector{})
	if err != nil {
		t.Fatal(err)
	}
	third := string(cur.Value.Bytes())
	if !works(third) || works(second) || works(first) {
		t.Fatalf("after an emergency rotation: new %v, previous %v, first %v; want only the new one", works(third), works(second), works(first))
	}

	// The signing-key rotator: a PKCS#8 key whose public JWK is in the
	// metadata.
	if _, err := st.Rotations.Rotate(ctx, adminP, "team/a/jwt", rotation.Request{Reason: "manual"}); err != nil {
		t.Fatal(err)
	}
	key, err := st.Manager.Get(ctx, adminP, "team/a/jwt", secrets.Selector{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(key.Value.Bytes(), []byte("-----BEGIN PRIVATE KEY-----")) || key.Metadata["public_jwk"] == "" {
		t.Fatalf("signing key: metadata %v", key.Metadata)
	}
}
