package notes_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/examples/notes"
	"github.com/rampart-auth/rampart/internal/gateway"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
	"github.com/rampart-auth/rampart/jwtauth"
)

const testIssuer = "https://auth.example.test"

// staticSigner is a gateway.Signer over one ES256 key, the algorithm
// Rampart's key ring uses by default.
type staticSigner struct{ k keys.ActiveKey }

func (s staticSigner) Signer() (keys.ActiveKey, error) { return s.k, nil }

var _ gateway.Signer = staticSigner{}

func newSigner(t testing.TB, kid string) (staticSigner, *ecdsa.PrivateKey) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return staticSigner{keys.ActiveKey{KID: kid, Algorithm: jwtauth.ES256, Signer: priv}}, priv
}

// jwksServer publishes pub as the issuer's JWKS over a real listener, as
// Rampart's /.well-known/jwks.json would.
func jwksServer(t testing.TB, kid string, priv *ecdsa.PrivateKey) string {
	t.Helper()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: kid, Algorithm: jwtauth.ES256, Use: "sig"}}}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/.well-known/jwks.json"
}

// rig is the notes service on a real listener, its verifier reading a
// JWKS over HTTP, and a gateway minter with the matching key.
type rig struct {
	srv    *httptest.Server
	svc    *notes.Service
	db     *sql.DB
	minter *gateway.AssertionMinter
	aud    string
	rid    atomic.Int64
}

// newRig starts the service on driver: a SQLite file, or a fresh
// PostgreSQL schema dropped when the test ends.
func newRig(t testing.TB, driver string) *rig {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "notes.db")
	if driver == notes.DriverPostgres {
		_, dsn = storetest.DSN(t, driver)
	}
	return newRigDSN(t, driver, dsn)
}

func newRigDSN(t testing.TB, driver, dsn string) *rig {
	t.Helper()
	signer, priv := newSigner(t, "k1")
	jwks, err := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: jwksServer(t, "k1", priv)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	aud := "http://" + srv.Listener.Addr().String()
	av, err := jwtauth.NewAssertionVerifier(jwtauth.AssertionConfig{
		Issuer: testIssuer, Keys: jwks, Audience: aud, Algorithms: []string{jwtauth.ES256},
		Replay: jwtauth.NewMemoryReplayCache(nil, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := notes.Open(context.Background(), notes.Options{
		Driver: driver, DSN: dsn, Assertions: av, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	minter, err := gateway.NewAssertionMinter(gateway.MinterOptions{Signer: signer, Issuer: testIssuer})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = svc.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); _ = svc.Close() })
	return &rig{srv: srv, svc: svc, db: svc.DBForTest(), minter: minter, aud: aud}
}

// forEachDriver runs fn on SQLite, and on PostgreSQL when
// RAMPART_TEST_POSTGRES_DSN is set.
func forEachDriver(t *testing.T, fn func(t *testing.T, r *rig)) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) { fn(t, newRig(t, d)) })
	}
}

// user is a caller as the gateway would describe them.
type user struct {
	sub    string
	scopes []string
}

var (
	alice  = user{sub: "user-alice", scopes: []string{notes.ScopeRead, notes.ScopeWrite}}
	bob    = user{sub: "user-bob", scopes: []string{notes.ScopeRead, notes.ScopeWrite}}
	nobody = user{} // an auth: none route: no subject
)

// mint returns a fresh assertion for u minted for aud.
func (r *rig) mint(t testing.TB, u user, aud string) string {
	t.Helper()
	a := gateway.Assertion{Subject: u.sub, Scopes: u.scopes, Route: "notes",
		RequestID: fmt.Sprintf("rid-%d", r.rid.Add(1)), Audience: aud}
	if u.sub != "" {
		a.ClientID = "web"
	}
	tok, err := r.minter.Mint(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (res response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(res.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %q", err, res.body)
	}
	return m
}

// call sends one request as u with a fresh assertion; body "" sends none.
func (r *rig) call(t testing.TB, u user, method, path, body string) response {
	t.Helper()
	return r.send(t, method, path, body, r.mint(t, u, r.aud))
}

// send sends one request with the given assertion header ("" for none).
func (r *rig) send(t testing.TB, method, path, body string, assertions ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, a := range assertions {
		if a != "" {
			req.Header.Add(jwtauth.AssertionHeader, a)
		}
	}
	return do(t, r.srv.Client(), req)
}

func do(t testing.TB, c *http.Client, req *http.Request) response {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// wantProblem checks an RFC 9457 answer with status.
func wantProblem(t testing.TB, res response, status int) map[string]any {
	t.Helper()
	if res.status != status {
		t.Fatalf("status %d, want %d: %s", res.status, status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	p := res.json(t)
	if p["status"] != float64(status) || p["type"] != "about:blank" || p["title"] != http.StatusText(status) {
		t.Fatalf("problem %v does not match status %d", p, status)
	}
	return p
}

// createNote creates a note as u and returns its id.
func (r *rig) createNote(t testing.TB, u user, title, body string) int64 {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"title": title, "body": body})
	res := r.call(t, u, http.MethodPost, "/api/notes", string(b))
	if res.status != http.StatusCreated {
		t.Fatalf("create note: %d %s", res.status, res.body)
	}
	return int64(res.json(t)["id"].(float64))
}

// count returns the rows of a table (a fixed name from the test).
func (r *rig) count(t testing.TB, table string) int {
	t.Helper()
	var n int
	if err := r.db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v (table gone?)", table, err)
	}
	return n
}

func jsonBody(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func mustMinter(t testing.TB, s gateway.Signer) *gateway.AssertionMinter {
	t.Helper()
	m, err := gateway.NewAssertionMinter(gateway.MinterOptions{Signer: s, Issuer: testIssuer})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }
